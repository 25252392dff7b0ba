"""The simulated DaemonSet controller, end to end through the official Python client and kubectl.

Availability invariants of rolling updates are checked on the pod watch stream (see workload_support), so
the tests hold at any machine speed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from kubernetes import client

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.controllers.daemonset import (
    Backoff,
    is_updated,
    node_name_affinity,
    scaled_value,
    should_run,
    target_node,
    with_daemon_tolerations,
)
from kubedog_ci.sim.controllers.workload import compute_hash as template_hash
from kubedog_ci.sim.placement import node_affinity_matches, requirement_matches, tolerates, untolerated_taint
from tests.sim.workload_support import PodEvent, PodRecorder, refuse_pods
from tests.support import Kube, kubectl

NS = "default"
NODES = ("sim-worker", "sim-worker2", "sim-worker3")
POD_NAME = re.compile(r"^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$")
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def daemonset(name: str = "agent", pod_spec: dict | None = None, **spec: object) -> dict:
    body = {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "agent", "image": "agent:1.0"}], **(pod_spec or {})}}},
    }
    body["spec"].update(spec)
    return body


def node(name: str = "n1", labels: dict | None = None, taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def get_ds(kube: Kube, name: str = "agent") -> client.V1DaemonSet:
    return kube.apps.read_namespaced_daemon_set(name, NS)


def rolled_out(kube: Kube, desired: int = 3, name: str = "agent") -> Callable[[], bool]:
    """What `kubectl rollout status` waits for, plus the expected number of nodes."""
    def check() -> bool:
        ds = get_ds(kube, name)
        status = ds.status
        return (status.observed_generation == ds.metadata.generation and status.desired_number_scheduled == desired
                and status.updated_number_scheduled == desired and status.number_available == desired)
    return check


def live_pods(kube: Kube, name: str = "agent") -> dict[str, client.V1Pod]:
    """The DaemonSet's pods that are not being deleted, by the node they are pinned to."""
    found = kube.core.list_namespaced_pod(NS, label_selector=f"app={name}").items
    return {target_node(kube.api_client.sanitize_for_serialization(p)): p for p in found
            if not p.metadata.deletion_timestamp}


def controller_events(kube: Kube) -> list[tuple[str, str, str]]:
    items = kube.core.list_namespaced_event(NS).items
    items.sort(key=lambda e: int(e.metadata.resource_version))
    return [(e.type, e.reason, e.message) for e in items if e.source.component == "daemonset-controller"]


def new_image(kube: Kube, image: str, name: str = "agent") -> None:
    kube.apps.patch_namespaced_daemon_set(name, NS, {"spec": {"template": {"spec": {
        "containers": [{"name": "agent", "image": image}]}}}})


def roll_to_image(kube: Kube, pods: PodRecorder, eventually: Callable[..., object], image: str) -> set[str]:
    """Once agent is rolled out, roll it to `image` and wait for its old pods' deletion; return their names."""
    eventually(rolled_out(kube), 15, message="agent rolled out")
    old = {p.metadata.name for p in live_pods(kube).values()}

    new_image(kube, image)
    eventually(rolled_out(kube), 15, message="agent updated")
    for name in old:
        pods.index(lambda e, n=name: e.name == n and e.type == "DELETED", message=f"{name} deleted")
    return old


def nodes_over_time(events: list[PodEvent]) -> Iterator[dict[str, list[PodEvent]]]:
    """After each pod event, the pods that exist on each node."""
    live: dict[str, PodEvent] = {}
    for event in events:
        if event.type == "DELETED":
            live.pop(event.name, None)
        else:
            live[event.name] = event
        by_node: dict[str, list[PodEvent]] = {n: [] for n in NODES}
        for pod in live.values():
            by_node.setdefault(pod.node or "", []).append(pod)
        yield by_node


def serving(pods: list[PodEvent]) -> bool:
    return any(p.ready and not p.terminating for p in pods)


def states_since_fully_serving(events: list[PodEvent]) -> list[dict[str, list[PodEvent]]]:
    """The per-node pods after each event, from the first moment every node had a ready pod."""
    states = list(nodes_over_time(events))
    start = next(i for i, state in enumerate(states) if all(serving(p) for p in state.values()))
    return states[start:]


