"""The simulated cluster's wall clock: real time shifted by a fixed offset (`kubedog sim serve --clock-offset`).

A CI runner's clock and its cluster's API server clock are rarely the same, and a tool that compares them (Events
"since the apply", logs `sinceTime`, ages) must still give the right verdict when they disagree by minutes. So
everything the simulator writes as a wall-clock time (creationTimestamp, Event and condition times, container
start and finish, log line timestamps, the HTTP Date header) and every wall-clock time it reads back (log
`sinceTime`/`sinceSeconds`, a condition's age) comes from one Clock. Delays and time scaling stay on the monotonic
clock (see SimLoop): the offset moves the cluster's "now", not how fast it passes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


def rfc3339(moment: datetime) -> str:
    """Second-precision UTC time as the API serializes metav1.Time."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Clock:
    """Wall-clock time `offset` seconds away from this machine's (negative: the cluster is behind)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = float(offset)
        self._offset_ns = round(self.offset * 1_000_000_000)

    def time(self) -> float:
        """Seconds since the epoch, like time.time()."""
        return time.time() + self.offset

    def time_ns(self) -> int:
        return time.time_ns() + self._offset_ns

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def stamp(self, later: float = 0.0) -> str:
        """metav1.Time of now, or of `later` seconds from now."""
        return rfc3339(self.now() + timedelta(seconds=later))
