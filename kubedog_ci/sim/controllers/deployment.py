"""The Deployment controller, after kubernetes pkg/controller/deployment (deployment_controller.go, sync.go,
rolling.go, recreate.go, progress.go and util/deployment_util.go).

A Deployment owns ReplicaSets named `<deployment>-<pod-template-hash>`; the one whose template equals the
Deployment's (ignoring the hash label) is the new one, the rest are old. RollingUpdate scales the new one up
within maxSurge and the old ones down within maxUnavailable, Recreate scales the old ones to zero, waits until
their pods are gone and then scales the new one up, and a paused Deployment only scales proportionally. The
status, its Available/Progressing/ReplicaFailure conditions and the ScalingReplicaSet events are the real
controller's, field by field.

A Deployment sync waits while the ReplicaSet controller still has work queued for the Deployment's
ReplicaSets (at most MAX_DEFERRALS times in a row). The real controllers run concurrently in any order, and
maxSurge/maxUnavailable bound the ReplicaSets' sizes; letting the ReplicaSets settle first makes the pods
themselves stay within those bounds, as a watcher of a real rollout practically always sees.

The Progressing condition's lastUpdateTime has second precision, which at a small time scale is many simulated
seconds; the controller remembers the finer moment it set each one, so progressDeadlineSeconds is measured as
the real controller measures it on a real clock.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable

from kubedog_ci.sim.clock import parse_time
from kubedog_ci.sim.controllers.base import Context, Controller, Key
from kubedog_ci.sim.controllers.replicaset import PENDING
from kubedog_ci.sim.controllers.workload import compute_hash, failure_backoff
from kubedog_ci.sim.errors import ApiError, is_namespace_terminating
from kubedog_ci.sim.loop import Timer
from kubedog_ci.sim.owners import controller_of, new_controller_ref, with_owner
from kubedog_ci.sim.pods import is_terminal
from kubedog_ci.sim.selectors import matches_label_selector
from kubedog_ci.sim.store import Change, clone

COMPONENT = "deployment-controller"
DEPLOY_KEY = "apps/deployments"
RS_KEY = "apps/replicasets"
POD_KEY = "/pods"

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_NOT_COPIED = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY, DESIRED_REPLICAS,
               MAX_REPLICAS, "deprecated.deployment.rollback.to"}
"""annotationsToSkip: Deployment annotations that are not copied onto its ReplicaSets."""
MAX_REVISION_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1
MAX_RETRIES = 15
MAX_DEFERRALS = 20

# Condition reasons (util/deployment_util.go).
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


# --- int-or-percent, fenceposts -------------------------------------------------------------------------


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: ints as they are, "N%" of total rounded up or down."""
    if value is None:
        raise ValueError("nil value for IntOrString")
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        percent = int(value[:-1])
    except ValueError as err:
        raise ValueError(f"invalid value for IntOrString: invalid value {value!r}") from err
    fraction = float(percent) * float(total) / 100
    return math.ceil(fraction) if round_up else math.floor(fraction)


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None,
                       desired: int) -> tuple[int, int]:
    """ResolveFenceposts: surge rounds up, unavailable rounds down, and both zero means unavailable 1."""
    surge = scaled_value(max_surge if max_surge is not None else 0, desired, True)
    unavailable = scaled_value(max_unavailable if max_unavailable is not None else 0, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _replicas(obj: dict | None) -> int:
    return 0 if obj is None else int((obj.get("spec") or {}).get("replicas", 1))


def _status(obj: dict | None, field: str) -> int:
    return 0 if obj is None else int((obj.get("status") or {}).get(field) or 0)


def _rolling(d: dict) -> dict | None:
    """The rollingUpdate parameters, or None when the strategy is not RollingUpdate (IsRollingUpdate)."""
    strategy = d["spec"].get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    return strategy.get("rollingUpdate") or {}


def _fenceposts(d: dict) -> tuple[int, int]:
    rolling = _rolling(d) or {}
    try:
        return resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), _replicas(d))
    except ValueError:
        return 0, 0


def max_surge(d: dict) -> int:
    """MaxSurge: 0 unless RollingUpdate."""
    return _fenceposts(d)[0] if _rolling(d) is not None else 0


def max_unavailable(d: dict) -> int:
    """MaxUnavailable: 0 unless RollingUpdate with replicas, never more than replicas."""
    if _rolling(d) is None or _replicas(d) == 0:
        return 0
    return min(_fenceposts(d)[1], _replicas(d))


# --- template hash and ReplicaSet identity ---------------------------------------------------------------


def replica_set_name(deployment: str, template_hash: str) -> str:
    """generateReplicaSetName: `<deployment>-<hash>`, the deployment part cut to fit 253 characters."""
    room = 253 - 1 - len(template_hash)
    return f"{deployment[:room]}-{template_hash}"