# --- pure helpers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("toleration", "taint", "expected"), [
    ({"key": "a", "operator": "Equal", "value": "x", "effect": "NoSchedule"},
     {"key": "a", "value": "x", "effect": "NoSchedule"}, True),
    ({"key": "a", "value": "x"}, {"key": "a", "value": "y", "effect": "NoSchedule"}, False),
    ({"key": "a", "operator": "Exists"}, {"key": "a", "value": "y", "effect": "NoExecute"}, True),
    ({"operator": "Exists"}, {"key": "anything", "effect": "NoSchedule"}, True),
    ({"key": "a", "operator": "Exists", "effect": "NoSchedule"}, {"key": "a", "effect": "NoExecute"}, False),
    ({"key": "b", "operator": "Exists"}, {"key": "a", "effect": "NoSchedule"}, False),
])
def test_tolerates(toleration: dict, taint: dict, expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


def test_untolerated_taint_only_looks_at_the_given_effects() -> None:
    taints = [{"key": "soft", "effect": "PreferNoSchedule"}, {"key": "hard", "effect": "NoSchedule"}]
    assert untolerated_taint(taints, [], ("NoSchedule", "NoExecute")) == taints[1]
    assert untolerated_taint(taints, [], ("NoExecute",)) is None
    assert untolerated_taint(taints, [{"key": "hard", "operator": "Exists"}], ("NoSchedule",)) is None


@pytest.mark.parametrize(("requirement", "values", "expected"), [
    ({"key": "zone", "operator": "In", "values": ["a", "b"]}, {"zone": "a"}, True),
    ({"key": "zone", "operator": "In", "values": ["a"]}, {}, False),
    ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {}, True),
    ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {"zone": "a"}, False),
    ({"key": "gpu", "operator": "Exists"}, {"gpu": ""}, True),
    ({"key": "gpu", "operator": "DoesNotExist"}, {"gpu": ""}, False),
    ({"key": "cores", "operator": "Gt", "values": ["4"]}, {"cores": "8"}, True),
    ({"key": "cores", "operator": "Lt", "values": ["4"]}, {"cores": "8"}, False),
    ({"key": "cores", "operator": "Gt", "values": ["4"]}, {"cores": "many"}, False),
    ({"key": "zone", "operator": "Bogus", "values": ["a"]}, {"zone": "a"}, False),
])
def test_requirement_matches(requirement: dict, values: dict, expected: bool) -> None:
    assert requirement_matches(requirement, values) is expected


def _required(*terms: dict) -> dict:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}}


@pytest.mark.parametrize(("spec", "expected"), [
    ({}, True),
    ({"nodeSelector": {"disk": "ssd"}}, True),
    ({"nodeSelector": {"disk": "hdd"}}, False),
    (_required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}), True),
    (_required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}), False),
    (_required({"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]},
               {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}), True),
    (_required({}), False),
    (_required(), False),
])
def test_node_affinity_matches(spec: dict, expected: bool) -> None:
    assert node_affinity_matches(spec, node(labels={"disk": "ssd"})) is expected


@pytest.mark.parametrize(("pod_spec", "taints", "expected"), [
    ({}, [], (True, True)),
    ({"nodeSelector": {"role": "db"}}, [], (False, False)),
    ({"nodeName": "other"}, [], (False, False)),
    ({}, [{"key": "x", "effect": "NoSchedule"}], (False, True)),
    ({}, [{"key": "x", "effect": "NoExecute"}], (False, False)),
    ({"tolerations": [{"key": "x", "operator": "Exists"}]}, [{"key": "x", "effect": "NoExecute"}], (True, True)),
    ({}, [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}], (True, True)),
    ({}, [{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}], (False, True)),
    ({"hostNetwork": True}, [{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}],
     (True, True)),
])
def test_should_run(pod_spec: dict, taints: list, expected: tuple[bool, bool]) -> None:
    assert should_run(daemonset(pod_spec=pod_spec), node(taints=taints)) == expected


