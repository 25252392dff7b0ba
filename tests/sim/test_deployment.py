"""Deployments and their ReplicaSets through the official Python client, checked field by field against what
the real deployment and replicaset controllers write (pkg/controller/deployment, pkg/controller/replicaset).

Most tests run on the full simulated cluster: the scheduler binds the pods and the kubelet makes them Ready (or
fails to pull "does-not-exist"). The two that prove a timing rule exactly (percent maxSurge/maxUnavailable
arithmetic, minReadySeconds) give their pods `schedulerName: manual`, which no scheduler serves, and let the
`Readiness` helper play the kubelet, so the moment each pod turns Ready is under the test's control. The pure
helpers get table-driven tests at the end.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from kubedog_ci.sim.clock import Clock
from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.controllers.deployment import (
    equal_ignore_hash,
    max_surge,
    max_unavailable,
    new_rs_new_replicas,
    resolve_fenceposts,
    scaled_value,
    set_condition,
)
from kubedog_ci.sim.controllers.workload import compute_hash, safe_encode
from tests.support import DEFAULT_TIME_SCALE, Kube, kubectl, make_kube, wait_until

MANUAL = "manual"
STUCK = "registry.example/does-not-exist:1"
"""An image the simulated registry does not have (SimConfig.failing_images): ImagePullBackOff, never Ready."""
STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
HASH = re.compile(r"^[bcdfghjklmnpqrstvwxz2456789]{1,10}$")


# --- fixtures and builders ---------------------------------------------------------------------------------


class Readiness:
    """Plays the kubelet for unscheduled pods of one namespace: Running and Ready `delay` seconds after the pod
    is first seen, except for the image STUCK. `ready_at` says when each pod was made Ready."""

    def __init__(self, cluster: SimCluster, namespace: str, delay: float = 0.05, enabled: bool = True) -> None:
        self.enabled = enabled
        self.kube = make_kube(cluster)
        self.namespace = namespace
        self.delay = delay
        self.ready_at: dict[str, float] = {}
        self._seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Readiness:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join(timeout=5)
        self.kube.api_client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pod in self.kube.core.list_namespaced_pod(self.namespace).items:
                self._consider(pod)
            time.sleep(0.01)

    def _consider(self, pod: client.V1Pod) -> None:
        name = pod.metadata.name
        if pod.metadata.deletion_timestamp or name in self.ready_at or pod.spec.containers[0].image == STUCK:
            return
        first = self._seen.setdefault(name, time.monotonic())
        if time.monotonic() - first < self.delay:
            return
        body = {"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": Clock().stamp()}]}}
        try:
            self.kube.core.patch_namespaced_pod_status(name, self.namespace, body, _content_type=STRATEGIC)
        except ApiException:
            return
        self.ready_at[name] = time.monotonic()


class Recorder:
    """Every watch event of one resource in a namespace, in order, until stopped."""

    def __init__(self, cluster: SimCluster, list_name: str, namespace: str) -> None:
        self.kube = make_kube(cluster)
        self.list_call = getattr(self.kube.core if "pod" in list_name else self.kube.apps, list_name)
        self.namespace = namespace
        self.events: list[tuple[str, object]] = []
        self._seen: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._version = self.list_call(namespace).metadata.resource_version
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settle(self) -> None:
        """Wait until the watch has delivered the current version of every object now listed."""
        def delivered() -> bool:
            items = self.list_call(self.namespace).items
            return {(o.metadata.name, o.metadata.resource_version) for o in items} <= self._seen
        wait_until(delivered, message="the watch to catch up")

    def stop(self) -> list[tuple[str, object]]:
        """Stop recording; the watch thread ends with its stream's one-second server timeout."""
        self._stop.set()
        self.events = list(self.events)
        return self.events

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                stream = watch.Watch().stream(self.list_call, self.namespace, resource_version=self._version,
                                              timeout_seconds=1)
                for event in stream:
                    if self._stop.is_set():
                        return
                    meta = event["object"].metadata
                    self.events.append((event["type"], event["object"]))
                    self._seen.add((meta.name, meta.resource_version))
                    self._version = meta.resource_version
        finally:
            self.kube.api_client.close()


def deployment(name: str, *, replicas: int = 3, image: str = "nginx:1.27", strategy: dict | None = None,
               manual: bool = False, **spec: object) -> dict:
    pod_spec: dict = {"containers": [{"name": "app", "image": image}]}
    if manual:
        pod_spec["schedulerName"] = MANUAL
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "strategy": strategy or {"type": "RollingUpdate"},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}, **spec},
    }


