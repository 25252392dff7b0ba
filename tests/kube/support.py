"""Helpers for the producer-thread tests: resource types, a queue collector, and a proxy a test can cut off."""

from __future__ import annotations

import contextlib
import itertools
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from typing import NamedTuple

from kubernetes import client

from kubedog_ci.kube.discovery import Resource
from kubedog_ci.kube.messages import ApiNote, LogEnded, LogLines, Message, ObjectEvent, Synced, WatchFailed
from tests.support import wait_until

CONFIGMAPS = Resource("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",))
PODS = Resource("", "v1", "pods", "pod", "Pod", True, ("po",))
STOP_WITHIN = 1.5
"""Seconds a producer may take to end once `stop` is set (the engine promises about one)."""
DEPLOYMENTS = Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",))


class Line(NamedTuple):
    """One log line as a LogFollower delivered it, out of its batch."""

    namespace: str
    pod: str
    container: str
    timestamp: str
    text: str
    previous: bool


class Collector:
    """Everything the producers put on one queue, in order; `until` polls it without timing assumptions. ApiNotes
    (remarks for -v, as many as the network's whims) are kept apart in `notes`."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.items: list[Message] = []
        self.notes: list[ApiNote] = []

    def pull(self) -> list[Message]:
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return self.items
            (self.notes if isinstance(item, ApiNote) else self.items).append(item)

    def until(self, predicate: Callable[[list[Message]], object], timeout: float = 10.0,
              message: str = "events") -> object:
        return wait_until(lambda: predicate(self.pull()), timeout=timeout, message=message)

    def objects(self, name: str | None = None) -> list[ObjectEvent]:
        return [e for e in self.pull() if isinstance(e, ObjectEvent)
                and (name is None or e.obj["metadata"]["name"] == name)]

    def synced(self) -> int:
        return sum(isinstance(e, Synced) for e in self.pull())

    def failures(self) -> list[WatchFailed]:
        return [e for e in self.pull() if isinstance(e, WatchFailed)]

    def lines(self) -> list[Line]:
        """Every line delivered, one by one, whatever batches they came in."""
        return [Line(e.namespace, e.pod, e.container, stamp, text, e.previous) for e in self.pull()
                if isinstance(e, LogLines) for stamp, text in zip(e.timestamps, e.texts, strict=True)]

    def ended(self) -> list[LogEnded]:
        return [e for e in self.pull() if isinstance(e, LogEnded)]

    def latest(self) -> dict[str, ObjectEvent]:
        """The last event of each object name."""
        return {e.obj["metadata"]["name"]: e for e in self.objects()}


def versions(events: list[ObjectEvent]) -> list[int]:
    return [int(e.obj["metadata"]["resourceVersion"]) for e in events]


def strictly_increasing(values: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


def api_client_for(url: str) -> client.ApiClient:
    """An ApiClient for a bare URL (no auth), as the kubeconfig loader would build for the simulator."""
    configuration = client.Configuration()
    configuration.host = url
    return client.ApiClient(configuration)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Proxy:
    """A TCP proxy in front of the simulator that a test can cut off and bring back.

    `pause()` drops every open connection and refuses new ones (accepted, then closed at once), which is what a
    client sees when the API server or the network between goes away; `resume()` lets connections through again.
    """

    def __init__(self, target_url: str) -> None:
        host, _, port = target_url.removeprefix("http://").partition(":")
        self._target = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._paused = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, name="test-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def pause(self) -> None:
        self._paused.set()
        with self._lock:
            doomed = list(self._sockets)
            self._sockets.clear()
        for sock in doomed:
            _kill(sock)

    def resume(self) -> None:
        self._paused.clear()

    def close(self) -> None:
        self._closed.set()
        self.pause()
        self._listener.close()
        self._thread.join(2)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._paused.is_set():
                _kill(conn)
                continue
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                _kill(conn)
                continue
            with self._lock:
                self._sockets.update((conn, upstream))
            for src, dst in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with self._lock:
                    self._sockets.discard(sock)
                _kill(sock)


def _kill(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextlib.contextmanager
def proxied(target_url: str) -> Iterator[Proxy]:
    proxy = Proxy(target_url)
    try:
        yield proxy
    finally:
        proxy.close()
