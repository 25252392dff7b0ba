"""The Job controller, after pkg/controller/job/job_controller.go and backoff_utils.go.

Trackers read a Job's story from its status and Events, so this follows the real sync step by step: pods are
created from the template with the `batch.kubernetes.io/job-tracking` finalizer, finished pods are first
listed in `status.uncountedTerminatedPods`, then their finalizer is removed and only then do they move into
`succeeded`/`failed`, so a deleted finished pod is never lost or counted twice. A finished Job first gets the
interim SuccessCriteriaMet / FailureTarget condition and only gets Complete / Failed once no pod is still
terminating. Replacements of failed pods wait for the pod failure back-off (10s doubling, capped at 10
minutes), measured in simulated seconds from when the controller saw each pod finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kubedog_ci.sim.controllers.base import Context, Controller, Key
from kubedog_ci.sim.controllers.gc import set_metadata_list
from kubedog_ci.sim.controllers.workload import is_terminating, pod_from_template, slow_start
from kubedog_ci.sim.errors import ApiError, is_namespace_terminating
from kubedog_ci.sim.owners import controller_of
from kubedog_ci.sim.pods import find_condition, is_pod_active, is_pod_ready, is_terminal, pod_phase
from kubedog_ci.sim.store import Change, clone

COMPONENT = "job-controller"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
INDEX_ENV = "JOB_COMPLETION_INDEX"
SYNC_BATCH_SECONDS = 1.0
"""syncJobBatchPeriod: pod events and status updates sync the Job one second later."""
POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 600.0
"""DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff (10s, 10m) in job_controller.go."""
API_RETRY_SECONDS = 1.0
"""DefaultJobApiBackOff: a sync that failed on an API error is retried after a second."""

COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


# --- pure helpers, unit-tested ----------------------------------------------------------------------------

def backoff_delay(failures: int) -> float:
    """Seconds to wait before replacing a pod after `failures` consecutive failures (0 when none)."""
    if failures <= 0:
        return 0.0
    return min(POD_FAILURE_BACKOFF * 2 ** (failures - 1), MAX_POD_FAILURE_BACKOFF)


@dataclass(frozen=True)
class Backoff:
    """backoffRecord: failures since the last success and when the latest of them finished."""

    failures: int = 0
    last_failure: float | None = None


def next_backoff(record: Backoff, succeeded_at: Iterable[float], failed_at: Iterable[float]) -> Backoff:
    """newBackoffRecord: fold newly finished pods (by finish time) into the record."""
    succeeded, failed = sorted(succeeded_at), sorted(failed_at)
    if not succeeded:
        if not failed:
            return record
        return Backoff(record.failures + len(failed), failed[-1])
    later = [t for t in failed if t > succeeded[-1]]
    return Backoff(len(later), later[-1] if later else None)


def format_indexes(indexes: Iterable[int]) -> str:
    """orderedIntervals.String(): `0-2,4,6,7` (a run of two is written as two numbers)."""
    parts: list[str] = []
    ordered = sorted(set(indexes))
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        first, last = ordered[start], ordered[end]
        if last == first:
            parts.append(str(first))
        else:
            parts.append(f"{first}{',' if last == first + 1 else '-'}{last}")
        start = end + 1
    return ",".join(parts)


def parse_indexes(text: str | None, completions: int) -> set[int]:
    """parseIndexesFromString: the set behind `status.completedIndexes`, ignoring corrupt or out-of-range parts."""
    result: set[int] = set()
    for part in (text or "").split(","):
        first, _, last = part.partition("-")
        try:
            low = int(first)
            high = int(last) if last else low
        except ValueError:
            continue
        result.update(range(low, min(high, completions - 1) + 1))
    return result


def first_pending_indexes(taken: set[int], count: int, completions: int) -> list[int]:
    """The `count` lowest indexes below `completions` that are neither succeeded nor running."""
    return [ix for ix in range(completions) if ix not in taken][:count]


def completion_index(pod: dict) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(INDEX_KEY)
    try:
        index = int(value) if value is not None else -1
    except ValueError:
        return None
    return index if index >= 0 else None


# --- pod predicates ---------------------------------------------------------------------------------------

def _has_finalizer(pod: dict) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def _restarts(pod: dict) -> int:
    status = pod.get("status") or {}
    return sum(int(c.get("restartCount") or 0)
               for c in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []))


def _only_replace_failed(job: dict) -> bool:
    spec = job["spec"]
    return spec.get("podReplacementPolicy") == "Failed" or bool(spec.get("podFailurePolicy"))


def _is_failed(pod: dict, job: dict) -> bool:
    """isPodFailed: Failed, or (unless only failed pods are replaced) deleted before it succeeded."""
    if pod_phase(pod) == "Failed":
        return True
    return not _only_replace_failed(job) and is_terminating(pod) and pod_phase(pod) != "Succeeded"


def _removal_order(pods: list[dict]) -> list[dict]:
    """controller.ActivePods: unscheduled, pending, not ready, most restarted and newest pods go first."""
    newest_first = sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True)
    return sorted(newest_first, key=lambda p: (bool((p.get("spec") or {}).get("nodeName")),
                                               _PHASE_RANK.get(pod_phase(p), 0), is_pod_ready(p), -_restarts(p)))


# --- job predicates ---------------------------------------------------------------------------------------

def _condition(now: str, ctype: str, reason: str, message: str, status: str = "True") -> dict:
    return {"type": ctype, "status": status, "lastProbeTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def _is_true(job: dict, ctype: str) -> bool:
    cond = find_condition(job, ctype)
    return cond is not None and cond.get("status") == "True"


def is_finished(job: dict) -> bool:
    return _is_true(job, "Complete") or _is_true(job, "Failed")


def _suspended(job: dict) -> bool:
    return bool(job["spec"].get("suspend"))


def _indexed(job: dict) -> bool:
    return job["spec"].get("completionMode") == "Indexed"


def _valid_index(job: dict, pod: dict) -> bool:
    index = completion_index(pod)
    return index is not None and index < int(job["spec"].get("completions") or 0)


def ensure_condition(conditions: list[dict], cond: dict) -> bool:
    """ensureJobConditionStatus: update a condition of that type, or append one unless it would be False."""
    for i, current in enumerate(conditions):
        if current.get("type") == cond["type"]:
            if any(current.get(k) != cond[k] for k in ("status", "reason", "message")):
                conditions[i] = cond
                return True
            return False
    if cond["status"] != "False":
        conditions.append(cond)
        return True
    return False


@dataclass
class _Sync:
    """syncJobCtx: one sync's view of a Job and its pods."""

    job: dict
    pods: list[dict]
    active: list[dict]
    ready: int
    terminating: int
    uncounted_succeeded: set[str]
    uncounted_failed: set[str]
    succeeded: int = 0
    failed: int = 0
    finished: dict | None = None
    backoff: Backoff = field(default_factory=Backoff)
    prev_indexes: set[int] = field(default_factory=set)
    succeeded_indexes: set[int] = field(default_factory=set)
    now: str = ""
    """The cluster clock's metav1.Time when the sync began: the time of every condition it writes."""

    @property
    def key(self) -> Key:
        return self.job["metadata"]["namespace"], self.job["metadata"]["name"]