def set_image(kc: Kube, ns: str, name: str, image: str) -> None:
    body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    kc.apps.patch_namespaced_deployment(name, ns, body, _content_type=STRATEGIC)


def condition(obj: object, kind: str) -> object | None:
    return next((c for c in (obj.status and obj.status.conditions) or [] if c.type == kind), None)


def complete(kc: Kube, ns: str, name: str) -> client.V1Deployment | None:
    """The Deployment once the controller reports the rollout complete, as kubectl rollout status judges it."""
    d = kc.apps.read_namespaced_deployment(name, ns)
    progressing = condition(d, "Progressing")
    done = d.status is not None and (d.status.observed_generation == d.metadata.generation
            and d.status.updated_replicas == d.status.replicas == d.status.available_replicas == d.spec.replicas
            and progressing is not None and progressing.reason == "NewReplicaSetAvailable")
    return d if done else None


def replica_sets(kc: Kube, ns: str) -> dict[str, client.V1ReplicaSet]:
    return {rs.metadata.name: rs for rs in kc.apps.list_namespaced_replica_set(ns).items}


def events(kc: Kube, ns: str, reason: str) -> list[client.CoreV1Event]:
    found = [e for e in kc.core.list_namespaced_event(ns).items if e.reason == reason]
    return sorted(found, key=lambda e: e.metadata.resource_version and int(e.metadata.resource_version))


def messages(kc: Kube, ns: str, reason: str) -> list[str]:
    return [e.message for e in events(kc, ns, reason)]


def is_ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


# --- a Deployment's ReplicaSet, pods, status and events ------------------------------------------------------


def test_new_deployment_rolls_out_with_hashed_replica_set_status_and_events(
        shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    with Recorder(shared_cluster, "list_namespaced_deployment", ns) as recorder:
        kc.apps.create_namespaced_deployment(ns, deployment("web"))
        d = wait_until(lambda: complete(kc, ns, "web"), message="the rollout to complete")
        recorder.settle()
    [rs] = replica_sets(kc, ns).values()
    template_hash = rs.metadata.labels["pod-template-hash"]
    stored = shared_cluster.store.get("apps/deployments", ns, "web")
    assert template_hash == compute_hash(stored["spec"]["template"])
    assert HASH.match(template_hash) and rs.metadata.name == f"web-{template_hash}"
    assert rs.spec.selector.match_labels == {"app": "web", "pod-template-hash": template_hash}
    assert rs.spec.template.metadata.labels == {"app": "web", "pod-template-hash": template_hash}
    assert rs.metadata.annotations == {"deployment.kubernetes.io/revision": "1",
                                       "deployment.kubernetes.io/desired-replicas": "3",
                                       "deployment.kubernetes.io/max-replicas": "4"}
    [owner] = rs.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller, owner.block_owner_deletion) == \
        ("Deployment", "web", d.metadata.uid, True, True)
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "1"

    pods = kc.core.list_namespaced_pod(ns).items
    assert len(pods) == 3
    for pod in pods:
        assert re.fullmatch(rf"web-{template_hash}-[bcdfghjklmnpqrstvwxz2456789]{{5}}", pod.metadata.name)
        assert pod.metadata.generate_name == f"web-{template_hash}-"
        assert pod.metadata.labels == {"app": "web", "pod-template-hash": template_hash}
        [ref] = pod.metadata.owner_references
        assert (ref.kind, ref.name, ref.uid, ref.controller, ref.block_owner_deletion) == \
            ("ReplicaSet", rs.metadata.name, rs.metadata.uid, True, True)

    assert (d.status.observed_generation, d.status.replicas, d.status.updated_replicas, d.status.ready_replicas,
            d.status.available_replicas, d.status.unavailable_replicas) == (1, 3, 3, 3, 3, None)
    assert (rs.status.replicas, rs.status.fully_labeled_replicas, rs.status.ready_replicas,
            rs.status.available_replicas, rs.status.observed_generation) == (3, 3, 3, 3, 1)
    available, progressing = d.status.conditions
    assert (available.type, available.status, available.reason, available.message) == \
        ("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    assert (progressing.type, progressing.status, progressing.reason, progressing.message) == (
        "Progressing", "True", "NewReplicaSetAvailable",
        f'ReplicaSet "{rs.metadata.name}" has successfully progressed.')

    seen = []
    for _, obj in recorder.events:
        cond = condition(obj, "Progressing")
        if cond and (not seen or seen[-1][0] != cond.reason):
            seen.append((cond.reason, cond.message, cond.last_transition_time))
    assert [reason for reason, _, _ in seen] == ["NewReplicaSetCreated", "ReplicaSetUpdated", "NewReplicaSetAvailable"]
    assert seen[0][1] == f'Created new replica set "{rs.metadata.name}"'
    assert seen[1][1] == f'ReplicaSet "{rs.metadata.name}" is progressing.'
    assert seen[0][2] == seen[2][2] == progressing.last_transition_time
    first_available = next(c for _, o in recorder.events if (c := condition(o, "Available")))
    assert (first_available.status, first_available.reason, first_available.message) == \
        ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")

    [scaled] = events(kc, ns, "ScalingReplicaSet")
    assert (scaled.type, scaled.source.component, scaled.involved_object.kind, scaled.message) == \
        ("Normal", "deployment-controller", "Deployment", f"Scaled up replica set {rs.metadata.name} from 0 to 3")
    created = events(kc, ns, "SuccessfulCreate")
    assert {e.source.component for e in created} == {"replicaset-controller"}
    assert {e.involved_object.name for e in created} == {rs.metadata.name}
    assert sorted(e.message for e in created) == sorted(f"Created pod: {p.metadata.name}" for p in pods)


