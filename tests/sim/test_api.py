"""The simulated API server through the official Python client: answers, errors and streams as a real one gives them.

Most tests share one module-scoped cluster and work in a namespace of their own; the ones that need special
settings (a small watch history, a token, deny rules, faults) start their own through `sim_factory`.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import DenyRule, Faults
from tests.support import Kube, make_kube, wait_until

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


# --- fixtures and builders ---------------------------------------------------------------------------------


def status_of(err: ApiException) -> dict:
    """The metav1.Status body of an error answer."""
    return json.loads(err.body)


def fails(call: Callable[[], object]) -> tuple[int, dict]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, status_of(caught.value)


def configmap(name: str, labels: dict | None = None, **data: str) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": data}


def deployment(name: str, image: str = "nginx:1.27", replicas: int = 1, containers: list | None = None) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": containers or [{"name": "app", "image": image}]}}},
    }


def pod(name: str, script: str, *, image: str = "busybox:1.36", restart: str = "Always",
        node: str | None = "sim-worker") -> dict:
    """A pod bound straight to a node (as a scheduler would), running `sh -c script`."""
    spec: dict = {"restartPolicy": restart, "terminationGracePeriodSeconds": 0,
                  "containers": [{"name": "app", "image": image, "command": ["sh", "-c", script]}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name}, "spec": spec}


def names(items: list) -> list[str]:
    return [item.metadata.name for item in items]


def watch_events(list_call: Callable, *args: object, count: int, **kwargs: object) -> list[dict]:
    """The first `count` events of a watch (a bounded one, so a missing event fails instead of hanging)."""
    kwargs.setdefault("timeout_seconds", 10)
    stream = watch.Watch()
    events = []
    for event in stream.stream(list_call, *args, **kwargs):
        events.append(event)
        if len(events) == count:
            stream.stop()
    return events


# --- reads: list, selectors, pagination, get ---------------------------------------------------------------


def test_list_with_label_selectors(kc: Kube, ns: str) -> None:
    for name, labels in (("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "db", "env": "prod"}),
                         ("c", {"tier": "web", "env": "dev", "skip": "yes"}), ("d", {})):
        kc.core.create_namespaced_config_map(ns, configmap(name, labels))
    cases = {
        "tier=web": ["a", "c"],
        "tier==web": ["a", "c"],
        "tier!=web": ["b", "d"],
        "tier in (web,db),env=prod": ["a", "b"],
        "env notin (prod)": ["c", "d"],
        "skip": ["c"],
        "!skip,tier": ["a", "b"],
    }
    for selector, expected in cases.items():
        assert names(kc.core.list_namespaced_config_map(ns, label_selector=selector).items) == expected, selector


def test_list_with_field_selectors(kc: Kube, ns: str) -> None:
    for name in ("a", "b", "c"):
        kc.core.create_namespaced_config_map(ns, configmap(name))
    assert names(kc.core.list_namespaced_config_map(ns, field_selector="metadata.name=b").items) == ["b"]
    assert names(kc.core.list_namespaced_config_map(ns, field_selector="metadata.name!=b").items) == ["a", "c"]
    everywhere = kc.core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={ns}")
    assert names(everywhere.items) == ["a", "b", "c"]


def test_field_selectors_accept_only_the_labels_of_the_kind(kc: Kube, ns: str) -> None:
    unscheduled = pod("idle", "sleep 3600", node=None)
    unscheduled["spec"]["schedulerName"] = "nobody"  # stays Pending, unbound
    kc.core.create_namespaced_pod(ns, unscheduled)
    selector = "spec.hostNetwork=false,spec.nodeName=,status.phase=Pending,spec.host="
    assert names(kc.core.list_namespaced_pod(ns, field_selector=selector).items) == ["idle"]
    cases = [
        (lambda: kc.core.list_namespaced_pod(ns, field_selector="spec.containers=x"),
         "field label not supported: spec.containers"),
        (lambda: kc.apps.list_namespaced_deployment(ns, field_selector="status.replicas=1"),
         '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        (lambda: kc.batch.list_namespaced_job(ns, field_selector="status.active=1"),
         'field label "status.active" not supported for Job'),
        (lambda: kc.events.list_namespaced_event(ns, field_selector="involvedObject.name=x"),
         "field label not supported: involvedObject.name"),
        (lambda: watch_events(kc.core.list_namespaced_config_map, ns, field_selector="data.k=v", count=1),
         '"data.k" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ]
    for call, message in cases:
        code, status = fails(call)
        assert (code, status["reason"], status["message"]) == (400, "BadRequest", message)
    listed = kc.events.list_namespaced_event(ns, field_selector="regarding.name=idle,reportingController=x",
                                             _preload_content=False)
    assert json.loads(listed.data)["items"] == []


def test_list_pages_with_limit_and_continue(kc: Kube, ns: str) -> None:
    for index in range(7):
        kc.core.create_namespaced_config_map(ns, configmap(f"cm-{index}"))
    first = kc.core.list_namespaced_config_map(ns, limit=3)
    assert names(first.items) == ["cm-0", "cm-1", "cm-2"]
    assert first.metadata.remaining_item_count == 4 and first.metadata._continue
    kc.core.delete_namespaced_config_map("cm-1", ns)  # before the cursor: must not shift the next page
    second = kc.core.list_namespaced_config_map(ns, limit=3, _continue=first.metadata._continue)
    assert names(second.items) == ["cm-3", "cm-4", "cm-5"]
    assert second.metadata.resource_version == first.metadata.resource_version
    last = kc.core.list_namespaced_config_map(ns, limit=3, _continue=second.metadata._continue)
    assert names(last.items) == ["cm-6"]
    assert last.metadata._continue is None and last.metadata.remaining_item_count is None
    code, body = fails(lambda: kc.core.list_namespaced_config_map(ns, limit=3, _continue="garbage"))
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"].startswith("continue key is not valid")


def test_every_page_is_read_from_the_snapshot_of_the_first(kc: Kube, ns: str) -> None:
    """As etcd serves a paginated list: the objects as they were at the first page's resourceVersion, whatever
    changed since (a later change arrives through a watch from that version)."""
    for index in range(4):
        kc.core.create_namespaced_config_map(ns, configmap(f"cm-{index}", n=str(index)))
    first = kc.core.list_namespaced_config_map(ns, limit=2)
    kc.core.patch_namespaced_config_map("cm-2", ns, {"data": {"n": "changed"}})
    kc.core.delete_namespaced_config_map("cm-3", ns)
    kc.core.create_namespaced_config_map(ns, configmap("cm-9"))
    rest = kc.core.list_namespaced_config_map(ns, limit=5, _continue=first.metadata._continue)
    assert [(item.metadata.name, item.data) for item in rest.items] == [("cm-2", {"n": "2"}), ("cm-3", {"n": "3"})]
    assert rest.metadata.resource_version == first.metadata.resource_version


def test_a_continue_token_older_than_the_history_is_gone(sim_factory: Callable[..., SimCluster]) -> None:
    kube = make_kube(sim_factory(history_window=3))
    for index in range(3):
        kube.core.create_namespaced_config_map("default", configmap(f"cm-{index}"))
    first = kube.core.list_namespaced_config_map("default", limit=1)
    for index in range(5):
        kube.core.patch_namespaced_config_map("cm-1", "default", {"data": {"n": str(index)}})
    code, body = fails(lambda: kube.core.list_namespaced_config_map("default", limit=1,
                                                                     _continue=first.metadata._continue))
    assert (code, body["reason"]) == (410, "Expired")
    assert body["message"].startswith("The provided continue parameter is too old to display a consistent list")


def test_the_bytes_sent_are_counted_by_verb(sim: SimCluster) -> None:
    assert sim.server is not None
    kube = make_kube(sim)
    kube.core.create_namespaced_config_map("default", configmap("big", data="x" * 5000))
    before = sim.server.stats.snapshot()["bytes_sent"]
    listed = urllib.request.urlopen(f"{sim.url}/api/v1/namespaces/default/configmaps").read()
    after = sim.server.stats.snapshot()
    assert after["bytes_sent"]["list"] - before.get("list", 0) == len(listed) > 5000
    assert after["bytes_sent_total"] == sum(after["bytes_sent"].values())


def test_create_sets_server_fields_and_defaults(kc: Kube, ns: str) -> None:
    created = kc.apps.create_namespaced_deployment(ns, deployment("web"))
    meta, spec = created.metadata, created.spec
    assert meta.uid and meta.resource_version and meta.creation_timestamp and meta.generation == 1
    assert (spec.strategy.type, spec.strategy.rolling_update.max_surge) == ("RollingUpdate", "25%")
    assert (spec.revision_history_limit, spec.progress_deadline_seconds) == (10, 600)
    container = spec.template.spec.containers[0]
    assert (container.image_pull_policy, container.termination_message_path) == ("IfNotPresent",
                                                                                  "/dev/termination-log")
    fetched = kc.apps.read_namespaced_deployment("web", ns)
    assert fetched.metadata.uid == meta.uid
    generated = kc.core.create_namespaced_config_map(ns, {"metadata": {"generateName": "gen-"}})
    assert re.fullmatch(r"gen-[bcdfghjklmnpqrstvwxz2456789]{5}", generated.metadata.name)


# --- writes: update, the four patch types, delete ----------------------------------------------------------


def replace_deployment(kc: Kube, ns: str, name: str, change: Callable[[dict], None],
                       status: bool = False) -> client.V1Deployment:
    """Read, change, write back; retried on 409 like client-go's RetryOnConflict (the controller writes too)."""
    write = kc.apps.replace_namespaced_deployment_status if status else kc.apps.replace_namespaced_deployment
    for _ in range(20):
        body = kc.api_client.sanitize_for_serialization(kc.apps.read_namespaced_deployment(name, ns))
        change(body)
        try:
            return write(name, ns, body)
        except ApiException as err:
            if err.status != 409:
                raise
    raise AssertionError("conflicts did not stop")


