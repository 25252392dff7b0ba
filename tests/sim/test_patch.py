"""The patch flavours and server-side apply's field paths, table-driven."""

from __future__ import annotations

import pytest

from kubedog_ci.sim import patch


@pytest.mark.parametrize(("target", "doc", "expected"), [
    ({"a": 1, "b": 2}, {"b": None, "c": 3}, {"a": 1, "c": 3}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"y": None}}, {"a": {"x": 1}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": 1}, {"a": {"b": 1}}, {"a": {"b": 1}}),
])
def test_json_merge_patch(target: dict, doc: dict, expected: dict) -> None:
    assert patch.json_merge_patch(target, doc) == expected


@pytest.mark.parametrize(("ops", "expected"), [
    ([{"op": "add", "path": "/b", "value": 2}], {"a": [1, 2], "b": 2}),
    ([{"op": "add", "path": "/a/-", "value": 3}], {"a": [1, 2, 3]}),
    ([{"op": "add", "path": "/a/0", "value": 0}], {"a": [0, 1, 2]}),
    ([{"op": "remove", "path": "/a/1"}], {"a": [1]}),
    ([{"op": "replace", "path": "/a", "value": "x"}], {"a": "x"}),
    ([{"op": "copy", "from": "/a", "path": "/c"}], {"a": [1, 2], "c": [1, 2]}),
    ([{"op": "move", "from": "/a", "path": "/c"}], {"c": [1, 2]}),
    ([{"op": "test", "path": "/a/0", "value": 1}, {"op": "remove", "path": "/a"}], {}),
    ([{"op": "add", "path": "/m~1n", "value": 1}], {"a": [1, 2], "m/n": 1}),
])
def test_json_patch(ops: list, expected: dict) -> None:
    assert patch.json_patch({"a": [1, 2]}, ops) == expected


@pytest.mark.parametrize("ops", [
    [{"op": "remove", "path": "/nope"}],
    [{"op": "test", "path": "/a/0", "value": 9}],
    [{"op": "frobnicate", "path": "/a"}],
    [{"op": "add", "path": "/a/7", "value": 1}],
])
def test_json_patch_errors(ops: list) -> None:
    with pytest.raises(patch.PatchError):
        patch.json_patch({"a": [1, 2]}, ops)


POD_SPEC = {"containers": [{"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}]},
                           {"name": "side", "image": "s1"}]}


@pytest.mark.parametrize(("doc", "expected"), [
    ({"containers": [{"name": "app", "image": "v2"}]},
     {"containers": [{"name": "app", "image": "v2", "env": [{"name": "A", "value": "1"}]},
                     {"name": "side", "image": "s1"}]}),
    ({"containers": [{"name": "new", "image": "n"}]},
     {"containers": [*POD_SPEC["containers"], {"name": "new", "image": "n"}]}),
    ({"containers": [{"name": "side", "$patch": "delete"}]}, {"containers": [POD_SPEC["containers"][0]]}),
    ({"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]},
     {"containers": [{"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                     {"name": "side", "image": "s1"}]}),
    ({"$setElementOrder/containers": [{"name": "app"}], "containers": [{"name": "app", "image": "v3"}]},
     {"containers": [{"name": "app", "image": "v3", "env": [{"name": "A", "value": "1"}]},
                     {"name": "side", "image": "s1"}]}),
])
def test_strategic_merge_by_key(doc: dict, expected: dict) -> None:
    assert patch.strategic_merge_patch(POD_SPEC, doc) == expected


def test_strategic_merge_replaces_lists_without_key_and_unions_finalizers() -> None:
    target = {"args": ["a", "b"], "metadata": {"finalizers": ["x"]}}
    doc = {"args": ["c"], "metadata": {"finalizers": ["y"]}}
    assert patch.strategic_merge_patch(target, doc) == {"args": ["c"], "metadata": {"finalizers": ["x", "y"]}}


def test_service_ports_merge_by_port_and_container_ports_by_container_port() -> None:
    assert patch.merge_key("ports", [{"port": 80}]) == "port"
    assert patch.merge_key("ports", [{"containerPort": 8080}]) == "containerPort"


DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
          "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "v1"}]}}}}


def test_field_paths_cover_leaves_and_keyed_items() -> None:
    paths = patch.field_paths(DEPLOY)
    item = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"app"}')
    assert ("f:spec", "f:replicas") in paths
    assert ("f:metadata", "f:labels", "f:app") in paths
    assert item in paths
    assert (*item, "f:image") in paths
    assert ("f:metadata", "f:name") not in paths
    assert patch.fields_v1_to_paths(patch.paths_to_fields_v1(paths)) == paths


def test_render_path_like_conflict_messages() -> None:
    path = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"app"}', "f:image")
    assert patch.render_path(path) == '.spec.template.spec.containers[name="app"].image'


def test_apply_conflicts_and_removal() -> None:
    live = patch.apply_merge(DEPLOY, {"spec": {"replicas": 5}})
    owners = {"kubectl": patch.field_paths(DEPLOY), "hpa": {("f:spec", "f:replicas")}}
    owners["kubectl"].discard(("f:spec", "f:replicas"))
    conflicts = patch.apply_conflicts(live, DEPLOY, "kubectl", owners)
    assert conflicts == {"hpa": [("f:spec", "f:replicas")]}
    shrunk = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "v1"}]}}}}
    obj = patch.apply_merge(live, shrunk)
    patch.remove_unapplied(obj, owners["kubectl"], patch.field_paths(shrunk), owners["hpa"])
    assert "labels" not in obj["metadata"]
    assert obj["spec"]["replicas"] == 5
