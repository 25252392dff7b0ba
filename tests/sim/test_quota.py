"""ResourceQuota: the 403 bodies of quota admission and the status.used the controller keeps."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from kubernetes.client import ApiException

from kubedog_ci.sim.controllers.quota import compute_usage, missing_requests, pretty, tracked
from kubedog_ci.sim.quantity import Quantity
from kubedog_ci.sim.resources import BUILTIN
from tests.support import Kube

HARD = {"pods": "3", "requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2", "limits.memory": "2Gi"}


def _pod(name: str, cpu: str = "500m", generate: bool = False, **spec: object) -> dict:
    meta = {"generateName": name} if generate else {"name": name}
    resources = {"requests": {"cpu": cpu, "memory": "128Mi"}, "limits": {"cpu": cpu, "memory": "256Mi"}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "app", "image": "nginx", "resources": resources}], **spec}}


def _quota(kube: Kube, eventually: Callable, name: str, hard: dict) -> None:
    kube.core.create_namespaced_resource_quota("default", {"metadata": {"name": name}, "spec": {"hard": hard}})
    def counted() -> object:
        status = kube.core.read_namespaced_resource_quota(name, "default").status
        return status and status.used

    eventually(counted, 10, message="quota status")


def _used(kube: Kube, name: str = "compute") -> dict:
    return kube.core.read_namespaced_resource_quota(name, "default").status.used


def _forbidden(call: Callable[[], object]) -> dict:
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 403
    return json.loads(caught.value.body)


def test_status_starts_at_zero_and_follows_pods(kube: Kube, eventually: Callable) -> None:
    _quota(kube, eventually, "compute", HARD)
    quota = kube.core.read_namespaced_resource_quota("compute", "default")
    assert quota.status.hard == HARD
    assert quota.status.used == {name: "0" for name in HARD}
    kube.core.create_namespaced_pod("default", _pod("a", cpu="250m"))
    kube.core.create_namespaced_pod("default", _pod("b", cpu="250m"))
    eventually(lambda: _used(kube) == {"pods": "2", "requests.cpu": "500m", "requests.memory": "256Mi",
                                       "limits.cpu": "500m", "limits.memory": "512Mi"}, 10, message="usage of a, b")
    kube.core.delete_namespaced_pod("a", "default", grace_period_seconds=0)
    eventually(lambda: _used(kube)["pods"] == "1" and _used(kube)["requests.cpu"] == "250m", 10,
               message="usage after deleting a")


def test_exceeding_the_quota_is_forbidden_with_the_real_message(kube: Kube, eventually: Callable) -> None:
    _quota(kube, eventually, "compute", HARD)
    kube.core.create_namespaced_pod("default", _pod("web-1"))
    kube.core.create_namespaced_pod("default", _pod("web-2"))
    assert _used(kube)["requests.cpu"] == "1"
    body = _forbidden(lambda: kube.core.create_namespaced_pod("default", _pod("web-abc-xyz")))
    assert body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Forbidden",
        "message": 'pods "web-abc-xyz" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, '
                   "used: requests.cpu=1, limited: requests.cpu=1",
        "details": {"name": "web-abc-xyz", "kind": "pods"}, "code": 403}
    generated = _forbidden(lambda: kube.core.create_namespaced_pod("default", _pod("web-7d4b9c-", generate=True)))
    assert generated["message"].startswith('pods "web-7d4b9c-" is forbidden: exceeded quota: compute,')


def test_several_exceeded_resources_are_listed_in_name_order(kube: Kube, eventually: Callable) -> None:
    _quota(kube, eventually, "compute", {"pods": "1", "limits.cpu": "1"})
    kube.core.create_namespaced_pod("default", _pod("first", cpu="1"))
    body = _forbidden(lambda: kube.core.create_namespaced_pod("default", _pod("second", cpu="1")))
    assert body["message"] == ('pods "second" is forbidden: exceeded quota: compute, requested: '
                               "limits.cpu=1,pods=1, used: limits.cpu=1,pods=1, limited: limits.cpu=1,pods=1")


def test_pods_must_specify_what_the_quota_constrains(kube: Kube, eventually: Callable) -> None:
    _quota(kube, eventually, "compute", HARD)
    bare = {"metadata": {"name": "bare"}, "spec": {"containers": [{"name": "app", "image": "nginx"},
                                                                  {"name": "sidecar", "image": "envoy"}]}}
    body = _forbidden(lambda: kube.core.create_namespaced_pod("default", bare))
    assert body["message"] == (
        'pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: app,sidecar; limits.memory '
        "for: app,sidecar; requests.cpu for: app,sidecar; requests.memory for: app,sidecar")


def test_terminal_pods_only_count_as_objects(kube: Kube, eventually: Callable) -> None:
    _quota(kube, eventually, "compute", {"pods": "2", "requests.cpu": "1", "count/pods": "5"})
    kube.core.create_namespaced_pod("default", _pod("job", schedulerName="nobody"))
    eventually(lambda: _used(kube) == {"pods": "1", "requests.cpu": "500m", "count/pods": "1"}, 10,
               message="usage of the running pod")
    kube.core.patch_namespaced_pod_status("job", "default", {"status": {"phase": "Succeeded"}})
    eventually(lambda: _used(kube) == {"pods": "0", "requests.cpu": "0", "count/pods": "1"}, 10,
               message="usage of the finished pod")


def test_object_count_quota(kube: Kube, eventually: Callable) -> None:
    _quota(kube, eventually, "objects", {"count/configmaps": "1", "services.loadbalancers": "0"})
    kube.core.create_namespaced_config_map("default", {"metadata": {"name": "one"}})
    body = _forbidden(lambda: kube.core.create_namespaced_config_map("default", {"metadata": {"name": "two"}}))
    assert body["message"] == ('configmaps "two" is forbidden: exceeded quota: objects, requested: '
                               "count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1")
    service = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    body = _forbidden(lambda: kube.core.create_namespaced_service("default", service))
    assert body["message"].endswith("requested: services.loadbalancers=1, used: services.loadbalancers=0, "
                                    "limited: services.loadbalancers=0")
    eventually(lambda: _used(kube, "objects") == {"count/configmaps": "1", "services.loadbalancers": "0"}, 10,
               message="object counts")


# --- pure functions ------------------------------------------------------------------------------------------

def _q(values: dict) -> dict:
    return {k: Quantity.parse(v) for k, v in values.items()}


@pytest.mark.parametrize(("requests", "limits", "expected"), [
    ({"cpu": "1"}, {}, {"pods": "1", "cpu": "1", "requests.cpu": "1"}),
    ({"memory": "1Gi"}, {"memory": "2Gi"}, {"pods": "1", "memory": "1Gi", "requests.memory": "1Gi",
                                            "limits.memory": "2Gi"}),
    ({"nvidia.com/gpu": "1"}, {}, {"pods": "1", "requests.nvidia.com/gpu": "1"}),
    ({}, {}, {"pods": "1"}),
])
def test_compute_usage(requests: dict, limits: dict, expected: dict) -> None:
    assert {k: str(v) for k, v in compute_usage(_q(requests), _q(limits)).items()} == expected


@pytest.mark.parametrize(("containers", "restricted", "expected"), [
    ([{"name": "a", "resources": {"requests": {"cpu": "1"}}}], ["requests.cpu", "pods"], ""),
    ([{"name": "a"}], ["pods", "count/pods"], ""),
    ([{"name": "a", "resources": {"limits": {"cpu": "1"}}}], ["requests.cpu", "limits.cpu"], ""),
    ([{"name": "a"}, {"name": "b", "resources": {"requests": {"cpu": "1"}}}], ["cpu", "limits.cpu"],
     "must specify cpu for: a; limits.cpu for: a,b"),
])
def test_missing_requests(containers: list, restricted: list, expected: str) -> None:
    assert missing_requests({"containers": containers}, restricted) == expected


def test_pretty_prints_sorted_name_value_pairs() -> None:
    assert pretty(_q({"pods": "1", "limits.cpu": "1500m", "requests.memory": "1Gi"}), ["pods", "limits.cpu"]) \
        == "limits.cpu=1500m,pods=1"


@pytest.mark.parametrize(("key", "names", "expected"), [
    ("/pods", ["pods", "requests.cpu", "count/pods", "requests.storage", "services"], ["count/pods", "pods",
                                                                                        "requests.cpu"]),
    ("/services", ["services", "services.nodeports", "pods"], ["services", "services.nodeports"]),
    ("apps/deployments", ["count/deployments.apps", "pods"], ["count/deployments.apps"]),
    ("/persistentvolumeclaims", ["requests.storage", "gold.storageclass.storage.k8s.io/requests.storage"],
     ["gold.storageclass.storage.k8s.io/requests.storage", "requests.storage"]),
])
def test_tracked_resources(key: str, names: list, expected: list) -> None:
    rt = next(rt for rt in BUILTIN if rt.key == key and rt.storage_group is None)
    assert tracked(rt, names) == expected