def test_update_bumps_generation_only_for_spec_and_rejects_stale_versions(kc: Kube, ns: str) -> None:
    created = kc.apps.create_namespaced_deployment(ns, deployment("web"))
    relabelled = replace_deployment(kc, ns, "web", lambda body: body["metadata"].update(labels={"team": "a"}))
    assert relabelled.metadata.generation == 1
    scaled = replace_deployment(kc, ns, "web", lambda body: body["spec"].update(replicas=3))
    assert (scaled.metadata.generation, scaled.spec.replicas) == (2, 3)
    body = kc.api_client.sanitize_for_serialization(scaled)
    body["metadata"]["resourceVersion"] = created.metadata.resource_version
    code, status = fails(lambda: kc.apps.replace_namespaced_deployment("web", ns, body))
    assert (code, status["reason"]) == (409, "Conflict")
    assert status["message"] == ('Operation cannot be fulfilled on deployments.apps "web": the object has been '
                                 "modified; please apply your changes to the latest version and try again")
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


def test_unchanged_write_keeps_the_resource_version(kc: Kube, ns: str) -> None:
    created = kc.core.create_namespaced_config_map(ns, configmap("same", {"a": "1"}, k="v"))
    again = kc.core.patch_namespaced_config_map("same", ns, {"data": {"k": "v"}}, _content_type=MERGE_PATCH)
    assert again.metadata.resource_version == created.metadata.resource_version


