"""CustomResourceDefinitions: validation, Established, discovery, custom resources and their simulated status."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from kubedog_ci.sim.controllers.crd import resource_types, validate_crd, version_priority
from tests.support import Kube

GROUP = "example.com"


def _crd(plural: str = "widgets", kind: str = "Widget", name: str | None = None, **names: object) -> dict:
    version = {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
               "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name or f"{plural}.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced", "names": {"plural": plural, "kind": kind, **names},
                     "versions": [{**version, "name": "v1beta1", "storage": False}, version]}}


def _get(kube: Kube, path: str) -> dict | None:
    """GET a discovery document with the client's own transport; None on 404."""
    method, url, headers, _, _ = kube.api_client.param_serialize("GET", path,
                                                                 header_params={"Accept": "application/json"})
    response = kube.api_client.call_api(method, url, headers)
    response.read()
    if response.status == 404:
        return None
    assert response.status == 200
    return json.loads(response.data)


def _established(kube: Kube, eventually: Callable, name: str) -> client.V1CustomResourceDefinition:
    def check() -> object:
        crd = kube.extensions.read_custom_resource_definition(name)
        conditions = {c.type: c for c in (crd.status.conditions or [])}
        return crd if "Established" in conditions and conditions["Established"].status == "True" else None
    return eventually(check, 10, message=f"{name} to be Established")


def _widget(name: str, annotations: dict) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
            "metadata": {"name": name, "annotations": annotations}, "spec": {"size": 1}}


def test_crd_is_established_and_served(kube: Kube, eventually: Callable) -> None:
    created = kube.extensions.create_custom_resource_definition(_crd(shortNames=["wd"], categories=["all"]))
    assert created.status.stored_versions == ["v1"]
    assert created.spec.names.singular == "widget" and created.spec.names.list_kind == "WidgetList"
    crd = _established(kube, eventually, f"widgets.{GROUP}")
    conditions = {c.type: (c.status, c.reason, c.message) for c in crd.status.conditions}
    assert conditions == {"NamesAccepted": ("True", "NoConflicts", "no conflicts found"),
                          "Established": ("True", "InitialNamesAccepted", "the initial names have been accepted")}
    assert (crd.status.accepted_names.plural, crd.status.accepted_names.kind) == ("widgets", "Widget")
    assert crd.status.accepted_names.short_names == ["wd"]
    group = eventually(lambda: _get(kube, f"/apis/{GROUP}"), 10, message="the group in discovery")
    assert group["preferredVersion"] == {"groupVersion": f"{GROUP}/v1", "version": "v1"}
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    resources = {r["name"]: r for r in _get(kube, f"/apis/{GROUP}/v1")["resources"]}
    assert set(resources) == {"widgets", "widgets/status"}
    assert (resources["widgets"]["kind"], resources["widgets"]["namespaced"]) == ("Widget", True)
    assert (resources["widgets"]["shortNames"], resources["widgets"]["categories"]) == (["wd"], ["all"])


def test_invalid_crd_name_is_rejected(kube: Kube) -> None:
    with pytest.raises(ApiException) as caught:
        kube.extensions.create_custom_resource_definition(_crd(name=f"gadgets.{GROUP}"))
    body = json.loads(caught.value.body)
    assert (caught.value.status, body["reason"]) == (422, "Invalid")
    assert body["message"] == (f'CustomResourceDefinition.apiextensions.k8s.io "gadgets.{GROUP}" is invalid: '
                               f'metadata.name: Invalid value: "gadgets.{GROUP}": must be '
                               'spec.names.plural+"."+spec.group')


def test_conflicting_names_are_not_accepted(kube: Kube, eventually: Callable) -> None:
    kube.extensions.create_custom_resource_definition(_crd())
    _established(kube, eventually, f"widgets.{GROUP}")
    kube.extensions.create_custom_resource_definition(_crd(plural="gizmos", kind="Widget"))

    def rejected() -> object:
        crd = kube.extensions.read_custom_resource_definition(f"gizmos.{GROUP}")
        return {c.type: (c.status, c.reason, c.message) for c in crd.status.conditions or []}
    conditions = eventually(lambda: len(rejected()) == 2 and rejected(), 10, message="naming conditions")
    assert conditions == {"NamesAccepted": ("False", "KindConflict", '"Widget" is already in use'),
                          "Established": ("False", "NotAccepted", "not all names are accepted")}


