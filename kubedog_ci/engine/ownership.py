"""Which targets a related object or a Kubernetes Event belongs to, by uid and name, without judging every target
again at every change; and the Events that came before the Pod they are about (the Event watch can beat the Pod
watch), kept to be replayed when the Pod turns up. Owned by the engine's loop thread."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from kubedog_ci.engine.state import STREAM_OF_KIND, TargetState, View
from kubedog_ci.engine.target import TargetKey
from kubedog_ci.rules import Stream
from kubedog_ci.rules.objects import controller_uid, meta, owner_uids, uid

ORPHAN_EVENTS = 1000
"""Events about Pods not known yet, kept to replay."""


class Ownership:
    """Indexes of the targets by name and by the uid of their object as last seen."""

    def __init__(self, states: Iterable[TargetState], view: View) -> None:
        self.view = view
        self.position: dict[TargetKey, int] = {}
        """Each target's place in the run: whose output a shared Pod's lines go under, and in what order."""
        self.named: dict[tuple[str, str, str], list[TargetState]] = {}
        """(namespace, kind, name) -> its targets: what an Event about an object is matched with."""
        for index, state in enumerate(states):
            self.position[state.target.key] = index
            self.named.setdefault((state.target.namespace, state.target.kind, state.target.name), []).append(state)
        self.by_uid: dict[str, TargetState] = {}
        """The uid of each target's object as last seen: how a related object finds the targets it belongs to."""
        self.orphans: OrderedDict[str, list[dict]] = OrderedDict()
        """Pod uid -> the Events about it that came before any target knew the Pod."""

    def seen(self, state: TargetState, obj: dict) -> None:
        self.by_uid[uid(obj)] = state

    def owners(self, *objects: dict | None) -> list[TargetState]:
        """The targets a related object (in each version given) may belong to, in target order: the object itself,
        its controller, its controller's controller (a Deployment's Pod) and the Job its labels name."""
        found: dict[TargetKey, TargetState] = {}
        for obj in objects:
            if obj is None:
                continue
            controller = controller_uid(obj)
            parent = self.view.with_uid(controller) if controller else None
            for owner in {uid(obj), *owner_uids(obj), controller_uid(parent) if parent else None}:
                state = self.by_uid.get(owner) if owner else None
                if state is not None and uid(state.obj or {}) == owner:
                    found[state.target.key] = state
        return sorted(found.values(), key=lambda state: self.position[state.target.key])

    def concerns(self, state: TargetState, obj: dict) -> bool:
        """Whether a related object is one of the target's current Pods or other current related objects."""
        if uid(obj) in state.pods:
            return True
        return state.obj is not None and any(uid(current) == uid(obj)
                                             for current in state.profile.current_related(state.obj, self.view))

    def about(self, event: dict) -> list[tuple[TargetState, dict]]:
        """The targets an Event concerns, each with the object it is about (the target's own, one of its current
        Pods or another current related object), in target order. An Event about a Pod no target knows yet is
        kept as an orphan."""
        regarding = event.get("involvedObject") or {}
        namespace, name, kind = regarding.get("namespace") or "", regarding.get("name") or "", regarding.get("kind")
        event_uid = regarding.get("uid") or ""
        candidates = {state.target.key: state for state in self.named.get((namespace, kind or "", name), ())}
        stream = STREAM_OF_KIND.get(kind or "")
        if stream is not None:
            involved = self.view.with_uid(event_uid) or self.view.get(stream, namespace, name)
            candidates.update((state.target.key, state) for state in self.owners(involved))
        found = []
        for state in sorted(candidates.values(), key=lambda state: self.position[state.target.key]):
            target, obj = state.target, state.obj or {}
            if (target.kind, target.name, target.namespace) == (kind, name, namespace):
                found.append((state, obj))
            elif event_uid in state.pods:
                found.append((state, state.pods[event_uid]))
            elif obj and target.namespace == namespace:
                current = next((related for related in state.profile.current_related(obj, self.view)
                                if related.get("kind", kind) == kind and meta(related).get("name") == name), None)
                if current is not None:
                    found.append((state, current))
        if not found and stream is Stream.PODS and event_uid:
            self._orphan(event_uid, event)
        return found

    def _orphan(self, pod_uid: str, event: dict) -> None:
        self.orphans.setdefault(pod_uid, []).append(event)
        self.orphans.move_to_end(pod_uid)
        while len(self.orphans) > ORPHAN_EVENTS:
            self.orphans.popitem(last=False)

    def adopt(self, pod_uid: str) -> list[dict]:
        """The orphaned Events about a Pod a target now knows, to be replayed."""
        return self.orphans.pop(pod_uid, [])
