"""Standalone ReplicaSets through the official Python client, against pkg/controller/replicaset: the pods they
create, the status they report, which pods they delete first, and how they adopt and release pods.

The ReplicaSets that need pods in a particular state use `schedulerName: manual` (no scheduler serves it, so
the pods stay unscheduled and no kubelet touches them) and set pod status themselves; the rest run on the full
simulated cluster. The deletion ranking gets table-driven tests of the pure function.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client

from kubedog_ci.sim.clock import Clock, rfc3339
from kubedog_ci.sim.controllers.replicaset import pods_to_delete
from kubedog_ci.sim.controllers.workload import pod_from_template, slow_start_batches
from kubedog_ci.sim.pods import is_pod_active
from tests.support import Kube, wait_until

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
HOLD = "example.com/hold"


def replica_set(name: str, replicas: int = 3, manual: bool = False, finalizers: list[str] | None = None) -> dict:
    spec: dict = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    if manual:
        spec["schedulerName"] = "manual"
    meta: dict = {"labels": {"app": name, "tier": "web"}}
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": meta, "spec": spec}}}


def pods(kc: Kube, ns: str) -> list[client.V1Pod]:
    return kc.core.list_namespaced_pod(ns).items


def active(kc: Kube, ns: str) -> list[client.V1Pod]:
    return [p for p in pods(kc, ns) if not p.metadata.deletion_timestamp]


def make_ready(kc: Kube, ns: str, name: str) -> None:
    body = {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": Clock().stamp()}]}}
    kc.core.patch_namespaced_pod_status(name, ns, body, _content_type=STRATEGIC)


def status(kc: Kube, ns: str, name: str) -> tuple:
    s = kc.apps.read_namespaced_replica_set(name, ns).status
    if s is None:
        return ()
    return s.replicas, s.fully_labeled_replicas, s.ready_replicas, s.available_replicas, s.observed_generation


def messages(kc: Kube, ns: str, reason: str) -> list[str]:
    return [e.message for e in kc.core.list_namespaced_event(ns).items if e.reason == reason]


# --- end to end ------------------------------------------------------------------------------------------------


def test_replica_set_creates_owned_pods_and_reports_their_status(kc: Kube, ns: str) -> None:
    rs = kc.apps.create_namespaced_replica_set(ns, replica_set("web"))
    wait_until(lambda: status(kc, ns, "web") == (3, 3, 3, 3, 1), message="three available replicas")
    created = pods(kc, ns)
    assert len(created) == 3
    for pod in created:
        assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", pod.metadata.name)
        assert pod.metadata.generate_name == "web-"
        assert pod.metadata.labels == {"app": "web", "tier": "web"}
        [ref] = pod.metadata.owner_references
        assert (ref.api_version, ref.kind, ref.name, ref.uid, ref.controller, ref.block_owner_deletion) == \
            ("apps/v1", "ReplicaSet", "web", rs.metadata.uid, True, True)
    assert sorted(messages(kc, ns, "SuccessfulCreate")) == sorted(f"Created pod: {p.metadata.name}" for p in created)
    event = next(e for e in kc.core.list_namespaced_event(ns).items if e.reason == "SuccessfulCreate")
    assert (event.type, event.source.component, event.involved_object.kind) == \
        ("Normal", "replicaset-controller", "ReplicaSet")


def test_scale_down_deletes_the_pod_that_is_not_ready_first(kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_replica_set(ns, replica_set("web", manual=True))
    wait_until(lambda: len(pods(kc, ns)) == 3, message="three pods")
    first, second, third = sorted(p.metadata.name for p in pods(kc, ns))
    make_ready(kc, ns, first)
    make_ready(kc, ns, third)
    wait_until(lambda: status(kc, ns, "web")[2:3] == (2,), message="two ready replicas")
    kc.apps.patch_namespaced_replica_set_scale("web", ns, {"spec": {"replicas": 2}}, _content_type=MERGE)
    wait_until(lambda: sorted(p.metadata.name for p in pods(kc, ns)) == [first, third],
               message="the pod that is not ready to go")
    assert messages(kc, ns, "SuccessfulDelete") == [f"Deleted pod: {second}"]
    wait_until(lambda: status(kc, ns, "web") == (2, 2, 2, 2, 2), message="the status after scaling down")


def test_terminating_pods_do_not_count_and_get_replaced(kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_replica_set(ns, replica_set("web", replicas=2, manual=True, finalizers=[HOLD]))
    wait_until(lambda: len(pods(kc, ns)) == 2, message="two pods")
    victim = pods(kc, ns)[0].metadata.name
    kc.core.delete_namespaced_pod(victim, ns)
    wait_until(lambda: len(active(kc, ns)) == 2 and len(pods(kc, ns)) == 3, message="a replacement")
    assert victim not in {p.metadata.name for p in active(kc, ns)}
    wait_until(lambda: status(kc, ns, "web") == (2, 2, None, None, 1),
               message="status counting the two active pods, not the terminating one")
    for pod in pods(kc, ns):
        kc.core.patch_namespaced_pod(pod.metadata.name, ns, {"metadata": {"finalizers": None}}, _content_type=MERGE)


def test_matching_orphans_are_adopted_and_mismatching_pods_released(kc: Kube, ns: str) -> None:
    orphan = {"metadata": {"name": "orphan", "labels": {"app": "web"}},
              "spec": {"schedulerName": "manual", "containers": [{"name": "app", "image": "nginx:1.27"}]}}
    kc.core.create_namespaced_pod(ns, orphan)
    rs = kc.apps.create_namespaced_replica_set(ns, replica_set("web", replicas=2, manual=True))
    wait_until(lambda: len(pods(kc, ns)) == 2, message="one pod created beside the adopted one")
    adopted = kc.core.read_namespaced_pod("orphan", ns)
    [ref] = adopted.metadata.owner_references
    assert (ref.kind, ref.name, ref.uid, ref.controller) == ("ReplicaSet", "web", rs.metadata.uid, True)
    kc.core.patch_namespaced_pod("orphan", ns, {"metadata": {"labels": {"app": "other"}}}, _content_type=MERGE)
    wait_until(lambda: not kc.core.read_namespaced_pod("orphan", ns).metadata.owner_references,
               message="the pod to be released")
    wait_until(lambda: len(pods(kc, ns)) == 3, message="a replacement for the released pod")


# --- pure helpers -----------------------------------------------------------------------------------------------


NOW = datetime(2025, 1, 1, tzinfo=UTC)


def ago(seconds: float) -> str:
    return rfc3339(NOW - timedelta(seconds=seconds))


def pod(name: str, node: str = "n1", phase: str = "Running", ready: bool = True, ready_for: float = 3600,
        age: float = 7200, restarts: int = 0, cost: int | None = None) -> dict:
    conditions = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ago(ready_for)}]
    annotations = {"controller.kubernetes.io/pod-deletion-cost": str(cost)} if cost is not None else {}
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": ago(age), "annotations": annotations},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"name": "app", "restartCount": restarts}]}}


@pytest.mark.parametrize(("first", "other", "rule"), [
    (pod("a", node=""), pod("b"), "unscheduled before scheduled"),
    (pod("a", phase="Pending"), pod("b"), "Pending before Running"),
    (pod("a", phase="Unknown"), pod("b"), "Unknown before Running"),
    (pod("a", ready=False), pod("b"), "not ready before ready"),
    (pod("a", cost=-5), pod("b", cost=10), "lower deletion cost first"),
    (pod("a", ready_for=10), pod("b", ready_for=5000), "ready more recently first"),
    (pod("a", restarts=4), pod("b", restarts=1), "more restarts first"),
    (pod("a", age=60), pod("b", age=50000), "newer before older"),
])
def test_deletion_ranking_prefers(first: dict, other: dict, rule: str) -> None:
    now = NOW.timestamp()
    assert pods_to_delete([other, first], [other, first], 1, now=now) == [first], rule
    assert pods_to_delete([first, other], [first, other], 1, now=now) == [first], rule


def test_deletion_ranking_prefers_pods_doubled_up_on_a_node() -> None:
    alone, crowded = pod("a", node="n1"), pod("b", node="n2")
    sibling = pod("c", node="n2")
    assert pods_to_delete([alone, crowded], [alone, crowded, sibling], 1, now=NOW.timestamp()) == [crowded]


def test_deletion_ranking_treats_ages_in_the_same_power_of_two_as_equal() -> None:
    """LogarithmicScaleDown: 100s and 120s of readiness fall in one bucket, so the uid decides."""
    older, newer = pod("b", ready_for=120), pod("a", ready_for=100)
    assert pods_to_delete([older, newer], [older, newer], 1, now=NOW.timestamp()) == [newer]
    assert pods_to_delete([pod("b", ready_for=100), pod("a", ready_for=120)], [], 1,
                          now=NOW.timestamp())[0]["metadata"]["name"] == "a"


def test_deleting_every_pod_needs_no_ranking() -> None:
    both = [pod("a"), pod("b")]
    assert pods_to_delete(both, both, 5, now=NOW.timestamp()) == both


@pytest.mark.parametrize(("count", "batches"), [
    (0, []), (1, [1]), (2, [1, 1]), (3, [1, 2]), (5, [1, 2, 2]), (10, [1, 2, 4, 3]),
    (500, [1, 2, 4, 8, 16, 32, 64, 128, 245]),
])
def test_slow_start_batches(count: int, batches: list[int]) -> None:
    assert slow_start_batches(count) == batches
    assert sum(batches) == count


@pytest.mark.parametrize(("phase", "deleting", "expected"), [
    ("Running", False, True), ("Pending", False, True), ("Succeeded", False, False), ("Failed", False, False),
    ("Running", True, False),
])
def test_is_pod_active(phase: str, deleting: bool, expected: bool) -> None:
    obj = {"metadata": {"name": "p", **({"deletionTimestamp": ago(1)} if deleting else {})},
           "status": {"phase": phase}}
    assert is_pod_active(obj) is expected


def test_pod_from_template_copies_metadata_and_owns_the_pod() -> None:
    rs = replica_set("web", finalizers=[HOLD])
    rs["metadata"].update(uid="u-1")
    rs["spec"]["template"]["metadata"]["annotations"] = {"a": "b"}
    made = pod_from_template(rs)
    assert made["metadata"] == {
        "generateName": "web-", "labels": {"app": "web", "tier": "web"}, "annotations": {"a": "b"},
        "finalizers": [HOLD],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u-1",
                             "controller": True, "blockOwnerDeletion": True}]}
    assert made["spec"] == rs["spec"]["template"]["spec"]
