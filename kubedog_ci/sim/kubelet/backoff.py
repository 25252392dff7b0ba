"""client-go's flowcontrol.Backoff as the kubelet uses it, and Go's Duration.String for its messages.

The kubelet keeps one Backoff for crash loops and one for image pulls, both starting at 10s, doubling up to
300s, and forgetting an entry once nothing happened for twice the maximum (so a container that ran for ten
minutes starts over at 10s). The DaemonSet controller's back-off for failed daemon pods is the same type with
other bounds. Times here are simulated seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL_SECONDS = 10.0
MAX_SECONDS = 300.0


@dataclass
class Backoff:
    """One key's entry: the current delay and when it was last bumped, within its initial and maximum delay."""

    delay: float = 0.0
    last_update: float | None = None
    initial: float = INITIAL_SECONDS
    maximum: float = MAX_SECONDS

    def _expired(self, event_time: float) -> bool:
        """hasExpired: stable for twice the maximum, or never bumped."""
        return self.last_update is None or event_time - self.last_update > 2 * self.maximum

    def in_backoff_since(self, event_time: float, now: float) -> bool:
        """IsInBackOffSince: less than `delay` has passed since `event_time` (a container's finish)."""
        return not self._expired(event_time) and now - event_time < self.delay

    def in_backoff_since_update(self, now: float) -> bool:
        """IsInBackOffSinceUpdate: less than `delay` has passed since the last bump (a failed pull)."""
        return not self._expired(now) and now - (self.last_update or 0.0) < self.delay

    def next(self, event_time: float, now: float) -> None:
        """Next: start at the initial delay, or double it up to the maximum."""
        self.delay = self.initial if self._expired(event_time) else min(self.delay * 2, self.maximum)
        self.last_update = now


def _fraction(value: int, digits: int) -> str:
    """Go's fmtFrac: the fractional digits without trailing zeros, with the dot only when needed."""
    text = f"{value:0{digits}d}".rstrip("0")
    return f".{text}" if text else ""


def go_duration(seconds: float) -> str:
    """time.Duration.String(): 10s, 1m20s, 5m0s, 1.5s, 523ms."""
    ns = round(seconds * 1_000_000_000)
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{ns // 1_000}{_fraction(ns % 1_000, 3)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{ns // 1_000_000}{_fraction(ns % 1_000_000, 6)}ms"
    whole, frac = divmod(ns, 1_000_000_000)
    text = f"{whole % 60}{_fraction(frac, 9)}s"
    minutes, hours = whole // 60, whole // 3600
    if minutes:
        text = f"{minutes % 60}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text