def test_matching_orphan_replica_set_is_adopted_and_found(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    template = deployment("web")["spec"]["template"]
    kc.apps.create_namespaced_replica_set(ns, {
        "metadata": {"name": "legacy", "labels": {"app": "web"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template}})
    wait_until(lambda: getattr(kc.apps.read_namespaced_replica_set("legacy", ns).status, "available_replicas", 0)
               == 3, message="the orphan ReplicaSet's pods")
    with Recorder(shared_cluster, "list_namespaced_deployment", ns) as recorder:
        d = kc.apps.create_namespaced_deployment(ns, deployment("web"))
        wait_until(lambda: complete(kc, ns, "web"), message="the adopting Deployment to be complete")
        recorder.settle()
    legacy = kc.apps.read_namespaced_replica_set("legacy", ns)
    [owner] = legacy.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == ("Deployment", "web", d.metadata.uid, True)
    assert legacy.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert list(replica_sets(kc, ns)) == ["legacy"]
    found = [c for _, o in recorder.events if (c := condition(o, "Progressing"))]
    assert (found[0].status, found[0].reason, found[0].message) == \
        ("True", "FoundNewReplicaSet", 'Found new replica set "legacy"')
    assert found[-1].reason == "NewReplicaSetAvailable"
    assert messages(kc, ns, "ScalingReplicaSet") == []


@pytest.mark.kubectl
def test_kubectl_rollout_status_succeeds_and_scale_resizes_the_replica_set(kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web"))
    done = kubectl(kc, "-n", ns, "rollout", "status", "deployment/web", "--timeout=20s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith('deployment "web" successfully rolled out')
    [rs_name] = replica_sets(kc, ns)
    scaled = kubectl(kc, "-n", ns, "scale", "deployment/web", "--replicas=5")
    assert scaled.returncode == 0, scaled.stderr
    wait_until(lambda: (complete(kc, ns, "web") or None) and kc.apps.read_namespaced_deployment(
        "web", ns).status.available_replicas == 5, message="five available replicas")
    rs = replica_sets(kc, ns)[rs_name]
    assert rs.spec.replicas == 5
    assert rs.metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "5"
    assert rs.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "7"
    assert messages(kc, ns, "ScalingReplicaSet") == [f"Scaled up replica set {rs_name} from 0 to 3",
                                                     f"Scaled up replica set {rs_name} from 3 to 5"]


# --- RollingUpdate -------------------------------------------------------------------------------------------


def replay(initial: list[client.V1Pod], recorded: list[tuple[str, object]]) -> tuple[list[int], list[int]]:
    """After each watch event: how many pods are not terminating, and how many of those are Ready."""
    pods = {p.metadata.name: p for p in initial}
    active_counts, ready_counts = [], []
    for kind, pod in recorded:
        if kind == "DELETED":
            pods.pop(pod.metadata.name, None)
        else:
            pods[pod.metadata.name] = pod
        active = [p for p in pods.values() if not p.metadata.deletion_timestamp]
        active_counts.append(len(active))
        ready_counts.append(sum(1 for p in active if is_ready(p)))
    return active_counts, ready_counts


def roll(cluster: SimCluster, kc: Kube, ns: str, replicas: int, rolling: dict,
         manual: bool = False) -> tuple[list[int], list[int]]:
    """Roll a new image out under a pod watch and replay the counts; `manual` pods turn Ready 0.1s after
    creation, the others when the kubelet says so."""
    strategy = {"type": "RollingUpdate", "rollingUpdate": rolling}
    with Readiness(cluster, ns, delay=0.1, enabled=manual):
        kc.apps.create_namespaced_deployment(ns, deployment("web", replicas=replicas, strategy=strategy,
                                                            manual=manual))
        wait_until(lambda: complete(kc, ns, "web"), message="the first rollout")
        initial = kc.core.list_namespaced_pod(ns).items
        with Recorder(cluster, "list_namespaced_pod", ns) as recorder:
            set_image(kc, ns, "web", "nginx:1.28")
            wait_until(lambda: complete(kc, ns, "web") if len(replica_sets(kc, ns)) == 2 else None,
                       message="the update to complete")
            wait_until(lambda: len(kc.core.list_namespaced_pod(ns).items) == replicas, message="old pods to go")
            recorder.settle()
    return replay(initial, recorder.events)


def test_rolling_update_stays_within_percent_surge_and_unavailability(shared_cluster: SimCluster, kc: Kube,
                                                                      ns: str) -> None:
    """5 replicas, maxSurge 30% (rounds up to 2), maxUnavailable 30% (rounds down to 1): never more than 7 pods
    that are not terminating, never fewer than 4 of them Ready."""
    active_counts, ready_counts = roll(shared_cluster, kc, ns, 5, {"maxSurge": "30%", "maxUnavailable": "30%"},
                                       manual=True)
    assert max(active_counts) == 7
    assert min(ready_counts) == 4
    first, second = sorted(replica_sets(kc, ns).values(),
                           key=lambda rs: rs.metadata.annotations["deployment.kubernetes.io/revision"])
    assert first.spec.replicas == 0 and second.spec.replicas == 5
    assert messages(kc, ns, "ScalingReplicaSet")[:3] == [
        f"Scaled up replica set {first.metadata.name} from 0 to 5",
        f"Scaled up replica set {second.metadata.name} from 0 to 2",
        f"Scaled down replica set {first.metadata.name} from 5 to 4"]
    d = kc.apps.read_namespaced_deployment("web", ns)
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert d.status.observed_generation == d.metadata.generation == 2
    assert second.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "7"


def test_rolling_update_stays_within_integer_surge_and_unavailability(shared_cluster: SimCluster, kc: Kube,
                                                                      ns: str) -> None:
    active_counts, ready_counts = roll(shared_cluster, kc, ns, 4, {"maxSurge": 1, "maxUnavailable": 1})
    assert max(active_counts) == 5
    assert min(ready_counts) >= 3


def test_rolling_update_without_unavailability_keeps_every_replica_ready(shared_cluster: SimCluster, kc: Kube,
                                                                         ns: str) -> None:
    active_counts, ready_counts = roll(shared_cluster, kc, ns, 3, {"maxSurge": 1, "maxUnavailable": 0})
    assert max(active_counts) == 4
    assert min(ready_counts) == 3


def test_scaling_mid_rollout_is_proportional(kc: Kube, ns: str) -> None:
    """The documentation's example: 10 replicas, maxSurge 3, maxUnavailable 2, an update whose pods never
    start leaves 8 old and 5 new; scaling to 15 adds 3 to the old ReplicaSet and 2 to the new one."""
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    kc.apps.create_namespaced_deployment(ns, deployment("web", replicas=10, strategy=strategy))
    wait_until(lambda: complete(kc, ns, "web"), message="the first rollout")
    [old] = replica_sets(kc, ns)
    set_image(kc, ns, "web", STUCK)

    def sizes() -> dict[str, int]:
        return {name: rs.spec.replicas for name, rs in replica_sets(kc, ns).items()}

    stuck = wait_until(lambda: (lambda s: s if sorted(s.values()) == [5, 8] else None)(sizes()),
                       message="the stuck rollout at 8 old and 5 new")
    [new] = set(stuck) - {old}
    assert stuck[old] == 8
    kc.apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 15}}, _content_type=MERGE)
    wait_until(lambda: sizes() == {old: 11, new: 7}, message="11 old and 7 new")
    assert messages(kc, ns, "ScalingReplicaSet")[-2:] == [f"Scaled up replica set {old} from 8 to 11",
                                                          f"Scaled up replica set {new} from 5 to 7"]
    for rs in replica_sets(kc, ns).values():
        assert rs.metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "15"
        assert rs.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "18"


@pytest.mark.kubectl
def test_rollout_restart_creates_a_new_replica_set_and_keeps_history(kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web", replicas=2, revisionHistoryLimit=1))
    wait_until(lambda: complete(kc, ns, "web"), message="the first rollout")
    [first] = replica_sets(kc, ns)
    restarted = kubectl(kc, "-n", ns, "rollout", "restart", "deployment/web")
    assert restarted.returncode == 0, restarted.stderr
    d = wait_until(lambda: complete(kc, ns, "web") if len(replica_sets(kc, ns)) == 2 else None,
                   message="the restart to roll out")
    assert "kubectl.kubernetes.io/restartedAt" in d.spec.template.metadata.annotations
    [second] = set(replica_sets(kc, ns)) - {first}
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    set_image(kc, ns, "web", "nginx:1.28")
    wait_until(lambda: complete(kc, ns, "web") if first not in replica_sets(kc, ns) else None,
               message="revisionHistoryLimit 1 to remove the oldest ReplicaSet")
    remaining = replica_sets(kc, ns)
    assert second in remaining and len(remaining) == 2
    revisions = sorted(rs.metadata.annotations["deployment.kubernetes.io/revision"] for rs in remaining.values())
    assert revisions == ["2", "3"]
    assert remaining[second].spec.replicas == 0


# --- Recreate --------------------------------------------------------------------------------------------------


def test_recreate_removes_every_old_pod_before_creating_new_ones(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    """The old pods terminate gracefully (the kubelet stops their containers first); no new pod is created
    before the last of them is gone."""
    kc.apps.create_namespaced_deployment(ns, deployment("web", replicas=3, strategy={"type": "Recreate"}))
    wait_until(lambda: complete(kc, ns, "web"), message="the first rollout")
    [old_rs] = replica_sets(kc, ns)
    with Recorder(shared_cluster, "list_namespaced_pod", ns) as recorder:
        set_image(kc, ns, "web", "nginx:1.28")
        wait_until(lambda: complete(kc, ns, "web") if len(replica_sets(kc, ns)) == 2 else None,
                   message="the recreate to complete")
        recorder.settle()
    [new_rs] = set(replica_sets(kc, ns)) - {old_rs}
    owners = [(kind, pod.metadata.owner_references[0].name, pod) for kind, pod in recorder.events]
    terminating = [i for i, (_, owner, pod) in enumerate(owners)
                   if owner == old_rs and pod.metadata.deletion_timestamp]
    gone = [i for i, (kind, owner, _) in enumerate(owners) if kind == "DELETED" and owner == old_rs]
    born = [i for i, (kind, owner, _) in enumerate(owners) if kind == "ADDED" and owner == new_rs]
    assert len(gone) == 3 and len(born) == 3
    assert min(terminating) < min(gone), "old pods are deleted gracefully"
    assert max(gone) < min(born)
    assert messages(kc, ns, "ScalingReplicaSet") == [f"Scaled up replica set {old_rs} from 0 to 3",
                                                     f"Scaled down replica set {old_rs} from 3 to 0",
                                                     f"Scaled up replica set {new_rs} from 0 to 3"]
    d = kc.apps.read_namespaced_deployment("web", ns)
    assert condition(d, "Available").reason == "MinimumReplicasAvailable"


# --- paused, progress deadline, minReadySeconds ---------------------------------------------------------------


def test_paused_deployment_does_not_roll_out_until_resumed(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web", replicas=2))
    wait_until(lambda: complete(kc, ns, "web"), message="the first rollout")
    kc.apps.patch_namespaced_deployment("web", ns, {"spec": {"paused": True}}, _content_type=MERGE)
    wait_until(lambda: condition(kc.apps.read_namespaced_deployment("web", ns), "Progressing").reason
               == "DeploymentPaused", message="the paused condition")
    set_image(kc, ns, "web", "nginx:1.28")
    d = wait_until(lambda: (lambda d: d if d.status.observed_generation == d.metadata.generation == 3
                            else None)(kc.apps.read_namespaced_deployment("web", ns)),
                   message="the paused template change to be observed")
    progressing = condition(d, "Progressing")
    assert (progressing.status, progressing.reason, progressing.message) == \
        ("Unknown", "DeploymentPaused", "Deployment is paused")
    assert len(replica_sets(kc, ns)) == 1
    assert d.status.updated_replicas is None and d.status.replicas == 2
    with Recorder(shared_cluster, "list_namespaced_deployment", ns) as recorder:
        kc.apps.patch_namespaced_deployment("web", ns, {"spec": {"paused": False}}, _content_type=MERGE)
        wait_until(lambda: complete(kc, ns, "web") if len(replica_sets(kc, ns)) == 2 else None,
                   message="the resumed rollout")
        recorder.settle()
    reasons = []
    for _, obj in recorder.events:
        cond = condition(obj, "Progressing")
        if cond and (not reasons or reasons[-1] != (cond.status, cond.reason, cond.message)):
            reasons.append((cond.status, cond.reason, cond.message))
    assert reasons[0] == ("Unknown", "DeploymentPaused", "Deployment is paused")
    assert reasons[1] == ("Unknown", "DeploymentResumed", "Deployment is resumed")
    assert reasons[2][:2] == ("True", "NewReplicaSetCreated")
    assert reasons[-1][:2] == ("True", "NewReplicaSetAvailable")


@pytest.mark.kubectl
def test_stuck_rollout_exceeds_its_progress_deadline(kc: Kube, ns: str) -> None:
    deadline = 40
    started = time.monotonic()
    kc.apps.create_namespaced_deployment(ns, deployment("stuck", replicas=2, image=STUCK,
                                                        progressDeadlineSeconds=deadline))

    def timed_out() -> object:
        cond = condition(kc.apps.read_namespaced_deployment("stuck", ns), "Progressing")
        return cond if cond and cond.reason == "ProgressDeadlineExceeded" else None

    progressing = wait_until(timed_out, timeout=15, message="ProgressDeadlineExceeded")
    assert time.monotonic() - started >= deadline * DEFAULT_TIME_SCALE
    [rs_name] = replica_sets(kc, ns)
    assert (progressing.status, progressing.message) == ("False", f'ReplicaSet "{rs_name}" has timed out progressing.')
    d = kc.apps.read_namespaced_deployment("stuck", ns)
    available = condition(d, "Available")
    assert (available.status, available.reason) == ("False", "MinimumReplicasUnavailable")
    assert (d.status.replicas, d.status.updated_replicas, d.status.unavailable_replicas) == (2, 2, 2)
    assert d.status.available_replicas is None and d.status.ready_replicas is None
    result = kubectl(kc, "-n", ns, "rollout", "status", "deployment/stuck", "--timeout=20s")
    assert result.returncode == 1
    assert 'error: deployment "stuck" exceeded its progress deadline' in result.stderr


def test_pods_count_as_available_only_after_min_ready_seconds(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    min_ready = 25
    with (Readiness(shared_cluster, ns) as readiness,
          Recorder(shared_cluster, "list_namespaced_replica_set", ns) as recorder):
        kc.apps.create_namespaced_deployment(ns, deployment("web", replicas=2, minReadySeconds=min_ready,
                                                            manual=True))
        wait_until(lambda: complete(kc, ns, "web"), message="the rollout")
        available_at = time.monotonic()
    assert available_at - max(readiness.ready_at.values()) >= min_ready * DEFAULT_TIME_SCALE - 0.05
    statuses = [(o.status.ready_replicas, o.status.available_replicas) for _, o in recorder.events if o.status]
    assert (2, None) in statuses, "both pods Ready before either counts as available"
    [rs] = replica_sets(kc, ns).values()
    assert (rs.status.ready_replicas, rs.status.available_replicas) == (2, 2)
    assert rs.spec.min_ready_seconds == min_ready


# --- creation failures ---------------------------------------------------------------------------------------


def quota(kc: Kube, ns: str, **hard: str) -> None:
    """A ResourceQuota, waited for until the quota controller has counted usage (admission needs that)."""
    kc.core.create_namespaced_resource_quota(ns, {"metadata": {"name": "limits"}, "spec": {"hard": hard}})
    wait_until(lambda: (kc.core.read_namespaced_resource_quota("limits", ns).status or client.V1ResourceQuotaStatus())
               .used is not None, message="the quota's usage")


def test_pod_creation_refused_by_quota_is_reported_and_retried(kc: Kube, ns: str) -> None:
    quota(kc, ns, pods="1")
    kc.apps.create_namespaced_deployment(ns, deployment("web", replicas=2))
    failed = wait_until(lambda: events(kc, ns, "FailedCreate"), message="FailedCreate")
    assert failed[0].type == "Warning" and failed[0].source.component == "replicaset-controller"
    assert re.fullmatch(r'Error creating: pods "web-[a-z0-9]+-" is forbidden: exceeded quota: limits, '
                        r"requested: pods=1, used: pods=1, limited: pods=1", failed[0].message)
    [rs_name] = replica_sets(kc, ns)
    rs_failure = wait_until(lambda: condition(kc.apps.read_namespaced_replica_set(rs_name, ns), "ReplicaFailure"),
                            message="the ReplicaFailure condition")
    assert (rs_failure.status, rs_failure.reason) == ("True", "FailedCreate")
    assert re.fullmatch(r'pods "web-[a-z0-9]+-" is forbidden: exceeded quota: limits, .*', rs_failure.message)
    d_failure = wait_until(lambda: condition(kc.apps.read_namespaced_deployment("web", ns), "ReplicaFailure"),
                           message="the Deployment's ReplicaFailure condition")
    assert (d_failure.status, d_failure.reason, d_failure.message) == ("True", "FailedCreate", rs_failure.message)
    assert len(kc.core.list_namespaced_pod(ns).items) == 1
    kc.core.patch_namespaced_resource_quota("limits", ns, {"spec": {"hard": {"pods": "2"}}}, _content_type=MERGE)
    wait_until(lambda: complete(kc, ns, "web"), timeout=20, message="the rollout once the quota allows it")
    assert condition(kc.apps.read_namespaced_replica_set(rs_name, ns), "ReplicaFailure") is None
    assert condition(kc.apps.read_namespaced_deployment("web", ns), "ReplicaFailure") is None


def test_replica_set_creation_refused_by_quota_is_a_replica_set_create_error(kc: Kube, ns: str) -> None:
    quota(kc, ns, **{"count/replicasets.apps": "0"})
    kc.apps.create_namespaced_deployment(ns, deployment("web", replicas=1))
    failed = wait_until(lambda: events(kc, ns, "ReplicaSetCreateError"), message="ReplicaSetCreateError event")
    assert failed[0].type == "Warning" and failed[0].source.component == "deployment-controller"
    assert re.fullmatch(r'Failed to create new replica set "web-[a-z0-9]+": replicasets.apps "web-[a-z0-9]+" '
                        r"is forbidden: exceeded quota: limits, requested: count/replicasets.apps=1, "
                        r"used: count/replicasets.apps=0, limited: count/replicasets.apps=0", failed[0].message)
    progressing = condition(kc.apps.read_namespaced_deployment("web", ns), "Progressing")
    assert (progressing.status, progressing.reason, progressing.message) == \
        ("False", "ReplicaSetCreateError", failed[0].message)
    assert not replica_sets(kc, ns)


# --- pure helpers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "total", "round_up", "expected"), [
    (2, 10, True, 2), (2, 10, False, 2), ("25%", 4, True, 1), ("25%", 3, True, 1), ("25%", 3, False, 0),
    ("25%", 10, True, 3), ("25%", 10, False, 2), ("30%", 5, True, 2), ("30%", 5, False, 1), ("0%", 9, True, 0),
    ("100%", 7, False, 7), ("50%", 1, False, 0), ("50%", 1, True, 1), ("10%", 0, True, 0),
])
def test_scaled_value_rounds_percentages_as_intstr_does(value: int | str, total: int, round_up: bool,
                                                         expected: int) -> None:
    assert scaled_value(value, total, round_up) == expected


@pytest.mark.parametrize("value", ["25", "abc%", "1.5%", None])
def test_scaled_value_rejects_what_intstr_rejects(value: str | None) -> None:
    with pytest.raises(ValueError):
        scaled_value(value, 10, True)


@pytest.mark.parametrize(("surge", "unavailable", "desired", "expected"), [
    ("25%", "25%", 4, (1, 1)), ("25%", "25%", 1, (1, 0)), ("25%", "25%", 10, (3, 2)), (0, 0, 5, (0, 1)),
    (0, "10%", 5, (0, 1)), (2, "50%", 3, (2, 1)), ("0%", "0%", 0, (0, 1)), (1, 0, 3, (1, 0)), (None, None, 3, (0, 1)),
])
def test_resolve_fenceposts(surge: int | str | None, unavailable: int | str | None, desired: int,
                            expected: tuple[int, int]) -> None:
    assert resolve_fenceposts(surge, unavailable, desired) == expected


def spec_of(replicas: int, strategy: dict) -> dict:
    return {"metadata": {"name": "d", "generation": 1}, "spec": {"replicas": replicas, "strategy": strategy}}


@pytest.mark.parametrize(("replicas", "strategy", "surge", "unavailable"), [
    (4, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}, 1, 1),
    (3, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 5}}, 0, 3),
    (0, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}, 1, 0),
    (3, {"type": "Recreate"}, 0, 0),
])
def test_max_surge_and_max_unavailable(replicas: int, strategy: dict, surge: int, unavailable: int) -> None:
    d = spec_of(replicas, strategy)
    assert (max_surge(d), max_unavailable(d)) == (surge, unavailable)


