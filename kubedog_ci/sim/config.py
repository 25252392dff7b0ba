"""The simulated cluster's settings: time scale, nodes, fault injection, auth and which images fail."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kubedog_ci.durations import parse_duration

ANNOTATION_PREFIX = "sim.kubedog-ci.io/"
"""Annotations under this prefix tell the simulator what no spec can express (see README)."""


def annotation_seconds(obj: dict, key: str) -> float | None:
    """The simulated seconds the annotation `key` asks for (a negative number counts as 0); None when the
    object has no such annotation or it is not a number, so the simulator's default applies."""
    text = (obj["metadata"].get("annotations") or {}).get(key)
    try:
        return max(0.0, float(text)) if text is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Faults:
    """Fault injection, from `--faults watch-drop=10s,gone=0.2,http-error=0.05,latency=50ms,log-cut=5s`."""

    watch_drop: float = 0.0
    gone: float = 0.0
    http_error: float = 0.0
    latency: float = 0.0
    log_cut: float = 0.0

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        if not spec:
            return cls()
        values: dict[str, float] = {}
        names = {"watch-drop": "watch_drop", "gone": "gone", "http-error": "http_error", "latency": "latency",
                 "log-cut": "log_cut"}
        for item in spec.split(","):
            key, sep, raw = item.strip().partition("=")
            if not sep or key not in names:
                raise ValueError(f"unknown fault {item.strip()!r}; known: {', '.join(names)} (e.g. watch-drop=10s)")
            if key in ("gone", "http-error"):
                value = float(raw)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{key} takes a probability between 0 and 1, got {raw!r}")
            else:
                value = parse_duration(raw)
            values[names[key]] = value
        return cls(**values)

    def chance(self, probability: float) -> bool:
        return probability > 0 and random.random() < probability

    def upto(self, duration: float) -> float | None:
        """A random time in (0, duration], or None when the fault is off."""
        return random.uniform(duration * 0.05, duration) if duration > 0 else None


@dataclass(frozen=True)
class DenyRule:
    """Answer 403 to `verb` on `resource` (plural, optionally `plural.group`) in `namespace` ("*" for any)."""

    verb: str
    resource: str
    namespace: str = "*"

    @classmethod
    def parse(cls, text: str) -> DenyRule:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"deny rule {text!r} must be VERB:RESOURCE[:NAMESPACE], e.g. get:deployments.apps:prod")
        return cls(*parts)

    def matches(self, verb: str, resource: str, group: str, namespace: str) -> bool:
        qualified = f"{resource}.{group}" if group else resource
        return (self.verb in ("*", verb) and self.resource in ("*", resource, qualified)
                and self.namespace in ("*", namespace))


@dataclass(frozen=True)
class SimConfig:
    time_scale: float = 1.0
    nodes: int = 3
    node_cpu: str = "4"
    node_memory: str = "8Gi"
    node_pods: int = 110
    faults: Faults = field(default_factory=Faults)
    token: str | None = None
    user: str = "system:admin"
    deny: tuple[DenyRule, ...] = ()
    failing_images: tuple[str, ...] = ("does-not-exist",)
    history_window: int = 10_000
    clock_offset: float = 0.0
    """Seconds the cluster's wall clock is ahead of this machine's (negative: behind); see clock.py."""