def _without_hash(template: dict | None) -> dict:
    copy = clone(template or {})
    meta = copy.setdefault("metadata", {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HASH_LABEL}
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    return {k: v for k, v in copy.items() if v or k != "metadata"}


def equal_ignore_hash(t1: dict | None, t2: dict | None) -> bool:
    """EqualIgnoreHash: templates equal apart from the pod-template-hash label (nil and empty alike)."""
    return _without_hash(t1) == _without_hash(t2)


def _created_order(rs: dict) -> tuple[str, str]:
    return rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]


def revision(rs: dict) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, 0))
    except ValueError:
        return 0


def find_new_replica_set(d: dict, rs_list: list[dict]) -> dict | None:
    """FindNewReplicaSet: the oldest ReplicaSet whose template matches the Deployment's."""
    for rs in sorted(rs_list, key=_created_order):
        if equal_ignore_hash(rs["spec"].get("template"), d["spec"].get("template")):
            return rs
    return None


def active(rs_list: Iterable[dict | None]) -> list[dict]:
    """FilterActiveReplicaSets: those with replicas to run."""
    return [rs for rs in rs_list if rs is not None and _replicas(rs) > 0]


def find_active_or_latest(new_rs: dict | None, old_rss: list[dict]) -> dict | None:
    """FindActiveOrLatest: the only active ReplicaSet, or the newest when none is; None with several."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=_created_order, reverse=True)
    running = active([*newest_first, new_rs])
    if len(running) == 1:
        return running[0]
    if not running:
        return new_rs if new_rs is not None else newest_first[0]
    return None


def is_saturated(d: dict, rs: dict | None) -> bool:
    """IsSaturated: the new ReplicaSet runs all of the Deployment's replicas, all available."""
    if rs is None:
        return False
    try:
        desired = int((rs["metadata"].get("annotations") or {})[DESIRED_REPLICAS])
    except (KeyError, ValueError):
        return False
    return _replicas(rs) == _replicas(d) == desired == _status(rs, "availableReplicas")


def new_rs_new_replicas(d: dict, all_rss: list[dict], new_rs: dict) -> int:
    """NewRSNewReplicas: how far the new ReplicaSet may grow now."""
    rolling = _rolling(d)
    if rolling is None:
        return _replicas(d)
    surge = scaled_value(rolling.get("maxSurge", 0), _replicas(d), True)
    current = sum(_replicas(rs) for rs in all_rss)
    max_total = _replicas(d) + surge
    if current >= max_total:
        return _replicas(new_rs)
    return _replicas(new_rs) + min(max_total - current, _replicas(d) - _replicas(new_rs))


def _annotation_int(rs: dict, key: str) -> int | None:
    try:
        value = int((rs["metadata"].get("annotations") or {})[key])
    except (KeyError, ValueError):
        return None
    return value if 0 <= value <= MAX_INT32 else None


def replica_set_proportion(rs: dict, d: dict, to_add: int, added: int) -> int:
    """GetReplicaSetProportion: this ReplicaSet's share of a scaling, bounded by what is left."""
    if _replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _round(value: float) -> int:
    """integer.RoundToInt32: half away from zero."""
    return int(value + 0.5) if value >= 0 else int(value - 0.5)


def _replica_set_fraction(rs: dict, d: dict) -> int:
    if _replicas(d) == 0:
        return -_replicas(rs)
    target = _replicas(d) + max_surge(d)
    before = _annotation_int(rs, MAX_REPLICAS) or _status(d, "replicas")
    if not before:
        return 0
    return _round(_replicas(rs) * target / before) - _replicas(rs)


