"""The single consumer: reads the producers' queue in order, owns all state, decides, and tells the sink.

Producers (shared watchers, log followers) only report; everything that decides a verdict happens here, on one
thread, so no state is shared and the decisions can be tested by putting events on the queue by hand. A run:

1. one shared watch per (resource type, namespace) of the targets, one for Pods and one for Events per
   namespace, plus ReplicaSets for Deployments and ControllerRevisions for DaemonSets;
2. each change: the target's rule (kubedog_ci.rules), then the live signs of its current-revision Pods, its
   current ReplicaSet and Events (kubedog_ci.engine.problems), weighed by its failure budget;
3. logs followed for every started container of the current revision's Pods, old revisions dropped;
4. the run ends when every blocking target has a verdict, at the first failure (fail-fast), at the timeout, on
   a stop request, or when a target's own watch fails (a cluster error); then the summary. In follow mode only
   the last two end it: a target with a verdict re-opens when its object starts a new revision.

Each target's TargetSettings (kubedog_ci.engine.settings) bend this: its failure budget, a no-activity timeout,
which logs are followed and shown, whether its failure fails the run (fail mode), and whether the run waits for
it (blocking).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from kubedog_ci.engine import diagnosis, problems
from kubedog_ci.engine.budget import Budget
from kubedog_ci.engine.events import (
    ApiNote,
    Event,
    LogAttached,
    LogEnded,
    LogInstanceRead,
    LogLines,
    ObjectEvent,
    Synced,
    WatchFailed,
)
from kubedog_ci.engine.objects import controller_uid, is_pod_ready, meta, uid
from kubedog_ci.engine.outcome import Options, Outcome, TargetResult
from kubedog_ci.engine.problems import Problem
from kubedog_ci.engine.producers import LOG_TAIL_TIMEOUT, ClusterProducers, Producers
from kubedog_ci.engine.settings import DEFAULT, FailMode, TargetSettings
from kubedog_ci.engine.sink import EventNotice, LogRecord, Sink, StatusChange
from kubedog_ci.engine.state import (
    CONTROLLER_REVISIONS,
    EVENTS,
    JOB_UID_LABELS,
    PODS,
    REPLICASETS,
    TargetState,
    View,
    current_pods,
    current_replicaset,
    progress_row,
    replicas,
)
from kubedog_ci.engine.target import Target, TargetKey, labels
from kubedog_ci.kube.connect import Cluster
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.kube.logs import parse_timestamp_ns
from kubedog_ci.kube.retry import resource_phrase
from kubedog_ci.reasons import ReasonClass
from kubedog_ci.rules import RULES, State, Verdict, evaluate

TICK = 0.05
"""Seconds the consumer waits for an event before it checks timers (grace periods, timeout, stop)."""
BATCH = 1000
PROGRESS_INTERVAL = 1.0
"""Seconds between two progress reports (the sinks' live status)."""
"""Queued items handled between two timer checks."""
DRAIN_QUIET, DRAIN_MAX = 0.03, 3.0
"""At the end, log lines still in flight are printed until none came for DRAIN_QUIET seconds (and every
follower has opened its stream, and the log of every finished Pod and ended container instance has been read to
its end), for at most DRAIN_MAX seconds. The quiet counts from the last line, even one before the verdict: a line
written before the verdict left the kubelet before the status that gave it, so logs quiet at the verdict have
nothing on the way."""
ORPHAN_EVENTS = 1000
"""Events about Pods not known yet (the Event watch can beat the Pod watch), kept to replay."""
POD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "Pod"})
RELATED = {(PODS.group, PODS.plural): POD_KINDS, (REPLICASETS.group, REPLICASETS.plural): {"Deployment"},
           (CONTROLLER_REVISIONS.group, CONTROLLER_REVISIONS.plural): {"DaemonSet"}}
"""Related types (kept in the View) and the target kinds whose current Pods a change of them may change."""
SUBJECT_PREFIX = {"Pod": "po", "ReplicaSet": "rs"}
OWN_EVENT_KINDS = frozenset({"StatefulSet", "DaemonSet"})
"""Kinds whose own Events are failure signs: their controllers report a Pod they cannot create (quota,
admission) only as a FailedCreate Event. Other kinds' own Events repeat what their conditions say, and the
rule reads the conditions."""


