"""apiregistration.k8s.io/v1 APIServices: served like the other built-in kinds, validated and defaulted as
kube-aggregator does, and registered by the simulator for the group versions it serves (built-in and CRDs')."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubedog_ci.sim import tables
from kubedog_ci.sim.apiservices import AUTOMANAGED
from kubedog_ci.sim.resources import Registry
from kubedog_ci.sim.validation import DNS1035_MSG
from tests.support import Kube, kubectl, requires_kubectl

GROUP_NAME = "apiregistration.k8s.io"


def apiservice(name: str = "v1alpha1.wardle.k8s.io", group: str = "wardle.k8s.io", version: str = "v1alpha1",
               **spec: object) -> dict:
    """The APIService of the client's e2e api-service.yaml (an aggregated server behind a Service)."""
    body: dict = {"group": group, "version": version, "groupPriorityMinimum": 1000, "versionPriority": 15,
                  "insecureSkipTLSVerify": True, "service": {"name": "api", "namespace": "wardle"}}
    body.update(spec)
    return {"apiVersion": f"{GROUP_NAME}/v1", "kind": "APIService", "metadata": {"name": name}, "spec": body}


@pytest.fixture(scope="module")
def reg(kc: Kube) -> client.ApiregistrationV1Api:
    return client.ApiregistrationV1Api(kc.api_client)


def invalid(call: Callable[[], object]) -> tuple[str, list[tuple[str, str]]]:
    """The message and the (field, message) causes of a 422."""
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 422
    status = json.loads(caught.value.body)
    return status["message"], [(c["field"], c["message"]) for c in status["details"]["causes"]]


def test_create_get_list_conflict_and_delete(reg: client.ApiregistrationV1Api) -> None:
    created = reg.create_api_service(apiservice())
    assert created.kind == "APIService" and created.api_version == f"{GROUP_NAME}/v1"
    assert created.spec.service.port == 443  # SetDefaults_ServiceReference
    assert created.status.conditions is None  # PrepareForCreate clears the status of a served-elsewhere one
    read = reg.read_api_service("v1alpha1.wardle.k8s.io")
    assert (read.spec.group, read.spec.version, read.metadata.uid) == ("wardle.k8s.io", "v1alpha1",
                                                                       created.metadata.uid)
    assert "v1alpha1.wardle.k8s.io" in [item.metadata.name for item in reg.list_api_service().items]
    with pytest.raises(ApiException) as caught:
        reg.create_api_service(apiservice())
    # byte for byte the body the client's e2e test expects from a real server, trailing newline included
    assert caught.value.status == 409
    assert caught.value.body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"apiservices.'
        'apiregistration.k8s.io \\"v1alpha1.wardle.k8s.io\\" already exists","reason":"AlreadyExists",'
        '"details":{"name":"v1alpha1.wardle.k8s.io","group":"apiregistration.k8s.io","kind":"apiservices"},'
        '"code":409}\n')
    reg.delete_api_service("v1alpha1.wardle.k8s.io")
    with pytest.raises(ApiException) as caught:
        reg.read_api_service("v1alpha1.wardle.k8s.io")
    assert caught.value.status == 404


def test_the_name_must_be_version_dot_group(reg: client.ApiregistrationV1Api) -> None:
    message, causes = invalid(lambda: reg.create_api_service(apiservice(name="wardle")))
    assert message == ('APIService.apiregistration.k8s.io "wardle" is invalid: metadata.name: Invalid value: '
                       '"wardle": must be `spec.version+"."+spec.group`: "v1alpha1.wardle.k8s.io"')
    assert causes == [("metadata.name", 'Invalid value: "wardle": must be `spec.version+"."+spec.group`: '
                                        '"v1alpha1.wardle.k8s.io"')]
    _, causes = invalid(lambda: reg.create_api_service(apiservice(name="a%b")))
    assert causes == [("metadata.name", "Invalid value: \"a%b\": may not contain '%'")]


def test_spec_validation(reg: client.ApiregistrationV1Api) -> None:
    body = apiservice(name="v1.", group="", version="v1", groupPriorityMinimum=0, versionPriority=1001,
                      service={"name": ""}, caBundle="YWJj")
    _, causes = invalid(lambda: reg.create_api_service(body))
    assert causes == [
        ("spec.groupPriorityMinimum", "Invalid value: 0: must be positive and less than 20000"),
        ("spec.versionPriority", "Invalid value: 1001: must be positive and less than 1000"),
        ("spec.service.namespace", "Required value"),
        ("spec.service.name", "Required value"),
        ("spec.insecureSkipTLSVerify", "Invalid value: true: may not be true if caBundle is present")]
    body = apiservice(name="V1.wardle.k8s.io", version="V1", service=None, caBundle="YWJjZA==")
    _, causes = invalid(lambda: reg.create_api_service(body))
    assert causes == [
        ("spec.version", f'Invalid value: "V1": {DNS1035_MSG}'),
        ("spec.caBundle", 'Invalid value: "4 bytes": local APIServices may not have a caBundle'),
        ("spec.insecureSkipTLSVerify", "Invalid value: true: local APIServices may not have insecureSkipTLSVerify")]
    _, causes = invalid(lambda: reg.create_api_service(apiservice(name="v2.", group="", version="v2")))
    assert causes == [("spec.group", "Required value: only v1 may have an empty group and it better be legacy kube")]


