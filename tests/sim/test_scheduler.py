"""The simulated kube-scheduler: spreading, binding, and the real FailedScheduling messages."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubedog_ci.sim.controllers.scheduler import (
    FIT_PLUGIN,
    NodeUsage,
    Rejection,
    fit_error,
    node_event_plugins,
    preemption_message,
    resource_rejection,
    truncate,
)
from kubedog_ci.sim.placement import affinity_node_names, requirement_matches, tolerates
from kubedog_ci.sim.quantity import Quantity
from kubedog_ci.sim.store import Change
from tests.support import Kube

NOT_HELPFUL = "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."


def _pod(name: str, cpu: str | None = None, **spec: object) -> dict:
    container: dict = {"name": "app", "image": "nginx"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def _events(kube: Kube, name: str, reason: str) -> list:
    items = kube.core.list_namespaced_event("default", field_selector=f"involvedObject.name={name}").items
    return [e for e in items if e.reason == reason]


def _unschedulable(kube: Kube, eventually: Callable, name: str) -> str:
    """The FailedScheduling message, after checking it matches the PodScheduled condition."""
    def failed() -> object:
        events = _events(kube, name, "FailedScheduling")
        return events[0] if events else None

    event = eventually(failed, 10, message=f"FailedScheduling for {name}")
    assert event.type == "Warning" and event.source.component == "default-scheduler"
    pod = kube.core.read_namespaced_pod(name, "default")
    condition = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert (condition.status, condition.reason, condition.message) == ("False", "Unschedulable", event.message)
    assert pod.spec.node_name is None and pod.status.phase == "Pending"
    return event.message


def _node_of(kube: Kube, eventually: Callable, name: str) -> str:
    return eventually(lambda: kube.core.read_namespaced_pod(name, "default").spec.node_name, 10,
                      message=f"{name} to be scheduled")


def test_pods_spread_over_all_nodes_and_are_bound(kube: Kube, eventually: Callable) -> None:
    for index in range(3):
        kube.core.create_namespaced_pod("default", _pod(f"web-{index}"))
    nodes = {_node_of(kube, eventually, f"web-{i}") for i in range(3)}
    assert nodes == {"sim-worker", "sim-worker2", "sim-worker3"}
    for index in range(3):
        pod = kube.core.read_namespaced_pod(f"web-{index}", "default")
        scheduled = _events(kube, f"web-{index}", "Scheduled")
        assert [(e.type, e.message, e.source.component) for e in scheduled] == [
            ("Normal", f"Successfully assigned default/web-{index} to {pod.spec.node_name}", "default-scheduler")]
        assert any(c.type == "PodScheduled" and c.status == "True" for c in pod.status.conditions)


def test_insufficient_cpu_waits_for_room(kube: Kube, eventually: Callable) -> None:
    for index in range(3):
        kube.core.create_namespaced_pod("default", _pod(f"filler-{index}", cpu="3"))
    for index in range(3):
        _node_of(kube, eventually, f"filler-{index}")
    kube.core.create_namespaced_pod("default", _pod("web", cpu="2"))
    assert _unschedulable(kube, eventually, "web") == (
        "0/3 nodes are available: 3 Insufficient cpu. no new claims to deallocate, preemption: 0/3 nodes are "
        "available: 3 No preemption victims found for incoming pod.")
    freed = kube.core.read_namespaced_pod("filler-1", "default").spec.node_name
    kube.core.delete_namespaced_pod("filler-1", "default", grace_period_seconds=0)
    assert _node_of(kube, eventually, "web") == freed


def test_request_larger_than_any_node_is_not_helped_by_preemption(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_pod("default", _pod("huge", cpu="8"))
    assert _unschedulable(kube, eventually, "huge") == (
        f"0/3 nodes are available: 3 Insufficient cpu. no new claims to deallocate, {NOT_HELPFUL}")


def test_node_selector_mismatch_until_a_node_gets_the_label(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_pod("default", _pod("ssd", nodeSelector={"disk": "ssd"}))
    assert _unschedulable(kube, eventually, "ssd") == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. no new claims to "
        f"deallocate, {NOT_HELPFUL}")
    kube.core.patch_node("sim-worker3", {"metadata": {"labels": {"disk": "ssd"}}})
    assert _node_of(kube, eventually, "ssd") == "sim-worker3"


def test_taints_unschedulable_nodes_and_affinity_are_counted_per_node(kube: Kube, eventually: Callable) -> None:
    kube.core.patch_node("sim-worker", {"spec": {"taints": [{"key": "dedicated", "value": "gpu",
                                                             "effect": "NoSchedule"}]}})
    kube.core.patch_node("sim-worker2", {"spec": {"unschedulable": True}})
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                               "values": ["sim-worker", "sim-worker2"]}]}]}}}
    kube.core.create_namespaced_pod("default", _pod("picky", affinity=affinity))
    assert _unschedulable(kube, eventually, "picky") == (
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated "
        f"taint(s), 1 node(s) were unschedulable. no new claims to deallocate, {NOT_HELPFUL}")
    toleration = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    kube.core.create_namespaced_pod("default", _pod("tolerant", affinity=affinity, tolerations=toleration))
    assert _node_of(kube, eventually, "tolerant") == "sim-worker"


def test_match_fields_pin_a_pod_to_its_node(kube: Kube, eventually: Callable) -> None:
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["sim-worker2"]}]}]}}}
    kube.core.create_namespaced_pod("default", _pod("daemon", affinity=affinity))
    assert _node_of(kube, eventually, "daemon") == "sim-worker2"
    kube.core.create_namespaced_pod("default", _pod("daemon-big", cpu="5", affinity=affinity))
    assert _unschedulable(kube, eventually, "daemon-big") == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. no new "
        f"claims to deallocate, {NOT_HELPFUL}")


def test_missing_claim_blocks_scheduling_until_it_exists_and_binds(kube: Kube, eventually: Callable) -> None:
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    kube.core.create_namespaced_pod("default", _pod("db", volumes=volumes))
    assert _unschedulable(kube, eventually, "db") == (
        '0/3 nodes are available: persistentvolumeclaim "data" not found. not found')
    kube.core.create_namespaced_persistent_volume_claim("default", {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    _node_of(kube, eventually, "db")
    assert kube.core.read_namespaced_persistent_volume_claim("data", "default").status.phase == "Bound"


def test_unbound_immediate_claim_blocks_scheduling(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_persistent_volume_claim("default", {
        "metadata": {"name": "fast-data"},
        "spec": {"storageClassName": "fast", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}})
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "fast-data"}}]
    kube.core.create_namespaced_pod("default", _pod("db", volumes=volumes))
    assert _unschedulable(kube, eventually, "db") == (
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found")


def test_pods_of_other_schedulers_are_left_alone(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_pod("default", _pod("custom", schedulerName="my-scheduler"))
    kube.core.create_namespaced_pod("default", _pod("marker"))
    _node_of(kube, eventually, "marker")
    pod = kube.core.read_namespaced_pod("custom", "default")
    assert pod.spec.node_name is None and not _events(kube, "custom", "FailedScheduling")


# --- pure functions ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("toleration", "taint", "expected"), [
    ({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
     {"key": "k", "value": "v", "effect": "NoSchedule"}, True),
    ({"key": "k", "value": "v"}, {"key": "k", "value": "v", "effect": "NoExecute"}, True),
    ({"key": "k", "operator": "Equal", "value": "w"}, {"key": "k", "value": "v", "effect": "NoSchedule"}, False),
    ({"key": "k", "operator": "Exists"}, {"key": "k", "value": "v", "effect": "NoSchedule"}, True),
    ({"operator": "Exists"}, {"key": "anything", "effect": "NoExecute"}, True),
    ({"key": "k", "operator": "Exists", "effect": "NoExecute"}, {"key": "k", "effect": "NoSchedule"}, False),
    ({"key": "other", "operator": "Exists"}, {"key": "k", "effect": "NoSchedule"}, False),
])
def test_tolerates(toleration: dict, taint: dict, expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


@pytest.mark.parametrize(("requirement", "labels", "expected"), [
    ({"key": "a", "operator": "In", "values": ["x", "y"]}, {"a": "y"}, True),
    ({"key": "a", "operator": "In", "values": ["x"]}, {}, False),
    ({"key": "a", "operator": "NotIn", "values": ["x"]}, {}, True),
    ({"key": "a", "operator": "NotIn", "values": ["x"]}, {"a": "x"}, False),
    ({"key": "a", "operator": "Exists"}, {"a": ""}, True),
    ({"key": "a", "operator": "DoesNotExist"}, {"a": ""}, False),
    ({"key": "a", "operator": "Gt", "values": ["3"]}, {"a": "4"}, True),
    ({"key": "a", "operator": "Lt", "values": ["3"]}, {"a": "4"}, False),
    ({"key": "a", "operator": "Gt", "values": ["3"]}, {"a": "four"}, False),
])
def test_requirement_matches(requirement: dict, labels: dict, expected: bool) -> None:
    assert requirement_matches(requirement, labels) is expected


@pytest.mark.parametrize(("terms", "expected"), [
    ([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]}], {"a"}),
    ([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a", "b"]}]},
      {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]}], {"a", "b", "c"}),
    ([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]},
      {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}], None),
    ([], None),
])
def test_affinity_node_names(terms: list, expected: set | None) -> None:
    spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": terms}}}}
    assert affinity_node_names(spec) == expected


def test_fit_error_sorts_the_reason_histogram_and_counts_absent_nodes() -> None:
    statuses = {"a": Rejection(("Insufficient cpu", "Insufficient memory")), "b": Rejection(("Too many pods",)),
                "c": Rejection(("Insufficient cpu",))}
    assert fit_error(5, statuses, Rejection(("node(s) didn't satisfy plugin(s) [NodeAffinity]",)), postfilter="x") \
        == ("0/5 nodes are available: 1 Insufficient memory, 1 Too many pods, 2 Insufficient cpu, 2 node(s) didn't "
            "satisfy plugin(s) [NodeAffinity]. x")
    assert fit_error(3, {}, prefilter="pod has unbound immediate PersistentVolumeClaims", postfilter="not found") \
        == "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found"


@pytest.mark.parametrize(("policy", "expected"), [
    ("PreemptLowerPriority", "preemption: 0/4 nodes are available: 1 No preemption victims found for incoming pod, "
                             "3 Preemption is not helpful for scheduling."),
    ("Never", "preemption: not eligible due to preemptionPolicy=Never."),
])
def test_preemption_message(policy: str, expected: str) -> None:
    statuses = {"a": Rejection(("Insufficient cpu",), False), "b": Rejection(("Insufficient cpu",), True),
                "c": Rejection(("node(s) had untolerated taint(s)",))}
    assert preemption_message({"spec": {"preemptionPolicy": policy}}, 4, statuses) == expected


def _usage(pods: int, cpu: str, allocatable: dict) -> NodeUsage:
    node = {"metadata": {"name": "n"}, "status": {"allocatable": allocatable}}
    return NodeUsage(node, pods=[{}] * pods, requested={"cpu": Quantity.parse(cpu)})


@pytest.mark.parametrize(("requests", "usage", "expected"), [
    ({"cpu": "1"}, _usage(0, "0", {"cpu": "4", "pods": "110"}), None),
    ({"cpu": "2"}, _usage(1, "3", {"cpu": "4", "pods": "110"}), Rejection(("Insufficient cpu",), False, FIT_PLUGIN)),
    ({"cpu": "5"}, _usage(0, "0", {"cpu": "4", "pods": "110"}), Rejection(("Insufficient cpu",), True, FIT_PLUGIN)),
    ({"cpu": "1", "memory": "1Gi"}, _usage(2, "0", {"cpu": "4", "memory": "512Mi", "pods": "2"}),
     Rejection(("Too many pods", "Insufficient memory"), True, FIT_PLUGIN)),
    ({}, _usage(3, "0", {"cpu": "4", "pods": "3"}), Rejection(("Too many pods",), False, FIT_PLUGIN)),
])
def test_resource_rejection(requests: dict, usage: NodeUsage, expected: Rejection | None) -> None:
    assert resource_rejection({k: Quantity.parse(v) for k, v in requests.items()}, usage) == expected


def test_truncate_keeps_messages_within_1024_characters() -> None:
    assert truncate("x" * 1024) == "x" * 1024
    assert truncate("x" * 2000) == "x" * 1020 + " ..."


def _node(**changes: object) -> dict:
    node = {"metadata": {"name": "n", "labels": {"a": "1"}}, "spec": {}, "status": {"allocatable": {"cpu": "4"},
                                                                                  "conditions": []}}
    for path, value in changes.items():
        part, field = path.split("__")
        node[part][field] = value
    return node


@pytest.mark.parametrize(("change", "expected"), [
    (Change(1, "/nodes", "ADDED", _node(), None), {"NodeUnschedulable", "TaintToleration", "NodeAffinity",
                                                    "NodeResourcesFit", "VolumeBinding"}),
    (Change(2, "/nodes", "MODIFIED", _node(status__conditions=[{"type": "Ready"}]), _node()), set()),
    (Change(3, "/nodes", "MODIFIED", _node(metadata__labels={"a": "2"}), _node()), {"NodeAffinity",
                                                                                   "VolumeBinding"}),
    (Change(4, "/nodes", "MODIFIED", _node(spec__taints=[]), _node()), {"TaintToleration"}),
    (Change(5, "/nodes", "MODIFIED", _node(spec__unschedulable=True), _node()), {"NodeUnschedulable"}),
    (Change(6, "/nodes", "MODIFIED", _node(status__allocatable={"cpu": "8"}), _node()), {"NodeResourcesFit"}),
    (Change(7, "/nodes", "DELETED", _node(), _node()), set()),
])
def test_node_events_requeue_pods_only_for_the_plugins_they_concern(change: Change, expected: set) -> None:
    assert node_event_plugins(change) == expected
