"""The ReplicaSet controller, after kubernetes pkg/controller/replicaset/replica_set.go.

It keeps `spec.replicas` active pods from the template (created with generateName through the Api, so quota
and namespace admission apply), deletes the most expendable pods first (the real ranking of
controller.ActivePodsWithRanks), and reports replicas/fullyLabeledReplicas/readyReplicas/availableReplicas and
the ReplicaFailure condition. Like the real controller, the status it writes is computed from the pods it saw
before acting, so it trails its own creations by one sync.

A pod counts as available once it has been Ready for minReadySeconds. The Ready condition's
lastTransitionTime has only second precision, which at a small time scale is many simulated seconds, so the
controller also remembers when it first saw each pod Ready and uses that finer moment when it agrees.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable

from kubedog_ci.sim.clock import parse_time
from kubedog_ci.sim.controllers.base import Context, Controller, Key
from kubedog_ci.sim.controllers.workload import failure_backoff, pod_from_template, slow_start
from kubedog_ci.sim.errors import ApiError, is_namespace_terminating
from kubedog_ci.sim.loop import Timer
from kubedog_ci.sim.owners import controller_of, new_controller_ref, with_owner
from kubedog_ci.sim.pods import find_condition, is_pod_active, is_pod_ready
from kubedog_ci.sim.selectors import matches_label_selector
from kubedog_ci.sim.store import Change, clone

COMPONENT = "replicaset-controller"
RS_KEY = "apps/replicasets"
POD_KEY = "/pods"
BURST_REPLICAS = 500
"""The controller's --replicaset-burst default: pods created or deleted per sync at most."""
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}
_STAMP_SLACK = 1.5
"""How far after a second-precision stamp a remembered observation may lie and still be that moment."""
PENDING = "replicaset-controller.pending"
"""Context.shared key: the (namespace, name) keys of ReplicaSets queued for a sync."""


# --- pods -----------------------------------------------------------------------------------------------


def _stamp(text: str | None) -> float | None:
    return parse_time(text).timestamp() if text else None


def _max_restarts(pod: dict) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(c.get("restartCount") or 0) for c in statuses), default=0)


def _deletion_cost(pod: dict) -> int:
    try:
        return int((pod["metadata"].get("annotations") or {}).get(DELETION_COST, 0))
    except ValueError:
        return 0


def _log_rank(moment: float | None, now: float) -> int:
    """The LogarithmicScaleDown bucket of an age: floor(log2(nanoseconds)), -1 for none."""
    if moment is None:
        return -1
    age = (now - moment) * 1e9
    return int(math.log2(age)) if age > 0 else -1


def _before_by_time(t1: float | None, t2: float | None, uid1: str, uid2: str, now: float) -> bool | None:
    """Rules 6 and 8 of ActivePodsWithRanks.Less: the more recent (by log bucket, then uid) goes first."""
    if t1 == t2:
        return None
    if t1 is None or t2 is None:
        return t1 is None
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    return uid1 < uid2 if diff == 0 else diff < 0


def _prefer_delete(a: tuple[dict, int], b: tuple[dict, int], now: float) -> bool:
    """controller.ActivePodsWithRanks.Less: True when pod `a` should be deleted before pod `b`."""
    (pa, rank_a), (pb, rank_b) = a, b
    node_a, node_b = pa["spec"].get("nodeName") or "", pb["spec"].get("nodeName") or ""
    if node_a != node_b and (not node_a or not node_b):
        return not node_a
    phase_a = _PHASE_ORDER.get((pa.get("status") or {}).get("phase"), 0)
    phase_b = _PHASE_ORDER.get((pb.get("status") or {}).get("phase"), 0)
    if phase_a != phase_b:
        return phase_a < phase_b
    if is_pod_ready(pa) != is_pod_ready(pb):
        return not is_pod_ready(pa)
    if _deletion_cost(pa) != _deletion_cost(pb):
        return _deletion_cost(pa) < _deletion_cost(pb)
    if rank_a != rank_b:
        return rank_a > rank_b
    uid_a, uid_b = pa["metadata"].get("uid", ""), pb["metadata"].get("uid", "")
    if is_pod_ready(pa) and is_pod_ready(pb):
        ready_a = _stamp((find_condition(pa, "Ready") or {}).get("lastTransitionTime"))
        ready_b = _stamp((find_condition(pb, "Ready") or {}).get("lastTransitionTime"))
        decided = _before_by_time(ready_a, ready_b, uid_a, uid_b, now)
        if decided is not None:
            return decided
    if _max_restarts(pa) != _max_restarts(pb):
        return _max_restarts(pa) > _max_restarts(pb)
    decided = _before_by_time(_stamp(pa["metadata"].get("creationTimestamp")),
                              _stamp(pb["metadata"].get("creationTimestamp")), uid_a, uid_b, now)
    return bool(decided)