def rs_of(replicas: int) -> dict:
    return {"metadata": {"name": "rs"}, "spec": {"replicas": replicas}}


@pytest.mark.parametrize(("replicas", "surge", "old", "new", "expected"), [
    (3, 1, [3], 0, 1), (3, 1, [2], 1, 2), (3, 1, [3], 1, 1), (3, "100%", [3], 0, 3), (3, 0, [2], 0, 1),
    (3, 1, [], 0, 3), (5, 2, [5], 0, 2),
])
def test_new_rs_new_replicas(replicas: int, surge: int | str, old: list[int], new: int, expected: int) -> None:
    d = spec_of(replicas, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": 1}})
    new_rs = rs_of(new)
    assert new_rs_new_replicas(d, [*map(rs_of, old), new_rs], new_rs) == expected


TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}}


def test_template_hash_is_stable_and_shaped_like_the_real_one() -> None:
    reordered = {"spec": {"containers": [{"image": "nginx:1", "name": "app"}]}, "metadata": {"labels": {"app": "web"}}}
    assert compute_hash(TEMPLATE) == compute_hash(reordered) == compute_hash(dict(TEMPLATE))
    assert HASH.match(compute_hash(TEMPLATE))
    assert safe_encode("0123456789") == "456789bcdf"


@pytest.mark.parametrize("changed", [
    {"metadata": {"labels": {"app": "api"}}, "spec": TEMPLATE["spec"]},
    {"metadata": {"labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "now"}},
     "spec": TEMPLATE["spec"]},
    {"metadata": TEMPLATE["metadata"], "spec": {"containers": [{"name": "app", "image": "nginx:2"}]}},
])
def test_template_hash_changes_with_the_template(changed: dict) -> None:
    assert compute_hash(changed) != compute_hash(TEMPLATE)


def test_collision_count_changes_the_hash() -> None:
    assert len({compute_hash(TEMPLATE), compute_hash(TEMPLATE, 0), compute_hash(TEMPLATE, 1)}) == 3


@pytest.mark.parametrize(("left", "right", "equal"), [
    (TEMPLATE, {"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}, "spec": TEMPLATE["spec"]}, True),
    ({"metadata": {"labels": {"pod-template-hash": "x"}}, "spec": {}}, {"metadata": {}, "spec": {}}, True),
    ({"metadata": {"labels": {}}, "spec": {}}, {"spec": {}}, True),
    (TEMPLATE, {"metadata": {"labels": {"app": "web2"}}, "spec": TEMPLATE["spec"]}, False),
])
def test_equal_ignore_hash(left: dict, right: dict, equal: bool) -> None:
    assert equal_ignore_hash(left, right) is equal


def test_set_condition_keeps_transition_time_and_skips_same_reason() -> None:
    status = {"conditions": [{"type": "Progressing", "status": "True", "lastUpdateTime": "t0",
                              "lastTransitionTime": "t0", "reason": "NewReplicaSetCreated", "message": "a"}]}
    same = {"type": "Progressing", "status": "True", "lastUpdateTime": "t1", "lastTransitionTime": "t1",
            "reason": "NewReplicaSetCreated", "message": "b"}
    assert not set_condition(status, same) and status["conditions"][0]["message"] == "a"
    assert set_condition(status, {**same, "reason": "ReplicaSetUpdated"})
    assert status["conditions"][0]["lastTransitionTime"] == "t0"
    assert status["conditions"][0]["lastUpdateTime"] == "t1"
    assert set_condition(status, {**same, "status": "False", "reason": "ProgressDeadlineExceeded"})
    assert status["conditions"][0]["lastTransitionTime"] == "t1"
