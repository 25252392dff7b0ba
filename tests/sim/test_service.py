"""Services: LoadBalancer ingress and events from the service-controller, Endpoints and EndpointSlices."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kubernetes import client

from kubedog_ci.sim.controllers.service import endpoint_subsets, resolve_ports
from tests.support import Kube


def _service(name: str, annotations: dict | None = None, **spec: object) -> dict:
    meta: dict = {"name": name, "labels": {"app": "web"}}
    if annotations:
        meta["annotations"] = annotations
    body = {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {**body, **spec}}


def _events(kube: Kube, name: str) -> list[tuple[str, str, str, str]]:
    items = kube.core.list_namespaced_event("default", field_selector=f"involvedObject.name={name}").items
    return [(e.type, e.reason, e.message, e.source.component) for e in items]


def _ingress(kube: Kube, eventually: Callable, name: str) -> list:
    def assigned() -> object:
        balancer = kube.core.read_namespaced_service(name, "default").status.load_balancer
        return balancer and balancer.ingress
    return eventually(assigned, 10, message=f"{name} ingress")


def test_load_balancer_gets_an_ingress_ip_and_is_cleaned_up(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_service("default", _service("front", type="LoadBalancer"))
    ingress = _ingress(kube, eventually, "front")
    assert len(ingress) == 1 and ingress[0].ip.startswith("172.18.255.") and ingress[0].ip_mode == "VIP"
    service = kube.core.read_namespaced_service("front", "default")
    assert service.metadata.finalizers == ["service.kubernetes.io/load-balancer-cleanup"]
    assert _events(kube, "front") == [
        ("Normal", "EnsuringLoadBalancer", "Ensuring load balancer", "service-controller"),
        ("Normal", "EnsuredLoadBalancer", "Ensured load balancer", "service-controller")]
    kube.core.create_namespaced_service("default", _service("second", type="LoadBalancer"))
    assert _ingress(kube, eventually, "second")[0].ip != ingress[0].ip
    kube.core.delete_namespaced_service("front", "default")
    eventually(lambda: "front" not in {s.metadata.name for s in kube.core.list_namespaced_service("default").items},
               10, message="the service to go")
    assert [reason for _, reason, _, _ in _events(kube, "front")][-2:] == ["DeletingLoadBalancer",
                                                                            "DeletedLoadBalancer"]


def test_simulated_cloud_annotations(kube: Kube, eventually: Callable) -> None:
    prefix = "sim.kubedog-ci.io/"
    kube.core.create_namespaced_service("default", _service("broken", {prefix + "load-balancer-error": "quota"},
                                                            type="LoadBalancer"))
    kube.core.create_namespaced_service("default", _service("elb", {prefix + "load-balancer-hostname":
                                                                    "a1.elb.example.com"}, type="LoadBalancer"))
    kube.core.create_namespaced_service("default", _service("bare", {prefix + "load-balancer-pending": "true"},
                                                            type="LoadBalancer"))
    failed = ("Warning", "SyncLoadBalancerFailed",
              "Error syncing load balancer: failed to ensure load balancer: quota", "service-controller")
    eventually(lambda: failed in _events(kube, "broken"), 10, message="SyncLoadBalancerFailed")
    assert _ingress(kube, eventually, "elb")[0].hostname == "a1.elb.example.com"
    assert not kube.core.read_namespaced_service("broken", "default").status.load_balancer.ingress
    assert not _events(kube, "bare") and not kube.core.read_namespaced_service(
        "bare", "default").status.load_balancer.ingress


def test_type_change_away_from_load_balancer_deletes_it(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_service("default", _service("front", type="LoadBalancer"))
    _ingress(kube, eventually, "front")
    kube.core.patch_namespaced_service("front", "default", {"spec": {"type": "ClusterIP"}})

    def deleted() -> bool:
        service = kube.core.read_namespaced_service("front", "default")
        return not service.metadata.finalizers and not service.status.load_balancer.ingress
    eventually(deleted, 10, message="the load balancer to be deleted")
    assert ("Normal", "DeletedLoadBalancer", "Deleted load balancer", "service-controller") in _events(kube, "front")


def _unscheduled_pod(kube: Kube, name: str, ip: str, ready: bool) -> None:
    """A pod no scheduler or kubelet touches, so the test sets its IP and readiness itself."""
    kube.core.create_namespaced_pod("default", {"metadata": {"name": name, "labels": {"app": "web"}}, "spec": {
        "schedulerName": "manual",
        "containers": [{"name": "app", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]}})
    kube.core.patch_namespaced_pod_status(name, "default", {"status": {
        "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})


def test_endpoints_and_slices_follow_pod_readiness(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_service("default", _service("web"))
    _unscheduled_pod(kube, "web-1", "10.244.1.7", ready=True)
    _unscheduled_pod(kube, "web-2", "10.244.2.9", ready=False)

    def endpoints() -> client.V1Endpoints | None:
        found = kube.core.read_namespaced_endpoints("web", "default")
        subsets = found.subsets or []
        return found if subsets and subsets[0].addresses and subsets[0].not_ready_addresses else None

    found = eventually(endpoints, 10, message="ready and not-ready addresses")
    subset = found.subsets[0]
    assert [(a.ip, a.target_ref.kind, a.target_ref.name) for a in subset.addresses] == [
        ("10.244.1.7", "Pod", "web-1")]
    assert [a.ip for a in subset.not_ready_addresses] == ["10.244.2.9"]
    assert [(p.name, p.port, p.protocol) for p in subset.ports] == [("http", 8080, "TCP")]
    assert found.metadata.labels == {"app": "web"}
    items = client.DiscoveryV1Api(kube.api_client).list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=web").items
    assert len(items) == 1
    endpoint_slice = items[0]
    assert endpoint_slice.metadata.labels["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslice-controller.k8s.io"
    assert endpoint_slice.metadata.owner_references[0].kind == "Service"
    assert [(p.name, p.port) for p in endpoint_slice.ports] == [("http", 8080)]
    assert [(e.addresses, e.conditions.ready, e.target_ref.name) for e in endpoint_slice.endpoints] == [
        (["10.244.1.7"], True, "web-1"), (["10.244.2.9"], False, "web-2")]
    kube.core.delete_namespaced_pod("web-1", "default", grace_period_seconds=0)
    eventually(lambda: not kube.core.read_namespaced_endpoints("web", "default").subsets[0].addresses, 10,
               message="web-1 to leave the endpoints")


def test_endpoints_go_with_their_service(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_service("default", _service("gone"))
    eventually(lambda: "gone" in {e.metadata.name for e in kube.core.list_namespaced_endpoints("default").items},
               10, message="endpoints")
    kube.core.delete_namespaced_service("gone", "default")
    eventually(lambda: "gone" not in {e.metadata.name for e in kube.core.list_namespaced_endpoints("default").items},
               10, message="endpoints deleted")


# --- pure functions ------------------------------------------------------------------------------------------

def _pod(name: str, ip: str | None, ready: bool = True, ports: list | None = None, **meta: object) -> dict:
    status: dict = {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]}
    if ip:
        status["podIP"] = ip
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", **meta},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports or []}]}, "status": status}


@pytest.mark.parametrize(("service_ports", "pod_ports", "expected"), [
    ([{"port": 80, "targetPort": 8080}], [], (("", 8080, "TCP", None),)),
    ([{"name": "web", "port": 80, "targetPort": "http"}], [{"name": "http", "containerPort": 9000}],
     (("web", 9000, "TCP", None),)),
    ([{"port": 80, "targetPort": "http"}], [], None),
    ([{"port": 53, "protocol": "UDP", "targetPort": "dns"}], [{"name": "dns", "containerPort": 53}], None),
])
def test_resolve_ports(service_ports: list, pod_ports: list, expected: tuple | None) -> None:
    assert resolve_ports({"spec": {"ports": service_ports}}, _pod("p", "10.0.0.1", ports=pod_ports)) == expected


def test_endpoint_subsets_sort_and_split_addresses() -> None:
    service = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "targetPort": 80}]}}
    pods = [_pod("b", "10.0.0.10"), _pod("a", "10.0.0.9"), _pod("c", "10.0.0.2", ready=False), _pod("d", None),
            _pod("e", "10.0.0.3", deletionTimestamp="2024-01-01T00:00:00Z")]
    subsets = endpoint_subsets(service, pods)
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.0.0.9", "10.0.0.10"]
    assert [a["ip"] for a in subsets[0]["notReadyAddresses"]] == ["10.0.0.2"]
    assert subsets[0]["ports"] == [{"port": 80, "protocol": "TCP"}]