def test_daemon_tolerations_are_added_once() -> None:
    spec = with_daemon_tolerations({"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                                     "effect": "NoExecute", "tolerationSeconds": 300}]})
    assert spec["tolerations"] == DEFAULT_TOLERATIONS
    assert with_daemon_tolerations(spec) == spec
    assert with_daemon_tolerations({"hostNetwork": True})["tolerations"][-1] == {
        "key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


def test_node_name_affinity_replaces_required_terms_only() -> None:
    preferred = [{"weight": 1, "preference": {"matchExpressions": [{"key": "z", "operator": "Exists"}]}}]
    affinity = _required({"matchExpressions": [{"key": "disk", "operator": "Exists"}]})["affinity"]
    affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    pinned = node_name_affinity(affinity, "n1")
    assert pinned["nodeAffinity"] == {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": preferred}
    assert target_node({"spec": {"affinity": pinned}}) == "n1"
    assert target_node({"spec": {"nodeName": "n2", "affinity": pinned}}) == "n2"
    assert target_node({"spec": {}}) is None


@pytest.mark.parametrize(("value", "total", "expected"), [
    (1, 3, 1), ("25%", 3, 1), ("50%", 3, 2), ("100%", 3, 3), ("0%", 3, 0), (None, 3, 0), (0, 10, 0)])
def test_scaled_value_rounds_up(value: object, total: int, expected: int) -> None:
    assert scaled_value(value, total) == expected


def test_template_hash_depends_on_template_and_collisions() -> None:
    template = daemonset()["spec"]["template"]
    assert re.match(r"^[4-9bcdf]{1,10}$", template_hash(template, None))
    assert template_hash(template, None) != template_hash(template, 0) != template_hash(template, 1)
    assert template_hash(daemonset(pod_spec={"hostNetwork": True})["spec"]["template"], None) != \
        template_hash(template, None)


@pytest.mark.parametrize(("labels", "expected"), [
    ({"controller-revision-hash": "abc"}, True),
    ({"controller-revision-hash": "old", "pod-template-generation": "2"}, True),
    ({"controller-revision-hash": "old", "pod-template-generation": "1"}, False),
    ({}, False),
])
def test_is_updated(labels: dict, expected: bool) -> None:
    assert is_updated({"metadata": {"labels": labels}}, "abc", "2") is expected


def test_failed_pod_backoff_doubles() -> None:
    backoff = Backoff(time_scale=1000.0)
    assert backoff.remaining("k") == 0
    backoff.next("k")
    assert 0.99 < backoff.remaining("k") <= 1.0
    backoff.next("k")
    assert 1.99 < backoff.remaining("k") <= 2.0


# --- end to end --------------------------------------------------------------------------------------------

def test_one_pod_per_node_with_the_real_pod_shape(running: Kube, eventually: Callable[..., object]) -> None:
    kube = running
    kube.apps.create_namespaced_daemon_set(NS, daemonset())
    eventually(rolled_out(kube), 15, message="agent rolled out")
    ds = get_ds(kube)
    assert ds.metadata.annotations == {"deprecated.daemonset.template.generation": "1"}
    status = ds.status
    assert (status.desired_number_scheduled, status.current_number_scheduled, status.number_ready) == (3, 3, 3)
    assert (status.number_available, status.updated_number_scheduled, status.number_misscheduled) == (3, 3, 0)
    assert status.number_unavailable is None

    [revision] = kube.apps.list_namespaced_controller_revision(NS).items
    hash_ = revision.metadata.labels["controller-revision-hash"]
    assert revision.metadata.name == f"agent-{hash_}"
    assert revision.revision == 1
    assert revision.metadata.labels == {"app": "agent", "controller-revision-hash": hash_}
    assert revision.metadata.annotations == {"deprecated.daemonset.template.generation": "1"}
    assert revision.data["spec"]["template"]["$patch"] == "replace"

    by_node = live_pods(kube)
    assert sorted(by_node) == list(NODES)
    sanitize = kube.api_client.sanitize_for_serialization
    for node_name, pod in by_node.items():
        assert POD_NAME.match(pod.metadata.name)
        assert pod.metadata.generate_name == "agent-"
        assert pod.metadata.labels == {"app": "agent", "controller-revision-hash": hash_,
                                       "pod-template-generation": "1"}
        assert sanitize(pod.spec.affinity) == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                    "values": [node_name]}]}]}}}
        assert sanitize(pod.spec.tolerations) == DEFAULT_TOLERATIONS
        [owner] = pod.metadata.owner_references
        assert (owner.kind, owner.name, owner.controller, owner.block_owner_deletion) == (
            "DaemonSet", "agent", True, True)
    created = sorted(m for _, r, m in controller_events(kube) if r == "SuccessfulCreate")
    assert created == sorted(f"Created pod: {p.metadata.name}" for p in by_node.values())


