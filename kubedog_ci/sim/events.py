"""Event recording with the real event correlator's behaviour.

client-go's EventCorrelator does two things a tracker sees: identical events (same source, object, type,
reason and message) within ten minutes become one Event whose `count` and `lastTimestamp` grow, and once ten
events with the same source, object, type and reason but different messages arrive within ten minutes, the
following ones are folded into one Event whose message starts with "(combined from similar events): ".
The same objects are served as events.k8s.io/v1 by converting on read (`to_events_v1`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kubedog_ci.sim.api import Api
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.store import clone

_WINDOW_SECONDS = 600.0
_SIMILAR_THRESHOLD = 10


@dataclass
class _Seen:
    name: str
    namespace: str
    at: float


class EventRecorder:
    """Writes core/v1 Events for objects, aggregating like the real correlator."""

    def __init__(self, api: Api) -> None:
        self._api = api
        self._rt = api.rt("/events")
        self._exact: dict[tuple, _Seen] = {}
        self._similar: dict[tuple, tuple[set[str], float, str | None]] = {}
        self._clock = api.loop.clock
        self._seq = 0
        """The last Event name suffix: the recording time in nanoseconds, as the real recorder names Events."""

    def record(self, obj: dict, event_type: str, reason: str, message: str, component: str,
               host: str | None = None, field_path: str | None = None) -> None:
        """Emit one Event about `obj` (any stored object) from `component` (kubelet, deployment-controller…)."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        involved = {"kind": obj.get("kind"), "namespace": meta.get("namespace"), "name": meta["name"],
                    "uid": meta.get("uid"), "apiVersion": obj.get("apiVersion"),
                    "resourceVersion": meta.get("resourceVersion")}
        if not meta.get("namespace"):
            involved.pop("namespace")
        if field_path:
            involved["fieldPath"] = field_path
        now = time.monotonic()
        base = (component, host, involved["kind"], namespace, meta["name"], meta.get("uid"), event_type, reason)
        messages, since, combined = self._similar.get(base, (set(), now, None))
        if now - since > _WINDOW_SECONDS:
            messages, since, combined = set(), now, None
        messages.add(message)
        if len(messages) >= _SIMILAR_THRESHOLD:
            message = "(combined from similar events): " + message
            key = (*base, "combined")
        else:
            key = (*base, message)
        self._similar[base] = (messages, since, combined)
        seen = self._exact.get(key)
        if seen and now - seen.at <= _WINDOW_SECONDS and self._bump(seen, message, involved):
            seen.at = now
            return
        self._seq = max(self._seq + 1, self._clock.time_ns())
        name = f"{meta['name']}.{self._seq:x}"
        stamp = self._clock.stamp()
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved, "reason": reason, "message": message,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": event_type,
            "eventTime": None, "reportingComponent": component, "reportingInstance": host or "",
        }
        try:
            self._api.create(self._rt, namespace, event)
        except ApiError:
            return
        self._exact[key] = _Seen(name, namespace, now)

    def _bump(self, seen: _Seen, message: str, involved: dict) -> bool:
        current = self._api.store.get("/events", seen.namespace, seen.name)
        if current is None:
            return False
        updated = clone(current)
        updated["count"] = int(updated.get("count") or 1) + 1
        updated["lastTimestamp"] = self._clock.stamp()
        updated["message"] = message
        updated["involvedObject"] = involved
        try:
            self._api.update(self._rt, seen.namespace, seen.name, updated)
        except ApiError:
            return False
        return True


def to_events_v1(event: dict) -> dict:
    """The events.k8s.io/v1 view of a stored core/v1 Event."""
    out = {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": event["metadata"],
        "eventTime": event.get("eventTime"),
        "reportingController": event.get("reportingComponent") or (event.get("source") or {}).get("component", ""),
        "reportingInstance": event.get("reportingInstance") or (event.get("source") or {}).get("host", ""),
        "action": event.get("action") or "",
        "reason": event.get("reason"), "regarding": event.get("involvedObject"),
        "note": event.get("message"), "type": event.get("type"),
        "deprecatedSource": event.get("source") or {},
        "deprecatedFirstTimestamp": event.get("firstTimestamp"),
        "deprecatedLastTimestamp": event.get("lastTimestamp"),
        "deprecatedCount": event.get("count"),
    }
    if event.get("series"):
        out["series"] = event["series"]
    shown = {k: v for k, v in out.items() if v is not None}
    shown["eventTime"] = event.get("eventTime")  # null for correlator-written events, as the real API serves them
    return shown


def from_events_v1(event: dict) -> dict:
    """A core/v1 Event from an events.k8s.io/v1 one written by a client."""
    return {
        "apiVersion": "v1", "kind": "Event", "metadata": event.get("metadata") or {},
        "involvedObject": event.get("regarding") or {}, "reason": event.get("reason"),
        "message": event.get("note"), "type": event.get("type"),
        "source": event.get("deprecatedSource") or {"component": event.get("reportingController", "")},
        "firstTimestamp": event.get("deprecatedFirstTimestamp"),
        "lastTimestamp": event.get("deprecatedLastTimestamp"),
        "count": event.get("deprecatedCount"), "eventTime": event.get("eventTime"),
        "action": event.get("action"), "reportingComponent": event.get("reportingController"),
        "reportingInstance": event.get("reportingInstance"),
    }