def test_status_subresource_ignores_spec_changes(kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web"))
    written = replace_deployment(kc, ns, "web", lambda body: body["spec"].update(replicas=9), status=True)
    assert written.spec.replicas == 1 and kc.apps.read_namespaced_deployment("web", ns).spec.replicas == 1


def test_json_patch(kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web"))
    patched = kc.apps.patch_namespaced_deployment("web", ns, [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels", "value": {"team": "a"}},
        {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "side", "image": "busybox"}},
    ], _content_type=JSON_PATCH)
    assert patched.spec.replicas == 3 and patched.metadata.labels == {"team": "a"}
    assert [c.name for c in patched.spec.template.spec.containers] == ["app", "side"]
    code, status = fails(lambda: kc.apps.patch_namespaced_deployment(
        "web", ns, [{"op": "test", "path": "/spec/replicas", "value": 1}], _content_type=JSON_PATCH))
    assert (code, status["reason"]) == (422, "Invalid")


def test_merge_patch_replaces_lists_and_deletes_with_null(kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_config_map(ns, configmap("cm", {"a": "1", "b": "2"}, k="v"))
    patched = kc.core.patch_namespaced_config_map(
        "cm", ns, {"metadata": {"labels": {"a": None, "c": "3"}}, "data": {"k2": "v2"}}, _content_type=MERGE_PATCH)
    assert patched.metadata.labels == {"b": "2", "c": "3"}
    assert patched.data == {"k": "v", "k2": "v2"}
    kc.apps.create_namespaced_deployment(ns, deployment("web", containers=[
        {"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]))
    replaced = kc.apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {
        "containers": [{"name": "b", "image": "y:2"}]}}}}, _content_type=MERGE_PATCH)
    assert [(c.name, c.image) for c in replaced.spec.template.spec.containers] == [("b", "y:2")]


def test_strategic_merge_patch_merges_lists_by_key(kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web", containers=[
        {"name": "a", "image": "x:1", "env": [{"name": "ONE", "value": "1"}]}, {"name": "b", "image": "y:1"}]))
    merged = kc.apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "env": [{"name": "TWO", "value": "2"}]}, {"name": "b", "image": "y:2"}]}}}},
        _content_type=STRATEGIC_PATCH)
    containers = merged.spec.template.spec.containers
    assert [(c.name, c.image) for c in containers] == [("a", "x:1"), ("b", "y:2")]
    assert [(e.name, e.value) for e in containers[0].env] == [("ONE", "1"), ("TWO", "2")]
    removed = kc.apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "$patch": "delete"}]}}}}, _content_type=STRATEGIC_PATCH)
    assert [c.name for c in removed.spec.template.spec.containers] == ["b"]


def apply(kc: Kube, ns: str, body: dict, manager: str, force: bool = False) -> client.V1Deployment:
    return kc.apps.patch_namespaced_deployment(body["metadata"]["name"], ns, body, field_manager=manager,
                                               force=force or None, _content_type=APPLY_PATCH)


