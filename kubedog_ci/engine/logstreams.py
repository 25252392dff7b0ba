"""Which container logs are followed, and the end-of-run drain that prints the lines still on their way.

Every started container of a current Pod is followed once (the follower itself moves on to the next instance when
the container restarts), at most Options.max_log_streams at a time: each stream is a thread and a connection to
the API server (and, through it, to a kubelet). A container waiting for a free stream is started later from the
run's `since`, so none of its lines is lost, only delayed. Owned by the engine's loop thread.
"""

from __future__ import annotations

import math
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from kubedog_ci.engine.producers import Producers
from kubedog_ci.engine.settings import TargetSettings
from kubedog_ci.engine.sink import LogRecord, Sink
from kubedog_ci.engine.state import View, stream_of
from kubedog_ci.kube.messages import LogAttached, LogEnded, LogInstanceRead, LogLines, Message, ObjectEvent
from kubedog_ci.rules import Stream
from kubedog_ci.rules.objects import container_statuses, meta, uid

DRAIN_QUIET, DRAIN_MAX = 0.03, 3.0
"""At the end, log lines still in flight are printed until none came for DRAIN_QUIET seconds (and every
follower has opened its stream, and the log of every finished Pod and ended container instance has been read to
its end), for at most DRAIN_MAX seconds. The quiet counts from the last line, even one before the verdict: a line
written before the verdict left the kubelet before the status that gave it, so logs quiet at the verdict have
nothing on the way."""

ContainerKey = tuple[str, str]
"""(pod uid, container): by uid, because a StatefulSet's replacement Pod has the old one's name, and its follower
ends with the old Pod."""
StreamKey = tuple[str, str, str]
"""(namespace, pod name, container): how the followers' messages name their stream."""