def test_node_selector_follows_node_labels(running: Kube, eventually: Callable[..., object]) -> None:
    kube = running
    kube.apps.create_namespaced_daemon_set(NS, daemonset(pod_spec={"nodeSelector": {"disk": "ssd"}}))
    eventually(lambda: get_ds(kube).status.observed_generation == 1, 15, message="agent observed")
    assert get_ds(kube).status.desired_number_scheduled == 0
    assert live_pods(kube) == {}

    kube.core.patch_node("sim-worker2", {"metadata": {"labels": {"disk": "ssd"}}})
    eventually(rolled_out(kube, desired=1), 15, message="a pod on the labelled node")
    [pod] = live_pods(kube).values()
    assert target_node(kube.api_client.sanitize_for_serialization(pod)) == "sim-worker2"

    kube.core.patch_node("sim-worker2", {"metadata": {"labels": {"disk": None}}})
    eventually(lambda: live_pods(kube) == {} and get_ds(kube).status.desired_number_scheduled == 0, 15,
               message="the pod removed with the label")
    assert ("Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}") in controller_events(kube)


def test_taints_and_tolerations(running: Kube, eventually: Callable[..., object]) -> None:
    kube = running
    kube.core.patch_node("sim-worker3", {"spec": {"taints": [{"key": "dedicated", "value": "infra",
                                                              "effect": "NoSchedule"}]}})
    kube.apps.create_namespaced_daemon_set(NS, daemonset())
    tolerant = {"tolerations": [{"key": "dedicated", "operator": "Exists"}]}
    kube.apps.create_namespaced_daemon_set(NS, daemonset("infra", pod_spec=tolerant))
    eventually(rolled_out(kube, desired=2), 15, message="agent on the two untainted nodes")
    eventually(rolled_out(kube, desired=3, name="infra"), 15, message="infra everywhere")
    assert sorted(live_pods(kube)) == ["sim-worker", "sim-worker2"]

    kube.core.patch_node("sim-worker", {"spec": {"taints": [{"key": "evict", "effect": "NoExecute"}]}})
    eventually(lambda: sorted(live_pods(kube)) == ["sim-worker2"], 15, message="agent evicted by NoExecute")
    eventually(lambda: sorted(live_pods(kube, "infra")) == ["sim-worker2", "sim-worker3"], 15,
               message="infra evicted by NoExecute")

    kube.core.patch_node("sim-worker2", {"spec": {"taints": [{"key": "maintenance", "effect": "NoSchedule"}]}})

    def misscheduled() -> bool:
        status = get_ds(kube).status
        return (status.desired_number_scheduled, status.current_number_scheduled,
                status.number_misscheduled) == (0, 0, 1)
    eventually(misscheduled, 15, message="agent's pod kept on the NoSchedule node, counted as misscheduled")
    assert sorted(live_pods(kube)) == ["sim-worker2"]


