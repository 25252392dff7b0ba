"""The simulated StatefulSet controller, end to end through the official Python client and kubectl.

Orders are checked on the pod watch stream (see workload_support), so the tests hold at any machine speed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from kubernetes import client

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.controllers.statefulset import (
    claim_owners,
    claims_for,
    complete_rolling_update,
    history_hash,
    new_stateful_pod,
    parent_and_ordinal,
)
from kubedog_ci.sim.controllers.workload import revision_data, safe_encode, slow_start
from kubedog_ci.sim.errors import ApiError
from tests.sim.workload_support import PodRecorder, recording, refuse_pods, standin_kubelet
from tests.support import Kube, kube_for, kubectl

NS = "default"
HASH = re.compile(r"^[4-9bcdf]{1,10}$")
"""Revision hashes are decimal uint32s through SafeEncodeString: digits land on these ten characters."""


def statefulset(name: str = "web", replicas: int = 3, **spec: object) -> dict:
    body = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}},
    }
    body["spec"].update(spec)
    return body


CLAIM_TEMPLATE = {"metadata": {"name": "data"},
                  "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def get_sts(kube: Kube, name: str = "web") -> client.V1StatefulSet:
    return kube.apps.read_namespaced_stateful_set(name, NS)


def rolled_out(kube: Kube, name: str = "web", replicas: int = 3) -> Callable[[], bool]:
    def check() -> bool:
        sts = get_sts(kube, name)
        status = sts.status
        return (status.observed_generation == sts.metadata.generation and status.ready_replicas == replicas
                and status.updated_replicas == replicas and status.current_revision == status.update_revision)
    return check


def controller_events(kube: Kube) -> list[tuple[str, str, str]]:
    items = kube.core.list_namespaced_event(NS).items
    items.sort(key=lambda e: int(e.metadata.resource_version))
    return [(e.type, e.reason, e.message) for e in items if e.source.component == "statefulset-controller"]


def pod_revisions(kube: Kube) -> dict[str, str]:
    """Revision label by pod name, for the pods that exist and are not being deleted."""
    return {p.metadata.name: p.metadata.labels["controller-revision-hash"]
            for p in kube.core.list_namespaced_pod(NS).items if not p.metadata.deletion_timestamp}


def patch_sts(kube: Kube, body: dict, name: str = "web") -> None:
    kube.apps.patch_namespaced_stateful_set(name, NS, body)


def image_patch(image: str, **spec: object) -> dict:
    return {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}, **spec}}


# --- pure helpers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("web-0", ("web", 0)),
    ("my-web-12", ("my-web", 12)),
    ("web", ("", -1)),
    ("web-x", ("", -1)),
    ("web-1-2", ("web-1", 2)),
])
def test_parent_and_ordinal(name: str, expected: tuple[str, int]) -> None:
    assert parent_and_ordinal(name) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("0", "4"), ("123", "567"), ("4294967295", "86f8fbc6f9"), ("aeiou", "v27fm"),
])
def test_safe_encode_uses_the_vowel_free_alphabet(text: str, expected: str) -> None:
    assert safe_encode(text) == expected


def test_history_hash_depends_on_data_and_collision_count() -> None:
    data = revision_data(statefulset())
    assert HASH.match(history_hash(data, 0))
    assert history_hash(data, 0) == history_hash(revision_data(statefulset()), 0)
    assert history_hash(data, 1) != history_hash(data, 0)
    assert history_hash(revision_data(statefulset(template={"spec": {}})), 0) != history_hash(data, 0)
    assert data["spec"]["template"]["$patch"] == "replace"


@pytest.mark.parametrize(("count", "fail_at", "attempted"), [
    (7, None, [0, 1, 2, 3, 4, 5, 6]),
    (7, 0, [0]),
    (7, 2, [0, 1, 2]),
    (7, 4, [0, 1, 2, 3, 4, 5, 6]),
    (0, None, []),
])
def test_slow_start_stops_after_the_first_batch_with_a_failure(count: int, fail_at: int | None,
                                                                attempted: list[int]) -> None:
    calls: list[int] = []

    def step(index: int) -> None:
        calls.append(index)
        if index == fail_at:
            raise ApiError(403, "Forbidden", "no")

    errors = slow_start(count, step)
    assert calls == attempted
    assert len(errors) == (fail_at is not None)


@pytest.mark.parametrize(("strategy", "counts", "completes"), [
    ("RollingUpdate", (3, 3, 3, 3), True),
    ("RollingUpdate", (3, 3, 2, 3), False),
    ("RollingUpdate", (3, 3, 3, 2), False),
    ("RollingUpdate", (4, 3, 3, 3), False),
    ("OnDelete", (3, 3, 3, 3), False),
])
def test_complete_rolling_update(strategy: str, counts: tuple[int, int, int, int], completes: bool) -> None:
    wanted, replicas, updated, ready = counts
    status = {"replicas": replicas, "updatedReplicas": updated, "readyReplicas": ready, "currentReplicas": 1,
              "currentRevision": "web-a", "updateRevision": "web-b"}
    complete_rolling_update({"spec": {"replicas": wanted, "updateStrategy": {"type": strategy}}}, status)
    assert (status["currentRevision"] == "web-b") is completes
    assert (status["currentReplicas"] == updated) is completes


SET_REF = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "uid-1", "controller": True,
           "blockOwnerDeletion": True}
POD_REF = {"apiVersion": "v1", "kind": "Pod", "name": "web-1", "uid": "pod-1", "controller": True,
           "blockOwnerDeletion": True}
OTHER_CONTROLLER = {"apiVersion": "v1", "kind": "Thing", "name": "x", "uid": "x-1", "controller": True}


@pytest.mark.parametrize(("when_scaled", "when_deleted", "refs", "scaled_down", "expected"), [
    ("Retain", "Retain", [SET_REF], False, []),
    ("Retain", "Delete", [], False, [SET_REF]),
    ("Retain", "Delete", [POD_REF], True, [SET_REF]),
    ("Delete", "Retain", [], False, []),
    ("Delete", "Retain", [], True, [POD_REF]),
    ("Delete", "Delete", [SET_REF], True, [POD_REF]),
    ("Delete", "Delete", [POD_REF], False, [SET_REF]),
    ("Delete", "Delete", [OTHER_CONTROLLER, SET_REF], True, [OTHER_CONTROLLER]),
    ("Delete", "Delete", [{**SET_REF, "uid": "earlier-set"}], True, [{**SET_REF, "uid": "earlier-set"}]),
])
def test_claim_owners_follow_the_retention_policy(when_scaled: str, when_deleted: str, refs: list[dict],
                                                  scaled_down: bool, expected: list[dict]) -> None:
    policy = {"whenScaled": when_scaled, "whenDeleted": when_deleted}
    sts = _stored(statefulset(persistentVolumeClaimRetentionPolicy=policy))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "uid": "pod-1"}}
    assert claim_owners(refs, sts, pod, scaled_down) == expected


def _stored(body: dict) -> dict:
    body["metadata"].update(namespace=NS, uid="uid-1")
    return body


def test_claims_carry_selector_labels_and_the_retention_owner() -> None:
    template = {**CLAIM_TEMPLATE, "metadata": {"name": "data", "labels": {"tier": "db"}}}
    sts = _stored(statefulset(volumeClaimTemplates=[template]))
    [claim] = claims_for(sts, 2)
    assert claim["metadata"]["name"] == "data-web-2"
    assert claim["metadata"]["labels"] == {"tier": "db", "app": "web"}
    assert "ownerReferences" not in claim["metadata"]
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    [claim] = claims_for(sts, 2)
    assert claim["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"


def test_new_pod_identity_storage_and_revision() -> None:
    sts = _stored(statefulset(volumeClaimTemplates=[CLAIM_TEMPLATE]))
    sts["spec"]["template"]["spec"]["volumes"] = [{"name": "config", "configMap": {"name": "cfg"}}]
    pod = new_stateful_pod(sts, sts["spec"]["template"], "web-abc", 1)
    assert pod["metadata"]["name"] == "web-1"
    assert pod["metadata"]["generateName"] == "web-"
    assert pod["metadata"]["labels"] == {"app": "web", "statefulset.kubernetes.io/pod-name": "web-1",
                                         "apps.kubernetes.io/pod-index": "1", "controller-revision-hash": "web-abc"}
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-1", "web")
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}},
                                      {"name": "config", "configMap": {"name": "cfg"}}]


# --- end to end --------------------------------------------------------------------------------------------

def test_ordered_ready_creates_pods_one_at_a_time(running: Kube, pods: PodRecorder,
                                                  eventually: Callable[..., object]) -> None:
    kube = running
    kube.apps.create_namespaced_stateful_set(NS, statefulset(volumeClaimTemplates=[CLAIM_TEMPLATE]))
    eventually(rolled_out(kube), 15, message="web rolled out")
    for ordinal in (1, 2):
        added = pods.index(lambda e, n=ordinal: e.name == f"web-{n}" and e.type == "ADDED")
        ready = pods.index(lambda e, n=ordinal: e.name == f"web-{n - 1}" and e.ready)
        assert ready < added, f"web-{ordinal} was created before web-{ordinal - 1} was Ready"

    sts = get_sts(kube)
    status = sts.status
    assert (status.replicas, status.ready_replicas, status.available_replicas) == (3, 3, 3)
    assert (status.current_replicas, status.updated_replicas, status.collision_count) == (3, 3, 0)
    assert status.observed_generation == 1
    assert HASH.match(status.update_revision[len("web-"):])

    [revision] = kube.apps.list_namespaced_controller_revision(NS).items
    assert revision.metadata.name == status.update_revision
    assert revision.revision == 1
    assert revision.metadata.labels == {"app": "web",
                                        "controller.kubernetes.io/hash": status.update_revision[len("web-"):]}
    assert revision.metadata.owner_references[0].kind == "StatefulSet"
    assert revision.data["spec"]["template"]["$patch"] == "replace"

    for ordinal in range(3):
        pod = kube.core.read_namespaced_pod(f"web-{ordinal}", NS)
        assert pod.metadata.generate_name == "web-"
        assert pod.metadata.labels == {"app": "web", "controller-revision-hash": status.update_revision,
                                       "statefulset.kubernetes.io/pod-name": f"web-{ordinal}",
                                       "apps.kubernetes.io/pod-index": str(ordinal)}
        assert (pod.spec.hostname, pod.spec.subdomain) == (f"web-{ordinal}", "web")
        [volume] = pod.spec.volumes
        assert (volume.name, volume.persistent_volume_claim.claim_name) == ("data", f"data-web-{ordinal}")
        [owner] = pod.metadata.owner_references
        assert (owner.kind, owner.name, owner.controller, owner.block_owner_deletion) == (
            "StatefulSet", "web", True, True)
        claim = kube.core.read_namespaced_persistent_volume_claim(f"data-web-{ordinal}", NS)
        assert claim.metadata.labels == {"app": "web"}
        assert claim.spec.resources.requests == {"storage": "1Gi"}

    expected = []
    for ordinal in range(3):
        expected += [("Normal", "SuccessfulCreate", f"create Claim data-web-{ordinal} Pod web-{ordinal} in "
                      "StatefulSet web success"),
                     ("Normal", "SuccessfulCreate", f"create Pod web-{ordinal} in StatefulSet web successful")]
    assert controller_events(kube) == expected


def test_parallel_creates_every_pod_before_any_is_ready(running: Kube, pods: PodRecorder,
                                                        eventually: Callable[..., object]) -> None:
    kube = running
    kube.apps.create_namespaced_stateful_set(NS, statefulset(podManagementPolicy="Parallel"))
    eventually(rolled_out(kube), 15, message="web rolled out")
    first_ready = pods.index(lambda e: e.ready)
    for ordinal in range(3):
        assert pods.index(lambda e, n=ordinal: e.name == f"web-{n}" and e.type == "ADDED") < first_ready


def test_rolling_update_goes_down_from_the_highest_ordinal_and_respects_the_partition(
        running: Kube, pods: PodRecorder, eventually: Callable[..., object]) -> None:
    kube = running
    kube.apps.create_namespaced_stateful_set(NS, statefulset())
    eventually(rolled_out(kube), 15, message="web rolled out")
    old = get_sts(kube).status.update_revision

    patch_sts(kube, image_patch("nginx:1.26", updateStrategy={"rollingUpdate": {"partition": 1}}))

    def partitioned() -> bool:
        status = get_sts(kube).status
        return status.updated_replicas == 2 and status.ready_replicas == 3 and status.update_revision != old
    eventually(partitioned, 15, message="ordinals 1 and 2 updated")
    status = get_sts(kube).status
    assert (status.current_revision, status.current_replicas) == (old, 1)
    new = status.update_revision
    assert pod_revisions(kube)["web-0"] == old

    patch_sts(kube, {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})
    eventually(rolled_out(kube), 15, message="web rolled out to ordinal 0")
    gone = {n: pods.index(lambda e, n=n: e.name == f"web-{n}" and e.terminating) for n in range(3)}
    back = {n: pods.index(lambda e, n=n: e.name == f"web-{n}" and e.ready and e.revision == new)
            for n in range(3)}
    assert gone[2] < back[2] < gone[1] < back[1] < gone[0] < back[0]

    status = get_sts(kube).status
    assert (status.current_revision, status.update_revision, status.current_replicas) == (new, new, 3)
    revisions = {r.metadata.name: r.revision for r in kube.apps.list_namespaced_controller_revision(NS).items}
    assert revisions == {old: 1, new: 2}
    deletes = [m for _, reason, m in controller_events(kube) if reason == "SuccessfulDelete"]
    assert deletes == [f"delete Pod web-{n} in StatefulSet web successful" for n in (2, 1, 0)]

    patch_sts(kube, image_patch("nginx:1.25"))
    eventually(lambda: get_sts(kube).status.update_revision == old, 15, message="rollback to the old revision")
    eventually(rolled_out(kube), 15, message="rollback rolled out")
    revisions = {r.metadata.name: r.revision for r in kube.apps.list_namespaced_controller_revision(NS).items}
    assert revisions == {old: 3, new: 2}


def test_on_delete_updates_only_recreated_pods(running: Kube, eventually: Callable[..., object]) -> None:
    kube = running
    kube.apps.create_namespaced_stateful_set(NS, statefulset(updateStrategy={"type": "OnDelete"}))
    eventually(lambda: get_sts(kube).status.ready_replicas == 3, 15, message="3 ready pods")
    old = get_sts(kube).status.current_revision

    patch_sts(kube, image_patch("nginx:1.26"))
    eventually(lambda: get_sts(kube).status.observed_generation == 2, 15, message="generation 2 observed")
    new = get_sts(kube).status.update_revision
    assert new != old
    kube.core.delete_namespaced_pod("web-1", NS)

    def recreated() -> bool:
        return pod_revisions(kube).get("web-1") == new and get_sts(kube).status.ready_replicas == 3
    eventually(recreated, 15, message="web-1 recreated at the new revision")
    assert pod_revisions(kube) == {"web-0": old, "web-1": new, "web-2": old}
    status = get_sts(kube).status
    assert (status.current_replicas, status.updated_replicas, status.current_revision) == (2, 1, old)
    assert not [r for _, r, _ in controller_events(kube) if r == "SuccessfulDelete"]


def test_scale_down_removes_the_highest_ordinal_first_and_keeps_claims(
        running: Kube, pods: PodRecorder, eventually: Callable[..., object]) -> None:
    kube = running
    kube.apps.create_namespaced_stateful_set(NS, statefulset(volumeClaimTemplates=[CLAIM_TEMPLATE]))
    eventually(rolled_out(kube), 15, message="web rolled out")
    kube.apps.patch_namespaced_stateful_set_scale("web", NS, {"spec": {"replicas": 1}})
    eventually(lambda: get_sts(kube).status.replicas == 1, 15, message="scaled down to 1")
    web_2_gone = pods.index(lambda e: e.name == "web-2" and e.type == "DELETED")
    assert web_2_gone < pods.index(lambda e: e.name == "web-1" and e.terminating)
    assert [m for _, r, m in controller_events(kube) if r == "SuccessfulDelete"] == [
        "delete Pod web-2 in StatefulSet web successful", "delete Pod web-1 in StatefulSet web successful"]
    claims = sorted(c.metadata.name for c in kube.core.list_namespaced_persistent_volume_claim(NS).items)
    assert claims == ["data-web-0", "data-web-1", "data-web-2"]


def test_claims_follow_the_retention_policy(running: Kube, eventually: Callable[..., object]) -> None:
    kube = running
    policy = {"whenScaled": "Delete", "whenDeleted": "Delete"}
    kube.apps.create_namespaced_stateful_set(NS, statefulset(
        replicas=2, volumeClaimTemplates=[CLAIM_TEMPLATE], persistentVolumeClaimRetentionPolicy=policy))
    eventually(rolled_out(kube, replicas=2), 15, message="web rolled out")
    sts_uid = get_sts(kube).metadata.uid
    for ordinal in range(2):
        [owner] = kube.core.read_namespaced_persistent_volume_claim(f"data-web-{ordinal}", NS).metadata.owner_references
        assert (owner.kind, owner.uid, owner.controller) == ("StatefulSet", sts_uid, True)

    kube.apps.patch_namespaced_stateful_set_scale("web", NS, {"spec": {"replicas": 1}})

    def claims() -> list[str]:
        return sorted(c.metadata.name for c in kube.core.list_namespaced_persistent_volume_claim(NS).items
                      if not c.metadata.deletion_timestamp)
    eventually(lambda: claims() == ["data-web-0"], 15, message="the scaled-down pod's claim deleted with it")


def test_min_ready_seconds_holds_the_next_pod(sim_factory: Callable[..., SimCluster],
                                              eventually: Callable[..., object]) -> None:
    cluster = sim_factory()
    min_ready = 20
    with kube_for(cluster) as kube, standin_kubelet(kube.core), recording(kube.core) as pods:
        kube.apps.create_namespaced_stateful_set(NS, statefulset(replicas=2, minReadySeconds=min_ready))
        eventually(lambda: get_sts(kube).status.available_replicas == 2, 15, message="2 available pods")
        ready = pods.at(pods.index(lambda e: e.name == "web-0" and e.ready))
        added = pods.at(pods.index(lambda e: e.name == "web-1" and e.type == "ADDED"))
    assert added - ready >= 0.9 * min_ready * cluster.config.time_scale


@pytest.mark.kubectl
def test_failed_create_event_and_kubectl_rollout_status(sim: SimCluster, running: Kube,
                                                         eventually: Callable[..., object]) -> None:
    kube = running
    blocker = refuse_pods(lambda pod: pod["metadata"]["name"] == "web-1", used=1)
    sim.api.admission.append(blocker)
    kube.apps.create_namespaced_stateful_set(NS, statefulset())
    message = ('create Pod web-1 in StatefulSet web failed error: pods "web-1" is forbidden: exceeded quota: pods, '
               "requested: pods=1, used: pods=1, limited: pods=1")
    eventually(lambda: ("Warning", "FailedCreate", message) in controller_events(kube), 15,
               message="FailedCreate event")
    eventually(lambda: get_sts(kube).status.ready_replicas == 1, 15, message="web-0 ready")
    rollout_status = ("rollout", "status", "statefulset/web")
    waiting = kubectl(kube, *rollout_status, "--watch=false")
    assert waiting.stdout == "Waiting for 2 pods to be ready...\n"

    sim.api.admission.remove(blocker)
    done = kubectl(kube, *rollout_status, "--timeout=30s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "partitioned roll out complete: 3 new pods have been updated..."