class JobController(Controller):
    """Runs Jobs to completion or failure; see the module docstring."""

    name = COMPONENT
    watches = ("batch/jobs", "/pods")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._jobs = self.api.rt("batch/jobs")
        self._pods = self.api.rt("/pods")
        self._backoff: dict[Key, Backoff] = {}
        self._started: dict[str, float] = {}
        """Job uid -> monotonic time its startTime was set, so deadlines run on simulated seconds."""
        self._finished_at: dict[str, float] = {}
        """Pod uid -> monotonic time the controller first saw it finish (stands in for finishedAt)."""

    # --- event handlers -------------------------------------------------------------------------------

    def on_change(self, change: Change) -> None:
        if change.key == "batch/jobs":
            self._job_changed(change)
        else:
            self._pod_changed(change)

    def _job_changed(self, change: Change) -> None:
        meta = change.obj["metadata"]
        key = (meta["namespace"], meta["name"])
        if change.type == "DELETED":
            self._started.pop(meta.get("uid", ""), None)
            for pod in self._controlled_pods(meta["namespace"], meta.get("uid", "")):
                self._enqueue_orphan(pod)
        spec_changed = change.old is None or meta.get("generation") != change.old["metadata"].get("generation")
        self.enqueue(key, after=0.0 if spec_changed or change.type == "DELETED" else SYNC_BATCH_SECONDS)

    def _pod_changed(self, change: Change) -> None:
        pod = change.obj
        uid = pod["metadata"].get("uid", "")
        if change.type == "DELETED":
            self._finished_at.pop(uid, None)
        elif (is_terminal(pod) or is_terminating(pod)) and uid not in self._finished_at:
            self._finished_at[uid] = time.monotonic()
        owners = {self.owner_key(pod, "Job")} | ({self.owner_key(change.old, "Job")} if change.old else set())
        for key in owners - {None}:
            self.enqueue(key, after=SYNC_BATCH_SECONDS)  # type: ignore[arg-type]
        if change.type != "DELETED" and _has_finalizer(pod) and not self._tracked_by_live_job(pod):
            self._enqueue_orphan(pod)

    def _tracked_by_live_job(self, pod: dict) -> bool:
        ref = self._controller_ref(pod)
        if ref is None:
            return False
        job = self.store.get("batch/jobs", pod["metadata"]["namespace"], ref["name"])
        return job is not None and job["metadata"]["uid"] == ref.get("uid") and not is_finished(job)

    @staticmethod
    def _controller_ref(pod: dict) -> dict | None:
        """The pod's controller reference when that controller is a Job."""
        ref = controller_of(pod)
        return ref if ref and ref.get("kind") == "Job" and ref.get("apiVersion") == "batch/v1" else None

    def _enqueue_orphan(self, pod: dict) -> None:
        self.loop.call_soon(self._sync_orphan, pod["metadata"]["namespace"], pod["metadata"]["name"])

    def _sync_orphan(self, namespace: str, name: str) -> None:
        """syncOrphanPod: a pod whose Job is gone or finished must not keep the tracking finalizer."""
        pod = self.store.get("/pods", namespace, name)
        if pod is not None and _has_finalizer(pod) and not self._tracked_by_live_job(pod):
            self._remove_finalizer(pod)

    # --- sync -----------------------------------------------------------------------------------------

    def sync(self, namespace: str, name: str) -> None:
        job = self.store.get("batch/jobs", namespace, name)
        if job is None or is_finished(job):
            self._backoff.pop((namespace, name), None)
            if job is not None:
                self._started.pop(job["metadata"]["uid"], None)
            return
        managed_by = job["spec"].get("managedBy")
        if managed_by and managed_by != "kubernetes.io/job-controller":
            return
        try:
            self._sync(clone(job))
        except ApiError:
            self.enqueue((namespace, name), after=API_RETRY_SECONDS)

    def _sync(self, job: dict) -> None:
        status = job.setdefault("status", {})
        status["uncountedTerminatedPods"] = status.get("uncountedTerminatedPods") or {}
        uncounted = status["uncountedTerminatedPods"]
        pods = self._controlled_pods(job["metadata"]["namespace"], job["metadata"]["uid"])
        active = [p for p in pods if is_pod_active(p)]
        ctx = _Sync(job, pods, active, sum(1 for p in active if is_pod_ready(p)),
                    sum(1 for p in pods if is_terminating(p) and not is_terminal(p)),
                    set(uncounted.get("succeeded") or []), set(uncounted.get("failed") or []),
                    now=self.loop.clock.stamp())
        new_succeeded = self._new_finished(ctx, ctx.uncounted_succeeded, lambda p: pod_phase(p) == "Succeeded")
        new_failed = self._new_finished(ctx, ctx.uncounted_failed, lambda p: _is_failed(p, job))
        ctx.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(ctx.uncounted_succeeded)
        ctx.failed = int(status.get("failed") or 0) + len(new_failed) + len(ctx.uncounted_failed)
        if not status.get("startTime") and not _suspended(job):
            self._mark_started(job)
        ctx.backoff = next_backoff(self._backoff.get(ctx.key, Backoff()),
                                   [self._finish_time(p) for p in new_succeeded],
                                   [self._finish_time(p) for p in new_failed])
        ctx.finished = self._failure_condition(ctx)
        if _indexed(job):
            self._count_indexes(ctx)
        active_count, suspend_changed = self._reconcile(ctx)
        needs_flush = (suspend_changed or active_count != int(status.get("active") or 0)
                       or ctx.ready != status.get("ready") or ctx.terminating != status.get("terminating"))
        status["active"], status["ready"], status["terminating"] = active_count, ctx.ready, ctx.terminating
        self._track(ctx, needs_flush)

    def _controlled_pods(self, namespace: str, uid: str) -> list[dict]:
        return [p for p in self.store.owned("/pods", namespace, uid) if self._controller_ref(p) is not None]

    @staticmethod
    def _new_finished(ctx: _Sync, uncounted: set[str], matches: Callable[[dict], bool]) -> list[dict]:
        """getValidPodsWithFilter: finished pods still holding the finalizer and not yet listed as uncounted."""
        return [p for p in ctx.pods if _has_finalizer(p) and p["metadata"]["uid"] not in uncounted
                and (not _indexed(ctx.job) or _valid_index(ctx.job, p)) and matches(p)]

    def _finish_time(self, pod: dict) -> float:
        return self._finished_at.setdefault(pod["metadata"]["uid"], time.monotonic())

    def _mark_started(self, job: dict) -> None:
        job["status"]["startTime"] = self.loop.clock.stamp()
        self._started[job["metadata"]["uid"]] = time.monotonic()

    def _failure_condition(self, ctx: _Sync) -> dict | None:
        """The interim (or, after a FailureTarget, the terminal) condition the Job has reached, if any."""
        job = ctx.job
        met = find_condition(job, "SuccessCriteriaMet")
        if met is not None and met.get("status") == "True":
            return met
        target = find_condition(job, "FailureTarget")
        if target is not None and target.get("status") == "True":
            return _condition(ctx.now, "Failed", target.get("reason", ""), target.get("message", ""))
        if ctx.failed > int(job["spec"].get("backoffLimit", 6)) or self._past_backoff_limit_on_failure(ctx):
            return _condition(ctx.now, "FailureTarget", *BACKOFF_LIMIT_EXCEEDED)
        deadline = job["spec"].get("activeDeadlineSeconds")
        if deadline is None or _suspended(job) or not job["status"].get("startTime"):
            return None
        elapsed = self.loop.elapsed(self._started.setdefault(job["metadata"]["uid"], time.monotonic()))
        if elapsed >= deadline:
            return _condition(ctx.now, "FailureTarget", *DEADLINE_EXCEEDED)
        self.enqueue(ctx.key, after=deadline - elapsed)
        return None

    @staticmethod
    def _past_backoff_limit_on_failure(ctx: _Sync) -> bool:
        """With restartPolicy OnFailure the kubelet restarts containers in place: count their restarts."""
        spec = ctx.job["spec"]
        if (spec.get("template") or {}).get("spec", {}).get("restartPolicy") != "OnFailure":
            return False
        restarts = sum(_restarts(p) for p in ctx.pods if pod_phase(p) in ("Running", "Pending"))
        limit = int(spec.get("backoffLimit", 6))
        return restarts > 0 if limit == 0 else restarts >= limit

    def _count_indexes(self, ctx: _Sync) -> None:
        completions = int(ctx.job["spec"].get("completions") or 0)
        ctx.prev_indexes = parse_indexes(ctx.job["status"].get("completedIndexes"), completions)
        ctx.succeeded_indexes = ctx.prev_indexes | {
            completion_index(p) for p in ctx.pods  # type: ignore[misc]
            if pod_phase(p) == "Succeeded" and _has_finalizer(p) and _valid_index(ctx.job, p)}
        ctx.succeeded = len(ctx.succeeded_indexes)

    def _reconcile(self, ctx: _Sync) -> tuple[int, bool]:
        """Delete pods of a finished Job, or manage pods and see whether the Job succeeded or was suspended."""
        active = len(ctx.active)
        if ctx.finished is not None:
            deleted_ready, deleted = self._delete_active(ctx.job, ctx.active)
            ctx.terminating += deleted
            ctx.ready -= deleted_ready
            return active - deleted, False
        managed = not is_terminating(ctx.job)
        if managed:
            active = self._manage(ctx)
        completions = ctx.job["spec"].get("completions")
        reached = ctx.succeeded > 0 if completions is None else ctx.succeeded >= completions
        if reached and active == 0:
            ctx.finished = _condition(ctx.now, "SuccessCriteriaMet", *COMPLETIONS_REACHED)
            return active, False
        return active, managed and self._suspend_condition(ctx.job)

    def _suspend_condition(self, job: dict) -> bool:
        conditions = job["status"].setdefault("conditions", [])
        now = self.loop.clock.stamp()
        if _suspended(job):
            changed = ensure_condition(conditions, _condition(now, "Suspended", "JobSuspended", "Job suspended"))
            if changed:
                self._event(job, "Normal", "Suspended", "Job suspended")
            return changed
        changed = ensure_condition(conditions, _condition(now, "Suspended", "JobResumed", "Job resumed", "False"))
        if changed:
            self._event(job, "Normal", "Resumed", "Job resumed")
            self._mark_started(job)
        return changed

    def _manage(self, ctx: _Sync) -> int:
        """manageJob: the number of active pods after deleting surplus or creating missing ones."""
        job, spec = ctx.job, ctx.job["spec"]
        active = len(ctx.active)
        if _suspended(job):
            return active - self._delete_surplus(ctx, ctx.active)
        parallelism = int(spec.get("parallelism") or 0)
        completions = spec.get("completions")
        if completions is None:
            want = active if ctx.succeeded > 0 else parallelism
        else:
            want = max(0, min(int(completions) - ctx.succeeded, parallelism))
        surplus = self._pods_for_removal(job, ctx.active, max(0, active - want))
        if surplus:
            return active - self._delete_surplus(ctx, surplus)
        missing = want - (ctx.terminating if _only_replace_failed(job) else 0) - active
        if missing <= 0:
            return active
        remaining = self._remaining_backoff(ctx.backoff)
        if remaining > 0:
            self.enqueue(ctx.key, after=max(remaining, SYNC_BATCH_SECONDS))
            return 0  # the real manageJob reports no active pods while it waits out the back-off
        indexes: list[int | None] = [None] * missing
        if _indexed(job):
            taken = ctx.succeeded_indexes | {completion_index(p) for p in ctx.active} - {None}
            indexes = list(first_pending_indexes(taken, missing, int(completions or 0)))  # type: ignore[arg-type]
        return active + self._create_pods(job, indexes)

    def _remaining_backoff(self, record: Backoff) -> float:
        if record.failures == 0 or record.last_failure is None:
            return 0.0
        return max(0.0, backoff_delay(record.failures) - self.loop.elapsed(record.last_failure))

    @staticmethod
    def _pods_for_removal(job: dict, active: list[dict], at_least: int) -> list[dict]:
        """activePodsForRemoval: for Indexed Jobs duplicated or invalid indexes first, then the cheapest pods."""
        remove: list[dict] = []
        left = active
        if _indexed(job):
            left, seen = [], set()
            for pod in _removal_order(active)[::-1]:
                index = completion_index(pod) if _valid_index(job, pod) else None
                if index is None or index in seen:
                    remove.append(pod)
                else:
                    seen.add(index)
                    left.append(pod)
        if len(remove) < at_least:
            remove += _removal_order(left)[:at_least - len(remove)]
        return remove

    # --- pod writes -----------------------------------------------------------------------------------

    def _create_pods(self, job: dict, indexes: list[int | None]) -> int:
        """Create pods in slow-start batches (1, 2, 4…), stopping at the first batch with a failure."""
        created = 0

        def create(position: int) -> None:
            nonlocal created
            try:
                pod = self.api.create(self._pods, job["metadata"]["namespace"], self._pod_for(job, indexes[position]))
            except ApiError as err:
                if not is_namespace_terminating(err):
                    self._event(job, "Warning", "FailedCreate", f"Error creating: {err.message}")
                raise
            created += 1
            self._event(job, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")

        slow_start(len(indexes), create)
        return created

    @staticmethod
    def _pod_for(job: dict, index: int | None) -> dict:
        """GetPodFromTemplate plus the Job's additions: the tracking finalizer and, when Indexed, the index."""
        pod = pod_from_template(job)
        meta, spec = pod["metadata"], pod["spec"]
        meta["finalizers"] = [*(meta.get("finalizers") or []), TRACKING_FINALIZER]
        if index is not None:
            name = job["metadata"]["name"]
            meta["generateName"] = f"{name}-{index}-"
            meta.setdefault("annotations", {})[INDEX_KEY] = str(index)
            meta.setdefault("labels", {})[INDEX_KEY] = str(index)
            spec["hostname"] = f"{name}-{index}"
            for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                env = container.setdefault("env", [])
                if not any(e.get("name") == INDEX_ENV for e in env):
                    env.append({"name": INDEX_ENV, "valueFrom": {"fieldRef": {
                        "apiVersion": "v1", "fieldPath": f"metadata.labels['{INDEX_KEY}']"}}})
        return pod

    def _delete_active(self, job: dict, pods: list[dict]) -> tuple[int, int]:
        """deleteActivePods: delete but keep the finalizer, so the pods are counted as they go."""
        deleted = [p for p in pods if self._delete_pod(job, p)]
        return sum(1 for p in deleted if is_pod_ready(p)), len(deleted)

    def _delete_surplus(self, ctx: _Sync, pods: list[dict]) -> int:
        """deleteJobPods: drop the finalizer first, so surplus pods are never counted as failures."""
        deleted = [p for p in pods if self._remove_finalizer(p) is not False and self._delete_pod(ctx.job, p)]
        ctx.terminating += len(deleted)
        ctx.ready -= sum(1 for p in deleted if is_pod_ready(p))
        return len(deleted)

    def _delete_pod(self, job: dict, pod: dict) -> bool:
        name = pod["metadata"]["name"]
        try:
            self.api.delete(self._pods, pod["metadata"]["namespace"], name)
        except ApiError as err:
            if err.code == 404:
                return True
            self._event(job, "Warning", "FailedDelete", f"Error deleting: {err.message}")
            return False
        self._event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
        return True

    def _remove_finalizer(self, pod: dict) -> bool | None:
        """True when removed, None when the pod is already gone, False on an API error."""
        current = self.store.get("/pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        if current is None or current["metadata"]["uid"] != pod["metadata"]["uid"]:
            return None
        if not _has_finalizer(current):
            return True
        updated = clone(current)
        set_metadata_list(updated["metadata"], "finalizers",
                  [f for f in updated["metadata"]["finalizers"] if f != TRACKING_FINALIZER])
        try:
            self.api.update(self._pods, current["metadata"]["namespace"], current["metadata"]["name"], updated)
        except ApiError as err:
            return None if err.code == 404 else False
        return True

    # --- status tracking ------------------------------------------------------------------------------

    def _track(self, ctx: _Sync, needs_flush: bool) -> None:
        """trackJobStatusAndRemoveFinalizers: list finished pods as uncounted, flush, drop finalizers, count."""
        job, status = ctx.job, ctx.job["status"]
        holding = {p["metadata"]["uid"] for p in ctx.pods if _has_finalizer(p)}
        needs_flush = _count_uncounted(status, holding) or needs_flush
        release: list[dict] = []
        new_indexes: set[int] = set()
        for pod in ctx.pods:
            if not _has_finalizer(pod):
                continue
            failed = _is_failed(pod, job)
            if not (is_terminating(job) or ctx.finished is not None or pod_phase(pod) == "Succeeded" or failed):
                continue
            release.append(pod)
            needs_flush = _list_uncounted(ctx, pod, failed, new_indexes) or needs_flush
        if _indexed(job):
            text = format_indexes(ctx.prev_indexes | new_indexes | ctx.succeeded_indexes)
            needs_flush = needs_flush or text != status.get("completedIndexes", "")
            status["completedIndexes"] = text
            status["succeeded"] = len(parse_indexes(text, int(job["spec"].get("completions") or 0)))
        needs_flush = self._interim_condition(ctx) or needs_flush
        if needs_flush:
            job = ctx.job = self._write_status(job)
            self._backoff[ctx.key] = ctx.backoff
            needs_flush = False
        for pod in release:
            if self._remove_finalizer(pod) is not False:
                holding.discard(pod["metadata"]["uid"])
        needs_flush = _count_uncounted(job["status"], holding)
        finished = self._enact_finished(ctx)
        if needs_flush or finished:
            job = self._write_status(job)
        if finished:
            self._record_finished(job, ctx.finished)  # type: ignore[arg-type]

    @staticmethod
    def _interim_condition(ctx: _Sync) -> bool:
        """Record FailureTarget / SuccessCriteriaMet now and prepare the terminal condition for later."""
        finished = ctx.finished
        if finished is None or finished["type"] not in ("FailureTarget", "SuccessCriteriaMet"):
            return False
        conditions = ctx.job["status"].setdefault("conditions", [])
        changed = False
        if finished["type"] == "FailureTarget" or not _is_true(ctx.job, "SuccessCriteriaMet"):
            conditions.append(finished)
            changed = True
        terminal = "Failed" if finished["type"] == "FailureTarget" else "Complete"
        ctx.finished = _condition(ctx.now, terminal, finished.get("reason", ""), finished.get("message", ""))
        return changed

    @staticmethod
    def _enact_finished(ctx: _Sync) -> bool:
        """enactJobFinished: the terminal condition, once every pod is counted and none is terminating."""
        finished, status = ctx.finished, ctx.job["status"]
        uncounted = status["uncountedTerminatedPods"]
        if finished is None or uncounted.get("succeeded") or uncounted.get("failed") or ctx.terminating > 0:
            return False
        cond = _condition(ctx.now, finished["type"], finished["reason"], finished["message"])
        ensure_condition(status.setdefault("conditions", []), cond)
        if cond["type"] == "Complete":
            status["completionTime"] = cond["lastTransitionTime"]
        return True

    def _record_finished(self, job: dict, cond: dict) -> None:
        if cond["type"] == "Complete":
            completions = job["spec"].get("completions")
            if completions is not None and int(job["status"].get("succeeded") or 0) > completions:
                self._event(job, "Warning", "TooManySucceededPods",
                            "Too many succeeded pods running after completion count reached")
            self._event(job, "Normal", "Completed", "Job completed")
        else:
            self._event(job, "Warning", cond["reason"], cond["message"])

    def _write_status(self, job: dict) -> dict:
        meta = job["metadata"]
        body = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": _wire_status(job["status"])}
        stored = self.api.update(self._jobs, meta["namespace"], meta["name"], body, subresource="status")
        updated = clone(stored)
        updated["status"]["uncountedTerminatedPods"] = updated["status"].get("uncountedTerminatedPods") or {}
        return updated

    def _event(self, job: dict, event_type: str, reason: str, message: str) -> None:
        self.ctx.events.record(job, event_type, reason, message, COMPONENT)


def _list_uncounted(ctx: _Sync, pod: dict, failed: bool, new_indexes: set[int]) -> bool:
    """Note a pod about to lose its finalizer as uncounted (Indexed successes as new indexes instead)."""
    job, uid = ctx.job, pod["metadata"]["uid"]
    uncounted = job["status"]["uncountedTerminatedPods"]
    valid = not _indexed(job) or _valid_index(job, pod)
    if pod_phase(pod) == "Succeeded" and uid not in ctx.uncounted_failed:
        if _indexed(job):
            index = completion_index(pod)
            if not valid or index is None or index in ctx.prev_indexes:
                return False
            new_indexes.add(index)
            return True
        if uid in ctx.uncounted_succeeded:
            return False
        uncounted.setdefault("succeeded", []).append(uid)
        return True
    # once the Job has failed, every pod that had not finished counts as failed
    counts_as_failed = failed or (ctx.finished is not None and ctx.finished["type"] != "SuccessCriteriaMet")
    if not counts_as_failed or not valid or uid in ctx.uncounted_failed:
        return False
    uncounted.setdefault("failed", []).append(uid)
    return True


def _count_uncounted(status: dict, holding: set[str]) -> bool:
    """cleanUncountedPodsWithoutFinalizers: uncounted pods whose finalizer is gone move into the counters."""
    uncounted = status["uncountedTerminatedPods"]
    changed = False
    for kind in ("succeeded", "failed"):
        uids = uncounted.get(kind) or []
        still = [u for u in uids if u in holding]
        if len(still) != len(uids):
            status[kind] = int(status.get(kind) or 0) + len(uids) - len(still)
            uncounted[kind] = still
            changed = True
    return changed


def _wire_status(status: dict) -> dict:
    """JobStatus as the API serializes it: zero counters and empty lists are omitted, ready/terminating kept."""
    out = {k: v for k, v in status.items()
           if not (k in ("active", "succeeded", "failed") and not v)
           and not (k in ("conditions", "completedIndexes") and not v)}
    out["uncountedTerminatedPods"] = {k: v for k, v in (status.get("uncountedTerminatedPods") or {}).items() if v}
    return out


CONTROLLERS = (JobController,)