class Interrupt:
    """A stop request from a signal handler: sets the event the consumer polls and remembers the signal."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None

    def request(self, signum: int) -> None:
        self.signum = signum
        self.event.set()


@dataclass
class _PendingDiagnosis:
    """A failure whose diagnosis waits for the crashed container's log (read off the consumer's thread)."""

    state: TargetState
    verdict: Verdict
    """The failure as judged then: a hoping target may have been judged otherwise since."""
    cause: Problem | None
    by_rule: bool
    budget: str | None
    future: Future[list[str]] | None
    deadline: float


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _key_of(resource: Resource, obj: dict) -> TargetKey:
    return (resource.group, resource.plural, meta(obj).get("namespace") or "", meta(obj).get("name") or "")


class Tracker:
    """One run's consumer. `settings`: per-target overrides, DEFAULT for a target missing from it. `clock` is
    monotonic (grace periods, timeouts); `wall` dates Events and logs."""

    def __init__(self, targets: list[Target], options: Options, sink: Sink, producers: Producers, *,
                 settings: Mapping[TargetKey, TargetSettings] | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.options = options
        self.sink = sink
        self.producers = producers
        self.queue = producers.queue
        self.clock = clock
        self.started = clock()
        self.started_wall = options.origin if options.origin is not None else wall()
        names = labels(targets)
        self.states: dict[TargetKey, TargetState] = {}
        settings = settings or {}
        for target in targets:
            self.states.setdefault(target.key, TargetState(
                target, names[target.key], Budget(0, options.grace_scale), self.started,
                settings.get(target.key, DEFAULT)))
        any_blocking = any(state.settings.blocking for state in self.states.values())
        for state in self.states.values():  # all non-blocking: all are waited for, or the run would be empty
            state.waited_for = state.settings.blocking or not any_blocking
        self.view = View()
        self.position = {key: index for index, key in enumerate(self.states)}
        self.named: dict[tuple[str, str, str], list[TargetState]] = {}
        """(namespace, kind, name) -> its targets: what an Event about an object is matched with."""
        for state in self.states.values():
            self.named.setdefault((state.target.namespace, state.target.kind, state.target.name), []).append(state)
        self.by_uid: dict[str, TargetState] = {}
        """The uid of each target's object as last seen: how a related object finds the targets it belongs to."""
        self.waited = [state for state in self.states.values() if state.waited_for]
        self.open_from = 0
        """Every target in `waited` before this index has its verdict (verdicts are final but in follow mode)."""
        self.failed_run = False
        """A target's failure fails the run (what fail-fast stops at)."""
        self.synced: set[tuple[str, str, str]] = set()
        self.followers: dict[tuple[str, str], tuple[str, str, threading.Event]] = {}
        """(pod uid, container) -> (namespace, pod name, the follower's stop event): by uid, because a
        StatefulSet's replacement Pod has the old one's name, and its follower ends with the old Pod."""
        self.streaming: set[tuple[str, str]] = set()
        """The followers whose stream is open: started, and neither ended nor stopped (Options.max_log_streams)."""
        self.waiting: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        """(pod uid, container) -> (namespace, pod name) of the containers waiting for a free stream, oldest first."""
        self.ended: set[tuple[str, str, str]] = set()
        """(namespace, pod, container) of the followers that reported LogEnded."""
        self.attached: set[tuple[str, str, str]] = set()
        """(namespace, pod, container) of the followers that reported LogAttached."""
        self.read_instances: set[tuple[str, str, str, str]] = set()
        """(namespace, pod, container, containerID) of the container instances whose log was read to its end."""
        self.told_waiting = False
        self.last_line = -math.inf
        """When the last log line came (monotonic): where the final drain's quiet counts from."""
        self.orphans: OrderedDict[str, list[dict]] = OrderedDict()
        self.diagnoses: list[_PendingDiagnosis] = []
        self.cluster_error: str | None = None
        self.next_progress = self.started + PROGRESS_INTERVAL
        self.since = None if options.logs_since is None else _rfc3339(self.started_wall - options.logs_since)

    # --- the run --------------------------------------------------------------------------------------------

    def watches(self) -> list[tuple[Resource, str | None]]:
        """The shared watches the targets need, each once."""
        wanted: dict[tuple[str, str, str], tuple[Resource, str | None]] = {}
        for state in self.states.values():
            for resource, namespace in self._needs(state.target):
                wanted.setdefault((resource.group, resource.plural, namespace), (resource, namespace or None))
        return list(wanted.values())

    @staticmethod
    def _needs(target: Target) -> list[tuple[Resource, str]]:
        """The watches whose view a target is judged from: its own type, and the related types of its kind."""
        needs = [(target.resource, target.namespace)]
        if target.namespace:
            needs.append((EVENTS, target.namespace))
            if target.kind in POD_KINDS:
                needs.append((PODS, target.namespace))
            if target.kind == "Deployment":
                needs.append((REPLICASETS, target.namespace))
            if target.kind == "DaemonSet":
                needs.append((CONTROLLER_REVISIONS, target.namespace))
        return needs

    def _complete(self, state: TargetState) -> bool:
        """True once every watch the target is judged from has listed: before that, a Job that failed before
        the run looks like one without Pods, and its diagnosis would miss the Pod that failed."""
        return all((resource.group, resource.plural, namespace) in self.synced
                   for resource, namespace in self._needs(state.target))

    def run(self, interrupt: Interrupt | None = None) -> Outcome:
        """Start the watches, consume until the run ends, report the summary and return the outcome."""
        interrupt = interrupt or Interrupt()
        try:
            for resource, namespace in self.watches():
                self.sink.detail(f"watching {_phrase(resource, namespace)}")
                self.producers.watch(resource, namespace)
            timed_out = False
            while not self._over(interrupt):
                if self.options.timeout and self.clock() - self.started >= self.options.timeout:
                    timed_out = True
                    break
                self._consume(interrupt)
                self.tick()
            # Followed logs never go quiet: nothing to drain to; and a stop request is answered without delay.
            if not self.options.follow and not interrupt.event.is_set():
                self._drain_logs()
            self._finish_diagnoses(wait=True)
            outcome = self.outcome(timed_out, interrupt.signum)
        finally:
            self.producers.close()
        self.sink.summary(outcome)
        return outcome

    def _consume(self, interrupt: Interrupt) -> None:
        """Handle what is queued (waiting up to TICK for the first item), at most BATCH items, so timers and
        the timeout are checked even while a busy cluster keeps the queue full."""
        try:
            self.handle(self.queue.get(timeout=TICK))
        except queue.Empty:
            return
        try:
            for _ in range(BATCH):
                if self._over(interrupt):
                    return
                try:
                    self.handle(self.queue.get_nowait())
                except queue.Empty:
                    return
        finally:
            self.sink.flush()  # the queue ran dry (or a batch ended): nothing is held back while the engine waits

    def _over(self, interrupt: Interrupt) -> bool:
        if interrupt.event.is_set() or self.cluster_error is not None:
            return True
        if self.options.follow:
            return False
        if self.options.fail_fast and self.failed_run:
            return True
        while self.open_from < len(self.waited) and self.waited[self.open_from].final:
            self.open_from += 1  # checked after every event: only the targets still open are looked at
        return self.open_from == len(self.waited)

    def tick(self) -> None:
        """Timers: grace periods that ran out, no-activity timeouts, and diagnoses whose log has arrived."""
        now = self.clock()
        for state in self.states.values():
            if state.final:
                continue
            decided = state.budget.tick(now)
            quiet = state.settings.no_activity_timeout
            if decided is not None:
                self._fail_by_budget(state, decided)
            elif quiet is not None and not state.hoping and now - state.active >= quiet:
                # A hoping target has failed already: NoActivity would only bury its real diagnosis.
                message = f"no activity for {quiet:g}s" + (f": {state.message}" if state.message else "")
                self._fail(state, Verdict(State.FAILED, "NoActivity", message), None, by_rule=True)
        self._finish_diagnoses(wait=False)
        if now >= self.next_progress:
            self.next_progress = now + PROGRESS_INTERVAL
            self.sink.progress([progress_row(state, now) for state in self.states.values()])

    def outcome(self, timed_out: bool, signum: int | None) -> Outcome:
        now = self.clock()
        results = []
        for state in self.states.values():
            message, open_ = state.message, not state.final and not state.hoping
            left_behind = open_ and not state.waited_for
            if left_behind:
                message = f"not waited for: {message}" if message else "not waited for"
            elif open_ and timed_out:
                message = f"timed out: {message}" if message else "timed out"
            results.append(TargetResult(
                state.target, state.label, state.state, state.reason, message, (state.finished or now) - state.started,
                state.diagnosis if state.state is State.FAILED else None, state.warnings, ignored=state.ignored,
                left_behind=left_behind))
        failed = any(r.state is State.FAILED and not r.ignored for r in results)
        return Outcome(results, timed_out and not failed, signum, self.cluster_error, now - self.started)

    # --- events from the queue ------------------------------------------------------------------------------

    def handle(self, item: Event) -> None:
        if isinstance(item, ObjectEvent):
            self._object(item)
        elif isinstance(item, LogLines):
            self._log(item)
        elif isinstance(item, Synced):
            self._synced(item)
        elif isinstance(item, WatchFailed):
            self._watch_failed(item)
        elif isinstance(item, ApiNote):
            self.sink.detail(item.message)
        elif isinstance(item, LogAttached):
            self.attached.add((item.namespace, item.pod, item.container))
        elif isinstance(item, LogInstanceRead):
            self.read_instances.add((item.namespace, item.pod, item.container, item.instance))
        elif isinstance(item, LogEnded):
            self.ended.add((item.namespace, item.pod, item.container))
            self._stream_ended(item)
            if not item.reason.startswith(("terminated", "pod ")):
                self.sink.notice(f"log of po/{item.pod} [{item.container}] ended: {item.reason}")

    def _object(self, item: ObjectEvent) -> None:
        resource, obj = item.resource, item.obj
        state = self.states.get(_key_of(resource, obj))
        if (resource.group, resource.plural) == (EVENTS.group, EVENTS.plural):
            self._event(obj)
            return
        if state is not None:
            self.by_uid[uid(obj)] = state
            self._target_changed(state, item.type, obj)
        kinds = RELATED.get((resource.group, resource.plural))
        if kinds is None:
            return
        before = self.view.get(resource, meta(obj).get("namespace") or "", meta(obj).get("name") or "")
        self.view.apply(resource, item.type, obj)
        for other in self._owners(before, obj):  # before: a Pod that leaves its owner still concerns it
            if other.target.kind in kinds and other is not state:
                concerned = self._concerns(other, obj)  # before: a Pod that leaves the current revision counts
                self._refresh(other)
                if concerned or self._concerns(other, obj):
                    other.active = self.clock()

    def _owners(self, *objects: dict | None) -> list[TargetState]:
        """The targets a related object (in each version given) may belong to, in target order: the object itself,
        its controller, its ReplicaSet's controller and the Job its labels name, looked up by uid rather than by
        judging every target again at every change."""
        found: dict[TargetKey, TargetState] = {}
        for obj in objects:
            if obj is None:
                continue
            controller = controller_uid(obj)
            parent = self.view.with_uid(controller) if controller else None
            uids = [uid(obj), controller, controller_uid(parent) if parent else None,
                    *((meta(obj).get("labels") or {}).get(label) for label in JOB_UID_LABELS)]
            for owner in uids:
                state = self.by_uid.get(owner) if owner else None
                if state is not None and uid(state.obj or {}) == owner:
                    found[state.target.key] = state
        return sorted(found.values(), key=lambda state: self.position[state.target.key])

    def _concerns(self, state: TargetState, obj: dict) -> bool:
        """Whether a related object is one of the target's current Pods or its current ReplicaSet."""
        if uid(obj) in state.pods:
            return True
        if obj.get("kind") != "ReplicaSet" or state.target.kind != "Deployment" or state.obj is None:
            return False
        rs = current_replicaset(state.obj, self.view.owned(REPLICASETS, state.target.namespace, uid(state.obj)))
        return rs is not None and uid(rs) == uid(obj)

    def _target_changed(self, state: TargetState, change: str, obj: dict) -> None:
        state.active = self.clock()
        if self.options.follow:
            self._followed_changed(state, change, obj)
            return
        if state.final:
            return
        if change == "DELETED":
            state.obj = None  # a hoping target is judged on: not from the object that is gone
            subject = f'{state.target.kind.lower()} "{state.target.name}"'
            self._fail(state, Verdict(State.FAILED, "Deleted", f"{subject} was deleted while tracked"), None,
                       by_rule=True)
            return
        state.obj = obj
        self._refresh(state)

    def _followed_changed(self, state: TargetState, change: str, obj: dict) -> None:
        """Follow mode: a deletion is reported and the target waits to be created again; a new revision
        re-opens a target with a verdict, with a fresh failure budget, so its new Pods are judged and followed."""
        if change == "DELETED":
            for pod in state.pods.values():
                state.budget.forget(uid(pod))
            previous, state.pods, state.obj = state.pods, {}, None
            for pod in previous.values():
                self._unfollow(pod)
            self._reopen(state)
            subject = f'{state.target.kind.lower()} "{state.target.name}"'
            self._report(state, Verdict(State.PROGRESSING, "Deleted",
                                        f"{subject} was deleted: waiting for it to be created again"))
            return
        previous_obj, state.obj = state.obj, obj
        if state.final and (previous_obj is None or _new_revision(previous_obj, obj)):
            self._reopen(state)
        self._refresh(state)

    def _reopen(self, state: TargetState) -> None:
        if state.final:
            state.final, state.finished, state.diagnosis = False, None, None
            state.budget = Budget(self._allowed(state), self.options.grace_scale)
            state.started = self.clock()

    def _synced(self, item: Synced) -> None:
        resource = item.resource
        self.synced.add((resource.group, resource.plural, item.namespace or ""))
        self.sink.detail(f"listed {_phrase(resource, item.namespace)}")
        for state in self.states.values():
            if state.final or not self._complete(state):
                continue
            if state.obj is not None:
                self._refresh(state)
            else:
                target = state.target
                where = f' in namespace "{target.namespace}"' if target.namespace else ""
                self._report(state, Verdict(State.PROGRESSING, "NotFound",
                                            f"{target.label} not found{where}: waiting for it to be created"))

    def _watch_failed(self, item: WatchFailed) -> None:
        resource = item.resource
        is_target = any((s.target.resource.group, s.target.resource.plural, s.target.namespace or None)
                        == (resource.group, resource.plural, item.namespace) for s in self.states.values())
        if is_target:
            self.cluster_error = item.message
        else:
            self.sink.notice(f"{item.message}; continuing without {resource.plural}")

    # --- judging a target ----------------------------------------------------------------------------------

    def _refresh(self, state: TargetState) -> None:
        """Re-read a target after its object or a related one changed: Pods, budget, signs, verdict."""
        if state.obj is None or not self._complete(state):
            return
        if state.final:
            if self.options.follow:
                self._keep_following(state)
            return
        obj, now = state.obj, self.clock()
        state.budget.allowed = self._allowed(state)
        pods = {uid(pod): pod for pod in current_pods(obj, self.view)}
        previous, state.pods = state.pods, pods
        for gone in set(previous) - set(pods):
            state.budget.forget(gone)
            self._unfollow(previous[gone])
        fresh = set(pods) - set(previous)
        for pod_uid, pod in pods.items():
            if pod_uid in fresh:
                for event in self.orphans.pop(pod_uid, []):
                    self._event_for(state, event, pod)
                    if state.final:
                        return
            if self._pod_signs(state, pod, now):
                return
        for sign in self._object_signs(state):
            decided = state.budget.observe(sign, now)
            if decided is not None:
                self._fail_by_budget(state, decided)
                return
        self._judge(state)

    def _keep_following(self, state: TargetState) -> None:
        """Follow mode, a target with a verdict: its current Pods are not judged any more, but the logs of those
        that start later (the last of a revision can start after the verdict) are still followed."""
        pods = {uid(pod): pod for pod in current_pods(state.obj or {}, self.view)}
        previous, state.pods = state.pods, pods
        for gone in set(previous) - set(pods):
            self._unfollow(previous[gone])
        if self.options.logs:
            for pod in pods.values():
                self._follow(pod)

    def _object_signs(self, state: TargetState) -> list[Problem]:
        """Signs on the target itself or its current ReplicaSet (conditions that carry live failures)."""
        obj = state.obj or {}
        kind = obj.get("kind")
        if kind == "ReplicaSet":
            return problems.replicaset_problems(obj)
        if kind == "Deployment":
            rs = current_replicaset(obj, self.view.owned(REPLICASETS, state.target.namespace, uid(obj)))
            return problems.replicaset_problems(rs) if rs else []
        group = (obj.get("apiVersion") or "").rpartition("/")[0]
        if (group, kind) not in RULES:
            return problems.custom_problems(obj, "")
        return []

    def _pod_signs(self, state: TargetState, pod: dict, now: float) -> bool:
        """Weigh one current Pod's status signs and follow its logs; True when it failed the target."""
        pod_uid = uid(pod)
        signs = problems.pod_problems(pod, job_pod=state.target.kind == "Job")
        state.budget.showing(pod_uid, problems.STATUS, {(sign.key, sign.reason) for sign in signs})
        if is_pod_ready(pod):
            state.budget.showing(pod_uid, problems.EVENT, set())
        if self.options.logs:
            self._follow(pod)
        for sign in signs:
            decided = state.budget.observe(sign, now)
            if decided is not None:
                self._fail_by_budget(state, decided)
                return True
        return False

    def _judge(self, state: TargetState) -> None:
        verdict = evaluate(state.obj or {})
        if state.target.kind == "Pod" and verdict.state is State.FAILED and \
                ((state.obj or {}).get("status") or {}).get("phase") != "Failed":
            # A running Pod's container errors are the live engine's to weigh, with grace periods and the
            # budget; the rule fails them at once because one snapshot has nothing better to go on.
            verdict = Verdict(State.PROGRESSING, verdict.reason, verdict.message)
        if verdict.state is State.FAILED:
            self._fail(state, verdict, self._culprit(state), by_rule=True)
        elif verdict.state is State.READY:
            state.final, state.finished = True, self.clock()
            self._report(state, verdict)
        else:
            self._report(state, verdict)

    def _culprit(self, state: TargetState) -> Problem | None:
        """The Pod sign behind a failure the resource's own status declared (a Job's exits included)."""
        candidates = [*state.budget.counted(), *state.budget.pending()]
        for pod in state.pods.values():
            candidates += problems.pod_problems(pod)
        candidates += self._object_signs(state)
        return diagnosis.culprit(candidates)

    def _report(self, state: TargetState, verdict: Verdict) -> None:
        state.state, state.reason, state.message, state.warnings = (verdict.state, verdict.reason, verdict.message,
                                                                    verdict.warnings)
        shown = (str(verdict.state), verdict.reason, verdict.message)
        if shown != state.reported:
            state.reported = shown
            self.sink.status(StatusChange(state.label, verdict.state, verdict.reason, verdict.message,
                                          verdict.warnings))

    # --- failing --------------------------------------------------------------------------------------------

    def _per_replica(self, state: TargetState) -> int:
        allowed = state.settings.failures_allowed_per_replica
        return self.options.failures_allowed_per_replica if allowed is None else allowed

    def _allowed(self, state: TargetState) -> int:
        return self._per_replica(state) * replicas(state.obj or {})

    def _fail_by_budget(self, state: TargetState, cause: Problem) -> None:
        budget = None
        if cause.classification.cls is ReasonClass.FAILURE:
            per_replica = self._per_replica(state)
            count = replicas(state.obj or {})
            budget = (f"{state.budget.failures} failures counted, {state.budget.allowed} allowed "
                      f"({per_replica} per replica x {count} replica{'' if count == 1 else 's'})")
        self._fail(state, Verdict(State.FAILED, cause.reason, cause.describe()), cause, by_rule=False,
                   budget=budget)

    def _fail(self, state: TargetState, verdict: Verdict, cause: Problem | None, *, by_rule: bool,
              budget: str | None = None) -> None:
        """Give the failure verdict and diagnose it. A fail-mode-hope target stays open, judged on with a fresh
        budget, and is diagnosed again only when it fails differently (a failed condition says so every time)."""
        hope = state.settings.fail_mode is FailMode.HOPE
        if hope:
            state.budget = Budget(self._allowed(state), self.options.grace_scale)
        else:
            state.final, state.finished = True, self.clock()
        self._report(state, verdict)
        self.failed_run = self.failed_run or state.fails_run
        if hope and state.diagnosed == (verdict.reason, verdict.message):
            return
        state.diagnosed = (verdict.reason, verdict.message)
        future = None
        if diagnosis.wants_log(cause) and cause is not None:
            future = self.producers.log_tail(state.target.namespace, cause.pod or "", cause.container or "",
                                             bool(cause.crashed_previous), diagnosis.LOG_TAIL_LINES)
        self.diagnoses.append(_PendingDiagnosis(state, verdict, cause, by_rule, budget, future,
                                                self.clock() + LOG_TAIL_TIMEOUT))
        self._finish_diagnoses(wait=False)

    def _finish_diagnoses(self, *, wait: bool) -> None:
        """Print each diagnosis whose log tail is in (or failed, or took too long); keep the others."""
        waiting = []
        for pending in self.diagnoses:
            future = pending.future
            if future is not None and not future.done() and not wait and self.clock() < pending.deadline:
                waiting.append(pending)
                continue
            tail, error = None, None
            if future is not None:
                try:
                    tail = future.result(timeout=max(0.0, pending.deadline - self.clock()))
                except Exception as err:  # the log is evidence, not a requirement: say why it is missing
                    error = _log_error(err)
            state, verdict = pending.state, pending.verdict
            found = diagnosis.diagnose(
                state.label, state.target.namespace, verdict.reason, verdict.message, pending.cause,
                by_rule=pending.by_rule, warnings=list(state.recent_warnings.values()), budget=pending.budget,
                log_tail=tail, log_error=error)
            if state.diagnosed == (verdict.reason, verdict.message):  # not one a hoping target has moved past
                state.diagnosis = found
            self.sink.failed(found)
        self.diagnoses = waiting

    # --- Events ---------------------------------------------------------------------------------------------

    def _event(self, event: dict) -> None:
        stamp = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or \
            meta(event).get("creationTimestamp") or ""
        at = parse_timestamp_ns(stamp)
        if at is not None and at < math.floor(self.started_wall) * 1_000_000_000:
            return  # from before this run: about an earlier rollout, or already resolved
        regarding = event.get("involvedObject") or {}
        namespace, name, kind = regarding.get("namespace") or "", regarding.get("name") or "", regarding.get("kind")
        owners = []
        candidates = {state.target.key: state for state in self.named.get((namespace, kind or "", name), ())}
        if kind in ("Pod", "ReplicaSet"):
            resource = PODS if kind == "Pod" else REPLICASETS
            involved = self.view.with_uid(regarding.get("uid") or "") or self.view.get(resource, namespace, name)
            candidates.update((state.target.key, state) for state in self._owners(involved))
        for state in sorted(candidates.values(), key=lambda state: self.position[state.target.key]):
            target, obj = state.target, state.obj or {}
            if target.kind == kind and target.name == name and target.namespace == namespace:
                owners.append((state, obj))
            elif kind == "Pod" and regarding.get("uid") in state.pods:
                owners.append((state, state.pods[regarding["uid"]]))
            elif kind == "ReplicaSet" and target.kind == "Deployment" and target.namespace == namespace:
                rs = current_replicaset(obj, self.view.owned(REPLICASETS, namespace, uid(obj))) if obj else None
                if rs is not None and meta(rs).get("name") == name:
                    owners.append((state, rs))
        if not owners and kind == "Pod" and regarding.get("uid"):
            self.orphans.setdefault(regarding["uid"], []).append(event)
            self.orphans.move_to_end(regarding["uid"])
            while len(self.orphans) > ORPHAN_EVENTS:
                self.orphans.popitem(last=False)
        for state, involved in owners:
            if not state.final:
                self._event_for(state, event, involved)

    def _event_for(self, state: TargetState, event: dict, involved: dict) -> None:
        state.active = self.clock()
        regarding = event.get("involvedObject") or {}
        kind, name = regarding.get("kind"), regarding.get("name") or ""
        subject = f"{SUBJECT_PREFIX[kind]}/{name}" if kind in SUBJECT_PREFIX else state.label
        reason = event.get("reason") or ""
        if reason == "TriggeredScaleUp":
            state.budget.scaled_up(regarding.get("uid") or "", self.clock())
        if event.get("type") == "Warning":
            notice = EventNotice(state.label, subject, "Warning", reason, event.get("message") or "",
                                 int(event.get("count") or 1))
            if state.remember(notice):
                self.sink.event(notice)
        if kind not in SUBJECT_PREFIX and state.target.kind not in OWN_EVENT_KINDS:
            return
        sign = problems.event_problem(event, "" if subject == state.label else subject,
                                      involved if kind == "Pod" else None, job_pod=state.target.kind == "Job")
        if sign is not None:
            decided = state.budget.observe(sign, self.clock())
            if decided is not None:
                self._fail_by_budget(state, decided)

    # --- logs -----------------------------------------------------------------------------------------------

    def _follow(self, pod: dict) -> None:
        """Follow every started container of a current Pod, init containers too, once per container: the
        follower itself moves on to the next instance when a container restarts. A container whose logs no
        target owning the Pod shows is not followed at all."""
        namespace, name, pod_uid = meta(pod).get("namespace") or "", meta(pod).get("name") or "", uid(pod)
        owners: list[TargetSettings] | None = None  # looked up only for a container not followed yet
        status = pod.get("status") or {}
        for entry in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
            key = (pod_uid, entry.get("name") or "")
            state = entry.get("state") or {}
            started = state.get("running") or state.get("terminated") or (entry.get("lastState") or {}).get(
                "terminated")
            if not started or key in self.followers or key in self.waiting:
                continue
            if owners is None:
                owners = [state.settings for state in self._owners(pod) if pod_uid in state.pods]
            if any(owner.shows_logs_of(key[1]) for owner in owners):
                self.waiting[key] = (namespace, name)
        self._start_waiting()

    def _start_waiting(self) -> None:
        """Start the waiting followers, oldest first, while fewer than max_log_streams streams are open. Each
        stream is a thread and a connection to the API server (and, through it, to a kubelet); a waiting
        container's follower reads from `since` when it starts, so none of its lines is lost, only delayed."""
        while self.waiting and len(self.streaming) < self.options.max_log_streams:
            key, (namespace, name) = self.waiting.popitem(last=False)
            self.followers[key] = (namespace, name, self.producers.follow(namespace, name, key[1], self.since))
            self.streaming.add(key)
        if self.waiting and not self.told_waiting:
            self.told_waiting = True
            self.sink.notice(f"following {self.options.max_log_streams} container logs at once "
                             "(--max-log-streams); the others wait for one of them to end")

    def _stream_ended(self, ended: LogEnded) -> None:
        """A follower's stream closed for good: its slot goes to the oldest waiting container."""
        for key, (namespace, name, _) in self.followers.items():
            if key[1] == ended.container and (namespace, name) == (ended.namespace, ended.pod):
                self.streaming.discard(key)
        self._start_waiting()

    def _unfollow(self, pod: dict) -> None:
        """Stop following a Pod that left the current revision of every target."""
        pod_uid = uid(pod)
        if any(pod_uid in state.pods for state in self._owners(pod)):
            return
        for key in [key for key in self.waiting if key[0] == pod_uid]:
            del self.waiting[key]
        for key in [key for key in self.followers if key[0] == pod_uid]:
            self.followers.pop(key)[2].set()
            self.streaming.discard(key)
        self._start_waiting()

    def _log(self, batch: LogLines) -> None:
        """The lines are activity of every target owning their Pod, and each is shown under the first of them that
        shows it; the owners are looked up once for the whole batch."""
        owners = [state for state in self.states.values() if state.target.namespace == batch.namespace and any(
            meta(pod).get("name") == batch.pod for pod in state.pods.values())]
        now = self.last_line = self.clock()
        for state in owners:
            state.active = now
        container, log = batch.container, self.sink.log
        showing = [state for state in owners if state.settings.shows_logs_of(container)]
        if showing and showing[0].settings.log_filter(container) is None:  # the first owner shows every line
            for text in batch.texts:
                log(LogRecord(showing[0].label, batch.pod, container, text))
            return
        for text in batch.texts:
            shown = next((state for state in showing if state.settings.shows_line(container, text)), None)
            if shown is not None:
                log(LogRecord(shown.label, batch.pod, container, text))

    def _drain_logs(self) -> None:
        """Print the log lines already on their way, so a Job's last words are not cut off by its verdict:
        until no line came for DRAIN_QUIET seconds, every follower has opened its stream and the logs of finished
        Pods and ended container instances have been read to their end, at most DRAIN_MAX seconds. Other items
        are dropped: the run is over."""
        if not self.followers:
            return
        deadline = self.clock() + DRAIN_MAX
        last_line = self.last_line
        while self.clock() < deadline:
            waiting = self.clock() - last_line < DRAIN_QUIET or self._logs_pending()
            try:  # what is queued is read in any case; then, quiet and nothing pending, the drain is over
                item = self.queue.get(timeout=DRAIN_QUIET) if waiting else self.queue.get_nowait()
            except queue.Empty:
                if not waiting:
                    return
                continue
            if isinstance(item, LogLines | LogAttached | LogInstanceRead | LogEnded):
                self.handle(item)
                last_line = self.clock()
            elif isinstance(item, ObjectEvent) and (item.resource.group, item.resource.plural) == (
                    PODS.group, PODS.plural):
                self.view.apply(item.resource, item.type, item.obj)

    def _logs_pending(self) -> bool:
        """Whether a follower has not opened its stream yet (a failing API keeps it retrying), a Pod that has
        finished still has a log being read to its end, or a container instance that ended (a crash) has not
        been read to its end. A finished Job's Pods count as finished even before their own update comes in."""
        finished = {pod_uid for state in self.states.values() if state.final and state.target.kind == "Job"
                    for pod_uid in state.pods}
        for (pod_uid, container), (namespace, name, _) in self.followers.items():
            key = (namespace, name, container)
            if key in self.ended:
                continue
            if key not in self.attached:
                return True
            status = (self.view.get(PODS, namespace, name) or {}).get("status") or {}
            if pod_uid in finished or status.get("phase") in ("Succeeded", "Failed"):
                return True
            entry = next((entry for entry in [*(status.get("initContainerStatuses") or []),
                                              *(status.get("containerStatuses") or [])]
                          if entry.get("name") == container), {})
            terminated = (entry.get("state") or {}).get("terminated")
            instance = str(entry.get("containerID") or (terminated or {}).get("containerID") or "")
            if terminated and (*key, instance) not in self.read_instances:
                return True
        return False


