"""What the engine keeps: the related objects its watchers reported (View), and each target's state.

Which of a target's Pods are current is its kind profile's answer (rules.profile): only the current revision's
Pods are judged and their logs followed, since during a rolling update the old revision's Pods crash-looping or
being deleted say nothing about the new one, and their logs would only mislead.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from kubedog_ci.engine.budget import Budget
from kubedog_ci.engine.outcome import Diagnosis, TargetResult
from kubedog_ci.engine.settings import DEFAULT, FailMode, TargetSettings
from kubedog_ci.engine.sink import EventNotice, Progress, Seen, StatusChange
from kubedog_ci.engine.target import Target
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.rules import KindProfile, Related, State, Stream, Verdict, profile_for
from kubedog_ci.rules.objects import meta, owner_uids, uid

RELATED_TYPES = {
    Stream.PODS: Resource("", "v1", "pods", "pod", "Pod", True, ("po",)),
    Stream.REPLICASETS: Resource("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ("rs",)),
    Stream.CONTROLLER_REVISIONS: Resource("apps", "v1", "controllerrevisions", "controllerrevision",
                                          "ControllerRevision", True),
    Stream.ENDPOINT_SLICES: Resource("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice",
                                     True),
}
"""The related types the kind profiles ask for, as the engine watches them; stable APIs, so no discovery round trip
is needed."""
EVENTS = Resource("", "v1", "events", "event", "Event", True, ("ev",))
"""Watched in the namespace of every namespaced target."""
STREAM_OF = {(resource.group, resource.plural): stream for stream, resource in RELATED_TYPES.items()}
STREAM_OF_KIND = {resource.kind: stream for stream, resource in RELATED_TYPES.items()}
"""What an Event's involvedObject.kind names, when it is a related object."""



def stream_of(resource: Resource) -> Stream | None:
    """The related type a watched resource is, if it is one."""
    return STREAM_OF.get((resource.group, resource.plural))


RECENT_WARNINGS = 10
"""Warning events kept per target for its diagnosis."""

ObjectKey = tuple[str, str]
"""(namespace, name) within one resource type."""


class View:
    """The latest version of every object of the related types, as the watchers reported them, indexed by the
    uids of their owners (objects.owner_uids): a workload's Pods are looked up, not searched for among the
    thousands of a busy namespace. It is the `Related` lookup the kind profiles read.

    Several watches of one type may report one object (a Service's selector and its Deployment's pick the same
    Pods), each in its own order: the view keeps the newest version (by resourceVersion, which the API server
    hands out in commit order), and drops an object only when every watch that reported it has reported it gone
    or no longer selected."""

    def __init__(self) -> None:
        self._objects: dict[Stream, dict[ObjectKey, dict]] = {}
        self._index: dict[tuple[Stream, str, str], dict[str, dict]] = {}
        """(stream, namespace, owner uid) -> the objects it owns, by name."""
        self._uids: dict[str, dict] = {}
        self._holders: dict[tuple[Stream, str, str], object] = {}
        """(stream, namespace, name) -> the watch (its selector) that reported the object, or the set of them
        when more than one did."""

    def apply(self, stream: Stream, change: str, obj: dict, source: object = None) -> tuple[str, dict] | None:
        """Record an ADDED/MODIFIED/DELETED object of a related type, as the watch `source` (its selector) reported
        it; what changed in the view (the change and the object as the view now has it, or last had it), or None
        when nothing did: an older or equal version another watch already brought, or a watch letting go of an
        object another still holds (whose newer version it may carry)."""
        store = self._objects.setdefault(stream, {})
        key = (meta(obj).get("namespace") or "", meta(obj).get("name") or "")
        held = (stream, *key)
        current = store.get(key)
        order = 1 if current is None else _order(obj, current)
        same = current is not None and uid(current) == uid(obj)
        if current is not None and not same and (order < 0 or change == "DELETED"):
            return None  # an older object of that name, from a watch behind the others, or its deletion
        holders = self._holders.get(held) if same else None
        sources = holders if isinstance(holders, set) else set() if holders is None else {holders}
        if change == "DELETED":
            sources.discard(source)
            if sources:
                self._hold(held, sources)
                if order <= 0:
                    return None
                self._store(stream, key, obj)
                return "MODIFIED", obj
            self._holders.pop(held, None)
            if current is None:
                return None
            self._unstore(stream, key)
            return "DELETED", obj if order >= 0 else current
        sources.add(source)
        self._hold(held, sources)
        if order <= 0:
            return None
        self._store(stream, key, obj)
        return ("MODIFIED" if same else "ADDED"), obj

    def _hold(self, held: tuple[Stream, str, str], sources: set) -> None:
        self._holders[held] = next(iter(sources)) if len(sources) == 1 else sources

    def _store(self, stream: Stream, key: ObjectKey, obj: dict) -> None:
        self._unstore(stream, key)
        self._objects[stream][key] = obj
        self._uids[uid(obj)] = obj
        for owner in owner_uids(obj):
            self._index.setdefault((stream, key[0], owner), {})[key[1]] = obj

    def _unstore(self, stream: Stream, key: ObjectKey) -> None:
        old = self._objects[stream].pop(key, None)
        if old is None:
            return
        self._uids.pop(uid(old), None)
        for owner in owner_uids(old):
            owned = self._index.get((stream, key[0], owner))
            if owned is not None:
                owned.pop(key[1], None)
                if not owned:
                    del self._index[(stream, key[0], owner)]

    def get(self, stream: Stream, namespace: str, name: str) -> dict | None:
        return self._objects.get(stream, {}).get((namespace, name))

    def with_uid(self, object_uid: str) -> dict | None:
        return self._uids.get(object_uid)

    def owned(self, stream: Stream, namespace: str, owner_uid: str) -> list[dict]:
        return list(self._index.get((stream, namespace, owner_uid), {}).values())

    def in_namespace(self, stream: Stream, namespace: str) -> list[dict]:
        return [obj for (ns, _), obj in self._objects.get(stream, {}).items() if ns == namespace]