def test_server_side_apply_ownership_conflicts_and_removal(kc: Kube, ns: str) -> None:
    first = deployment("web", image="app:1", replicas=2)
    first["metadata"]["labels"] = {"owned-by-a": "yes"}
    first["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "X", "value": "1"}]
    created = apply(kc, ns, first, "mgr-a")
    assert [(m.manager, m.operation) for m in created.metadata.managed_fields] == [("mgr-a", "Apply")]

    rival = deployment("web", image="app:1", replicas=3)
    code, status = fails(lambda: apply(kc, ns, rival, "mgr-b"))
    assert (code, status["reason"]) == (409, "Conflict")
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "mgr-a": .spec.replicas'
    assert status["details"] == {"causes": [{"reason": "FieldManagerConflict", "message": 'conflict with "mgr-a"',
                                             "field": ".spec.replicas"}]}

    forced = apply(kc, ns, rival, "mgr-b", force=True)
    assert forced.spec.replicas == 3
    owners = {m.manager: json.dumps(m.fields_v1) for m in forced.metadata.managed_fields}
    assert '"f:replicas"' in owners["mgr-b"] and '"f:replicas"' not in owners["mgr-a"]

    reduced = deployment("web", image="app:1")  # mgr-a drops its label, its env var and the replicas it lost
    del reduced["spec"]["replicas"]
    after = apply(kc, ns, reduced, "mgr-a")
    assert not after.metadata.labels and not after.spec.template.spec.containers[0].env
    assert after.spec.replicas == 3

    kc.apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "app:edited"}]}}}}, field_manager="editor", _content_type=STRATEGIC_PATCH)
    code, status = fails(lambda: apply(kc, ns, deployment("web", image="app:2", replicas=3), "mgr-b"))
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "editor" using apps/v1: '
                                 '.spec.template.spec.containers[name="app"].image')


def test_server_side_apply_creates_and_reapplies_without_a_change(kc: Kube, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", **configmap("settings", {"app": "web"}, mode="fast")}
    created = kc.core.patch_namespaced_config_map("settings", ns, body, field_manager="ci",
                                                  _content_type=APPLY_PATCH)
    again = kc.core.patch_namespaced_config_map("settings", ns, body, field_manager="ci",
                                                _content_type=APPLY_PATCH)
    assert again.metadata.resource_version == created.metadata.resource_version
    code, status = fails(lambda: kc.apps.patch_namespaced_deployment(
        "web", ns, deployment("web"), _content_type=APPLY_PATCH))
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                                 "is required for apply patch")


def owned_configmaps(kc: Kube, ns: str) -> client.V1ConfigMap:
    owner = kc.core.create_namespaced_config_map(ns, configmap("owner"))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid,
           "controller": True, "blockOwnerDeletion": True}
    for name in ("dep-1", "dep-2"):
        kc.core.create_namespaced_config_map(ns, {"metadata": {"name": name, "ownerReferences": [ref]}})
    return owner


def remaining(kc: Kube, ns: str) -> list[str]:
    return names(kc.core.list_namespaced_config_map(ns).items)


def test_delete_foreground_removes_dependents_before_the_owner(kc: Kube, ns: str) -> None:
    owned_configmaps(kc, ns)
    kc.core.delete_namespaced_config_map("owner", ns, propagation_policy="Foreground")
    wait_until(lambda: remaining(kc, ns) in (["owner"], []), message="dependents deleted first")
    wait_until(lambda: remaining(kc, ns) == [], message="owner deleted after its dependents")


def test_delete_foreground_marks_the_owner_while_dependents_remain(kc: Kube, ns: str) -> None:
    owned_configmaps(kc, ns)
    kc.core.patch_namespaced_config_map("dep-1", ns, {"metadata": {"finalizers": ["test/hold"]}},
                                        _content_type=MERGE_PATCH)
    kc.core.delete_namespaced_config_map("owner", ns, propagation_policy="Foreground")
    owner = kc.core.read_namespaced_config_map("owner", ns)
    assert owner.metadata.deletion_timestamp and owner.metadata.finalizers == ["foregroundDeletion"]
    kc.core.patch_namespaced_config_map("dep-1", ns, {"metadata": {"finalizers": None}},
                                        _content_type=MERGE_PATCH)
    wait_until(lambda: remaining(kc, ns) == [], message="owner gone once the held dependent is")


def test_delete_orphan_keeps_dependents_without_owner_references(kc: Kube, ns: str) -> None:
    owned_configmaps(kc, ns)
    kc.core.delete_namespaced_config_map("owner", ns, propagation_policy="Orphan")
    wait_until(lambda: remaining(kc, ns) == ["dep-1", "dep-2"], message="owner gone, dependents kept")
    wait_until(lambda: all(not c.metadata.owner_references for c in kc.core.list_namespaced_config_map(ns).items),
               message="ownerReferences removed from the orphans")


def test_delete_background_and_dry_run(kc: Kube, ns: str) -> None:
    owner = owned_configmaps(kc, ns)
    kc.core.delete_namespaced_config_map("owner", ns, dry_run="All")
    assert remaining(kc, ns) == ["dep-1", "dep-2", "owner"]
    answer = kc.core.delete_namespaced_config_map("owner", ns, propagation_policy="Background")
    assert answer == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                      "details": {"name": "owner", "kind": "configmaps", "uid": owner.metadata.uid}}
    assert "owner" not in remaining(kc, ns)
    wait_until(lambda: remaining(kc, ns) == [], message="dependents collected in the background")


# --- watch -------------------------------------------------------------------------------------------------


