"""Which watches a run opens, and when: its cost to the API server does not grow with what else the namespace holds.

A target is judged from its own object, the Events of its namespace, and the related objects its kind profile
names (rules.profile: Pods, ReplicaSets, ControllerRevisions, EndpointSlices). A platform team's namespace holds
thousands of old Events and of other applications' Pods, none of them the run's business, so:

- Events are never listed: they are watched from the resourceVersion the collection had when the run began
  (Options.events_since, taken before an apply; else when the watch starts), so no old one is transferred. The
  tracker still drops any Event older than the run's origin.
- A resource type that few targets of a namespace use (at most Options.selective_watches of them) is watched per
  target with a selector: a target's own object by name (metadata.name), its related objects by the selector its
  profile reads (KindProfile.selects: a workload's spec.selector, a Job's controller-uid, a Pod's name, a Service's
  selector and its EndpointSlices' service-name label). Most of those are read off the target's object, so they
  start once it is seen, and the target is judged once they have listed. Equal selectors share one watch.
- A type many targets of a namespace use is watched once there, unfiltered, for all of them: each selective
  watch costs a list, a watch and a connection, and past a few of them one list of the namespace costs less.

Watches of one type may overlap (a Service's selector and its Deployment's pick the same Pods): the View keeps
the newest version of each object and drops it only when no watch holds it any more (engine.state.View).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubedog_ci.engine.outcome import Options
from kubedog_ci.engine.producers import Producers
from kubedog_ci.engine.sink import Sink
from kubedog_ci.engine.state import EVENTS, RELATED_TYPES, TargetState, stream_of
from kubedog_ci.engine.target import TargetKey
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.kube.http import resource_phrase
from kubedog_ci.rules import slim
from kubedog_ci.rules.selectors import EVERYTHING, NOTHING, Selector, by_name

WatchKey = tuple[str, str, str, Selector]
"""(API group, plural, namespace, selector): one watch, whatever Resource object names its type."""


@dataclass(frozen=True)
class Watch:
    """One list-then-watch of a type in a namespace ("" for a cluster-scoped type), of the objects `selector` picks."""

    resource: Resource
    namespace: str
    selector: Selector = EVERYTHING

    @property
    def key(self) -> WatchKey:
        return (self.resource.group, self.resource.plural, self.namespace, self.selector)

    @property
    def where(self) -> tuple[str, str, str]:
        """(API group, plural, namespace): the permission it needs."""
        return (self.resource.group, self.resource.plural, self.namespace)


def key_of(resource: Resource, namespace: str | None, selector: Selector) -> WatchKey:
    """The key of the watch a message (ObjectEvent, Synced, WatchFailed) came from."""
    return (resource.group, resource.plural, namespace or "", selector)


class Plan:
    """Decides, for each target, which watches it is judged from: per target with a selector, or shared."""

    def __init__(self, states: Iterable[TargetState], selective: int) -> None:
        users: dict[tuple[str, str, str], set[object]] = {}
        for state in states:
            for resource in _types(state):
                users.setdefault((resource.group, resource.plural, state.target.namespace), set()).add(
                    state.target.key)
        self.shared = {where for where, targets in users.items() if len(targets) > selective}
        """(API group, plural, namespace) watched once, unfiltered, for every target there."""

    def own(self, state: TargetState) -> Watch:
        """The watch of the target's own object: by name, or the shared one of its type."""
        target = state.target
        where = (target.resource.group, target.resource.plural, target.namespace)
        return Watch(target.resource, target.namespace, EVERYTHING if where in self.shared else by_name(target.name))

    def needs(self, state: TargetState, obj: dict | None) -> tuple[list[Watch], bool]:
        """The watches the target is judged from, as far as its object `obj` (None: not seen) tells: its own,
        Events (namespaced targets), and one per related type; and whether the selector of one of those can only
        be read off its object, not seen yet (that watch is not among them)."""
        target = state.target
        found = [self.own(state)]
        waiting = False
        if target.namespace:
            found.append(Watch(EVENTS, target.namespace))
            for stream in state.profile.streams:
                resource = RELATED_TYPES[stream]
                if (resource.group, resource.plural, target.namespace) in self.shared:
                    selector: Selector | None = EVERYTHING
                else:
                    selector = state.profile.selects(stream, target.name, obj)
                if selector is None and obj is None:
                    waiting = True
                    continue
                if selector is NOTHING:
                    continue
                found.append(Watch(resource, target.namespace, selector or EVERYTHING))
        return list({watch.key: watch for watch in reversed(found)}.values())[::-1], waiting


