"""The StatefulSet controller, after pkg/controller/statefulset and pkg/controller/history.

Pods are `<set>-<ordinal>` with a stable hostname/subdomain and one PVC `<template>-<set>-<ordinal>` per
volumeClaimTemplate, created before the pod. Each template version is a ControllerRevision `<set>-<hash>`
whose name the pods carry in `controller-revision-hash`. OrderedReady creates one pod at a time and waits
for it to be Running, Ready and available, scales down from the highest ordinal, and RollingUpdate replaces
pods from the highest ordinal down to the partition one at a time; Parallel drops the ordering; OnDelete
gives only recreated pods the new revision. Events and messages are those of stateful_pod_control.go.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from kubedog_ci.sim.controllers.workload import (
    PODS,
    REVISION_LABEL,
    REVISIONS,
    SyncError,
    WorkloadController,
    canonical_json,
    fnv1_32,
    is_terminating,
    pod_from_template,
    revision_data,
    revision_order,
    safe_encode,
    slow_start,
    template_of,
)
from kubedog_ci.sim.errors import ApiError, aggregate
from kubedog_ci.sim.owners import new_controller_ref
from kubedog_ci.sim.pods import is_pod_ready, pod_phase
from kubedog_ci.sim.store import clone

COMPONENT = "statefulset-controller"
STATEFULSETS = "apps/statefulsets"
CLAIMS = "/persistentvolumeclaims"

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
HISTORY_HASH_LABEL = "controller.kubernetes.io/hash"

_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def parent_and_ordinal(pod_name: str) -> tuple[str, int]:
    """getParentNameAndOrdinal: ("", -1) for names that are not `<parent>-<ordinal>`."""
    match = _ORDINAL.match(pod_name)
    return (match.group(1), int(match.group(2))) if match else ("", -1)


def history_hash(data: dict, collision_count: int) -> str:
    """history.HashControllerRevision over the revision's data and collision count."""
    return safe_encode(str(fnv1_32(canonical_json(data) + str(collision_count).encode())))


def revision_name(parent: str, hash_: str) -> str:
    """history.ControllerRevisionName."""
    return f"{parent[:223]}-{hash_}"


def start_ordinal(sts: dict) -> int:
    return int(((sts["spec"].get("ordinals") or {}).get("start")) or 0)


def claim_name(template: dict, sts: dict, ordinal: int) -> str:
    return f"{template['metadata']['name']}-{sts['metadata']['name']}-{ordinal}"


def claim_owners(refs: list[dict], sts: dict, pod: dict, scaled_down: bool) -> list[dict]:
    """updateClaimOwnerRefForSetAndPod: the claim's owner references under the retention policy. A scaled-down
    pod owns its claims with whenScaled: Delete, otherwise the set does with whenDeleted: Delete; references
    to an earlier set or pod of the same name, or another controller, are left for the garbage collector."""
    owners = {("StatefulSet", sts["metadata"]["name"]): sts["metadata"]["uid"],
              ("Pod", pod["metadata"]["name"]): pod["metadata"].get("uid")}
    ours = [r for r in refs if (r.get("kind"), r.get("name")) in owners]
    if any(r.get("uid") != owners[(r["kind"], r["name"])] for r in ours):
        return refs
    kept = [r for r in refs if r not in ours]
    policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
    when_scaled, when_deleted = policy.get("whenScaled", "Retain"), policy.get("whenDeleted", "Retain")
    if (when_scaled, when_deleted) != ("Retain", "Retain") and any(r.get("controller") for r in kept):
        return kept
    if scaled_down and when_scaled == "Delete":
        return [*kept, new_controller_ref(pod)]
    if when_deleted == "Delete":
        return [*kept, new_controller_ref(sts)]
    return kept


def claims_for(sts: dict, ordinal: int) -> list[dict]:
    """getPersistentVolumeClaims: one claim per template, labelled with the selector's matchLabels and owned
    as the retention policy says for a pod that is not scaled down."""
    meta = sts["metadata"]
    match_labels = (sts["spec"].get("selector") or {}).get("matchLabels") or {}
    pod = {"metadata": {"name": f"{meta['name']}-{ordinal}"}}
    claims = []
    for template in sts["spec"].get("volumeClaimTemplates") or []:
        source = template.get("metadata") or {}
        claim_meta: dict = {"name": claim_name(template, sts, ordinal), "namespace": meta["namespace"],
                            "labels": {**(source.get("labels") or {}), **match_labels}}
        if source.get("annotations"):
            claim_meta["annotations"] = clone(source["annotations"])
        owners = claim_owners([], sts, pod, scaled_down=False)
        if owners:
            claim_meta["ownerReferences"] = owners
        claims.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta,
                       "spec": clone(template.get("spec") or {})})
    return claims