def test_watch_from_a_resource_version_replays_every_change_in_order(kc: Kube, ns: str) -> None:
    start = kc.core.list_namespaced_config_map(ns).metadata.resource_version
    for name in ("a", "b", "c"):
        kc.core.create_namespaced_config_map(ns, configmap(name))
    kc.core.patch_namespaced_config_map("b", ns, {"data": {"k": "v"}}, _content_type=MERGE_PATCH)
    kc.core.delete_namespaced_config_map("a", ns)
    events = watch_events(kc.core.list_namespaced_config_map, ns, resource_version=start, count=5)
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c"), ("MODIFIED", "b"), ("DELETED", "a")]
    versions = [int(e["object"].metadata.resource_version) for e in events]
    assert versions == sorted(versions) and versions[0] > int(start)


def test_watch_resumed_from_the_last_seen_version_misses_nothing(kc: Kube, ns: str) -> None:
    start = kc.core.list_namespaced_config_map(ns).metadata.resource_version
    for index in range(6):
        kc.core.create_namespaced_config_map(ns, configmap(f"cm-{index}"))
    head = watch_events(kc.core.list_namespaced_config_map, ns, resource_version=start, count=2)
    resume_at = head[-1]["object"].metadata.resource_version
    kc.core.create_namespaced_config_map(ns, configmap("late"))
    tail = watch_events(kc.core.list_namespaced_config_map, ns, resource_version=resume_at, count=5)
    seen = [e["object"].metadata.name for e in head + tail]
    assert seen == [f"cm-{i}" for i in range(6)] + ["late"]


def test_watch_with_label_selector_turns_label_changes_into_added_and_deleted(kc: Kube, ns: str) -> None:
    start = kc.core.create_namespaced_config_map(ns, configmap("cm")).metadata.resource_version
    kc.core.patch_namespaced_config_map("cm", ns, {"metadata": {"labels": {"watched": "yes"}}},
                                        _content_type=MERGE_PATCH)
    kc.core.patch_namespaced_config_map("cm", ns, {"data": {"k": "v"}}, _content_type=MERGE_PATCH)
    kc.core.patch_namespaced_config_map("cm", ns, {"metadata": {"labels": {"watched": None}}},
                                        _content_type=MERGE_PATCH)
    events = watch_events(kc.core.list_namespaced_config_map, ns, resource_version=start,
                          label_selector="watched=yes", count=3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]


def test_watch_from_a_version_older_than_the_history_is_gone(sim_factory: Callable[..., SimCluster]) -> None:
    kube = make_kube(sim_factory(history_window=3))
    start = kube.core.list_namespaced_config_map("default").metadata.resource_version
    for index in range(5):
        kube.core.create_namespaced_config_map("default", configmap(f"cm-{index}"))
    with pytest.raises(ApiException) as caught:
        watch_events(kube.core.list_namespaced_config_map, "default", resource_version=start, count=1)
    assert caught.value.status == 410
    assert re.fullmatch(rf"Expired: too old resource version: {start} \(\d+\)", caught.value.reason)
    recent = kube.core.list_namespaced_config_map("default").metadata.resource_version
    kube.core.create_namespaced_config_map("default", configmap("fresh"))
    events = watch_events(kube.core.list_namespaced_config_map, "default", resource_version=recent, count=1)
    assert events[0]["object"].metadata.name == "fresh"