def set_replicas_annotations(rs: dict, desired: int, maximum: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = annotations.get(DESIRED_REPLICAS) != str(desired) or annotations.get(MAX_REPLICAS) != str(maximum)
    annotations[DESIRED_REPLICAS], annotations[MAX_REPLICAS] = str(desired), str(maximum)
    return changed


def replicas_annotations_need_update(rs: dict, desired: int, maximum: int) -> bool:
    annotations = rs["metadata"].get("annotations") or {}
    return annotations.get(DESIRED_REPLICAS) != str(desired) or annotations.get(MAX_REPLICAS) != str(maximum)


def set_new_rs_annotations(d: dict, rs: dict, new_revision: str, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copy the Deployment's annotations, raise the revision (keeping the
    revision-history), and on creation record desired/max replicas."""
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key not in _NOT_COPIED and annotations.get(key) != value:
            annotations[key] = value
            changed = True
    old = annotations.get(REVISION, "")
    try:
        old_value = int(old) if old else 0
    except ValueError:
        return False
    if old_value < int(new_revision):
        annotations[REVISION] = new_revision
        changed = True
        if old:
            annotations[REVISION_HISTORY] = _revision_history(annotations.get(REVISION_HISTORY, ""), old)
    if not exists and set_replicas_annotations(rs, _replicas(d), _replicas(d) + max_surge(d)):
        changed = True
    return changed


def _revision_history(history: str, old: str) -> str:
    revisions = [r for r in history.split(",") if r] + [old]
    while len(",".join(revisions)) > MAX_REVISION_HISTORY_CHARS and len(revisions) > 1:
        revisions.pop(0)
    return ",".join(revisions)


# --- status and conditions ------------------------------------------------------------------------------


def new_condition(kind: str, status: str, reason: str, message: str, now: str) -> dict:
    return {"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def get_condition(status: dict, kind: str) -> dict | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), None)


def remove_condition(status: dict, kind: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != kind]


def set_condition(status: dict, cond: dict) -> bool:
    """SetDeploymentCondition: no-op when status and reason are unchanged; keeps lastTransitionTime when only
    the reason changes; the condition moves to the end. Returns whether it was set."""
    current = get_condition(status, cond["type"])
    if current and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return False
    if current and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, cond["type"])
    status["conditions"].append(cond)
    return True


def compact_status(status: dict) -> dict:
    """DeploymentStatus as serialized: omitempty drops zero counts and empty conditions."""
    return {k: v for k, v in status.items() if v not in (0, None, [])}


def calculate_status(all_rss: list[dict], new_rs: dict | None, d: dict, now: str) -> dict:
    """calculateStatus: the counts summed over the ReplicaSets and the Available condition."""
    rss = [rs for rs in all_rss if rs is not None]
    available = sum(_status(rs, "availableReplicas") for rs in rss)
    status = {
        "observedGeneration": int(d["metadata"].get("generation") or 0),
        "replicas": sum(_status(rs, "replicas") for rs in rss),
        "updatedReplicas": _status(new_rs, "replicas"),
        "readyReplicas": sum(_status(rs, "readyReplicas") for rs in rss),
        "availableReplicas": available,
        "unavailableReplicas": max(sum(_replicas(rs) for rs in rss) - available, 0),
        "conditions": clone((d.get("status") or {}).get("conditions") or []),
        "collisionCount": (d.get("status") or {}).get("collisionCount"),
    }
    if available >= _replicas(d) - max_unavailable(d):
        cond = new_condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.", now)
    else:
        cond = new_condition("Available", "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.",
                             now)
    set_condition(status, cond)
    return status


def deployment_complete(d: dict, status: dict) -> bool:
    """DeploymentComplete: every replica updated and available, and the latest generation observed."""
    want = _replicas(d)
    return (status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and status.get("observedGeneration", 0) >= int(d["metadata"].get("generation") or 0))


def deployment_progressing(d: dict, new: dict) -> bool:
    """DeploymentProgressing: more updated, fewer old, more ready or more available replicas than before."""
    old = d.get("status") or {}
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = new.get("replicas", 0) - new.get("updatedReplicas", 0)
    return (new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_old < old_old
            or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or new.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def _limit(d: dict, field: str) -> int | None:
    value = d["spec"].get(field)
    return None if value is None or value == MAX_INT32 else int(value)


def _rs_condition_to_deployment(cond: dict) -> dict:
    """ReplicaSetToDeploymentCondition."""
    return {"type": cond.get("type"), "status": cond.get("status"),
            "lastUpdateTime": cond.get("lastTransitionTime"), "lastTransitionTime": cond.get("lastTransitionTime"),
            "reason": cond.get("reason"), "message": cond.get("message")}


def replica_failures(all_rss: list[dict], new_rs: dict | None) -> list[dict]:
    """getReplicaFailures: the new ReplicaSet's ReplicaFailure first, else any old one's."""
    def failures(rss: Iterable[dict | None]) -> list[dict]:
        return [_rs_condition_to_deployment(c) for rs in rss if rs is not None
                for c in (rs.get("status") or {}).get("conditions") or [] if c.get("type") == "ReplicaFailure"]
    return failures([new_rs]) or failures(all_rss)


# --- the controller -------------------------------------------------------------------------------------


class DeploymentController(Controller):
    """See the module docstring."""

    name = COMPONENT
    watches = (DEPLOY_KEY, RS_KEY, POD_KEY)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._failures: dict[Key, int] = {}
        self._progress_marks: dict[Key, tuple[str, float]] = {}
        self._deadline_timers: dict[Key, Timer] = {}
        self._deferrals: dict[Key, int] = {}

    # --- routing ------------------------------------------------------------------------------------

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.key == DEPLOY_KEY:
            return super().keys_for(change)
        if change.key == RS_KEY:
            return self._owners_of_rs(change)
        if change.type == "DELETED":
            return self._recreate_owner_of_pod(change.obj)
        return ()

    def _owners_of_rs(self, change: Change) -> set[Key]:
        keys: set[Key] = set()
        for rs in (change.obj, change.old):
            if rs is None:
                continue
            namespace = rs["metadata"].get("namespace", "")
            ref = controller_of(rs)
            if ref and ref.get("kind") == "Deployment":
                keys.add((namespace, ref["name"]))
            elif ref is None:
                keys.update(self.adopters(DEPLOY_KEY, rs))
        return keys

    def _recreate_owner_of_pod(self, pod: dict) -> list[Key]:
        """deletePod: a Recreate rollout waits for the old pods to be gone."""
        namespace = pod["metadata"].get("namespace", "")
        ref = controller_of(pod)
        rs = self.store.get(RS_KEY, namespace, ref["name"]) if ref and ref.get("kind") == "ReplicaSet" else None
        owner = controller_of(rs) if rs else None
        d = self.store.get(DEPLOY_KEY, namespace, owner["name"]) if owner else None
        if d is None or (d["spec"].get("strategy") or {}).get("type") != "Recreate":
            return []
        return [(namespace, d["metadata"]["name"])]

    # --- sync ---------------------------------------------------------------------------------------

    def _run(self, key: Key) -> None:
        """Run the sync once this Deployment's ReplicaSets have no queued work (see the module docstring)."""
        deferred = self._deferrals.get(key, 0)
        if deferred < MAX_DEFERRALS and self._replica_sets_settling(key):
            self._deferrals[key] = deferred + 1
            self.loop.call_soon(self._run, key)
            return
        self._deferrals.pop(key, None)
        super()._run(key)

    def _replica_sets_settling(self, key: Key) -> bool:
        pending = self.ctx.shared.get(PENDING) or set()
        d = self.store.get(DEPLOY_KEY, *key)
        if d is None or not pending:
            return False
        return any((key[0], rs["metadata"]["name"]) in pending
                   for rs in self.store.owned(RS_KEY, key[0], d["metadata"]["uid"]))

    def sync(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        stored = self.store.get(DEPLOY_KEY, namespace, name)
        if stored is None:
            self._forget(key)
            return
        d = clone(stored)
        d.setdefault("status", {})
        try:
            self._sync(d)
        except (ApiError, ValueError):
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
            if failures < MAX_RETRIES:
                self.enqueue(key, after=failure_backoff(failures))
        else:
            self._failures.pop(key, None)

    def _forget(self, key: Key) -> None:
        self._failures.pop(key, None)
        self._progress_marks.pop(key, None)
        timer = self._deadline_timers.pop(key, None)
        if timer:
            timer.cancel()

    def _sync(self, d: dict) -> None:
        """syncDeployment."""
        self._claim_replica_sets(d)
        if d["metadata"].get("deletionTimestamp"):
            new_rs, old_rss = self._get_all(d, create=False)
            self._sync_deployment_status([*old_rss, new_rs], new_rs, d)
            return
        self._check_paused_conditions(d)
        if d["spec"].get("paused") or self._is_scaling_event(d):
            self._scale_sync(d)
        elif (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            self._rollout_recreate(d)
        else:
            self._rollout_rolling(d)

    def _claim_replica_sets(self, d: dict) -> None:
        """ClaimReplicaSets: adopt matching orphans, release owned ones that stopped matching. ReplicaSets
        other controllers own are never looked at."""
        meta = d["metadata"]
        if meta.get("deletionTimestamp"):
            return
        for rs in self.store.owned(RS_KEY, meta["namespace"], meta["uid"], None):
            ref = controller_of(rs)
            matches = matches_label_selector(d["spec"].get("selector"), rs["metadata"].get("labels") or {})
            if ref is None and matches and not rs["metadata"].get("deletionTimestamp"):
                self._update_rs(with_owner(rs, new_controller_ref(d), meta["uid"]))
            elif ref is not None and not matches:
                self._update_rs(with_owner(rs, None, meta["uid"]))

    def _owned(self, d: dict) -> list[dict]:
        meta = d["metadata"]
        return [rs for rs in self.store.owned(RS_KEY, meta["namespace"], meta["uid"])
                if matches_label_selector(d["spec"].get("selector"), rs["metadata"].get("labels") or {})]

    def _get_all(self, d: dict, create: bool) -> tuple[dict | None, list[dict]]:
        """getAllReplicaSetsAndSyncRevision: the new ReplicaSet (created when asked) and all old ones."""
        rs_list = self._owned(d)
        existing = find_new_replica_set(d, rs_list)
        old_rss = [rs for rs in rs_list if existing is None or rs["metadata"]["uid"] != existing["metadata"]["uid"]]
        new_revision = str(max((revision(rs) for rs in old_rss), default=0) + 1)
        if existing is not None:
            return self._sync_existing_new_rs(d, existing, new_revision), old_rss
        if not create:
            return None, old_rss
        return self._create_new_rs(d, old_rss, new_revision), old_rss

    def _sync_existing_new_rs(self, d: dict, existing: dict, new_revision: str) -> dict:
        rs = clone(existing)
        annotations_changed = set_new_rs_annotations(d, rs, new_revision, exists=True)
        min_ready = int(d["spec"].get("minReadySeconds") or 0)
        if annotations_changed or int(rs["spec"].get("minReadySeconds") or 0) != min_ready:
            _set_min_ready(rs, min_ready)
            return self._update_rs(rs)
        found = None
        if get_condition(d["status"], "Progressing") is None:
            found = (FOUND_NEW_RS, f'Found new replica set "{rs["metadata"]["name"]}"')
        self._record_new_rs(d, (rs["metadata"].get("annotations") or {}).get(REVISION, ""), found)
        return rs

    def _create_new_rs(self, d: dict, old_rss: list[dict], new_revision: str) -> dict:
        template = clone(d["spec"].get("template") or {})
        template_hash = compute_hash(template, d["status"].get("collisionCount"))
        template.setdefault("metadata", {})["labels"] = {**(template["metadata"].get("labels") or {}),
                                                         HASH_LABEL: template_hash}
        selector = clone(d["spec"].get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: template_hash}
        name = replica_set_name(d["metadata"]["name"], template_hash)
        rs: dict = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": d["metadata"]["namespace"],
                         "labels": clone(template["metadata"]["labels"]), "ownerReferences": [new_controller_ref(d)]},
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        _set_min_ready(rs, int(d["spec"].get("minReadySeconds") or 0))
        replicas = new_rs_new_replicas(d, [*old_rss, rs], rs)
        rs["spec"]["replicas"] = replicas
        set_new_rs_annotations(d, rs, new_revision, exists=False)
        created, already_existed = self._create_rs(d, rs)
        if not already_existed and replicas > 0:
            self._event(d, "Normal", "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {replicas}")
        self._record_new_rs(d, new_revision,
                            None if already_existed else (NEW_RS_CREATED, f'Created new replica set "{name}"'))
        return created

    def _record_new_rs(self, d: dict, revision: str, progress: tuple[str, str] | None) -> None:
        """The Deployment takes the new ReplicaSet's revision and, with a progress deadline, the Progressing
        (reason, message) when one is given; both land in one status write."""
        changed = _set_revision(d, revision)
        if progress is not None and _limit(d, "progressDeadlineSeconds") is not None:
            self._set_progressing(d, self._progress_condition("True", *progress))
            changed = True
        if changed:
            self._write_status(d)

    def _create_rs(self, d: dict, rs: dict) -> tuple[dict, bool]:
        """Create the new ReplicaSet; an existing one of the same name is ours or a hash collision."""
        name = rs["metadata"]["name"]
        try:
            return self.api.create(self.api.rt(RS_KEY), d["metadata"]["namespace"], rs), False
        except ApiError as err:
            if err.reason == "AlreadyExists":
                found = self.store.get(RS_KEY, d["metadata"]["namespace"], name)
                if found is not None and (controller_of(found) or {}).get("uid") == d["metadata"]["uid"] \
                        and equal_ignore_hash(d["spec"].get("template"), found["spec"].get("template")):
                    return found, True
                d["status"]["collisionCount"] = int(d["status"].get("collisionCount") or 0) + 1
                self._write_status(d)
            elif not is_namespace_terminating(err):
                message = f'Failed to create new replica set "{name}": {err.message}'
                if _limit(d, "progressDeadlineSeconds") is not None:
                    self._set_progressing(d, self._progress_condition("False", FAILED_RS_CREATE, message))
                    with contextlib.suppress(ApiError):
                        self._write_status(d)
                self._event(d, "Warning", FAILED_RS_CREATE, message)
            raise

    # --- scaling ------------------------------------------------------------------------------------

    def _scale_rs(self, rs: dict, new_scale: int, d: dict) -> tuple[bool, dict]:
        """scaleReplicaSet: set the size and the desired/max annotations; an event when the size changed."""
        desired, maximum = _replicas(d), _replicas(d) + max_surge(d)
        size_changed = _replicas(rs) != new_scale
        if not size_changed and not replicas_annotations_need_update(rs, desired, maximum):
            return False, rs
        old_scale = _replicas(rs)
        updated = clone(rs)
        updated["spec"]["replicas"] = new_scale
        set_replicas_annotations(updated, desired, maximum)
        result = self._update_rs(updated)
        if size_changed:
            direction = "up" if old_scale < new_scale else "down"
            self._event(d, "Normal", "ScalingReplicaSet",
                        f"Scaled {direction} replica set {rs['metadata']['name']} from {old_scale} to {new_scale}")
        return size_changed, result

    def _scale_rs_and_record(self, rs: dict, new_scale: int, d: dict) -> tuple[bool, dict]:
        if _replicas(rs) == new_scale:
            return False, rs
        return self._scale_rs(rs, new_scale, d)

    def _update_rs(self, rs: dict) -> dict:
        return self.api.update(self.api.rt(RS_KEY), rs["metadata"]["namespace"], rs["metadata"]["name"], rs)

    def _is_scaling_event(self, d: dict) -> bool:
        """isScalingEvent: an active ReplicaSet was sized for a different spec.replicas."""
        new_rs, old_rss = self._get_all(d, create=False)
        return any(_annotation_int(rs, DESIRED_REPLICAS) not in (None, _replicas(d))
                   for rs in active([*old_rss, new_rs]))

    def _scale_sync(self, d: dict) -> None:
        """sync: proportional scaling for a paused Deployment or a replicas change mid-rollout."""
        new_rs, old_rss = self._get_all(d, create=False)
        self._scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            self._cleanup(old_rss, d)
        self._sync_deployment_status([*old_rss, new_rs], new_rs, d)

    def _scale(self, d: dict, new_rs: dict | None, old_rss: list[dict]) -> None:
        only = find_active_or_latest(new_rs, old_rss)
        if only is not None:
            if _replicas(only) != _replicas(d):
                self._scale_rs_and_record(only, _replicas(d), d)
            return
        if is_saturated(d, new_rs):
            for rs in active(old_rss):
                self._scale_rs_and_record(rs, 0, d)
            return
        if _rolling(d) is None:
            return
        all_rss = active([*old_rss, new_rs])
        allowed = _replicas(d) + max_surge(d) if _replicas(d) > 0 else 0
        to_add = allowed - sum(_replicas(rs) for rs in all_rss)
        all_rss.sort(key=_created_order, reverse=to_add > 0)
        all_rss.sort(key=lambda rs: -_replicas(rs))
        sizes, added = {}, 0
        for rs in all_rss:
            proportion = replica_set_proportion(rs, d, to_add, added) if to_add else 0
            sizes[rs["metadata"]["name"]] = _replicas(rs) + proportion
            added += proportion
        for index, rs in enumerate(all_rss):
            name = rs["metadata"]["name"]
            if index == 0 and to_add:
                sizes[name] = max(sizes[name] + to_add - added, 0)
            self._scale_rs(rs, sizes[name], d)

    # --- RollingUpdate ------------------------------------------------------------------------------

    def _rollout_rolling(self, d: dict) -> None:
        new_rs, old_rss = self._get_all(d, create=True)
        assert new_rs is not None
        all_rss = [*old_rss, new_rs]
        if self._reconcile_new_rs(all_rss, new_rs, d) or self._reconcile_old_rss(all_rss, active(old_rss),
                                                                                  new_rs, d):
            self._sync_rollout_status(all_rss, new_rs, d)
            return
        if deployment_complete(d, d["status"]):
            self._cleanup(old_rss, d)
        self._sync_rollout_status(all_rss, new_rs, d)

    def _reconcile_new_rs(self, all_rss: list[dict], new_rs: dict, d: dict) -> bool:
        if _replicas(new_rs) == _replicas(d):
            return False
        if _replicas(new_rs) > _replicas(d):
            return self._scale_rs_and_record(new_rs, _replicas(d), d)[0]
        return self._scale_rs_and_record(new_rs, new_rs_new_replicas(d, all_rss, new_rs), d)[0]

    def _reconcile_old_rss(self, all_rss: list[dict], old_rss: list[dict], new_rs: dict, d: dict) -> bool:
        if sum(_replicas(rs) for rs in old_rss) == 0:
            return False
        min_available = _replicas(d) - max_unavailable(d)
        new_unavailable = _replicas(new_rs) - _status(new_rs, "availableReplicas")
        max_scaled_down = sum(_replicas(rs) for rs in all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = self._cleanup_unhealthy(old_rss, d, max_scaled_down)
        if cleaned is None:
            return False
        old_rss, count = cleaned
        return count + self._scale_down_old_for_rolling([*old_rss, new_rs], old_rss, d) > 0

    def _cleanup_unhealthy(self, old_rss: list[dict], d: dict, max_cleanup: int) -> tuple[list[dict], int] | None:
        """cleanupUnhealthyReplicas: first drop old replicas that are not available anyway. None is the real
        "invalid request to scale down" error: a ReplicaSet reporting more available pods than it wants (its
        status trails a scale-down), which stops this round of scaling down."""
        old_rss = sorted(old_rss, key=_created_order)
        total = 0
        for index, rs in enumerate(old_rss):
            if total >= max_cleanup:
                break
            unhealthy = _replicas(rs) - _status(rs, "availableReplicas")
            if _replicas(rs) == 0 or unhealthy == 0:
                continue
            count = min(max_cleanup - total, unhealthy)
            if count < 0:
                return None
            _, old_rss[index] = self._scale_rs_and_record(rs, _replicas(rs) - count, d)
            total += count
        return old_rss, total

    def _scale_down_old_for_rolling(self, all_rss: list[dict], old_rss: list[dict], d: dict) -> int:
        """scaleDownOldReplicaSetsForRollingUpdate: oldest first, never below minAvailable."""
        min_available = _replicas(d) - max_unavailable(d)
        available = sum(_status(rs, "availableReplicas") for rs in all_rss)
        if available <= min_available:
            return 0
        budget = available - min_available
        total = 0
        for rs in sorted(old_rss, key=_created_order):
            if total >= budget:
                break
            if _replicas(rs) == 0:
                continue
            count = min(_replicas(rs), budget - total)
            self._scale_rs_and_record(rs, _replicas(rs) - count, d)
            total += count
        return total

    # --- Recreate -----------------------------------------------------------------------------------

    def _rollout_recreate(self, d: dict) -> None:
        new_rs, old_rss = self._get_all(d, create=False)
        all_rss = [*old_rss, new_rs]
        scaled_down = False
        for rs in active(old_rss):
            scaled_down = self._scale_rs_and_record(rs, 0, d)[0] or scaled_down
        if scaled_down or self._old_pods_running(new_rs, old_rss):
            self._sync_rollout_status(all_rss, new_rs, d)
            return
        if new_rs is None:
            new_rs, old_rss = self._get_all(d, create=True)
            all_rss = [*old_rss, new_rs]
        assert new_rs is not None
        self._scale_rs_and_record(new_rs, _replicas(d), d)
        if deployment_complete(d, d["status"]):
            self._cleanup(old_rss, d)
        self._sync_rollout_status(all_rss, new_rs, d)

    def _old_pods_running(self, new_rs: dict | None, old_rss: list[dict]) -> bool:
        """oldPodsRunning: old ReplicaSets report pods, or pods of theirs (even terminating) still exist."""
        if sum(_status(rs, "replicas") for rs in old_rss) > 0:
            return True
        old_uids = {rs["metadata"]["uid"] for rs in old_rss}
        if new_rs is not None:
            old_uids.discard(new_rs["metadata"]["uid"])
        namespace = old_rss[0]["metadata"]["namespace"] if old_rss else ""
        pods = self.store.owned(POD_KEY, namespace, *old_uids) if old_rss else []
        return any(not is_terminal(p) for p in pods)

    # --- history ------------------------------------------------------------------------------------

    def _cleanup(self, old_rss: list[dict], d: dict) -> None:
        """cleanupDeployment: delete the oldest empty ReplicaSets beyond revisionHistoryLimit."""
        limit = _limit(d, "revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
        excess = len(alive) - limit
        for rs in sorted(alive, key=lambda r: (revision(r), *_created_order(r)))[:max(excess, 0)]:
            if _status(rs, "replicas") or _replicas(rs) or \
                    int(rs["metadata"].get("generation") or 0) > _status(rs, "observedGeneration"):
                continue
            try:
                self.api.delete(self.api.rt(RS_KEY), rs["metadata"]["namespace"], rs["metadata"]["name"])
            except ApiError as err:
                if err.code != 404:
                    raise

    # --- status -------------------------------------------------------------------------------------

    def _check_paused_conditions(self, d: dict) -> None:
        if _limit(d, "progressDeadlineSeconds") is None:
            return
        cond = get_condition(d["status"], "Progressing")
        if cond is not None and cond.get("reason") == TIMED_OUT:
            return
        paused_recorded = cond is not None and cond.get("reason") == PAUSED
        if d["spec"].get("paused") and not paused_recorded:
            self._set_progressing(d, self._progress_condition("Unknown", PAUSED, "Deployment is paused"))
        elif not d["spec"].get("paused") and paused_recorded:
            self._set_progressing(d, self._progress_condition("Unknown", RESUMED, "Deployment is resumed"))
        else:
            return
        self._write_status(d)

    def _sync_deployment_status(self, all_rss: list[dict | None], new_rs: dict | None, d: dict) -> None:
        status = calculate_status([rs for rs in all_rss if rs is not None], new_rs, d, self.loop.clock.stamp())
        self._commit_status(d, status)

    def _sync_rollout_status(self, all_rss: list[dict], new_rs: dict | None, d: dict) -> None:
        """syncRolloutStatus: the status plus the Progressing and ReplicaFailure conditions."""
        status = calculate_status(all_rss, new_rs, d, self.loop.clock.stamp())
        has_deadline = _limit(d, "progressDeadlineSeconds") is not None
        if not has_deadline:
            remove_condition(status, "Progressing")
        current = get_condition(d["status"], "Progressing")
        complete_before = status["replicas"] == status["updatedReplicas"] and current is not None \
            and current.get("reason") == NEW_RS_AVAILABLE
        if has_deadline and not complete_before:
            self._estimate_progress(d, new_rs, status, current)
        failures = replica_failures(all_rss, new_rs)
        if failures:
            set_condition(status, failures[0])
        else:
            remove_condition(status, "ReplicaFailure")
        if compact_status(status) == compact_status(d["status"]):
            self._requeue_stuck(d, status)
            return
        self._commit_status(d, status)

    def _estimate_progress(self, d: dict, new_rs: dict | None, status: dict, current: dict | None) -> None:
        subject = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs else f'Deployment "{d["metadata"]["name"]}"'
        key = _key(d)
        if deployment_complete(d, status):
            self._mark(key, status, self._progress_condition("True", NEW_RS_AVAILABLE,
                                                             f"{subject} has successfully progressed."))
        elif deployment_progressing(d, status):
            cond = self._progress_condition("True", REPLICA_SET_UPDATED, f"{subject} is progressing.")
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_condition(status, "Progressing")
            self._mark(key, status, cond)
        elif self._timed_out(d, status):
            self._mark(key, status, self._progress_condition("False", TIMED_OUT,
                                                             f"{subject} has timed out progressing."))

    def _timed_out(self, d: dict, status: dict) -> bool:
        """DeploymentTimedOut: no progress for progressDeadlineSeconds since the condition's lastUpdateTime."""
        cond = get_condition(status, "Progressing")
        deadline = _limit(d, "progressDeadlineSeconds")
        if cond is None or deadline is None or cond.get("reason") == NEW_RS_AVAILABLE:
            return False
        if cond.get("reason") == TIMED_OUT:
            return True
        return self._last_progress(_key(d), cond) + self.loop.scaled(deadline) < self.loop.clock.time()

    def _requeue_stuck(self, d: dict, status: dict) -> None:
        """requeueStuckDeployment: come back when the progress deadline would pass."""
        cond = get_condition(d["status"], "Progressing")
        deadline = _limit(d, "progressDeadlineSeconds")
        if cond is None or deadline is None or deployment_complete(d, status) or cond.get("reason") == TIMED_OUT:
            return
        key = _key(d)
        remaining = self._last_progress(key, cond) + self.loop.scaled(deadline) - self.loop.clock.time()
        after = max(remaining / self.loop.time_scale, 0.0) if self.loop.time_scale else 0.0
        previous = self._deadline_timers.pop(key, None)
        if previous:
            previous.cancel()
        self._deadline_timers[key] = self.loop.call_later(after + 1.0, self.enqueue, key)

    def _progress_condition(self, status: str, reason: str, message: str) -> dict:
        """A Progressing condition stamped with the cluster's now."""
        return new_condition("Progressing", status, reason, message, self.loop.clock.stamp())

    def _set_progressing(self, d: dict, cond: dict) -> None:
        self._mark(_key(d), d["status"], cond)

    def _mark(self, key: Key, status: dict, cond: dict) -> None:
        """Set a Progressing condition and remember the precise moment of its lastUpdateTime."""
        status.setdefault("conditions", [])
        if set_condition(status, cond):
            self._progress_marks[key] = (cond["lastUpdateTime"], self.loop.clock.time())

    def _last_progress(self, key: Key, cond: dict) -> float:
        stamp = cond.get("lastUpdateTime") or ""
        mark = self._progress_marks.get(key)
        if mark and mark[0] == stamp:
            return mark[1]
        return parse_time(stamp).timestamp() if stamp else self.loop.clock.time()

    def _commit_status(self, d: dict, status: dict) -> None:
        if compact_status(status) == compact_status(d["status"]):
            return
        d["status"] = status
        self._write_status(d)

    def _write_status(self, d: dict) -> None:
        """UpdateStatus. The real status strategy also keeps annotation changes (the revision), which this
        Api's status subresource does not, so a changed revision is patched onto the metadata first."""
        meta = d["metadata"]
        rt = self.api.rt(DEPLOY_KEY)
        wanted = (meta.get("annotations") or {}).get(REVISION)
        stored = self.store.get(DEPLOY_KEY, meta["namespace"], meta["name"])
        if wanted is not None and stored is not None \
                and (stored["metadata"].get("annotations") or {}).get(REVISION) != wanted:
            self.api.patch(rt, meta["namespace"], meta["name"], "merge",
                           {"metadata": {"annotations": {REVISION: wanted}}})
        self.api.update(rt, meta["namespace"], meta["name"], {"status": compact_status(d["status"])},
                        subresource="status")

    def _event(self, d: dict, kind: str, reason: str, message: str) -> None:
        self.ctx.events.record(d, kind, reason, message, COMPONENT)


def _key(d: dict) -> Key:
    return d["metadata"]["namespace"], d["metadata"]["name"]


def _set_min_ready(rs: dict, seconds: int) -> None:
    if seconds:
        rs["spec"]["minReadySeconds"] = seconds
    else:
        rs["spec"].pop("minReadySeconds", None)


def _set_revision(d: dict, value: str) -> bool:
    """SetDeploymentRevision."""
    annotations = d["metadata"].setdefault("annotations", {})
    if annotations.get(REVISION) == value:
        return False
    annotations[REVISION] = value
    return True


CONTROLLERS = (DeploymentController,)
