"""The simulation loop: one thread runs every controller step and timer, so controllers need no locks.

Delays are given in simulated seconds and multiplied by the time scale, so a test at `--time-scale 0.01` sees
the same order of things as a real cluster, a hundred times faster. Timestamps stay wall-clock: they come from the
loop's Clock (see clock.py), which a `--clock-offset` shifts but no time scale speeds up.
"""

from __future__ import annotations

import heapq
import itertools
import math
import sys
import threading
import time
import traceback
from collections.abc import Callable

from kubedog_ci.sim.clock import Clock


class Timer:
    """A handle to a scheduled call; cancel() makes it a no-op."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class SimLoop:
    """A single worker thread with a timer heap; safe to schedule onto from any thread."""

    def __init__(self, time_scale: float = 1.0, clock: Clock | None = None) -> None:
        self.time_scale = time_scale
        self.clock = clock or Clock()
        """The cluster's wall clock, for every timestamp the simulator writes or compares."""
        self._heap: list[tuple[float, int, Timer, Callable[..., None], tuple]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def scaled(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds * self.time_scale)

    def elapsed(self, since: float) -> float:
        """Simulated seconds since the time.monotonic() moment `since` (infinite at time scale 0, where every
        delay is over at once)."""
        return (time.monotonic() - since) / self.time_scale if self.time_scale > 0 else math.inf

    def call_soon(self, fn: Callable[..., None], *args: object) -> Timer:
        return self._push(time.monotonic(), fn, args)

    def call_later(self, sim_seconds: float, fn: Callable[..., None], *args: object) -> Timer:
        return self._push(time.monotonic() + self.scaled(sim_seconds), fn, args)

    def _push(self, due: float, fn: Callable[..., None], args: tuple) -> Timer:
        timer = Timer()
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), timer, fn, args))
            self._cond.notify()
        return timer

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sim-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                if self._stopping:
                    return
                _, _, timer, fn, args = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            try:
                fn(*args)
            except Exception:  # a controller bug must not stop the whole cluster
                traceback.print_exc(file=sys.stderr)