def test_custom_resources_are_served_and_become_ready(kube: Kube, eventually: Callable) -> None:
    kube.extensions.create_custom_resource_definition(_crd())
    _established(kube, eventually, f"widgets.{GROUP}")
    custom = kube.custom
    eventually(lambda: _get(kube, f"/apis/{GROUP}/v1"), 10, message="discovery")
    created = custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", _widget(
        "w1", {"sim.kubedog-ci.io/ready-after-seconds": "5"}))
    assert created["metadata"]["generation"] == 1 and "status" not in created

    def ready_at(generation: int) -> object:
        status = custom.get_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w1").get("status") or {}
        return status if status.get("observedGeneration") == generation else None

    status = eventually(lambda: ready_at(1), 10, message="Ready for generation 1")
    condition = status["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"], condition["observedGeneration"]) == (
        "Ready", "True", "Ready", 1)
    custom.patch_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w1", {"spec": {"size": 2}})
    eventually(lambda: ready_at(2), 10, message="Ready for generation 2")
    listed = custom.list_namespaced_custom_object(GROUP, "v1", "default", "widgets")["items"]
    assert [w["metadata"]["name"] for w in listed] == ["w1"]
    custom.delete_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w1")
    assert not custom.list_namespaced_custom_object(GROUP, "v1", "default", "widgets")["items"]


def test_fail_after_annotation_marks_the_resource_failed(kube: Kube, eventually: Callable) -> None:
    kube.extensions.create_custom_resource_definition(_crd())
    _established(kube, eventually, f"widgets.{GROUP}")
    eventually(lambda: _get(kube, f"/apis/{GROUP}/v1"), 10, message="discovery")
    kube.custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", _widget("w2", {
        "sim.kubedog-ci.io/fail-after-seconds": "1", "sim.kubedog-ci.io/fail-message": "bucket already exists"}))

    def failed() -> object:
        widget = kube.custom.get_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w2")
        return (widget.get("status") or {}).get("conditions")

    condition = eventually(failed, 10, message="Ready=False")[0]
    assert (condition["type"], condition["status"], condition["reason"], condition["message"]) == (
        "Ready", "False", "Failed", "bucket already exists")


def test_deleting_a_crd_deletes_its_resources_and_leaves_discovery(kube: Kube, eventually: Callable) -> None:
    kube.extensions.create_custom_resource_definition(_crd())
    _established(kube, eventually, f"widgets.{GROUP}")
    eventually(lambda: _get(kube, f"/apis/{GROUP}/v1"), 10, message="discovery")
    for name in ("a", "b"):
        kube.custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", _widget(name, {}))
    kube.extensions.delete_custom_resource_definition(f"widgets.{GROUP}")
    eventually(lambda: not kube.extensions.list_custom_resource_definition().items, 10, message="the CRD to go")
    assert _get(kube, f"/apis/{GROUP}/v1") is None and _get(kube, f"/apis/{GROUP}") is None
    assert not kube.cluster.store.list(f"{GROUP}/widgets")[0]


# --- pure functions ------------------------------------------------------------------------------------------

def test_versions_are_ordered_like_kubernetes_orders_them() -> None:
    names = ["v1alpha1", "v2", "foo", "v1beta2", "v1", "v1beta1", "v10", "v2alpha3"]
    assert sorted(names, key=version_priority) == ["v10", "v2", "v1", "v1beta2", "v1beta1", "v2alpha3", "v1alpha1",
                                                   "foo"]


def test_resource_types_follow_the_served_versions() -> None:
    crd = _crd(shortNames=["wd"])
    crd["spec"]["versions"][0]["served"] = False
    crd["spec"]["versions"][1]["subresources"]["scale"] = {"specReplicasPath": ".spec.replicas"}
    (rt,) = resource_types(crd)
    assert (rt.group, rt.version, rt.kind, rt.plural, rt.namespaced) == (GROUP, "v1", "Widget", "widgets", True)
    assert (rt.subresources, rt.short_names) == (("status", "scale"), ("wd",))
    assert rt.printer_columns == ({"name": "Size", "type": "integer", "jsonPath": ".spec.size"},)


@pytest.mark.parametrize(("change", "fields"), [
    ({}, []),
    ({"metadata": {"name": "other.example.com"}}, ["metadata.name"]),
    ({"spec": {"group": "", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget",
                                                            "singular": "widget", "listKind": "WidgetList"},
               "versions": [{"name": "v1"}]}}, ["metadata.name", "spec.group"]),
    ({"spec": {"group": GROUP, "scope": "Global", "names": {"plural": "widgets", "kind": "Widget",
                                                            "singular": "widget", "listKind": "WidgetList"},
               "versions": []}}, ["spec.scope", "spec.versions"]),
])
def test_validate_crd(change: dict, fields: list) -> None:
    crd = _crd(singular="widget", listKind="WidgetList")
    for part, value in change.items():
        crd[part] = value
    assert [c["field"] for c in validate_crd(crd)] == fields