def test_rolling_update_keeps_at_most_max_unavailable_nodes_down(
        running: Kube, pods: PodRecorder, eventually: Callable[..., object]) -> None:
    kube = running
    kube.apps.create_namespaced_daemon_set(NS, daemonset())
    old = roll_to_image(kube, pods, eventually, "agent:2.0")
    states = states_since_fully_serving(pods.snapshot())
    assert max(sum(not serving(p) for p in state.values()) for state in states) == 1

    current = live_pods(kube)["sim-worker"].metadata.labels["controller-revision-hash"]
    assert kube.apps.read_namespaced_controller_revision(f"agent-{current}", NS).revision == 2
    for pod in live_pods(kube).values():
        assert pod.metadata.labels["pod-template-generation"] == "2"
        assert pod.spec.containers[0].image == "agent:2.0"
    assert sorted(r.revision for r in kube.apps.list_namespaced_controller_revision(NS).items) == [1, 2]
    deleted = sorted(m for _, r, m in controller_events(kube) if r == "SuccessfulDelete")
    assert deleted == sorted(f"Deleted pod: {name}" for name in old)


def test_max_surge_never_leaves_a_node_without_a_ready_pod(
        running: Kube, pods: PodRecorder, eventually: Callable[..., object]) -> None:
    kube = running
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    kube.apps.create_namespaced_daemon_set(NS, daemonset(updateStrategy=strategy))
    roll_to_image(kube, pods, eventually, "agent:2.0")
    states = states_since_fully_serving(pods.snapshot())
    assert all(serving(p) for state in states for p in state.values())
    assert max(len(p) for state in states for p in state.values()) == 2


def test_on_delete_replaces_only_deleted_pods(running: Kube, eventually: Callable[..., object]) -> None:
    kube = running
    kube.apps.create_namespaced_daemon_set(NS, daemonset(updateStrategy={"type": "OnDelete"}))
    eventually(lambda: get_ds(kube).status.number_ready == 3, 15, message="3 ready pods")
    old_hash = live_pods(kube)["sim-worker"].metadata.labels["controller-revision-hash"]

    new_image(kube, "agent:2.0")
    eventually(lambda: get_ds(kube).status.observed_generation == 2, 15, message="generation 2 observed")
    assert get_ds(kube).status.updated_number_scheduled is None
    kube.core.delete_namespaced_pod(live_pods(kube)["sim-worker2"].metadata.name, NS)

    def replaced() -> bool:
        pod = live_pods(kube).get("sim-worker2")
        return pod is not None and pod.metadata.labels["pod-template-generation"] == "2" and \
            get_ds(kube).status.number_ready == 3
    eventually(replaced, 15, message="the deleted pod replaced at generation 2")
    hashes = {n: p.metadata.labels["controller-revision-hash"] for n, p in live_pods(kube).items()}
    assert hashes["sim-worker"] == hashes["sim-worker3"] == old_hash != hashes["sim-worker2"]
    assert get_ds(kube).status.updated_number_scheduled == 1


@pytest.mark.kubectl
def test_failed_create_event_and_kubectl_rollout_status(sim: SimCluster, running: Kube,
                                                         eventually: Callable[..., object]) -> None:
    kube = running
    blocker = refuse_pods(lambda pod: target_node(pod) == "sim-worker3", used=2)
    sim.api.admission.append(blocker)
    kube.apps.create_namespaced_daemon_set(NS, daemonset())
    failed = re.compile(r'^Error creating: pods "agent-[a-z0-9]{5}" is forbidden: exceeded quota: pods, '
                        r"requested: pods=1, used: pods=2, limited: pods=2$")
    eventually(lambda: any(r == "FailedCreate" and failed.match(m) for _, r, m in controller_events(kube)), 15,
               message="FailedCreate event")
    eventually(lambda: get_ds(kube).status.number_ready == 2, 15, message="two ready pods")
    status = get_ds(kube).status
    assert (status.desired_number_scheduled, status.current_number_scheduled, status.number_unavailable) == (3, 2, 1)
    rollout_status = ("rollout", "status", "daemonset/agent")
    waiting = kubectl(kube, *rollout_status, "--watch=false")
    assert waiting.stdout == ('Waiting for daemon set "agent" rollout to finish: 2 out of 3 new pods have been '
                              "updated...\n")

    sim.api.admission.remove(blocker)
    done = kubectl(kube, *rollout_status, "--timeout=30s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == 'daemon set "agent" successfully rolled out'
