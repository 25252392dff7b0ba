"""The StatefulSet controller, after pkg/controller/statefulset and pkg/controller/history.

Pods are `<set>-<ordinal>` with a stable hostname/subdomain and one PVC `<template>-<set>-<ordinal>` per
volumeClaimTemplate, created before the pod. Each template version is a ControllerRevision `<set>-<hash>`
whose name the pods carry in `controller-revision-hash`. OrderedReady creates one pod at a time and waits
for it to be Running, Ready and available, scales down from the highest ordinal, and RollingUpdate replaces
pods from the highest ordinal down to the partition one at a time; Parallel drops the ordering; OnDelete
gives only recreated pods the new revision. Events and messages are those of stateful_pod_control.go.

The module also holds what the DaemonSet controller shares with it upstream (pkg/controller/history,
controller_utils): revision hashing, pod-from-template, readiness timing, slow-start batches, and a base
class with the work queue's per-item back-off.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kubedog_ci.sim.controllers.base import Context, Controller, Key
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.loop import parse_time
from kubedog_ci.sim.selectors import matches_label_selector
from kubedog_ci.sim.store import Change, clone

COMPONENT = "statefulset-controller"
STATEFULSETS = "apps/statefulsets"
PODS = "/pods"
CLAIMS = "/persistentvolumeclaims"
REVISIONS = "apps/controllerrevisions"

REVISION_LABEL = "controller-revision-hash"
"""apps.StatefulSetRevisionLabel (the revision's name) and apps.DefaultDaemonSetUniqueLabelKey (its hash)."""
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
HISTORY_HASH_LABEL = "controller.kubernetes.io/hash"
MAX_BATCH = 500
"""stateful_set_control.go's MaxBatchSize: the largest slow-start batch."""

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")
_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193


class SyncError(Exception):
    """A sync failure that is not a single API error (an aggregate), retried with back-off like one."""


# --- shared with the DaemonSet controller -----------------------------------------------------------------

def fnv1_32(data: bytes) -> int:
    """hash/fnv.New32, which history.HashControllerRevision uses."""
    value = _FNV_OFFSET
    for byte in data:
        value = ((value * _FNV_PRIME) & 0xFFFFFFFF) ^ byte
    return value


def fnv1a_32(data: bytes) -> int:
    """hash/fnv.New32a, which controller.ComputeHash uses."""
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """apimachinery's rand.SafeEncodeString: no vowels, so a hash never spells a word."""
    return "".join(_ALPHANUMS[ord(ch) % len(_ALPHANUMS)] for ch in text)


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def revision_data(obj: dict) -> dict:
    """getPatch: the strategic merge patch that restores the object's pod template."""
    return {"spec": {"template": {**clone(obj["spec"]["template"]), "$patch": "replace"}}}


def template_of(revision: dict) -> dict:
    """The pod template a revision restores (ApplyRevision without the merge machinery)."""
    template = clone(revision["data"]["spec"]["template"])
    template.pop("$patch", None)
    return template


def revision_order(revision: dict) -> tuple:
    """history.SortControllerRevisions: by revision number, then creation time, then name."""
    meta = revision["metadata"]
    return int(revision.get("revision") or 0), meta.get("creationTimestamp", ""), meta["name"]


def controller_ref(owner: dict) -> dict:
    """metav1.NewControllerRef."""
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def controller_uid(obj: dict) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def pod_from_template(template: dict, owner: dict) -> dict:
    """controller.GetPodFromTemplate: the template's labels, annotations, finalizers and spec, owned by `owner`."""
    source = template.get("metadata") or {}
    meta: dict = {"generateName": f"{owner['metadata']['name']}-", "labels": dict(source.get("labels") or {})}
    for key in ("annotations", "finalizers"):
        if source.get(key):
            meta[key] = clone(source[key])
    meta["ownerReferences"] = [controller_ref(owner)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": clone(template.get("spec") or {})}


def pod_phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase", "")


def pod_condition(pod: dict, kind: str) -> dict | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def is_pod_ready(pod: dict) -> bool:
    condition = pod_condition(pod, "Ready")
    return condition is not None and condition.get("status") == "True"


def is_terminating(obj: dict) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error()."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def slow_start(count: int, fn: Callable[[int], object], initial: int = 1) -> list[Exception]:
    """slowStartBatch: batches of 1, 2, 4… that stop after the first batch with a failure, so a quota that
    refuses every pod costs a few requests and events, not one per replica."""
    errors: list[Exception] = []
    done, batch = 0, min(count, initial)
    while batch > 0:
        for index in range(done, done + batch):
            try:
                fn(index)
            except (ApiError, SyncError) as err:
                errors.append(err)
        done += batch
        if errors:
            break
        batch = min(2 * batch, count - done, MAX_BATCH)
    return errors


class ReadyClock:
    """When each pod turned Ready, on the monotonic clock, so minReadySeconds is measured in simulated time.

    Conditions carry second-precision wall-clock timestamps, far too coarse at a time scale of 0.02, so the
    clock records the moment it sees a pod's Ready condition turn True and falls back to lastTransitionTime
    only for pods it never saw turn.
    """

    def __init__(self, time_scale: float) -> None:
        self._scale = time_scale
        self._since: dict[str, float] = {}

    def observe(self, change: Change) -> None:
        uid = change.obj["metadata"].get("uid", "")
        if change.type == "DELETED" or not is_pod_ready(change.obj):
            self._since.pop(uid, None)
        elif uid not in self._since:
            self._since[uid] = time.monotonic()

    def remaining(self, pod: dict, min_ready_seconds: int) -> float | None:
        """Simulated seconds until the pod counts as available; None when it is not Ready at all."""
        if not is_pod_ready(pod):
            return None
        if min_ready_seconds <= 0 or self._scale <= 0:
            return 0.0
        since = self._since.get(pod["metadata"].get("uid", ""))
        if since is None:
            stamp = (pod_condition(pod, "Ready") or {}).get("lastTransitionTime")
            if not stamp:
                return float(min_ready_seconds)
            since = time.monotonic() - (time.time() - parse_time(stamp).timestamp())
        return max(0.0, min_ready_seconds - (time.monotonic() - since) / self._scale)

    def available(self, pod: dict, min_ready_seconds: int) -> bool:
        """podutil.IsPodAvailable."""
        return self.remaining(pod, min_ready_seconds) == 0.0


class WorkloadController(Controller):
    """What the StatefulSet and DaemonSet controllers share: owned-pod claiming, readiness timing, and the
    work queue's per-item exponential back-off (5ms doubling up to 1000s) after a failed sync."""

    kind = ""
    primary = ""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.clock = ReadyClock(ctx.config.time_scale)
        self._failures: dict[Key, int] = {}

    def on_change(self, change: Change) -> None:
        if change.key == PODS:
            self.clock.observe(change)
        super().on_change(change)

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.key != PODS:
            return super().keys_for(change)
        owner = self.owner_key(change.obj, self.kind)
        if owner is not None:
            return [owner]
        if controller_uid(change.obj) is not None:
            return []
        return self._selecting(change.obj)

    def _selecting(self, pod: dict) -> list[Key]:
        """Owners whose selector matches an orphan pod, which they may adopt."""
        namespace = pod["metadata"].get("namespace", "")
        labels = pod["metadata"].get("labels") or {}
        owners, _ = self.store.list(self.primary, namespace)
        return [(namespace, o["metadata"]["name"]) for o in owners
                if matches_label_selector((o.get("spec") or {}).get("selector"), labels)]

    def sync(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        try:
            self.reconcile(namespace, name)
        except (ApiError, SyncError):
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
            self.enqueue(key, after=min(0.005 * 2 ** failures, 1000.0))
            return
        self._failures.pop(key, None)

    def reconcile(self, namespace: str, name: str) -> None:
        raise NotImplementedError

    def claim(self, key: str, owner: dict, member: Callable[[dict], bool] = lambda obj: True) -> list[dict]:
        """Objects of `key` the owner controls, adopting orphans its selector matches (ControllerRefManager)."""
        meta = owner["metadata"]
        selector = owner["spec"].get("selector")
        objects, _ = self.store.list(key, meta["namespace"])
        claimed = []
        for obj in objects:
            uid = controller_uid(obj)
            if uid == meta["uid"]:
                claimed.append(obj)
            elif (uid is None and not is_terminating(obj) and not is_terminating(owner) and member(obj)
                  and matches_label_selector(selector, obj["metadata"].get("labels") or {})):
                adopted = clone(obj)
                adopted["metadata"].setdefault("ownerReferences", []).append(controller_ref(owner))
                claimed.append(self.api.update(self.api.rt(key), meta["namespace"], obj["metadata"]["name"],
                                               adopted))
        return claimed

    def write_status(self, obj: dict, status: dict) -> None:
        """Write status only when it changed, without a resourceVersion precondition: it was computed from
        the store's current state, which is what the real controllers' retry-on-conflict converges to."""
        if status == obj.get("status"):
            return
        body = clone(obj)
        body["status"] = status
        body["metadata"].pop("resourceVersion", None)
        meta = obj["metadata"]
        self.api.update(self.api.rt(self.primary), meta["namespace"], meta["name"], body, subresource="status")


# --- StatefulSet ------------------------------------------------------------------------------------------

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
        return [*kept, controller_ref(pod)]
    if when_deleted == "Delete":
        return [*kept, controller_ref(sts)]
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
    pod = pod_from_template(template, sts)
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
        meta = sts["metadata"]
        labels = (sts["spec"]["template"].get("metadata") or {}).get("labels") or {}
        while True:
            hash_ = history_hash(data, collisions)
            name = revision_name(meta["name"], hash_)
            revision_meta = {"name": name, "namespace": meta["namespace"],
                             "labels": {**labels, HISTORY_HASH_LABEL: hash_}, "ownerReferences": [controller_ref(sts)]}
            if meta.get("annotations"):
                revision_meta["annotations"] = clone(meta["annotations"])
            body = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": revision_meta, "data": data,
                    "revision": number}
            try:
                return self.api.create(self.api.rt(REVISIONS), meta["namespace"], body), collisions
            except ApiError as err:
                if err.reason != "AlreadyExists":
                    raise
            existing = self.store.get(REVISIONS, meta["namespace"], name)
            if existing is not None and existing.get("data") == data:
                return existing, collisions
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
