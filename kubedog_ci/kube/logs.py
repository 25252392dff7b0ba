"""A container's log as a producer thread: every line exactly once, in order, until the container is done for good.

CI users judge a rollout by its logs, so a lost or doubled line is a wrong answer. Streams get cut (network
errors, API server restarts, proxies), so the follower reads with `timestamps=true`, remembers the timestamp of
the last line it delivered and, after a cut, asks again with `sinceTime` set to it. The kubelet answers every
line with timestamp >= sinceTime (and the API server may round sinceTime down to the second), so the follower
drops what it has already delivered: older lines, and as many lines with exactly the last timestamp as it has
already passed on. Lines are split across chunk boundaries; a line longer than `max_line_bytes` is cut with a
marker and the rest of it is skipped, so a container printing megabytes without a newline costs bounded memory.

Whether a stream ended "for good" is read from the pod, never guessed from the stream: the follower ends with
LogEnded when the pod is gone, or the container has terminated and its restart policy will not run it again;
then it reads once more from the last timestamp without following, to pick up anything a cut made it miss. A
container that restarts is followed into its next instance (the kubelet serves the new instance's log), and if
the stream was cut just as the old instance ended, the old instance's rest is read with `previous=true` first.
A container that has not started yet (400 "waiting to start") is polled with back-off.
"""

from __future__ import annotations

import calendar
import codecs
import contextlib
import queue
import re
import threading
from dataclasses import dataclass

from kubernetes import client

from kubedog_ci.kube.http import (
    DEFAULT_API_TIMEOUT,
    TRANSPORT_ERRORS,
    ApiError,
    Backoff,
    GiveUp,
    Requester,
    Stopped,
)
from kubedog_ci.kube.messages import LogAttached, LogEnded, LogInstanceRead, LogLines
from kubedog_ci.rules.objects import container_statuses

STREAM_SILENCE = 120.0
"""Seconds without a byte after which a followed log connection is presumed dead and re-opened with sinceTime
(a quiet container costs one cheap reconnect per interval; a dead TCP connection is not waited on forever)."""
TIMESTAMP_ALLOWANCE = 64
"""Bytes of a raw line allowed for the `timestamp ` prefix on top of max_line_bytes before the line is cut."""
_RFC3339 = re.compile(rb"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


def parse_timestamp_ns(text: bytes | str) -> int | None:
    """Nanoseconds since the epoch of an RFC3339(Nano) time, or None when `text` is not one.

    Compared as numbers, not strings: Go's RFC3339Nano drops trailing zeros, so string order is not time order.
    """
    raw = text.encode() if isinstance(text, str) else text
    match = _RFC3339.fullmatch(raw)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    zone = match.group(8)
    if zone != b"Z":
        sign = 1 if zone[:1] == b"+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    fraction = (match.group(7) or b"").ljust(9, b"0")
    return seconds * 1_000_000_000 + int(fraction or b"0")


_SECONDS: dict[bytes, int | None] = {}
"""`YYYY-MM-DDTHH:MM:SS` -> nanoseconds since the epoch, for `_stamp_ns`; a few seconds' worth is all it needs."""


def _stamp_ns(stamp: bytes) -> int | None:
    """parse_timestamp_ns, fast for the kubelet's own form (`2026-01-01T00:00:00.123456789Z`): each second's
    date and time are parsed once, as a followed log brings thousands of lines a second."""
    if len(stamp) > 21 and stamp[19] == 46 and stamp[-1] == 90:  # ".", "Z"
        fraction = stamp[20:-1]
        if len(fraction) <= 9 and fraction.isdigit():
            head = stamp[:19]
            if head not in _SECONDS:
                if len(_SECONDS) >= 64:
                    _SECONDS.clear()
                _SECONDS[head] = parse_timestamp_ns(head + b"Z")
            seconds = _SECONDS[head]
            return None if seconds is None else seconds + int(fraction.ljust(9, b"0"))
    return parse_timestamp_ns(stamp)


def _all_stamps(stamps: tuple[str, ...]) -> bool:
    """Whether each word looks like the kubelet's RFC3339(Nano) stamp, by counts over all of them at once (the
    first and last are parsed anyway): 20 to 35 characters each on average, one `T` and at least two `:` each."""
    joined = "".join(stamps)
    count = len(stamps)
    return 20 * count <= len(joined) <= 35 * count and joined.count("T") == count and joined.count(":") >= 2 * count


def _decode_prefix(data: bytes) -> str:
    """Decode UTF-8, leaving out a multi-byte character that a cut split (invalid bytes become U+FFFD)."""
    return codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=False)