def test_a_local_apiservice_is_available_at_once_and_status_is_a_subresource(
        reg: client.ApiregistrationV1Api) -> None:
    local = apiservice(name="v1.local.example.com", group="local.example.com", version="v1", service=None,
                       insecureSkipTLSVerify=None)
    created = reg.create_api_service(local)
    [condition] = created.status.conditions
    assert (condition.type, condition.status, condition.reason, condition.message) == (
        "Available", "True", "Local", "Local APIServices are always available")
    body = reg.api_client.sanitize_for_serialization(created)
    body["spec"]["versionPriority"] = 99
    body["status"]["conditions"][0]["status"] = "False"
    after = reg.replace_api_service_status("v1.local.example.com", body)  # the status strategy keeps the spec
    assert after.status.conditions[0].status == "False" and after.spec.version_priority == 15
    body["metadata"]["resourceVersion"] = after.metadata.resource_version
    body["status"]["conditions"][0]["status"] = "True"
    after = reg.replace_api_service("v1.local.example.com", body)  # and the main one keeps the status
    assert after.spec.version_priority == 99 and after.status.conditions[0].status == "False"
    reg.delete_api_service("v1.local.example.com")


def test_the_served_group_versions_have_local_apiservices(reg: client.ApiregistrationV1Api) -> None:
    items = {item.metadata.name: item for item in reg.list_api_service(label_selector=AUTOMANAGED).items}
    assert {"v1.", "v1.apps", "v1.batch", "v2.autoscaling", "v1.events.k8s.io", "v1.apiextensions.k8s.io"} <= set(items)
    assert f"v1.{GROUP_NAME}" not in items  # the aggregator's own group has none, as on a real cluster
    core, apps = items["v1."], items["v1.apps"]
    assert (core.spec.group, core.spec.version, core.spec.group_priority_minimum, core.spec.version_priority,
            core.spec.service) == (None, "v1", 18000, 1, None)
    assert (apps.spec.group_priority_minimum, apps.spec.version_priority) == (17800, 15)
    assert core.metadata.labels == {AUTOMANAGED: "onstart"}
    assert core.status.conditions[0].reason == "Local"


def test_a_crd_group_version_gets_an_apiservice_until_the_crd_is_gone(kube: Kube, eventually: Callable) -> None:
    reg = client.ApiregistrationV1Api(kube.api_client)
    version = {"name": "v1", "served": True, "storage": True,
               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    kube.extensions.create_custom_resource_definition({
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "versions": [version],
                 "names": {"plural": "gadgets", "kind": "Gadget"}}})

    def registered() -> object:
        try:
            return reg.read_api_service("v1.example.com")
        except ApiException:
            return None

    service = eventually(registered, 10, message="the CRD's APIService")
    assert (service.spec.group_priority_minimum, service.spec.version_priority) == (1000, 100)
    assert service.metadata.labels == {AUTOMANAGED: "true"}
    kube.extensions.delete_custom_resource_definition("gadgets.example.com")
    eventually(lambda: registered() is None, 10, message="the APIService to go with the CRD")


def test_table_cells() -> None:
    """SERVICE is namespace/name or Local; AVAILABLE the condition's status, with its reason unless True."""
    rt = Registry.builtin().lookup(GROUP_NAME, "v1", "apiservices")
    assert rt is not None
    remote = {**apiservice(), "status": {"conditions": [{"type": "Available", "status": "False",
                                                          "reason": "ServiceNotFound"}]}}
    local = {**apiservice(name="v1.", group="", version="v1", service=None),
             "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}}
    fresh = {**apiservice(), "status": {}}
    rows = tables.to_table(rt, [remote, local, fresh], "None", "1")["rows"]
    assert [row["cells"][:3] for row in rows] == [["v1alpha1.wardle.k8s.io", "wardle/api", "False (ServiceNotFound)"],
                                                  ["v1.", "Local", "True"],
                                                  ["v1alpha1.wardle.k8s.io", "wardle/api", "Unknown"]]


def test_discovery_serves_the_group(kc: Kube) -> None:
    groups = client.ApisApi(kc.api_client).get_api_versions().groups
    assert groups[0].name == GROUP_NAME  # the aggregator lists its own group first
    resources = {r.name: r for r in client.ApiregistrationV1Api(kc.api_client).get_api_resources().resources}
    assert set(resources) == {"apiservices", "apiservices/status"}
    entry = resources["apiservices"]
    assert (entry.kind, entry.namespaced, entry.categories) == ("APIService", False, ["api-extensions"])


@requires_kubectl
@pytest.mark.kubectl
def test_kubectl_creates_lists_and_refuses_a_duplicate(kc: Kube, tmp_path) -> None:
    manifest = tmp_path / "api-service.yaml"
    manifest.write_text(json.dumps(apiservice(name="v1beta1.kubectl.example.com", group="kubectl.example.com",
                                              version="v1beta1")))
    done = kubectl(kc, "create", "-f", str(manifest))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "apiservice.apiregistration.k8s.io/v1beta1.kubectl.example.com created"
    done = kubectl(kc, "create", "-f", str(manifest))
    assert done.returncode == 1
    assert done.stderr.strip() == ('Error from server (AlreadyExists): error when creating "' + str(manifest) +
                                   '": apiservices.apiregistration.k8s.io "v1beta1.kubectl.example.com" '
                                   "already exists")
    table = kubectl(kc, "get", "apiservices", "v1.apps", "v1beta1.kubectl.example.com")
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows[0] == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    assert rows[1][:3] == ["v1.apps", "Local", "True"]
    assert rows[2][:2] == ["v1beta1.kubectl.example.com", "wardle/api"]
    done = kubectl(kc, "delete", "apiservice", "v1beta1.kubectl.example.com")
    assert done.returncode == 0, done.stderr
