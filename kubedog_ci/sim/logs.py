"""Container logs as the kubelet keeps them: one buffer per container instance, nanosecond timestamps.

Each line gets a distinct, strictly increasing timestamp, so a reader that resumes with `sinceTime` set to the
last timestamp it saw gets exactly that line again and nothing older (the kubelet's rule is timestamp >=
sinceTime). The previous instance of a restarted container stays readable with `previous=true`.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kubedog_ci.sim.clock import Clock

MAX_LINES_PER_INSTANCE = 200_000
CHUNK_LINES = 1000
"""Lines rendered and sent per chunk: a reader starts on a burst while the rest of it is rendered, as it does on
a kubelet's stream, instead of waiting for all of it."""


@functools.lru_cache(maxsize=64)
def _format_seconds(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def format_ns(ns: int) -> str:
    """RFC3339Nano with all nine digits, as the kubelet prefixes lines with `timestamps=true`. The date part is
    formatted once per second: a followed log of a chatty container renders thousands of lines per second, and
    the simulator must stream faster than the clients it is used to measure."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return f"{_format_seconds(seconds)}.{nanos:09d}Z"


def parse_rfc3339_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC3339 time with up to nine fractional digits."""
    text = text.strip().replace("z", "Z")
    main, _, frac = text.rstrip("Z").partition(".")
    offset = 0
    if not text.endswith("Z"):
        for sign in ("+", "-"):
            if sign in (frac or main[10:]):
                holder = frac if frac else main
                base, _, tz = holder.rpartition(sign)
                hours, _, minutes = tz.partition(":")
                offset = (int(hours) * 3600 + int(minutes or 0) * 60) * (1 if sign == "+" else -1)
                if frac:
                    frac = base
                else:
                    main = base
                break
    seconds = int(datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()) - offset
    nanos = int((frac + "000000000")[:9]) if frac else 0
    return seconds * 1_000_000_000 + nanos


@dataclass
class Instance:
    """The log of one run of one container."""

    lines: deque[tuple[int, str]] = field(default_factory=deque)
    dropped: int = 0
    partial: str = ""
    done: bool = False

    @property
    def total(self) -> int:
        """Lines ever written, counting those rotated away."""
        return self.dropped + len(self.lines)

    def append(self, ts: int, text: str) -> None:
        self.lines.append((ts, text))
        if len(self.lines) > MAX_LINES_PER_INSTANCE:
            self.lines.popleft()
            self.dropped += 1

    def since(self, index: int) -> list[tuple[int, str]]:
        """Lines from absolute index `index` on."""
        return list(itertools.islice(self.lines, max(0, index - self.dropped), None))


class LogStore:
    """All container logs of the cluster, keyed by (pod uid, container name)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or Clock()
        """Line timestamps are the cluster's wall clock (shifted by --clock-offset), like a kubelet's."""
        self._cond = threading.Condition()
        self._logs: dict[tuple[str, str], list[Instance]] = {}
        self._last_ns = 0

    def _stamp(self) -> int:
        self._last_ns = max(self._clock.time_ns(), self._last_ns + 1)
        return self._last_ns

    def start(self, pod_uid: str, container: str) -> None:
        """A new instance of the container started (its first run, or a restart)."""
        with self._cond:
            runs = self._logs.setdefault((pod_uid, container), [])
            if runs and not runs[-1].done:
                runs[-1].done = True
            runs.append(Instance())
            del runs[:-2]
            self._cond.notify_all()

    def write(self, pod_uid: str, container: str, text: str) -> None:
        """Append output; complete lines become log lines, a trailing partial line waits for its end."""
        with self._cond:
            runs = self._logs.get((pod_uid, container))
            if not runs:
                return
            run = runs[-1]
            pieces = (run.partial + text).split("\n")
            run.partial = pieces.pop()
            for piece in pieces:
                run.append(self._stamp(), piece)
            if pieces:
                self._cond.notify_all()

    def finish(self, pod_uid: str, container: str) -> None:
        """The current instance terminated: flush a partial line and end its followers."""
        with self._cond:
            runs = self._logs.get((pod_uid, container))
            if not runs or runs[-1].done:
                return
            run = runs[-1]
            if run.partial:
                run.append(self._stamp(), run.partial)
                run.partial = ""
            run.done = True
            self._cond.notify_all()

    def forget(self, pod_uid: str) -> None:
        """The pod is gone: end every follower of its containers and drop the buffers."""
        with self._cond:
            for key in [k for k in self._logs if k[0] == pod_uid]:
                for run in self._logs.pop(key):
                    run.done = True
            self._cond.notify_all()

    def has_instance(self, pod_uid: str, container: str, previous: bool = False) -> bool:
        with self._cond:
            return len(self._logs.get((pod_uid, container), ())) >= (2 if previous else 1)

    def lines(self, pod_uid: str, container: str) -> list[str]:
        """The current instance's lines without timestamps (for tests and diagnostics)."""
        with self._cond:
            runs = self._logs.get((pod_uid, container))
            return [text for _, text in runs[-1].lines] if runs else []

    def read(self, pod_uid: str, container: str, *, previous: bool = False, since_ns: int | None = None,
             tail_lines: int | None = None, timestamps: bool = False, follow: bool = False,
             limit_bytes: int | None = None, stop: threading.Event | None = None) -> Iterator[bytes]:
        """Yield the log as the kubelet streams it, one or more whole lines per chunk."""
        with self._cond:
            runs = self._logs.get((pod_uid, container)) or []
            if not runs or (previous and len(runs) < 2):
                return
            run = runs[-2] if previous else runs[-1]
            snapshot = list(run.lines)
            sent = run.total
        if since_ns is not None:
            snapshot = [line for line in snapshot if line[0] >= since_ns]
        if tail_lines is not None:
            snapshot = snapshot[-tail_lines:] if tail_lines > 0 else []
        budget = limit_bytes

        def render(batch: list[tuple[int, str]]) -> Iterator[bytes]:
            for start in range(0, len(batch), CHUNK_LINES):
                part = batch[start:start + CHUNK_LINES]
                if timestamps:
                    yield "".join(f"{format_ns(ts)} {text}\n" for ts, text in part).encode()
                else:
                    yield "".join(f"{text}\n" for _, text in part).encode()

        def clip(chunk: bytes) -> tuple[bytes, bool]:
            nonlocal budget
            if budget is None:
                return chunk, False
            if len(chunk) >= budget:
                out, budget = chunk[:budget], 0
                return out, True
            budget -= len(chunk)
            return chunk, False

        for piece in render(snapshot):
            chunk, full = clip(piece)
            yield chunk
            if full:
                return
        if not follow or previous:
            return
        while True:
            with self._cond:
                while run.total <= sent and not run.done and not (stop and stop.is_set()):
                    self._cond.wait(0.5)
                fresh = run.since(sent)
                sent = run.total
                finished = run.done or bool(stop and stop.is_set())
            for piece in render(fresh):
                chunk, full = clip(piece)
                yield chunk
                if full:
                    return
            if finished:
                return