class LogStreams:
    """The followers started, waiting and ended; `since` is the RFC 3339 time every follower reads from."""

    def __init__(self, producers: Producers, sink: Sink, clock: Callable[[], float], *, max_streams: int,
                 since: str | None) -> None:
        self.producers = producers
        self.sink = sink
        self.clock = clock
        self.max_streams = max_streams
        self.since = since
        self.followers: dict[ContainerKey, tuple[str, str, threading.Event]] = {}
        """-> (namespace, pod name, the follower's stop event)."""
        self.streaming: set[ContainerKey] = set()
        """The followers whose stream is open: started, and neither ended nor stopped."""
        self.waiting: OrderedDict[ContainerKey, tuple[str, str]] = OrderedDict()
        """-> (namespace, pod name) of the containers waiting for a free stream, oldest first."""
        self.ended: set[StreamKey] = set()
        """The followers that reported LogEnded."""
        self.attached: set[StreamKey] = set()
        """The followers that reported LogAttached."""
        self.read_instances: set[tuple[str, str, str, str]] = set()
        """(namespace, pod, container, containerID) of the container instances whose log was read to its end."""
        self.told_waiting = False
        """Whether the notice that some containers wait for a stream was given (once per run)."""
        self.last_line = -math.inf
        """When the last log line came (monotonic): where the final drain's quiet counts from."""

    def follow(self, pod: dict, owners: Callable[[], Iterable[TargetSettings]]) -> None:
        """Follow every started container of a current Pod, init containers too. A container whose logs no
        target owning the Pod shows is not followed at all; `owners` is asked only for a container not followed
        yet."""
        namespace, name, pod_uid = meta(pod).get("namespace") or "", meta(pod).get("name") or "", uid(pod)
        settings: list[TargetSettings] | None = None
        for entry in container_statuses(pod):
            key = (pod_uid, entry.get("name") or "")
            state = entry.get("state") or {}
            started = state.get("running") or state.get("terminated") or (entry.get("lastState") or {}).get(
                "terminated")
            if not started or key in self.followers or key in self.waiting:
                continue
            if settings is None:
                settings = list(owners())
            if any(owner.shows_logs_of(key[1]) for owner in settings):
                self.waiting[key] = (namespace, name)
        self._start_waiting()

    def _start_waiting(self) -> None:
        """Start the waiting followers, oldest first, while fewer than max_streams streams are open."""
        while self.waiting and len(self.streaming) < self.max_streams:
            key, (namespace, name) = self.waiting.popitem(last=False)
            self.followers[key] = (namespace, name, self.producers.follow(namespace, name, key[1], self.since))
            self.streaming.add(key)
        if self.waiting and not self.told_waiting:
            self.told_waiting = True
            self.sink.notice(f"following {self.max_streams} container logs at once (--max-log-streams); the others "
                             "wait for one of them to end")

    def unfollow(self, pod_uid: str) -> None:
        """Stop following a Pod that left the current revision of every target."""
        for key in [key for key in self.waiting if key[0] == pod_uid]:
            del self.waiting[key]
        for key in [key for key in self.followers if key[0] == pod_uid]:
            self.followers.pop(key)[2].set()
            self.streaming.discard(key)
        self._start_waiting()

    def handle(self, message: LogAttached | LogInstanceRead | LogEnded) -> None:
        """A follower's report on its stream."""
        if isinstance(message, LogAttached):
            self.attached.add((message.namespace, message.pod, message.container))
        elif isinstance(message, LogInstanceRead):
            self.read_instances.add((message.namespace, message.pod, message.container, message.instance))
        else:
            self.ended.add((message.namespace, message.pod, message.container))
            self._stream_ended(message)
            if not message.reason.startswith(("terminated", "pod ")):
                self.sink.notice(f"log of po/{message.pod} [{message.container}] ended: {message.reason}")

    def _stream_ended(self, ended: LogEnded) -> None:
        """A follower's stream closed for good: its slot goes to the oldest waiting container."""
        for key, (namespace, name, _) in self.followers.items():
            if key[1] == ended.container and (namespace, name) == (ended.namespace, ended.pod):
                self.streaming.discard(key)
        self._start_waiting()

    def show(self, batch: LogLines, owners: list[tuple[str, TargetSettings]]) -> None:
        """Each line goes to the sink under the first owner (label, settings) that shows it; the owners are looked
        up once for the whole batch."""
        container, log = batch.container, self.sink.log
        showing = [(label, settings) for label, settings in owners if settings.shows_logs_of(container)]
        if showing and showing[0][1].log_filter(container) is None:  # the first owner shows every line, at once
            log(LogRecord(showing[0][0], batch.pod, container, "\n".join(batch.texts)))
            return
        run: list[str] = []
        """Consecutive lines shown under the same owner: one record."""
        label = None
        for text in batch.texts:
            shown = next((label for label, settings in showing if settings.shows_line(container, text)), None)
            if shown != label and run:
                log(LogRecord(label or "", batch.pod, container, "\n".join(run)))
                run = []
            label = shown
            if shown is not None:
                run.append(text)
        if run:
            log(LogRecord(label or "", batch.pod, container, "\n".join(run)))

    def drain(self, messages: queue.Queue, handle: Callable[[Message], None], view: View,
              finished: Callable[[], set[str]]) -> None:
        """Print the log lines already on their way, so a Job's last words are not cut off by its verdict: until no
        line came for DRAIN_QUIET seconds, every follower has opened its stream and the logs of finished Pods and
        ended container instances have been read to their end, at most DRAIN_MAX seconds. Other messages are
        dropped (the run is over), but Pod changes, which say which Pods have finished. `finished`: the uids of
        the Pods that ended with their target's verdict."""
        if not self.followers:
            return
        deadline = self.clock() + DRAIN_MAX
        last_line = self.last_line
        while self.clock() < deadline:
            waiting = self.clock() - last_line < DRAIN_QUIET or self._pending(view, finished())
            try:  # what is queued is read in any case; then, quiet and nothing pending, the drain is over
                item = messages.get(timeout=DRAIN_QUIET) if waiting else messages.get_nowait()
            except queue.Empty:
                if not waiting:
                    return
                continue
            if isinstance(item, LogLines | LogAttached | LogInstanceRead | LogEnded):
                handle(item)
                last_line = self.clock()
            elif isinstance(item, ObjectEvent) and stream_of(item.resource) is Stream.PODS:
                view.apply(Stream.PODS, item.type, item.obj, item.selector)

    def _pending(self, view: View, finished: set[str]) -> bool:
        """Whether a follower has not opened its stream yet (a failing API keeps it retrying), a Pod that has
        finished still has a log being read to its end, or a container instance that ended (a crash) has not
        been read to its end."""
        for (pod_uid, container), (namespace, name, _) in self.followers.items():
            key = (namespace, name, container)
            if key in self.ended:
                continue
            if key not in self.attached:
                return True
            pod = view.get(Stream.PODS, namespace, name) or {}
            if pod_uid in finished or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                return True
            entry = next((entry for entry in container_statuses(pod) if entry.get("name") == container), {})
            terminated = (entry.get("state") or {}).get("terminated")
            instance = str(entry.get("containerID") or (terminated or {}).get("containerID") or "")
            if terminated and (*key, instance) not in self.read_instances:
                return True
        return False
