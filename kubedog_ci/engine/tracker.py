"""The engine's loop: reads the producers' queue in order, owns all state, decides, and tells the sink.

Producers (shared watchers, log followers) only report; everything that decides a verdict happens here, on one
thread, so no state is shared and the decisions can be tested by putting messages on the queue by hand. A run:

1. the watches engine.watches plans: each target's own object, the Events of its namespace (from the run's start,
   never listed) and the related types its kind profile asks for (rules.profile: Pods, ReplicaSets,
   ControllerRevisions, EndpointSlices), per target with a selector, or one shared per namespace when many
   targets there use a type;
2. each change: the target's rule, then the live failure signs (rules.problems) of its current-revision Pods,
   its other current related objects and Events, weighed by its failure budget (engine.budget);
3. logs followed for every started container of the current revision's Pods, old revisions dropped
   (engine.logstreams);
4. the run ends when every blocking target has a verdict, at the first failure (fail-fast), at the timeout, on
   a stop request, or when a target's own watch fails (a cluster error); then the summary. In follow mode only
   the last two end it: a target with a verdict re-opens when its object starts a new revision.

Each target's TargetSettings (engine.settings) bend this: its failure budget, a no-activity timeout, a timeout of
its own, which logs are followed and shown, whether its failure fails the run (fail mode), and whether the run
waits for it (blocking). Which targets an object or Event concerns is engine.ownership's answer; diagnoses that
wait for a crashed container's log are engine.diagnosis's PendingDiagnoses.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from kubedog_ci.engine import diagnosis, kube_events
from kubedog_ci.engine.budget import Budget
from kubedog_ci.engine.logstreams import LogStreams
from kubedog_ci.engine.outcome import Options, Outcome
from kubedog_ci.engine.ownership import Ownership
from kubedog_ci.engine.producers import Producers
from kubedog_ci.engine.secret_reads import SecretReads
from kubedog_ci.engine.settings import DEFAULT, FailMode, TargetSettings
from kubedog_ci.engine.sink import Sink
from kubedog_ci.engine.state import (
    EVENTS,
    TargetState,
    View,
    progress_row,
    stream_of,
)
from kubedog_ci.engine.target import Target, TargetKey, labels
from kubedog_ci.engine.waits import Waits
from kubedog_ci.engine.watches import Watch, Watching, key_of, phrase
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.kube.messages import (
    ApiNote,
    LogAttached,
    LogEnded,
    LogInstanceRead,
    LogLines,
    Message,
    ObjectEvent,
    Synced,
    WatchFailed,
)
from kubedog_ci.reasons import ReasonClass
from kubedog_ci.rules import State, Verdict, problems
from kubedog_ci.rules.objects import is_pod_ready, meta, uid
from kubedog_ci.rules.problems import Problem

TICK = 0.05
"""Seconds the loop waits for a message before it checks timers (grace periods, timeout, stop)."""
BATCH = 1000
"""Queued messages handled between two timer checks."""
PROGRESS_INTERVAL = 1.0
"""Seconds between two progress reports (the sinks' live status)."""


class Interrupt:
    """A stop request from a signal handler: sets the event the loop polls and remembers the signal."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None

    def request(self, signum: int | None) -> None:
        """Stop the run; `signum`: the signal that asked (None: the program, e.g. a library callback)."""
        self.signum = signum
        self.event.set()


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _key_of(resource: Resource, obj: dict) -> TargetKey:
    return (resource.group, resource.plural, meta(obj).get("namespace") or "", meta(obj).get("name") or "")


class Tracker:
    """One run. `settings`: per-target overrides, DEFAULT for a target missing from it. `clock` is monotonic
    (grace periods, timeouts); `wall` dates Events and logs."""

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
            chosen = settings.get(target.key, DEFAULT)
            per_replica = chosen.failures_allowed_per_replica
            self.states.setdefault(target.key, TargetState(
                target, names[target.key], Budget(0, options.grace_scale), self.started, chosen,
                options.failures_allowed_per_replica if per_replica is None else per_replica))
        any_blocking = any(state.settings.blocking for state in self.states.values())
        for state in self.states.values():  # all non-blocking: all are waited for, or the run would be empty
            state.waited_for = state.settings.blocking or not any_blocking
        self.view = View()
        self.ownership = Ownership(self.states.values(), self.view)
        self.waited = [state for state in self.states.values() if state.waited_for]
        self.open_from = 0
        """Every target in `waited` before this index has its verdict (verdicts are final but in follow mode)."""
        self.failed_run = False
        """A target's failure fails the run (what fail-fast stops at)."""
        self.watching = Watching(self.states, options, producers, sink)
        since = None if options.logs_since is None else _rfc3339(self.started_wall - options.logs_since)
        self.logs = LogStreams(producers, sink, clock, max_streams=options.max_log_streams, since=since)
        self.diagnoses = diagnosis.PendingDiagnoses(producers, sink, clock)
        self.waits = Waits(options, clock, self.started, self.started_wall)
        self.secrets = SecretReads(producers, sink, enabled=options.redact_secrets)
        self.cluster_error: str | None = None
        self.next_progress = self.started + PROGRESS_INTERVAL

    # --- the run --------------------------------------------------------------------------------------------

    def watches(self) -> list[Watch]:
        """The watches to open at the start (engine.watches.Watching)."""
        return self.watching.initial()

    def _complete(self, state: TargetState) -> bool:
        return self.watching.complete(state)

    def run(self, interrupt: Interrupt | None = None) -> Outcome:
        """Start the watches, consume until the run ends, report the summary and return the outcome."""
        interrupt = interrupt or Interrupt()
        try:
            for watch in self.watches():
                self.watching.start(watch)
            timed_out = False
            while not self._over(interrupt):
                if self.options.timeout and self.clock() - self.started >= self.options.timeout:
                    timed_out = True
                    break
                self._consume(interrupt)
                self.tick()
            # Followed logs never go quiet: nothing to drain to; and a stop request is answered without delay.
            if not self.options.follow and not interrupt.event.is_set():
                self.logs.drain(self.queue, self.handle, self.view, self._finished_pods)
            self.diagnoses.finish(wait=True)
            outcome = self.outcome(timed_out, interrupt.signum)
        finally:
            self.producers.close()
        self.sink.summary(outcome)
        return outcome

    def _consume(self, interrupt: Interrupt) -> None:
        """Handle what is queued (waiting up to TICK for the first message), at most BATCH messages, so timers
        and the timeout are checked even while a busy cluster keeps the queue full."""
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
            self.open_from += 1  # checked after every message: only the targets still open are looked at
        return self.open_from == len(self.waited)

    def tick(self) -> None:
        """Timers: grace periods that ran out, no-activity timeouts, and diagnoses whose log has arrived."""
        now = self.clock()
        for state in self.states.values():
            if state.final:
                continue
            if state.recheck_at is not None and now >= state.recheck_at:
                state.recheck_at = None
                self._refresh(state)  # a settle window or a status grace is over: judged again
                if state.final:
                    continue
            decided = state.budget.tick(now)
            if decided is not None:
                self._fail_by_budget(state, decided)
            elif (overdue := state.overdue(now)) is not None:
                self._time_out(state, overdue)
        self.diagnoses.finish(wait=False)
        if now >= self.next_progress:
            self.next_progress = now + PROGRESS_INTERVAL
            self.sink.progress([progress_row(state, now) for state in self.states.values()])

    def _time_out(self, state: TargetState, overdue: Verdict) -> None:
        """Its own timeout (or no-activity timeout) passed without a verdict: it fails with its last status. A
        hoping target has failed already and was diagnosed: the wait for it to recover ends, and it stays failed."""
        if state.hoping:
            state.final, state.finished = True, self.clock()
            self.sink.notice(f"{state.label}: still failed after its timeout of {state.settings.timeout:g}s "
                             f"({state.reason}): no longer waited for")
            return
        self._fail(state, overdue, None, by_rule=True)

    def outcome(self, timed_out: bool, signum: int | None) -> Outcome:
        now = self.clock()
        results = [state.result(now, timed_out) for state in self.states.values()]
        failed = any(r.state is State.FAILED and not r.ignored for r in results)
        return Outcome(results, timed_out and not failed, signum, self.cluster_error, now - self.started)

    def _finished_pods(self) -> set[str]:
        """The Pods that have run to their end with their target's verdict (a finished Job's), even before their
        own update comes in."""
        return {pod_uid for state in self.states.values() if state.final and state.profile.pods_end_with_verdict
                for pod_uid in state.pods}

    # --- messages from the queue ----------------------------------------------------------------------------

    def handle(self, item: Message) -> None:
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
        elif isinstance(item, LogAttached | LogInstanceRead | LogEnded):
            self.logs.handle(item)

    def _object(self, item: ObjectEvent) -> None:
        resource, obj = item.resource, item.obj
        if (resource.group, resource.plural) == (EVENTS.group, EVENTS.plural):
            self._kube_event(obj)
            return
        namespace = meta(obj).get("namespace") or ""
        state = self.states.get(_key_of(resource, obj))
        if state is not None and self.watching.is_own(state, key_of(resource, namespace, item.selector)) and not (
                item.type == "DELETED" and state.obj is not None and uid(state.obj) != uid(obj)):
            # (a deletion of an earlier object of its name, told after the new one by a relist, is none of its own)
            self.ownership.seen(state, obj)
            if item.type != "DELETED":
                self.watching.plan(state, obj)
            self._target_changed(state, item.type, obj)
        stream = stream_of(resource)
        if stream is None:
            return
        before = self.view.get(stream, namespace, meta(obj).get("name") or "")
        changed = self.view.apply(stream, item.type, obj, item.selector)
        if changed is None:
            return  # another watch of the type brought this version, or a newer one, already
        obj = changed[1]
        for other in self.ownership.owners(before, obj):  # before: a Pod that leaves its owner still concerns it
            if stream in other.profile.streams and other is not state:
                concerned = self.ownership.concerns(other, obj)  # before: a Pod leaving the current revision counts
                self._refresh(other)
                if concerned or self.ownership.concerns(other, obj):
                    other.active = self.clock()

    def _target_changed(self, state: TargetState, change: str, obj: dict) -> None:
        state.active = self.clock()
        if state.final:
            return
        if change == "DELETED":
            state.obj = None  # a hoping target is judged on: not from the object that is gone
            self._fail(state, Verdict(State.FAILED, "Deleted", f"{state.subject} was deleted while tracked"), None,
                       by_rule=True)
            return
        self._first_sight(state, obj)
        state.obj = obj
        self._refresh(state)

    def _synced(self, item: Synced) -> None:
        self.watching.listed(key_of(item.resource, item.namespace, item.selector))
        self.sink.detail(f"listed {phrase(item.resource, item.namespace, item.selector)}")
        self._judge_listed()

    def _judge_listed(self) -> None:
        """Judge every open target whose watches have all listed (or failed), or say it is not found yet."""
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
        resource, namespace = item.resource, item.namespace or ""
        key = key_of(resource, namespace, item.selector)
        if self.watching.owns(key):
            self.cluster_error = item.message
            return
        # A related type the account may not read (or that stayed away): judged without it, from what is left.
        if self.watching.refuse(key):  # its other watches there fail the same way: told once, not asked again
            lost = sorted({loss for state in self.states.values() if (loss := state.loses(resource, namespace))})
            self.sink.notice(f"{item.message}; continuing without {resource.plural} ({'; '.join(lost)})")
        self._judge_listed()

    # --- Kubernetes Events ----------------------------------------------------------------------------------

    def _kube_event(self, event: dict) -> None:
        if kube_events.before(event, self.started_wall):
            return
        for state, involved in self.ownership.about(event):
            if not state.final:
                self._event_for(state, event, involved)

    def _event_for(self, state: TargetState, event: dict, involved: dict) -> None:
        now = state.active = self.clock()
        reading = kube_events.read(state, event, involved)
        if reading.scaled_up is not None:
            state.budget.scaled_up(reading.scaled_up, now)
        if reading.notice is not None and state.remember(reading.notice):
            self.sink.event(reading.notice)
        decided = self._observe(state, reading.problem, now) if reading.problem is not None else None
        if decided is not None:
            self._fail_by_budget(state, decided)

    # --- logs -----------------------------------------------------------------------------------------------

    def _follow(self, pod: dict) -> None:
        self.logs.follow(pod, lambda: [state.settings for state in self.ownership.owners(pod)
                                       if uid(pod) in state.pods])

    def _unfollow(self, pod: dict) -> None:
        """Stop following a Pod that left the current revision of every target."""
        if not any(uid(pod) in state.pods for state in self.ownership.owners(pod)):
            self.logs.unfollow(uid(pod))

    def _log(self, batch: LogLines) -> None:
        """The lines are activity of every target owning their Pod, and shown under the first that shows them."""
        owners = [state for state in self.states.values() if state.target.namespace == batch.namespace and any(
            meta(pod).get("name") == batch.pod for pod in state.pods.values())]
        self.logs.last_line = self.clock()
        for state in owners:
            state.active = self.logs.last_line
        self.logs.show(batch, [(state.label, state.settings) for state in owners])

    # --- judging a target -----------------------------------------------------------------------------------

    def _refresh(self, state: TargetState) -> None:
        """Re-read a target after its object or a related one changed: Pods, budget, signs, verdict."""
        if state.obj is None or not self._complete(state):
            return
        if state.final:
            self._refresh_final(state)
            return
        obj, now = state.obj, self.clock()
        state.budget.allowed = state.allowed()
        related = state.profile.current_related(obj, self.view)
        pods = {uid(pod): pod for pod in state.profile.current_pods(obj, self.view)}
        self.secrets.read(state.target.namespace, [obj, *pods.values()])
        previous, state.pods = state.pods, pods
        for gone in set(previous) - set(pods):
            state.budget.forget(gone)
            self._unfollow(previous[gone])
        fresh = set(pods) - set(previous)
        for record in state.news([*related, *(pod for pod in pods.values() if uid(pod) in fresh)]):
            self.sink.seen(record)
        for pod_uid, pod in pods.items():
            if pod_uid in fresh:
                for event in self.ownership.adopt(pod_uid):
                    self._event_for(state, event, pod)
                    if state.final:
                        return
            if self._weigh_pod(state, pod, now):
                return
        found = state.profile.object_problems(obj, self.view)
        present = {(problem.key, problem.reason) for problem in found}
        for owner in [obj, *related]:
            if uid(owner) not in pods:  # a Pod target's own signs were weighed as its Pod's
                state.budget.showing(uid(owner), problems.STATUS, present)  # a sign no longer shown has gone
        for problem in found:
            decided = self._observe(state, problem, now)
            if decided is not None:
                self._fail_by_budget(state, decided)
                return
        self._judge(state)

    def _first_sight(self, state: TargetState, obj: dict) -> None:
        """Tell the sink when the target's object is seen for the first time (or again after a deletion)."""
        if state.obj is None:
            self.sink.seen(state.seen_as(obj, self.view))

    def _refresh_final(self, state: TargetState) -> None:
        """A target with a verdict: nothing more to judge (engine.follow judges on)."""

    def _weigh_pod(self, state: TargetState, pod: dict, now: float) -> bool:
        """Weigh one current Pod's status problems and follow its logs; True when it failed the target."""
        pod_uid = uid(pod)
        self.waits.see(pod, now)
        found = state.profile.pod_problems(pod)
        state.budget.showing(pod_uid, problems.STATUS, {(problem.key, problem.reason) for problem in found})
        if is_pod_ready(pod):
            state.budget.showing(pod_uid, problems.EVENT, set())
        if self.options.logs:
            self._follow(pod)
        for problem in found:
            decided = self._observe(state, problem, now)
            if decided is not None:
                self._fail_by_budget(state, decided)
                return True
        return False

    def _observe(self, state: TargetState, problem: Problem, now: float) -> Problem | None:
        """Weigh one failure sign: by the budget, except that while the target settles a new one fails it."""
        if state.settling and problem.classification.cls is not ReasonClass.INFO and not state.budget.known(problem):
            return problem  # it would not have stayed ready
        return state.budget.observe(problem, now)

    def _judge(self, state: TargetState) -> None:
        verdict = self.waits.bend(state, state.profile.live(state.obj or {}, self.view))
        if verdict.state is State.FAILED:
            self._fail(state, verdict, diagnosis.cause_of(state, self.view), by_rule=True)
        elif verdict.state is State.READY:
            state.final, state.finished = True, self.clock()
            self._report(state, verdict)
        else:
            self._report(state, verdict)

    def _report(self, state: TargetState, verdict: Verdict) -> None:
        change = state.report(verdict)
        if change is not None:
            self.sink.status(change)

    # --- failing --------------------------------------------------------------------------------------------

    def _fail_by_budget(self, state: TargetState, cause: Problem) -> None:
        budget = state.budget_text() if cause.classification.cls is ReasonClass.FAILURE else None
        self._fail(state, Verdict(State.FAILED, cause.reason, cause.describe()), cause, by_rule=False,
                   budget=budget)

    def _fail(self, state: TargetState, verdict: Verdict, cause: Problem | None, *, by_rule: bool,
              budget: str | None = None) -> None:
        """Give the failure verdict and diagnose it. A fail-mode-hope target stays open, judged on with a fresh
        budget, and is diagnosed again only when it fails differently (a failed condition says so every time)."""
        hope = state.settings.fail_mode is FailMode.HOPE
        if hope:
            state.budget = Budget(state.allowed(), self.options.grace_scale)
        else:
            state.final, state.finished = True, self.clock()
        self._report(state, verdict)
        self.failed_run = self.failed_run or state.fails_run
        if hope and state.diagnosed == (verdict.reason, verdict.message):
            return
        state.diagnosed = (verdict.reason, verdict.message)
        self.diagnoses.add(state, verdict, cause, by_rule=by_rule, budget=budget)