def identity_matches(sts: dict, pod: dict) -> bool:
    meta = pod["metadata"]
    parent, ordinal = parent_and_ordinal(meta["name"])
    return (ordinal >= 0 and parent == sts["metadata"]["name"] and meta.get("namespace") == sts["metadata"]["namespace"]
            and (meta.get("labels") or {}).get(POD_NAME_LABEL) == meta["name"])


def storage_matches(sts: dict, pod: dict) -> bool:
    _, ordinal = parent_and_ordinal(pod["metadata"]["name"])
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in pod["spec"].get("volumes") or []}
    for template in sts["spec"].get("volumeClaimTemplates") or []:
        source = (volumes.get(template["metadata"]["name"]) or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != claim_name(template, sts, ordinal):
            return False
    return True


def update_identity(sts: dict, pod: dict) -> None:
    _, ordinal = parent_and_ordinal(pod["metadata"]["name"])
    name = f"{sts['metadata']['name']}-{ordinal}"
    labels = pod["metadata"].setdefault("labels", {})
    labels[POD_NAME_LABEL] = name
    labels[POD_INDEX_LABEL] = str(ordinal)


def update_storage(sts: dict, pod: dict) -> None:
    """Claim volumes first (in template order), then the pod's own volumes that no template replaces."""
    _, ordinal = parent_and_ordinal(pod["metadata"]["name"])
    templates = sts["spec"].get("volumeClaimTemplates") or []
    names = {t["metadata"]["name"] for t in templates}
    volumes = [{"name": t["metadata"]["name"],
                "persistentVolumeClaim": {"claimName": claim_name(t, sts, ordinal)}} for t in templates]
    volumes += [v for v in pod["spec"].get("volumes") or [] if v.get("name") not in names]
    if volumes:
        pod["spec"]["volumes"] = volumes


def new_stateful_pod(sts: dict, template: dict, revision: str, ordinal: int) -> dict:
    """newStatefulSetPod + setPodRevision: identity, hostname/subdomain, claim volumes, revision label."""
    pod = pod_from_template(sts, template)
    pod["metadata"]["name"] = f"{sts['metadata']['name']}-{ordinal}"
    pod["metadata"]["namespace"] = sts["metadata"]["namespace"]
    update_identity(sts, pod)
    pod["spec"]["hostname"] = pod["metadata"]["name"]
    if sts["spec"].get("serviceName"):
        pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
    update_storage(sts, pod)
    pod["metadata"]["labels"][REVISION_LABEL] = revision
    return pod


def revision_of(pod: dict) -> str:
    return (pod["metadata"].get("labels") or {}).get(REVISION_LABEL, "")


def is_running_and_ready(pod: dict) -> bool:
    return pod_phase(pod) == "Running" and is_pod_ready(pod)


def complete_rolling_update(sts: dict, status: dict) -> None:
    """completeRollingUpdate: once every replica is updated and ready, the update revision becomes current."""
    replicas = sts["spec"].get("replicas", 1)
    if (sts["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate" \
            and status["updatedReplicas"] == status["readyReplicas"] == status["replicas"] == replicas:
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = status["updateRevision"]


_OMITTED_WHEN_ZERO = ("observedGeneration", "readyReplicas", "currentReplicas", "updatedReplicas")
"""StatefulSetStatus fields tagged omitempty: the real API leaves them out at zero."""


@dataclass
class _Pass:
    """One sync's view of a set: its revisions, the replica slots by ordinal and the condemned pods."""

    sts: dict
    current: dict
    update: dict
    collisions: int
    pods: list[dict]
    replicas: list[dict] = field(default_factory=list)
    condemned: list[dict] = field(default_factory=list)
    deleted_current: int = 0

    @property
    def monotonic(self) -> bool:
        return self.sts["spec"].get("podManagementPolicy") != "Parallel"

    @property
    def min_ready(self) -> int:
        return int(self.sts["spec"].get("minReadySeconds") or 0)


class StatefulSetController(WorkloadController):
    name = "statefulset"
    kind = "StatefulSet"
    primary = STATEFULSETS
    watches = (STATEFULSETS, PODS)

    def record(self, owner: dict, event_type: str, reason: str, message: str) -> None:
        self.ctx.events.record(owner, event_type, reason, message, COMPONENT)

    def reconcile(self, namespace: str, name: str) -> None:
        sts = self.store.get(STATEFULSETS, namespace, name)
        if sts is None:
            return
        pods = self.claim(PODS, sts, lambda pod: parent_and_ordinal(pod["metadata"]["name"])[0] == name)
        revisions = sorted(self.claim(REVISIONS, sts), key=revision_order)
        current, update, collisions = self._revisions(sts, revisions)
        run = self._slots(_Pass(sts, current, update, collisions, pods))
        error: Exception | None = None
        try:
            self._update_set(run)
        except (ApiError, SyncError) as err:
            error = err
        status = self._status(run)
        self.write_status(sts, status)
        self._truncate_history(sts, pods, revisions, current, update)
        if run.min_ready > 0 and status.get("availableReplicas", 0) != sts["spec"].get("replicas", 0):
            self.enqueue((namespace, name), after=run.min_ready)
        if error is not None:
            raise error

    # --- revisions --------------------------------------------------------------------------------------

    def _revisions(self, sts: dict, revisions: list[dict]) -> tuple[dict, dict, int]:
        """getStatefulSetRevisions: reuse, roll back to (renumber) or create the update revision."""
        collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
        data = revision_data(sts)
        number = int(revisions[-1].get("revision") or 0) + 1 if revisions else 1
        equal = [r for r in revisions if r.get("data") == data]
        if equal and equal[-1]["metadata"]["name"] == revisions[-1]["metadata"]["name"]:
            update = revisions[-1]
        elif equal:
            renumbered = clone(equal[-1])
            renumbered["revision"] = number
            update = self.api.update(self.api.rt(REVISIONS), sts["metadata"]["namespace"],
                                     renumbered["metadata"]["name"], renumbered)
        else:
            update, collisions = self._create_revision(sts, data, number, collisions)
        wanted = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if r["metadata"]["name"] == wanted), update)
        return current, update, collisions

    def _create_revision(self, sts: dict, data: dict, number: int, collisions: int) -> tuple[dict, int]:
        """history.CreateControllerRevision: on a name clash with different data, bump the collision count."""
        labels = (sts["spec"]["template"].get("metadata") or {}).get("labels") or {}
        while True:
            hash_ = history_hash(data, collisions)
            revision = self.create_revision(sts, revision_name(sts["metadata"]["name"], hash_),
                                            {**labels, HISTORY_HASH_LABEL: hash_}, data, number)
            if revision is not None:
                return revision, collisions
            collisions += 1

    def _truncate_history(self, sts: dict, pods: list[dict], revisions: list[dict], current: dict,
                          update: dict) -> None:
        """truncateHistory: delete the oldest revisions no pod uses beyond revisionHistoryLimit."""
        live = {current["metadata"]["name"], update["metadata"]["name"], *(revision_of(p) for p in pods)}
        history = [r for r in revisions if r["metadata"]["name"] not in live]
        limit = int(sts["spec"].get("revisionHistoryLimit", 10))
        if limit < 0 or len(history) <= limit:
            return
        for revision in history[:len(history) - limit]:
            self.api.delete(self.api.rt(REVISIONS), sts["metadata"]["namespace"], revision["metadata"]["name"])

    # --- the update pass --------------------------------------------------------------------------------

    def _slots(self, run: _Pass) -> _Pass:
        """Sort pods into replica slots [start, start+replicas) and condemned ones; fill empty slots with the
        pods to create, at the current revision below the partition and the update revision above it."""
        start = start_ordinal(run.sts)
        count = int(run.sts["spec"].get("replicas", 1))
        slots: list[dict | None] = [None] * count
        for pod in run.pods:
            _, ordinal = parent_and_ordinal(pod["metadata"]["name"])
            if start <= ordinal < start + count:
                slots[ordinal - start] = pod
            elif ordinal >= 0:
                run.condemned.append(pod)
        run.condemned.sort(key=lambda p: parent_and_ordinal(p["metadata"]["name"])[1], reverse=True)
        strategy = run.sts["spec"].get("updateStrategy") or {}
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for index, pod in enumerate(slots):
            if pod is None:
                ordinal = start + index
                old = strategy.get("type", "RollingUpdate") == "RollingUpdate" and ordinal < start + partition
                revision = run.current if old else run.update
                slots[index] = new_stateful_pod(run.sts, template_of(revision), revision["metadata"]["name"],
                                                ordinal)
        run.replicas = [pod for pod in slots if pod is not None]
        return run

    def _unavailable(self, pod: dict, min_ready: int) -> bool:
        """isUnavailable: not running, ready and available, or terminating."""
        return not (is_running_and_ready(pod) and self.clock.available(pod, min_ready)) or is_terminating(pod)

    def _update_set(self, run: _Pass) -> None:
        """updateStatefulSet: replicas first, then condemned pods, then the rolling update."""
        if is_terminating(run.sts):
            return
        if self._run_for_all(len(run.replicas), lambda i: self._process_replica(run, i), run.monotonic):
            return
        if self._run_for_all(len(run.condemned), lambda i: self._fix_claims(run, i), run.monotonic):
            return
        first_unavailable = next((p for p in run.replicas + run.condemned[::-1]
                                  if self._unavailable(p, run.min_ready)), None)
        if self._run_for_all(len(run.condemned), lambda i: self._process_condemned(run, i, first_unavailable),
                             run.monotonic):
            return
        strategy = run.sts["spec"].get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for target in range(len(run.replicas) - 1, partition - 1, -1):
            pod = run.replicas[target]
            if revision_of(pod) != run.update["metadata"]["name"] and not is_terminating(pod):
                try:
                    self._delete_pod(run.sts, pod)
                except ApiError as err:
                    if err.reason != "NotFound":
                        raise
                run.deleted_current += 1
                return
            if self._unavailable(pod, run.min_ready):
                return

    @staticmethod
    def _run_for_all(count: int, fn: Callable[[int], bool], monotonic: bool) -> bool:
        """runForAll: in order, stopping at the first pod that blocks, or in slow-start batches."""
        if monotonic:
            return any(fn(index) for index in range(count))
        errors = slow_start(count, fn)
        if errors:
            raise errors[0]
        return False

    def _process_replica(self, run: _Pass, index: int) -> bool:
        """processReplica; True means stop here (always so in OrderedReady while this pod is not available)."""
        pod = run.replicas[index]
        phase = pod_phase(pod)
        if phase in ("Failed", "Succeeded"):
            if not is_terminating(pod):
                self._delete_pod(run.sts, pod)
            return True
        if not phase:
            self._create_pod(run.sts, pod)
            if run.monotonic:
                return True
        if phase == "Pending":
            self._create_claims(run.sts, pod)
        if run.monotonic and (is_terminating(pod) or not is_running_and_ready(pod)
                              or not self.clock.available(pod, run.min_ready)):
            return True
        if phase:
            self._update_pod(run.sts, pod)
        return False

    def _process_condemned(self, run: _Pass, index: int, first_unavailable: dict | None) -> bool:
        """processCondemned: scale down from the highest ordinal, waiting for terminations and for unhealthy
        pods other than the first unhealthy one."""
        pod = run.condemned[index]
        if is_terminating(pod):
            return run.monotonic
        if run.monotonic and pod is not first_unavailable and self._unavailable(pod, run.min_ready):
            return True
        self._delete_pod(run.sts, pod)
        return True

    def _fix_claims(self, run: _Pass, index: int) -> bool:
        """fixPodClaim: a condemned pod's claims take the owners the retention policy gives scaled-down pods."""
        self._retain_claims(run.sts, run.condemned[index], scaled_down=True)
        return False

    def _retain_claims(self, sts: dict, pod: dict, scaled_down: bool) -> bool:
        """UpdatePodClaimForRetentionPolicy; True when it changed a claim."""
        _, ordinal = parent_and_ordinal(pod["metadata"]["name"])
        changed = False
        for claim in claims_for(sts, ordinal):
            namespace, name = claim["metadata"]["namespace"], claim["metadata"]["name"]
            existing = self.store.get(CLAIMS, namespace, name)
            if existing is None:
                continue
            refs = existing["metadata"].get("ownerReferences") or []
            wanted = claim_owners(refs, sts, pod, scaled_down)
            if wanted == refs:
                continue
            updated = clone(existing)
            updated["metadata"]["ownerReferences"] = wanted
            self.api.update(self.api.rt(CLAIMS), namespace, name, updated)
            changed = True
        return changed

    # --- pods, claims and their events ------------------------------------------------------------------

    def _pod_event(self, sts: dict, pod: dict, verb: str, error: Exception | None) -> None:
        """recordPodEvent."""
        subject = f"{verb} Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']}"
        if error is None:
            self.record(sts, "Normal", f"Successful{verb.title()}", f"{subject} successful")
        else:
            self.record(sts, "Warning", f"Failed{verb.title()}", f"{subject} failed error: {error}")

    def _claim_event(self, sts: dict, pod: dict, claim: str, error: ApiError | None) -> None:
        """recordClaimEvent."""
        pod_name, set_name = pod["metadata"]["name"], sts["metadata"]["name"]
        if error is None:
            self.record(sts, "Normal", "SuccessfulCreate",
                        f"create Claim {claim} Pod {pod_name} in StatefulSet {set_name} success")
        else:
            self.record(sts, "Warning", "FailedCreate",
                        f"create Claim {claim} for Pod {pod_name} in StatefulSet {set_name} failed error: {error}")

    def _create_claims(self, sts: dict, pod: dict) -> None:
        """createPersistentVolumeClaims: create the pod's missing claims; refuse claims being deleted."""
        _, ordinal = parent_and_ordinal(pod["metadata"]["name"])
        failures = []
        for claim in claims_for(sts, ordinal):
            name, namespace = claim["metadata"]["name"], claim["metadata"]["namespace"]
            existing = self.store.get(CLAIMS, namespace, name)
            if existing is not None:
                if is_terminating(existing):
                    failures.append(f"pvc {name} is being deleted")
                continue
            try:
                self.api.create(self.api.rt(CLAIMS), namespace, claim)
            except ApiError as err:
                failures.append(f"failed to create PVC {name}: {err}")
                if err.reason != "AlreadyExists":
                    self._claim_event(sts, pod, name, err)
                continue
            self._claim_event(sts, pod, name, None)
        if failures:
            raise SyncError(aggregate(failures))

    def _create_pod(self, sts: dict, pod: dict) -> None:
        """CreateStatefulPod: claims first, then the pod."""
        try:
            self._create_claims(sts, pod)
            self.api.create(self.api.rt(PODS), sts["metadata"]["namespace"], pod)
        except (ApiError, SyncError) as err:
            if not (isinstance(err, ApiError) and err.reason == "AlreadyExists"):
                self._pod_event(sts, pod, "create", err)
            raise
        self._pod_event(sts, pod, "create", None)

    def _update_pod(self, sts: dict, pod: dict) -> None:
        """UpdateStatefulPod: restore the pod's identity labels and claim volumes, and its claims' owners."""
        identity, storage = identity_matches(sts, pod), storage_matches(sts, pod)
        updated = clone(pod)
        try:
            claims_changed = self._retain_claims(sts, pod, scaled_down=False)
            if identity and storage and not claims_changed:
                return
            update_identity(sts, updated)
            if not storage:
                update_storage(sts, updated)
                self._create_claims(sts, updated)
            self.api.update(self.api.rt(PODS), pod["metadata"]["namespace"], pod["metadata"]["name"], updated)
        except (ApiError, SyncError) as err:
            self._pod_event(sts, pod, "update", err)
            raise
        self._pod_event(sts, pod, "update", None)

    def _delete_pod(self, sts: dict, pod: dict) -> None:
        """DeleteStatefulPod."""
        try:
            self.api.delete(self.api.rt(PODS), pod["metadata"]["namespace"], pod["metadata"]["name"])
        except ApiError as err:
            self._pod_event(sts, pod, "delete", err)
            raise
        self._pod_event(sts, pod, "delete", None)

    # --- status -----------------------------------------------------------------------------------------

    def _status(self, run: _Pass) -> dict:
        """updateStatus over replicas and condemned pods, then completeRollingUpdate."""
        counts = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0,
                  "updatedReplicas": 0}
        for pod in run.replicas + run.condemned:
            if not pod_phase(pod):
                continue
            counts["replicas"] += 1
            if is_running_and_ready(pod):
                counts["readyReplicas"] += 1
                counts["availableReplicas"] += self.clock.available(pod, run.min_ready)
            if not is_terminating(pod):
                counts["currentReplicas"] += revision_of(pod) == run.current["metadata"]["name"]
                counts["updatedReplicas"] += revision_of(pod) == run.update["metadata"]["name"]
        counts["currentReplicas"] -= run.deleted_current
        status = {"observedGeneration": run.sts["metadata"].get("generation", 0), **counts,
                  "currentRevision": run.current["metadata"]["name"],
                  "updateRevision": run.update["metadata"]["name"], "collisionCount": run.collisions}
        complete_rolling_update(run.sts, status)
        return {k: v for k, v in status.items() if v or k not in _OMITTED_WHEN_ZERO}


CONTROLLERS = (StatefulSetController,)