def _order(obj: dict, than: dict) -> int:
    """1 when `obj` is a later version than `than` (of the same object, or of another of the same name), 0 the same,
    -1 an earlier one: by resourceVersion, the API server's commit order (etcd's revision, a number on every API
    server; should one not be, or be missing, any other version counts as later)."""
    mine, theirs = meta(obj).get("resourceVersion") or "", meta(than).get("resourceVersion") or ""
    if not (mine and theirs):
        return 1
    if mine.isdigit() and theirs.isdigit():
        return (int(mine) > int(theirs)) - (int(mine) < int(theirs))
    return 0 if mine == theirs and uid(obj) == uid(than) else 1


@dataclass
class TargetState:
    """Everything the engine keeps about one target: its object, its current-revision Pods, its budget and
    its verdict. `final` once it is ready or failed: a verdict, once given, is not taken back. A fail-mode-hope
    target is the exception: its failures leave it open (`state` failed, `final` False), judged on."""

    target: Target
    label: str
    budget: Budget
    started: float
    settings: TargetSettings = DEFAULT
    per_replica: int = 1
    """Container failures tolerated per replica: its own setting, else the run's."""
    waited_for: bool = True
    """The run waits for its verdict: it is blocking, or every target is non-blocking."""
    obj: dict | None = None
    pods: dict[str, dict] = field(default_factory=dict)
    """Current-revision Pods by uid."""
    state: State = State.PROGRESSING
    reason: str = ""
    message: str = ""
    warnings: tuple[str, ...] = ()
    final: bool = False
    finished: float | None = None
    diagnosis: Diagnosis | None = None
    recent_warnings: OrderedDict[tuple[str, str, str], EventNotice] = field(default_factory=OrderedDict)
    """The latest of each distinct Warning (subject, reason, message), most recent last."""
    reported: tuple[str, str, str] | None = None
    """The (state, reason, message) last reported to the sink, so only changes are reported."""
    diagnosed: tuple[str, str] | None = None
    """The (reason, message) of the last failure diagnosed, so a hoping target that keeps failing the same way
    is not diagnosed again and again."""
    told: set[str] = field(default_factory=set)
    """The uids of the objects of its current revisions the sink was told of (Sink.seen)."""
    settling: bool = False
    """Its rule says ready, and it waits for its Pods to outlive their settle window: any new failure sign fails
    it at once."""
    recheck_at: float | None = None
    """When (monotonic) to judge it again though nothing changed: a settle window or a status grace ends."""
    awaiting: tuple[object, float] | None = None
    """(generation, since when, monotonic) it has waited for a controller's first status report."""
    active: float = field(init=False)
    """When something last happened to it (monotonic): its object, its current Pods or ReplicaSet, an Event
    about them, a log line; what the no-activity timeout measures from."""

    profile: KindProfile = field(init=False)
    """What the engine knows about the target's kind (rules.profile)."""

    def __post_init__(self) -> None:
        self.active = self.started
        self.profile = profile_for(self.target.resource.group, self.target.kind)

    @property
    def hoping(self) -> bool:
        """A fail-mode-hope target whose last judgement was a failure: shown, but still open."""
        return not self.final and self.state is State.FAILED and self.settings.fail_mode is FailMode.HOPE

    @property
    def ignored(self) -> bool:
        return self.final and self.state is State.FAILED and self.settings.fail_mode is FailMode.IGNORE

    @property
    def fails_run(self) -> bool:
        """A failure that counts against the run now (what fail-fast stops at)."""
        return self.final and self.state is State.FAILED and self.settings.fail_mode is FailMode.FAIL

    @property
    def subject(self) -> str:
        """`deployment "web"`: how kubectl names the target in its messages."""
        return f'{self.target.kind.lower()} "{self.target.name}"'

    def seen_as(self, obj: dict, related: Related) -> Seen:
        """Its object, seen: whether it is ready by its rule at that moment."""
        ready = self.profile.live(obj, related).state is State.READY
        return Seen(self.label, self.target.kind, self.target.name, ready)

    def news(self, objects: list[dict]) -> list[Seen]:
        """Of the objects of its current revision, those the sink was not told of yet (Sink.seen), now told."""
        found = []
        for obj in objects:
            if uid(obj) not in self.told and uid(obj) != uid(self.obj or {}):
                self.told.add(uid(obj))
                found.append(Seen(self.label, obj.get("kind") or "", meta(obj).get("name") or ""))
        return found

    def loses(self, resource: Resource, namespace: str) -> str | None:
        """What tracking it loses when the related `resource` (or Events) cannot be watched in `namespace`, or None
        if it does not use it."""
        stream = stream_of(resource) or Stream.EVENTS
        if self.target.namespace != namespace or not (stream is Stream.EVENTS or stream in self.profile.streams):
            return None
        return self.profile.lost_without(stream, self.target.kind)

    def overdue(self, now: float) -> Verdict | None:
        """The failure its own timeout (Timeout) or no-activity timeout (NoActivity) gives at `now` (monotonic),
        if one has passed. A hoping target has failed already: NoActivity would only bury its real diagnosis."""
        limit, quiet = self.settings.timeout, self.settings.no_activity_timeout
        last = f": {self.message}" if self.message else ""
        if limit is not None and now - self.started >= limit:
            return Verdict(State.FAILED, "Timeout", f"no verdict after {limit:g}s{last}")
        if quiet is not None and not self.hoping and now - self.active >= quiet:
            return Verdict(State.FAILED, "NoActivity", f"no activity for {quiet:g}s{last}")
        return None

    def allowed(self) -> int:
        """Its failure budget: its own whole budget if it has one, else per_replica x the replicas its profile
        counts."""
        if self.settings.failures_allowed is not None:
            return self.settings.failures_allowed
        return self.per_replica * self.profile.replicas(self.obj or {})

    def budget_text(self) -> str:
        """How the budget was spent, for a diagnosis: `2 failures counted, 1 allowed (1 per replica x 1 replica)`,
        or `(for the whole resource)` when it has a budget of its own."""
        counted = f"{self.budget.failures} failures counted, {self.budget.allowed} allowed"
        if self.settings.failures_allowed is not None:
            return f"{counted} (for the whole resource)"
        count = self.profile.replicas(self.obj or {})
        return f"{counted} ({self.per_replica} per replica x {count} replica{'' if count == 1 else 's'})"

    def report(self, verdict: Verdict) -> StatusChange | None:
        """Take the verdict as its state; the StatusChange to tell the sink, or None when nothing shown changed."""
        self.state, self.reason, self.message, self.warnings = (verdict.state, verdict.reason, verdict.message,
                                                                verdict.warnings)
        shown = (str(verdict.state), verdict.reason, verdict.message)
        if shown == self.reported:
            return None
        self.reported = shown
        return StatusChange(self.label, verdict.state, verdict.reason, verdict.message, verdict.warnings)

    def result(self, now: float, timed_out: bool) -> TargetResult:
        """How it stands at the end of the run."""
        message, open_ = self.message, not self.final and not self.hoping
        left_behind = open_ and not self.waited_for
        if left_behind:
            message = f"not waited for: {message}" if message else "not waited for"
        elif open_ and timed_out:
            message = f"timed out: {message}" if message else "timed out"
        diagnosis = self.diagnosis if self.state is State.FAILED else None
        return TargetResult(self.target, self.label, self.state, self.reason, message,
                            (self.finished or now) - self.started, diagnosis, self.warnings, ignored=self.ignored,
                            left_behind=left_behind)

    def remember(self, notice: EventNotice) -> bool:
        """Keep a Warning for the diagnosis; True when it is news, False when it only repeats one (an Event's
        count going up), which the output need not print again."""
        key = (notice.subject, notice.reason, notice.message)
        news = key not in self.recent_warnings
        self.recent_warnings[key] = notice
        self.recent_warnings.move_to_end(key)
        while len(self.recent_warnings) > RECENT_WARNINGS:
            self.recent_warnings.popitem(last=False)
        return news


def progress_row(state: TargetState, now: float) -> Progress:
    """The live-status row of a target: replicas ready of desired (as its profile counts them), restarts of its
    current Pods."""
    ready, desired = state.profile.progress(state.obj) if state.obj is not None else (None, None)
    restarts = sum(int(entry.get("restartCount") or 0) for pod in state.pods.values()
                   for entry in (pod.get("status") or {}).get("containerStatuses") or [])
    return Progress(state.label, state.state, ready, desired, restarts, (state.finished or now) - state.started,
                    state.reason)