def test_watch_bookmarks_carry_the_current_resource_version(kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_config_map(ns, configmap("cm"))
    start = kc.core.list_namespaced_config_map(ns).metadata.resource_version
    began = time.monotonic()
    events = watch_events(kc.core.list_namespaced_config_map, ns, resource_version=start,
                          allow_watch_bookmarks=True, count=1)
    assert events[0]["type"] == "BOOKMARK"
    raw = events[0]["raw_object"]
    assert raw["kind"] == "ConfigMap" and int(raw["metadata"]["resourceVersion"]) >= int(start)
    assert time.monotonic() - began < 5, "a bookmark comes every simulated minute, not only before the deadline"


def test_watch_timeout_seconds_ends_the_stream(kc: Kube, ns: str) -> None:
    start = kc.core.list_namespaced_config_map(ns).metadata.resource_version
    began = time.monotonic()
    events = list(watch.Watch().stream(kc.core.list_namespaced_config_map, ns, resource_version=start,
                                       timeout_seconds=1))
    assert events == [] and 0.9 < time.monotonic() - began < 4


def test_watch_send_initial_events_ends_with_an_annotated_bookmark(kc: Kube, ns: str) -> None:
    for name in ("a", "b"):
        kc.core.create_namespaced_config_map(ns, configmap(name))
    events = watch_events(kc.core.list_namespaced_config_map, ns, send_initial_events=True,
                          resource_version_match="NotOlderThan", allow_watch_bookmarks=True, count=3)
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["raw_object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


# --- events ------------------------------------------------------------------------------------------------


def record(cluster: SimCluster, obj: dict, reason: str, message: str, event_type: str = "Normal") -> None:
    """Record on the simulation loop, where controllers record theirs."""
    cluster.loop.call_soon(cluster.events.record, obj, event_type, reason, message, "test-controller", "node-1")


def test_identical_events_aggregate_into_one_with_a_count(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    target = shared_cluster.api.get(shared_cluster.api.rt("/configmaps"), ns, kc.core.create_namespaced_config_map(
        ns, configmap("cm")).metadata.name)
    for _ in range(3):
        record(shared_cluster, target, "Synced", "synced once more")
    selector = "involvedObject.name=cm,involvedObject.kind=ConfigMap"
    wait_until(lambda: [e.count for e in kc.core.list_namespaced_event(ns, field_selector=selector).items] == [3],
               message="one Event with count 3")
    event = kc.core.list_namespaced_event(ns, field_selector=selector).items[0]
    assert (event.type, event.reason, event.message) == ("Normal", "Synced", "synced once more")
    assert (event.source.component, event.source.host) == ("test-controller", "node-1")
    assert event.involved_object.uid == target["metadata"]["uid"]
    assert event.first_timestamp <= event.last_timestamp
    # Raw JSON: like a real API server, events.k8s.io serves "eventTime": null for correlator events, which the
    # typed client refuses (kubernetes-client/python#1616).
    listed = json.loads(kc.events.list_namespaced_event(ns, _preload_content=False).data)["items"]
    assert [(e["note"], e["deprecatedCount"], e["regarding"]["name"], e["eventTime"]) for e in listed] == [
        ("synced once more", 3, "cm", None)]
    assert (listed[0]["reportingController"], listed[0]["deprecatedSource"]) == (
        "test-controller", {"component": "test-controller", "host": "node-1"})


def test_ten_similar_events_are_combined(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_config_map(ns, configmap("cm"))
    target = shared_cluster.api.get(shared_cluster.api.rt("/configmaps"), ns, "cm")
    for index in range(12):
        record(shared_cluster, target, "Failed", f"attempt {index} failed", "Warning")
    combined = "(combined from similar events): attempt 11 failed"
    wait_until(lambda: combined in [e.message for e in kc.core.list_namespaced_event(ns).items],
               message="the combined event")
    events = kc.core.list_namespaced_event(ns).items
    assert len(events) == 10
    assert next(e for e in events if e.message == combined).count == 3


def test_events_written_through_events_k8s_io_read_back_in_both_groups(kc: Kube, ns: str) -> None:
    kc.events.create_namespaced_event(ns, {
        "metadata": {"name": "hello"}, "eventTime": "2026-01-01T00:00:00.000000Z", "type": "Normal",
        "reason": "Greeted", "note": "hello there", "action": "Greet", "reportingController": "tester",
        "reportingInstance": "tester-1", "regarding": {"kind": "Namespace", "name": ns, "apiVersion": "v1"}})
    core = kc.core.read_namespaced_event("hello", ns)
    assert (core.message, core.reason, core.involved_object.name, core.reporting_component) == (
        "hello there", "Greeted", ns, "tester")
    assert kc.events.read_namespaced_event("hello", ns).note == "hello there"


# --- error answers -----------------------------------------------------------------------------------------


def test_not_found_and_already_exists(kc: Kube, ns: str) -> None:
    code, status = fails(lambda: kc.apps.read_namespaced_deployment("nope", ns))
    assert code == 404 and status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'deployments.apps "nope" not found', "reason": "NotFound",
        "details": {"name": "nope", "group": "apps", "kind": "deployments"}, "code": 404}
    kc.core.create_namespaced_config_map(ns, configmap("cm"))
    code, status = fails(lambda: kc.core.create_namespaced_config_map(ns, configmap("cm")))
    assert (code, status["reason"], status["message"]) == (409, "AlreadyExists", 'configmaps "cm" already exists')
    code, status = fails(lambda: kc.core.create_namespaced_config_map("no-such-namespace", configmap("cm")))
    assert (code, status["reason"], status["message"]) == (404, "NotFound", 'namespaces "no-such-namespace" not found')


def test_invalid_selector_against_template_labels(kc: Kube, ns: str) -> None:
    bad = deployment("bad")
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    code, status = fails(lambda: kc.apps.create_namespaced_deployment(ns, bad))
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"] == ('Deployment.apps "bad" is invalid: spec.template.metadata.labels: Invalid value: '
                                 'map[string]string{"app":"other"}: `selector` does not match template `labels`')
    assert status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.template.metadata.labels",
        "message": 'Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`'}]


