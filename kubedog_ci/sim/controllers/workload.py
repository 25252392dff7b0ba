"""What the workload controllers share, after pkg/controller/controller_utils.go and pkg/controller/history.

Pods are made from templates and created in slow-start batches, template versions are hashed and kept as
ControllerRevisions the same way, and a failed sync is retried with the work queue's per-item back-off, so the
ReplicaSet, Deployment, StatefulSet, DaemonSet and Job controllers each take these from here. WorkloadController
is the base of the StatefulSet and DaemonSet controllers: claiming owned objects, readiness timing and status
writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable

from kubedog_ci.sim.clock import Clock, parse_time
from kubedog_ci.sim.controllers.base import Context, Controller, Key
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.owners import controller_uid, new_controller_ref, with_owner
from kubedog_ci.sim.pods import find_condition, is_pod_ready
from kubedog_ci.sim.selectors import matches_label_selector
from kubedog_ci.sim.store import Change, clone

PODS = "/pods"
REVISIONS = "apps/controllerrevisions"
REVISION_LABEL = "controller-revision-hash"
"""apps.StatefulSetRevisionLabel (the revision's name) and apps.DefaultDaemonSetUniqueLabelKey (its hash)."""
MAX_BATCH = 500
"""stateful_set_control.go's MaxBatchSize: the largest slow-start batch."""
FAILURE_BACKOFF_BASE, FAILURE_BACKOFF_MAX = 0.005, 1000.0
"""workqueue.DefaultControllerRateLimiter: a failed sync is retried after 5ms, doubling per failure up to 1000s."""

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193


class SyncError(Exception):
    """A sync failure that is not a single API error (an aggregate), retried with back-off like one."""


def failure_backoff(failures: int) -> float:
    """Simulated seconds to wait before retrying a failed sync, `failures` being how many failed in a row before
    it (0 for the first: 5ms)."""
    return min(FAILURE_BACKOFF_BASE * 2 ** failures, FAILURE_BACKOFF_MAX)


# --- template hashes and revisions -------------------------------------------------------------------------

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
    """The stable serialization hashes are taken over (Go hashes the struct; any stable form will do here)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def compute_hash(template: dict, collision_count: int | None = None) -> str:
    """controller.ComputeHash: FNV-1a over the template, plus the collision count as uint32 in 8 little-endian
    bytes (the pod-template-hash of ReplicaSets, the revision hash of DaemonSets)."""
    data = canonical_json(template)
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4)
    return safe_encode(str(fnv1a_32(data)))


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


# --- pods ----------------------------------------------------------------------------------------------------

def is_terminating(obj: dict) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def pod_from_template(owner: dict, template: dict | None = None) -> dict:
    """controller.GetPodFromTemplate: the labels, annotations, finalizers and spec of `template` (the owner's
    own by default), generateName `<owner>-`, owned by `owner`."""
    if template is None:
        template = (owner.get("spec") or {}).get("template") or {}
    source = template.get("metadata") or {}
    meta: dict = {"generateName": f"{owner['metadata']['name']}-"}
    for key in ("labels", "annotations", "finalizers"):
        if source.get(key):
            meta[key] = clone(source[key])
    meta["ownerReferences"] = [new_controller_ref(owner)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": clone(template.get("spec") or {})}


def slow_start_batches(count: int) -> list[int]:
    """slowStartBatch sizes: 1, 2, 4… up to MAX_BATCH, summing to `count`."""
    sizes, size = [], min(count, 1)
    while size > 0:
        sizes.append(size)
        count -= size
        size = min(2 * size, count, MAX_BATCH)
    return sizes


def slow_start(count: int, fn: Callable[[int], object]) -> list[Exception]:
    """slowStartBatch: call `fn` for 0…count-1 in batches that stop after the first batch with a failure, so a
    quota that refuses every pod costs a few requests and events, not one per replica."""
    errors: list[Exception] = []
    done = 0
    for size in slow_start_batches(count):
        for index in range(done, done + size):
            try:
                fn(index)
            except (ApiError, SyncError) as err:
                errors.append(err)
        done += size
        if errors:
            break
    return errors


class ReadyClock:
    """When each pod turned Ready, on the monotonic clock, so minReadySeconds is measured in simulated time.

    Conditions carry second-precision wall-clock timestamps, far too coarse at a time scale of 0.02, so the
    clock records the moment it sees a pod's Ready condition turn True and falls back to lastTransitionTime
    only for pods it never saw turn.
    """

    def __init__(self, time_scale: float, wall: Clock) -> None:
        self._scale = time_scale
        self._wall = wall
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
            stamp = (find_condition(pod, "Ready") or {}).get("lastTransitionTime")
            if not stamp:
                return float(min_ready_seconds)
            since = time.monotonic() - (self._wall.time() - parse_time(stamp).timestamp())
        return max(0.0, min_ready_seconds - (time.monotonic() - since) / self._scale)

    def available(self, pod: dict, min_ready_seconds: int) -> bool:
        """podutil.IsPodAvailable."""
        return self.remaining(pod, min_ready_seconds) == 0.0


class WorkloadController(Controller):
    """The StatefulSet and DaemonSet controllers' base: owned-pod claiming, readiness timing, and the work
    queue's per-item back-off after a failed sync."""

    kind = ""
    primary = ""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.clock = ReadyClock(ctx.config.time_scale, ctx.loop.clock)
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
        return self.adopters(self.primary, change.obj)

    def sync(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        try:
            self.reconcile(namespace, name)
        except (ApiError, SyncError):
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
            self.enqueue(key, after=failure_backoff(failures))
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
                adopted = with_owner(obj, new_controller_ref(owner), meta["uid"])
                claimed.append(self.api.update(self.api.rt(key), meta["namespace"], obj["metadata"]["name"],
                                               adopted))
        return claimed

    def create_revision(self, owner: dict, name: str, labels: dict, data: dict, number: int) -> dict | None:
        """One attempt of history.CreateControllerRevision: the revision `name` of `owner`, carrying the owner's
        annotations. An existing one of that name with the same data is reused; None when another template
        holds the name (a hash collision)."""
        meta = owner["metadata"]
        revision_meta: dict = {"name": name, "namespace": meta["namespace"], "labels": labels,
                               "ownerReferences": [new_controller_ref(owner)]}
        if meta.get("annotations"):
            revision_meta["annotations"] = clone(meta["annotations"])
        body = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": revision_meta, "data": data,
                "revision": number}
        try:
            return self.api.create(self.api.rt(REVISIONS), meta["namespace"], body)
        except ApiError as err:
            if err.reason != "AlreadyExists":
                raise
        existing = self.store.get(REVISIONS, meta["namespace"], name)
        return existing if existing is not None and existing.get("data") == data else None

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