def pods_to_delete(pods: list[dict], related: Iterable[dict], count: int, now: float) -> list[dict]:
    """getPodsToDelete: the `count` pods to remove, ranked with the pods of sibling ReplicaSets per node; `now`
    is the cluster clock's time.time(), against which Ready and creation times are ranked."""
    if count >= len(pods):
        return pods[:count]
    on_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = pod["spec"].get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(pod, on_node.get(pod["spec"].get("nodeName") or "", 0)) for pod in pods]

    def compare(a: tuple[dict, int], b: tuple[dict, int]) -> int:
        if _prefer_delete(a, b, now):
            return -1
        return 1 if _prefer_delete(b, a, now) else 0

    return [pod for pod, _ in sorted(ranked, key=functools.cmp_to_key(compare))[:count]]


def rs_status(replicas: int, fully_labeled: int, ready: int, available: int, observed_generation: int,
              conditions: list[dict]) -> dict:
    """ReplicaSetStatus as serialized: replicas always, the other counts and conditions only when set."""
    status: dict = {"replicas": replicas}
    optional = (("fullyLabeledReplicas", fully_labeled), ("readyReplicas", ready),
                ("availableReplicas", available), ("observedGeneration", observed_generation),
                ("conditions", conditions))
    status.update((name, value) for name, value in optional if value)
    return status


# --- the controller -------------------------------------------------------------------------------------