@dataclass
class _PodView:
    """What the pod says about the followed container, reduced to what the follower decides on."""

    gone: bool = False
    started: bool = False
    """The kubelet has (or had) an instance whose log it can serve."""
    finished: str | None = None
    """Set when the container will not run again: the reason LogEnded gives."""
    current_id: str = ""
    previous_id: str = ""


class LogFollower(threading.Thread):
    """Follow (or, with previous=True, read once) one container's log, putting LogLines and LogEnded on `out`,
    LogAttached once its first followed stream is open and LogInstanceRead whenever a followed stream ends
    normally (its instance ended).

    `since` (RFC3339) or `tail_lines` shape only the first request; every reconnection continues from the last
    line delivered. LogEnded ends every run except one ended by `stop` (nothing is put then); its reason is
    `terminated: REASON (exit code N)`, `pod deleted`, `pod Succeeded|Failed`, for previous=True `previous
    instance read` or `no previous instance: …`, or the one-paragraph message when the API refused (401/403)
    or stayed unreachable past `api_timeout`. `reconnects` counts re-opened streams, for tests and diagnostics.
    """

    def __init__(self, api: client.ApiClient, namespace: str, pod: str, container: str, out: queue.Queue, *,
                 since: str | None = None, previous: bool = False, tail_lines: int | None = None,
                 stop: threading.Event, max_line_bytes: int = 1 << 20,
                 api_timeout: float = DEFAULT_API_TIMEOUT) -> None:
        super().__init__(name=f"logs {namespace}/{pod}[{container}]", daemon=True)
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.out = out
        self.since = since
        self.previous = previous
        self.tail_lines = tail_lines
        self.stop = stop
        self.max_line_bytes = max_line_bytes
        self.reconnects = 0
        self._requests = Requester(api, stop, api_timeout)
        self._last_ns: int | None = None
        self._last_ts = ""
        self._same = 0
        """Lines delivered whose timestamp equals _last_ns."""
        self._skip_same = 0
        """On the current connection: lines with timestamp _last_ns still to drop as already delivered."""
        self._fresh = 0
        """Lines delivered on the current connection."""
        self._uid: str | None = None
        self._instance = ""
        self._attached = False
        self._pod_path = f"/api/v1/namespaces/{namespace}/pods/{pod}"
        self._pod_what = f'pod "{pod}" in namespace "{namespace}"'
        self._log_what = f'the log of container "{container}" of {self._pod_what}'

    def run(self) -> None:
        try:
            if self.previous:
                self._end(self._read_complete(previous=True, missing="no previous instance"))
            else:
                self._follow()
        except Stopped:
            return
        except GiveUp as err:
            self._end(err.message)
        except Exception as err:  # a bug here must not leave the engine waiting for a LogEnded
            if not self.stop.is_set():
                self._end(f"internal error while reading {self._log_what}: {err!r}")

    def _end(self, reason: str) -> None:
        self.out.put(LogEnded(self.namespace, self.pod, self.container, reason))

    # --- the follow loop --------------------------------------------------------------------------------------

    def _follow(self) -> None:
        waiting = Backoff()
        while True:
            view = self._inspect()
            if view.gone:
                return self._end("pod deleted")
            if self._instance and view.previous_id == self._instance and view.current_id != self._instance:
                self._read_complete(previous=True, missing="")
            if view.current_id:
                self._instance = view.current_id
            if view.finished:
                self._read_complete(previous=False, missing="")
                return self._end(view.finished)
            if not view.started:
                self._requests.sleep(waiting.next())
                continue
            try:
                self._read(follow=True, previous=False)
            except ApiError as err:
                if err.status in (400, 404):  # waiting to start / pod just deleted: the pod will tell
                    self._requests.sleep(waiting.next())
                else:
                    self._requests.failed(err, "get", self._log_what)
                continue
            except (*TRANSPORT_ERRORS, ValueError) as err:
                self.reconnects += 1
                if not self._fresh:
                    self._requests.failed(err, "get", self._log_what)
                continue
            self.out.put(LogInstanceRead(self.namespace, self.pod, self.container, self._instance))
            if self._fresh:
                waiting.reset()
            else:  # e.g. a crashed instance in back-off: its log is whole, the next has not started
                self._requests.sleep(waiting.next())

    def _read_complete(self, *, previous: bool, missing: str) -> str:
        """Read without following until the answer ends normally; a 400/404 answer returns `missing: message`."""
        while True:
            try:
                self._read(follow=False, previous=previous)
                return "previous instance read" if previous else ""
            except ApiError as err:
                if err.status in (400, 404):
                    return f"{missing}: {err.message}" if missing else ""
                self._requests.failed(err, "get", self._log_what)
            except (*TRANSPORT_ERRORS, ValueError) as err:
                self.reconnects += 1
                if not self._fresh:
                    self._requests.failed(err, "get", self._log_what)

    def _inspect(self) -> _PodView:
        """GET the pod (retrying) and reduce it to what the follow loop needs."""
        while True:
            try:
                pod = self._requests.get_json(self._pod_path)
                break
            except ApiError as err:
                if err.status == 404:
                    return _PodView(gone=True)
                self._requests.failed(err, "get", self._pod_what)
            except (*TRANSPORT_ERRORS, ValueError) as err:
                self._requests.failed(err, "get", self._pod_what)
        uid = (pod.get("metadata") or {}).get("uid")
        if self._uid is None:
            self._uid = uid
        elif uid != self._uid:  # same name, another pod: the one followed is gone
            return _PodView(gone=True)
        return view_of(pod, self.container)

    # --- one request ------------------------------------------------------------------------------------------

    def _query(self, *, follow: bool, previous: bool) -> dict[str, str]:
        query = {"container": self.container, "timestamps": "true"}
        if follow:
            query["follow"] = "true"
        if previous:
            query["previous"] = "true"
        if self._last_ns is not None:
            query["sinceTime"] = self._last_ts
        else:
            if self.since:
                query["sinceTime"] = self.since
            if self.tail_lines is not None:
                query["tailLines"] = str(self.tail_lines)
        return query

    def _read(self, *, follow: bool, previous: bool) -> None:
        """One log request, its lines delivered; returns on a normal end, raises on an error or a cut.

        Without follow the answer is complete when it ends normally, so a last line lacking its newline is
        delivered; after a followed stream it is kept back, as the next request returns it whole.
        """
        self._fresh = 0
        self._skip_same = self._same if self._last_ns is not None else 0
        response = self._requests.open(f"{self._pod_path}/log", self._query(follow=follow, previous=previous),
                                       read_timeout=STREAM_SILENCE if follow else 30.0, accept="*/*")
        if follow and not self._attached:
            self._attached = True
            self.out.put(LogAttached(self.namespace, self.pod, self.container))
        limit = self.max_line_bytes + TIMESTAMP_ALLOWANCE
        partial = bytearray()
        """The start of a line whose end has not come yet."""
        skipping = False
        """The rest of a line cut at `limit` is being skipped, up to its newline."""
        with contextlib.closing(self._requests.stream_chunks(response)) as chunks:
            for chunk in chunks:
                if skipping:
                    end = chunk.find(b"\n")
                    if end < 0:
                        continue
                    skipping, chunk = False, chunk[end + 1:]
                *lines, rest = chunk.split(b"\n")
                if lines and partial:
                    lines[0] = bytes(partial + lines[0])
                    partial.clear()
                partial += rest
                if len(partial) > limit:
                    lines.append(bytes(partial[:limit]))
                    partial.clear()
                    skipping = True
                if lines:
                    self._deliver(lines, limit)
        if partial and not follow:
            self._deliver([bytes(partial)], limit)

    def _deliver(self, lines: list[bytes], limit: int) -> None:
        """Put the lines not delivered before on the queue, as one LogLines (see the module docstring): the whole
        read at once when it can (`_deliver_all`), else line by line."""
        if not self._deliver_all(lines):
            self._deliver_each(lines, limit)

    def _deliver_all(self, lines: list[bytes]) -> bool:
        """The common case, in a few passes over the whole read instead of Python work per line: every line is
        `TIMESTAMP BODY`, none is too long to show whole, and its first line is newer than anything delivered
        (lines come in order, so all are). Then only the first timestamp is parsed (compared with the last one
        delivered) and the last is remembered with its count, for resuming; False when the read is not like
        that (right after a reconnect, a line without a timestamp, a long line), for `_deliver_each`."""
        data = b"\n".join(lines)
        if len(data) > self.max_line_bytes:
            return False
        stamps, spaces, texts = zip(*[line.partition(" ") for line in data.decode("utf-8", "replace").split("\n")],
                                    strict=True)
        if not _all_stamps(stamps) or spaces.count(" ") != len(spaces):
            return False
        if self._last_ns is not None:  # newer than the last line delivered, or as old with nothing left to skip
            first = _stamp_ns(stamps[0].encode())
            if first is None or first < self._last_ns or (first == self._last_ns and self._skip_same):
                return False
        last = stamps[-1]
        last_ns, same = _stamp_ns(last.encode()), stamps.count(last)  # equal stamps are together: lines are in order
        before = _stamp_ns(stamps[-same - 1].encode()) if same < len(stamps) else None
        if last_ns is None or (before is not None and before >= last_ns):  # the same instant written otherwise
            return False
        if last_ns == self._last_ns:  # a burst stamped alike goes on from the last read
            same += self._same
        self._last_ns, self._last_ts, self._same, self._skip_same = last_ns, last, same, 0
        self._fresh += len(texts)
        self._requests.progressed()
        self.out.put(LogLines(self.namespace, self.pod, self.container, stamps, texts, self.previous))
        return True

    def _deliver_each(self, lines: list[bytes], limit: int) -> None:
        """Line by line: timestamps are compared as instants, but a line stamped like the one before it (most
        lines of a burst are not) needs no parsing."""
        maximum = self.max_line_bytes
        last_ns, same, skip = self._last_ns, self._same, self._skip_same
        last_stamp = self._last_ts.encode() if last_ns is not None else None
        stamps: list[str] = []
        texts: list[str] = []
        for line in lines:
            raw = line[:limit] if len(line) > limit else line
            stamp, sep, body = raw.partition(b" ")
            ns = last_ns if stamp == last_stamp else _stamp_ns(stamp) if sep else None
            if ns is None:
                stamp, body = b"", raw  # no timestamp: the whole line, and it moves nothing
            elif last_ns is not None and ns <= last_ns:
                if ns < last_ns:
                    continue
                if skip > 0:
                    skip -= 1
                    continue
                same += 1
            else:
                last_ns, last_stamp, same, skip = ns, stamp, 1, 0
            if len(body) > maximum:
                texts.append(_decode_prefix(body[:maximum]) + f" …[line cut at {maximum} bytes]")
            else:
                texts.append(body.decode("utf-8", "replace"))
            stamps.append(stamp.decode("ascii", "replace"))
        self._last_ns, self._same, self._skip_same = last_ns, same, skip
        if last_stamp is not None:
            self._last_ts = last_stamp.decode("ascii", "replace")
        if texts:
            self._fresh += len(texts)
            self._requests.progressed()
            self.out.put(LogLines(self.namespace, self.pod, self.container, tuple(stamps), tuple(texts),
                                  self.previous))


