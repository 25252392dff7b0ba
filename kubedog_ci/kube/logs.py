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

from kubedog_ci.engine.events import LogEnded, LogLine
from kubedog_ci.kube.retry import (
    DEFAULT_API_TIMEOUT,
    TRANSPORT_ERRORS,
    ApiError,
    Backoff,
    GiveUp,
    Requester,
    Stopped,
)

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
    """Follow (or, with previous=True, read once) one container's log, putting LogLine and LogEnded on `out`.

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
        except Exception as err:  # a bug here must not leave the consumer waiting for a LogEnded
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
        limit = self.max_line_bytes + TIMESTAMP_ALLOWANCE
        mark = self.previous
        buffer = bytearray()
        skipping = False
        with contextlib.closing(self._requests.stream_chunks(response)) as chunks:
            for chunk in chunks:
                start = 0
                while start < len(chunk):
                    end = chunk.find(b"\n", start)
                    if skipping:
                        if end < 0:
                            break
                        skipping = False
                        start = end + 1
                        continue
                    piece = chunk[start:] if end < 0 else chunk[start:end]
                    buffer += piece
                    if len(buffer) > limit:
                        self._deliver(bytes(buffer[:limit]), mark, cut=True)
                        buffer.clear()
                        skipping = end < 0
                    elif end >= 0:
                        self._deliver(bytes(buffer), mark)
                        buffer.clear()
                    if end < 0:
                        break
                    start = end + 1
        if buffer and not skipping and not follow:
            self._deliver(bytes(buffer), mark)

    def _deliver(self, raw: bytes, previous: bool, cut: bool = False) -> None:
        """Put one line on the queue unless it was delivered before (see the module docstring)."""
        stamp, sep, rest = raw.partition(b" ")
        ns = parse_timestamp_ns(stamp) if sep else None
        body = rest if ns is not None else raw
        if cut or len(body) > self.max_line_bytes:
            text = _decode_prefix(body[: self.max_line_bytes]) + f" …[line cut at {self.max_line_bytes} bytes]"
        else:
            text = body.decode("utf-8", "replace")
        if ns is not None and self._last_ns is not None and ns <= self._last_ns:
            if ns < self._last_ns:
                return
            if self._skip_same > 0:
                self._skip_same -= 1
                return
            self._same += 1
        elif ns is not None:
            self._last_ns, self._same, self._skip_same = ns, 1, 0
        timestamp = stamp.decode("ascii", "replace") if ns is not None else ""
        if ns is not None:
            self._last_ts = timestamp
        self._fresh += 1
        self._requests.progressed()
        self.out.put(LogLine(self.namespace, self.pod, self.container, timestamp, text, previous))


def _find(statuses: list[dict] | None, name: str) -> dict | None:
    return next((s for s in statuses or [] if s.get("name") == name), None)


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
    entry = (_find(status.get("containerStatuses"), container)
             or _find(status.get("initContainerStatuses"), container)
             or _find(status.get("ephemeralContainerStatuses"), container)) or {}
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