class ReplicaSetController(Controller):
    """See the module docstring."""

    name = COMPONENT
    watches = (RS_KEY, POD_KEY)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._failures: dict[Key, int] = {}
        self._ready_seen: dict[str, tuple[str, float]] = {}
        self._timers: dict[Key, tuple[float, Timer]] = {}
        ctx.shared[PENDING] = self._pending

    # --- routing ------------------------------------------------------------------------------------

    def on_change(self, change: Change) -> None:
        if change.key == POD_KEY:
            self._observe_readiness(change)
        super().on_change(change)

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.key == RS_KEY:
            return super().keys_for(change)
        keys: set[Key] = set()
        for pod in (change.obj, change.old):
            if pod is None:
                continue
            ref = controller_of(pod)
            namespace = pod["metadata"].get("namespace", "")
            if ref and ref.get("kind") == "ReplicaSet":
                keys.add((namespace, ref["name"]))
            elif ref is None and not pod["metadata"].get("deletionTimestamp"):
                keys.update(self.adopters(RS_KEY, pod))
        return keys

    def _observe_readiness(self, change: Change) -> None:
        uid = change.obj["metadata"].get("uid", "")
        cond = find_condition(change.obj, "Ready")
        if change.type == "DELETED":
            self._ready_seen.pop(uid, None)
        elif cond and cond.get("status") == "True" and cond.get("lastTransitionTime"):
            seen = self._ready_seen.get(uid)
            if seen is None or seen[0] != cond["lastTransitionTime"]:
                self._ready_seen[uid] = (cond["lastTransitionTime"], self.loop.clock.time())

    def ready_since(self, pod: dict) -> float | None:
        """When the pod became Ready, as precisely as known (see the module docstring)."""
        cond = find_condition(pod, "Ready")
        if not cond or cond.get("status") != "True" or not cond.get("lastTransitionTime"):
            return None
        stamp = cond["lastTransitionTime"]
        coarse = parse_time(stamp).timestamp()
        seen = self._ready_seen.get(pod["metadata"].get("uid", ""))
        if seen and seen[0] == stamp and coarse <= seen[1] < coarse + _STAMP_SLACK:
            return seen[1]
        return coarse

    def available_in(self, pod: dict, min_ready_seconds: int, now: float) -> float | None:
        """Simulated seconds until the pod counts as available: 0 when it is, None while it is not Ready."""
        if not is_pod_ready(pod):
            return None
        if min_ready_seconds <= 0:
            return 0.0
        since = self.ready_since(pod)
        if since is None:
            return None
        remaining = since + self.loop.scaled(min_ready_seconds) - now
        return remaining / self.loop.time_scale if remaining >= 0 else 0.0

    # --- reconcile ----------------------------------------------------------------------------------

    def sync(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        rs = self.store.get(RS_KEY, namespace, name)
        if rs is None:
            self._failures.pop(key, None)
            timer = self._timers.pop(key, None)
            if timer:
                timer[1].cancel()
            return
        try:
            active = [p for p in self._claim_pods(rs) if is_pod_active(p)]
            error = None if rs["metadata"].get("deletionTimestamp") else self._manage_replicas(rs, active)
            self._write_status(rs, active, error)
            failed = error is not None
        except ApiError:
            failed = True
        if failed:
            self._retry(key)
        else:
            self._failures.pop(key, None)

    def _retry(self, key: Key) -> None:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self.enqueue(key, after=failure_backoff(failures))

    def _claim_pods(self, rs: dict) -> list[dict]:
        """ClaimPods: owned pods that still match, plus matching orphans adopted (owned ones that stopped
        matching are released). Pods other controllers own are never looked at."""
        meta = rs["metadata"]
        selector = rs["spec"].get("selector")
        claimed = []
        for pod in self.store.owned(POD_KEY, meta["namespace"], meta["uid"], None):
            ref = controller_of(pod)
            matches = matches_label_selector(selector, pod["metadata"].get("labels") or {})
            if ref is not None and matches:
                claimed.append(pod)
            elif ref is not None and not meta.get("deletionTimestamp"):
                self._set_owner(pod, None, meta["uid"])
            elif ref is None and matches and not meta.get("deletionTimestamp") \
                    and not pod["metadata"].get("deletionTimestamp"):
                claimed.append(self._set_owner(pod, new_controller_ref(rs), meta["uid"]))
        return claimed

    def _set_owner(self, pod: dict, ref: dict | None, uid: str) -> dict:
        meta = pod["metadata"]
        return self.api.update(self.api.rt(POD_KEY), meta["namespace"], meta["name"], with_owner(pod, ref, uid))

    def _manage_replicas(self, rs: dict, active: list[dict]) -> ApiError | None:
        diff = len(active) - int(rs["spec"].get("replicas", 1))
        if diff < 0:
            return self._create_pods(rs, min(-diff, BURST_REPLICAS))
        if diff > 0:
            return self._delete_pods(rs, active, min(diff, BURST_REPLICAS))
        return None

    def _create_pods(self, rs: dict, count: int) -> ApiError | None:
        pod_rt = self.api.rt(POD_KEY)

        def create(_: int) -> None:
            try:
                pod = self.api.create(pod_rt, rs["metadata"]["namespace"], pod_from_template(rs))
            except ApiError as err:
                if not is_namespace_terminating(err):
                    self._event(rs, "Warning", "FailedCreate", f"Error creating: {err.message}")
                raise
            self._event(rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")

        failure = next((e for e in slow_start(count, create) if isinstance(e, ApiError)), None)
        return None if failure is None or is_namespace_terminating(failure) else failure

    def _delete_pods(self, rs: dict, active: list[dict], count: int) -> ApiError | None:
        pod_rt = self.api.rt(POD_KEY)
        first: ApiError | None = None
        for pod in pods_to_delete(active, self._related_pods(rs), count, self.loop.clock.time()):
            name = pod["metadata"]["name"]
            try:
                self.api.delete(pod_rt, pod["metadata"]["namespace"], name)
            except ApiError as err:
                if err.code == 404:
                    continue
                self._event(rs, "Warning", "FailedDelete", f"Error deleting: {err.message}")
                first = first or ApiError(err.code, err.reason, f"unable to delete pods: {err.message}")
                continue
            self._event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
        return first

    def _event(self, rs: dict, kind: str, reason: str, message: str) -> None:
        self.ctx.events.record(rs, kind, reason, message, COMPONENT)

    def _related_pods(self, rs: dict) -> list[dict]:
        """getIndirectlyRelatedPods: pods of every ReplicaSet controlled by this one's controller."""
        owner = controller_of(rs)
        namespace = rs["metadata"]["namespace"]
        if owner is None:
            siblings = [rs["metadata"]["uid"]]
        else:
            siblings = [r["metadata"]["uid"] for r in self.store.owned(RS_KEY, namespace, owner["uid"])]
        return self.store.owned(POD_KEY, namespace, *siblings)

    def _write_status(self, rs: dict, active: list[dict], error: ApiError | None) -> None:
        spec = rs["spec"]
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.loop.clock.time()
        waits = [self.available_in(p, min_ready, now) for p in active]
        conditions = self._conditions(rs, len(active), error)
        status = rs_status(
            len(active),
            sum(1 for p in active if all((p["metadata"].get("labels") or {}).get(k) == v
                                         for k, v in template_labels.items())),
            sum(1 for w in waits if w is not None),
            sum(1 for w in waits if w == 0),
            int(rs["metadata"].get("generation") or 0),
            conditions,
        )
        pending = [w for w in waits if w]
        if pending:
            self._resync_at((rs["metadata"]["namespace"], rs["metadata"]["name"]), min(pending) + 1.0)
        if status == (rs.get("status") or {}):
            return
        meta = rs["metadata"]
        self.api.update(self.api.rt(RS_KEY), meta["namespace"], meta["name"], {"status": status},
                        subresource="status")

    def _conditions(self, rs: dict, active: int, error: ApiError | None) -> list[dict]:
        """The ReplicaFailure condition appears with the first failure and goes with the first clean sync."""
        conditions = [clone(c) for c in (rs.get("status") or {}).get("conditions") or []]
        failure = next((c for c in conditions if c.get("type") == "ReplicaFailure"), None)
        if error is not None and failure is None:
            diff = active - int(rs["spec"].get("replicas", 1))
            reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
            conditions.append({"type": "ReplicaFailure", "status": "True",
                               "lastTransitionTime": self.loop.clock.stamp(), "reason": reason,
                               "message": error.message})
        elif error is None and failure is not None:
            conditions.remove(failure)
        return conditions

    def _resync_at(self, key: Key, after: float) -> None:
        """One pending minReadySeconds re-check per ReplicaSet, the earliest one wins."""
        due = time.monotonic() + self.loop.scaled(after)
        current = self._timers.get(key)
        if current and not current[1].cancelled and current[0] <= due:
            return
        if current:
            current[1].cancel()
        self._timers[key] = (due, self.loop.call_later(after, self._fire, key))

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.enqueue(key)


CONTROLLERS = (ReplicaSetController,)