def _phrase(resource: Resource, namespace: str | None) -> str:
    return resource_phrase(resource.plural, resource.group, namespace, resource.namespaced)


def _new_revision(old: dict, new: dict) -> bool:
    """Whether `new` starts a revision `old` did not have: its generation grew, or, for objects without one
    (Pods), a new resourceVersion came with a changed spec."""
    old_generation, new_generation = meta(old).get("generation"), meta(new).get("generation")
    if old_generation is not None and new_generation is not None:
        return int(new_generation) > int(old_generation)
    return meta(new).get("resourceVersion") != meta(old).get("resourceVersion") and \
        new.get("spec") != old.get("spec")


def _log_error(err: Exception) -> str:
    status = getattr(err, "status", None)
    reason = getattr(err, "reason", None)
    return f"could not be read ({status} {reason})" if status and reason else \
        f"could not be read ({err or type(err).__name__})"


def track(cluster: Cluster, targets: list[Target], options: Options, sink: Sink, interrupt: Interrupt | None = None,
          settings: Mapping[TargetKey, TargetSettings] | None = None) -> Outcome:
    """Track `targets` until each is ready or failed (see the module docstring); the CLI's entry point. A target
    missing from `settings` gets the defaults (the run's Options)."""
    producers = ClusterProducers(cluster.api, api_timeout=options.api_timeout)
    return Tracker(targets, options, sink, producers, settings=settings).run(interrupt)