def test_invalid_change_of_an_immutable_selector(kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web"))
    change = {"spec": {"selector": {"matchLabels": {"app": "new"}},
                       "template": {"metadata": {"labels": {"app": "new"}}}}}
    code, status = fails(lambda: kc.apps.patch_namespaced_deployment("web", ns, change,
                                                                     _content_type=MERGE_PATCH))
    assert code == 422
    assert status["message"] == (
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"new"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable')


def test_invalid_dns_subdomain_name(kc: Kube, ns: str) -> None:
    code, status = fails(lambda: kc.core.create_namespaced_config_map(ns, configmap("Bad_Name")))
    assert code == 422
    assert status["message"] == (
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain '
        "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    assert status["details"] == {"name": "Bad_Name", "kind": "ConfigMap", "causes": [
        {"reason": "FieldValueInvalid", "message": status["message"].split("metadata.name: ", 1)[1],
         "field": "metadata.name"}]}


def test_unauthorized_without_the_token(sim_factory: Callable[..., SimCluster]) -> None:
    sim = sim_factory(token="t")
    anonymous = client.ApiClient(client.Configuration(host=sim.url))
    code, status = fails(lambda: client.CoreV1Api(anonymous).list_namespace())
    assert code == 401 and status == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    assert names(make_kube(sim).core.list_namespace().items)  # the kubeconfig carries the token


def test_forbidden_by_a_deny_rule(sim_factory: Callable[..., SimCluster]) -> None:
    kube = make_kube(sim_factory(deny=(DenyRule("get", "deployments.apps", "default"),)))
    kube.apps.create_namespaced_deployment("default", deployment("web"))
    code, status = fails(lambda: kube.apps.read_namespaced_deployment("web", "default"))
    assert (code, status["reason"]) == (403, "Forbidden")
    assert status["message"] == ('deployments.apps "web" is forbidden: User "system:admin" cannot get resource '
                                 '"deployments" in API group "apps" in the namespace "default"')
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    assert names(kube.apps.list_namespaced_deployment("default").items) == ["web"]


# --- pod logs (through the simulated kubelet) --------------------------------------------------------------


def running(kc: Kube, ns: str, name: str) -> bool:
    return kc.core.read_namespaced_pod(name, ns).status.phase == "Running"


def log_text(kc: Kube, ns: str, name: str) -> str:
    """The log so far, or "" while the container has not started."""
    try:
        return kc.core.read_namespaced_pod_log(name, ns)
    except ApiException:
        return ""


def log_lines(stream: urllib3.HTTPResponse) -> Iterator[str]:
    buffered = b""
    for chunk in stream.stream(1024, decode_content=False):
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            yield line.decode()


COUNTER = "i=1; while [ $i -le 5 ]; do echo line $i; i=$((i+1)); sleep 1; done; sleep 3600"


def test_follow_logs_stream_lines_as_they_are_written(kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_pod(ns, pod("counter", COUNTER))
    wait_until(lambda: running(kc, ns, "counter"), message="the pod running")
    stream = kc.core.read_namespaced_pod_log("counter", ns, follow=True, _preload_content=False)
    seen = []
    for line in log_lines(stream):
        seen.append(line)
        if len(seen) == 5:
            break
    stream.release_conn()
    assert seen == [f"line {i}" for i in range(1, 6)]


def test_logs_with_timestamps_resume_exactly_at_since_time(kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_pod(ns, pod("counter", COUNTER))
    wait_until(lambda: log_text(kc, ns, "counter").count("\n") == 5, message="five lines")
    stamped = kc.core.read_namespaced_pod_log("counter", ns, timestamps=True).splitlines()
    stamps = [line.split(" ", 1)[0] for line in stamped]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", s) for s in stamps)
    assert [line.split(" ", 1)[1] for line in stamped] == [f"line {i}" for i in range(1, 6)]
    assert stamps == sorted(set(stamps)), "strictly increasing, so a resume point is unambiguous"
    query = urllib.parse.urlencode({"sinceTime": stamps[2], "timestamps": "true"})  # not in the typed client
    url = f"{kc.cluster.url}/api/v1/namespaces/{ns}/pods/counter/log?{query}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read().decode().splitlines() == stamped[2:]
    assert kc.core.read_namespaced_pod_log("counter", ns, tail_lines=2) == "line 4\nline 5\n"
    assert kc.core.read_namespaced_pod_log("counter", ns, limit_bytes=8) == "line 1\nl"


def test_previous_logs_of_a_restarted_container(kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_pod(ns, pod("crasher", "echo starting; echo giving up; exit 3"))
    code, status = fails(lambda: kc.core.read_namespaced_pod_log("crasher", ns, previous=True))
    assert (code, status["message"]) == (400, 'previous terminated container "app" in pod "crasher" not found')
    wait_until(lambda: (kc.core.read_namespaced_pod("crasher", ns).status.container_statuses or [None])[0]
               and kc.core.read_namespaced_pod("crasher", ns).status.container_statuses[0].restart_count >= 1,
               timeout=20, message="a restart")
    assert kc.core.read_namespaced_pod_log("crasher", ns, previous=True) == "starting\ngiving up\n"


def test_logs_of_a_container_waiting_for_its_image(kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_pod(ns, pod("puller", "sleep 3600", image="registry.example/does-not-exist:1"))

    def waiting_reason() -> str | None:
        statuses = kc.core.read_namespaced_pod("puller", ns).status.container_statuses or []
        waiting = statuses[0].state.waiting if statuses else None
        return waiting.reason if waiting and waiting.reason in ("ErrImagePull", "ImagePullBackOff") else None

    reason = wait_until(waiting_reason, message="an image pull failure")
    detail = {"ErrImagePull": "image can't be pulled", "ImagePullBackOff": "trying and failing to pull image"}
    code, status = fails(lambda: kc.core.read_namespaced_pod_log("puller", ns))
    assert code == 400 and status["reason"] == "BadRequest"
    assert status["message"] in (f'container "app" in pod "puller" is waiting to start: {d}' for d in detail.values())
    assert reason in detail


def test_logs_need_a_container_name_when_a_pod_has_several(kc: Kube, ns: str) -> None:
    body = pod("multi", "sleep 3600", node=None)
    body["spec"]["initContainers"] = [{"name": "setup", "image": "busybox", "command": ["true"]}]
    body["spec"]["containers"].append({"name": "side", "image": "busybox", "command": ["sleep", "3600"]})
    kc.core.create_namespaced_pod(ns, body)
    code, status = fails(lambda: kc.core.read_namespaced_pod_log("multi", ns))
    assert (code, status["message"]) == (
        400, "a container name must be specified for pod multi, choose one of: [setup app side]")
    code, status = fails(lambda: kc.core.read_namespaced_pod_log("multi", ns, container="nope"))
    assert status["message"] == "container nope is not valid for pod multi"


# --- fault injection, as a client sees it ------------------------------------------------------------------


def test_fault_watch_drop_cuts_the_stream_and_a_resume_misses_nothing(
        sim_factory: Callable[..., SimCluster]) -> None:
    kube = make_kube(sim_factory(faults=Faults(watch_drop=0.5)))
    start = kube.core.list_namespaced_config_map("default").metadata.resource_version
    kube.core.create_namespaced_config_map("default", configmap("before"))
    stream = watch.Watch()
    seen = []
    began = time.monotonic()
    with pytest.raises(urllib3.exceptions.ProtocolError):
        for event in stream.stream(kube.core.list_namespaced_config_map, "default", resource_version=start):
            seen.append(event["object"].metadata.name)
    assert seen == ["before"] and time.monotonic() - began < 5
    assert kube.cluster.server is not None and kube.cluster.server.stats.snapshot()["faults"] == {"watch-drop": 1}
    kube.core.create_namespaced_config_map("default", configmap("after"))
    resumed = watch_events(kube.core.list_namespaced_config_map, "default",
                           resource_version=stream.resource_version, count=1)
    assert resumed[0]["object"].metadata.name == "after"


def test_fault_gone_expires_every_watch_from_a_version(sim_factory: Callable[..., SimCluster]) -> None:
    kube = make_kube(sim_factory(faults=Faults(gone=1.0)))
    start = kube.core.list_namespaced_config_map("default").metadata.resource_version
    with pytest.raises(ApiException) as caught:
        watch_events(kube.core.list_namespaced_config_map, "default", resource_version=start, count=1)
    assert caught.value.status == 410 and caught.value.reason.startswith("Expired: too old resource version")
    assert kube.cluster.server is not None and kube.cluster.server.stats.snapshot()["faults"] == {"gone": 1}
    kube.core.create_namespaced_config_map("default", configmap("cm"))
    fresh = watch_events(kube.core.list_namespaced_config_map, "default", count=1)  # a list-watch still works
    assert fresh[0]["object"].metadata.name == "cm"


def test_fault_http_error_answers_with_retry_after(sim_factory: Callable[..., SimCluster]) -> None:
    settings = client.Configuration(host=sim_factory(faults=Faults(http_error=1.0)).url)
    settings.retries = False  # urllib3 would otherwise honour Retry-After and retry a 429 by itself
    core = client.CoreV1Api(client.ApiClient(settings))
    seen: dict[int, ApiException] = {}
    for _ in range(60):
        with pytest.raises(ApiException) as caught:
            core.list_namespace()
        seen[caught.value.status] = caught.value
        if len(seen) == 3:
            break
    assert set(seen) == {429, 500, 503}
    assert seen[429].headers["Retry-After"] == "1"
    assert status_of(seen[429])["details"] == {"retryAfterSeconds": 1}
    assert status_of(seen[503])["reason"] == "ServiceUnavailable"


def test_fault_latency_delays_every_answer(sim_factory: Callable[..., SimCluster]) -> None:
    kube = make_kube(sim_factory(faults=Faults(latency=0.3)))
    began = time.monotonic()
    kube.core.list_namespace()
    assert time.monotonic() - began >= 0.3


def test_fault_log_cut_breaks_a_followed_log(sim_factory: Callable[..., SimCluster]) -> None:
    kube = make_kube(sim_factory(faults=Faults(log_cut=0.5)))
    kube.core.create_namespaced_pod("default", pod("chatty", "while true; do echo tick; sleep 1; done"))
    wait_until(lambda: running(kube, "default", "chatty"), message="the pod running")
    stream = kube.core.read_namespaced_pod_log("chatty", "default", follow=True, _preload_content=False)
    began = time.monotonic()
    with pytest.raises(urllib3.exceptions.ProtocolError):
        for _ in log_lines(stream):
            assert time.monotonic() - began < 10, "the stream should have been cut"
    assert time.monotonic() - began < 5
    assert kube.cluster.server is not None and kube.cluster.server.stats.snapshot()["faults"]["log-cut"] == 1