def _will_restart(pod: dict, container: str, exit_code: int) -> bool:
    """kubelet's ShouldContainerBeRestarted for a terminated container of a pod that is not being deleted."""
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    init = next((c for c in spec.get("initContainers") or [] if c.get("name") == container), None)
    if init is not None:
        if init.get("restartPolicy") == "Always":  # a sidecar
            return True
        return policy != "Never" and exit_code != 0
    if any(c.get("name") == container for c in spec.get("ephemeralContainers") or []):
        return False
    if policy == "Never":
        return False
    return not (policy == "OnFailure" and exit_code == 0)


def view_of(pod: dict, container: str) -> _PodView:
    """Whether `container` of `pod` has a log to read, and whether it will never run again (and why)."""
    status = pod.get("status") or {}
    entry = next((entry for entry in [*container_statuses(pod), *(status.get("ephemeralContainerStatuses") or [])]
                  if entry.get("name") == container), {})
    state = entry.get("state") or {}
    last = (entry.get("lastState") or {}).get("terminated") or {}
    terminated = state.get("terminated") if isinstance(state.get("terminated"), dict) else None
    view = _PodView(current_id=str(entry.get("containerID") or (terminated or {}).get("containerID") or ""),
                    previous_id=str(last.get("containerID") or ""))
    view.started = "running" in state or terminated is not None or bool(last)
    phase = status.get("phase")
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if terminated is not None:
        code = int(terminated.get("exitCode") or 0)
        if deleting or phase in ("Succeeded", "Failed") or not _will_restart(pod, container, code):
            view.finished = f"terminated: {terminated.get('reason') or 'Unknown'} (exit code {code})"
    elif phase in ("Succeeded", "Failed"):
        view.finished = f"pod {phase}"
    return view