def _types(state: TargetState) -> list[Resource]:
    """The types the target's watches list: its own and its related ones (Events are never listed)."""
    types = [state.target.resource]
    if state.target.namespace:
        types += [RELATED_TYPES[stream] for stream in state.profile.streams]
    return types


class Watching:
    """The run's watches: which are open, which have listed (or been refused), and which each target is judged
    from as its object last told; it opens them through the producers."""

    def __init__(self, states: Mapping[TargetKey, TargetState], options: Options, producers: Producers,
                 sink: Sink) -> None:
        self.producers = producers
        self.sink = sink
        self.planner = Plan(states.values(), options.selective_watches)
        self.own: dict[TargetKey, WatchKey] = {key: self.planner.own(state).key for key, state in states.items()}
        """The watch each target's own object comes from: only its word counts for the target (another watch of
        the type may report the object too, or report it gone when it no longer matches that watch's selector)."""
        self.needs: dict[TargetKey, tuple[list[Watch], bool]] = {
            key: self.planner.needs(state, None) for key, state in states.items()}
        """Each target's watches as its object last told (Plan.needs)."""
        self.opened: set[WatchKey] = set()
        self.synced: set[WatchKey] = set()
        """The watches whose initial list is in, or that could not be opened (a related type the account may not
        read): nothing more will come from them, so nobody waits for them."""
        self.refused: set[tuple[str, str, str]] = set()
        """(group, plural, namespace) of the related types a watch failed for: not asked for again, and told once."""
        self.events_since = dict(options.events_since)

    def initial(self) -> list[Watch]:
        """The watches to open at the start, each once: those the targets need before their objects are seen."""
        wanted: dict[WatchKey, Watch] = {}
        for watches, _ in self.needs.values():
            for watch in watches:
                wanted.setdefault(watch.key, watch)
        return list(wanted.values())

    def start(self, watch: Watch) -> None:
        """Open a watch unless it is open, or its type is one the account may not read there (then it counts as
        listed)."""
        if watch.key in self.opened:
            return
        self.opened.add(watch.key)
        if watch.where in self.refused:
            self.synced.add(watch.key)
            return
        self.sink.detail(f"watching {phrase(watch.resource, watch.namespace or None, watch.selector)}")
        stream = stream_of(watch.resource)
        events = (watch.resource.group, watch.resource.plural) == (EVENTS.group, EVENTS.plural)
        # What is kept of each object (rules.slim): of a target's own, all a rule may read; of a related one, what
        # the rules read; of an Event, nothing past the handling of it.
        trim = slim.target if self.owns(watch.key) else slim.RELATED[stream] if stream is not None else None
        self.producers.watch(watch.resource, watch.namespace or None, watch.selector, trim=trim,
                             since=self.events_since.get(watch.namespace, "") if events else None)

    def plan(self, state: TargetState, obj: dict | None) -> None:
        """What the target is judged from, now that its object says more (its selector): new watches start."""
        self.needs[state.target.key] = needs = self.planner.needs(state, obj)
        for watch in needs[0]:
            self.start(watch)

    def complete(self, state: TargetState) -> bool:
        """True once every watch the target is judged from has listed: before that, a Job that failed before
        the run looks like one without Pods, and its diagnosis would miss the Pod that failed. A target not
        found needs only its own watch to have listed."""
        if self.own[state.target.key] not in self.synced:
            return False
        if state.obj is None:
            return True
        watches, waiting = self.needs[state.target.key]
        return not waiting and all(watch.key in self.synced for watch in watches)

    def is_own(self, state: TargetState, key: WatchKey) -> bool:
        return self.own[state.target.key] == key

    def owns(self, key: WatchKey) -> bool:
        """Whether the watch is some target's own (its failure is a cluster error)."""
        return key in self.own.values()

    def listed(self, key: WatchKey) -> None:
        self.synced.add(key)

    def refuse(self, key: WatchKey) -> bool:
        """A related watch failed: it counts as listed; True when its type had not failed there before."""
        self.synced.add(key)
        if key[:3] in self.refused:
            return False
        self.refused.add(key[:3])
        return True


def phrase(resource: Resource, namespace: str | None, selector: Selector = EVERYTHING) -> str:
    """`pods in namespace "web" with app=web`: how -v and the notices name a watch."""
    return resource_phrase(resource.plural, resource.group, namespace, resource.namespaced, selector)
