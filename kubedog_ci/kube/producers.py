"""The real producers the engine starts (engine.producers.Producers): Informer and LogFollower threads against
a real (or simulated) API server, and one-off log reads for diagnoses, all putting kube.messages on one queue."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from kubedog_ci.kube.discovery import Resource
from kubedog_ci.rules.selectors import EVERYTHING, Selector
from kubedog_ci.rules.slim import metadata_only

if TYPE_CHECKING:
    from kubernetes import client

LOG_TAIL_TIMEOUT = 10.0
"""Seconds a diagnosis waits for the crashed container's log before it is printed without it."""


class ClusterProducers:
    """Informer and LogFollower threads against a real (or simulated) API server."""

    def __init__(self, api: client.ApiClient, *, api_timeout: float) -> None:
        self.queue: queue.Queue = queue.Queue()
        self._api = api
        self._api_timeout = api_timeout
        self._stop = threading.Event()
        self._follower_stops: list[threading.Event] = []
        self._threads: list[threading.Thread] = []
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="log-tail")

    def watch(self, resource: Resource, namespace: str | None, selector: Selector = EVERYTHING, *,
              since: str | None = None, trim: Callable[[dict], dict] | None = None) -> None:
        """An Informer (engine.producers.Producers.watch). It remembers only what identifies each object (to
        compare a relist with and report a deletion): the engine keeps what it reads, trimmed by `trim`, and
        of a busy namespace's Events nothing at all."""
        from kubedog_ci.kube.informer import Informer

        self._start(Informer(self._api, resource, namespace, self.queue, label_selector=selector.labels or None,
                             field_selector=selector.fields or None, stop=self._stop, api_timeout=self._api_timeout,
                             remember=metadata_only, trim=trim, since=since))

    def follow(self, namespace: str, pod: str, container: str, since: str | None) -> threading.Event:
        from kubedog_ci.kube.logs import LogFollower

        stop = threading.Event()
        self._follower_stops.append(stop)
        self._start(LogFollower(self._api, namespace, pod, container, self.queue, since=since, stop=stop,
                                api_timeout=self._api_timeout))
        return stop

    def _start(self, thread: threading.Thread) -> None:
        self._threads = [known for known in self._threads if known.is_alive()]
        self._threads.append(thread)
        thread.start()

    def log_tail(self, namespace: str, pod: str, container: str, previous: bool, lines: int) -> Future[list[str]]:
        return self._pool.submit(self._read_tail, namespace, pod, container, previous, lines)

    def _read_tail(self, namespace: str, pod: str, container: str, previous: bool, lines: int) -> list[str]:
        """The log tail under the one retry policy; raises ApiError (e.g. 400: no such instance) or GiveUp."""
        from kubedog_ci.kube.http import Requester

        requests = Requester(self._api, self._stop, self._api_timeout)
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
        query = {"container": container, "tailLines": str(lines), **({"previous": "true"} if previous else {})}
        what = f'the log of container "{container}" of pod "{pod}" in namespace "{namespace}"'
        data = requests.retrying(lambda: b"".join(requests.stream_chunks(
            requests.open(path, query, read_timeout=LOG_TAIL_TIMEOUT, accept="*/*"))), "get", what)
        return data.decode("utf-8", "replace").splitlines()

    def read_secret(self, namespace: str, name: str) -> str | None:
        from kubedog_ci.kube.fetch import register_secret
        from kubedog_ci.kube.http import Requester

        return register_secret(Requester(self._api, self._stop, self._api_timeout), namespace, name)

    def close(self) -> None:
        self._stop.set()
        for stop in self._follower_stops:
            stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def wait_closed(self, timeout: float = 5.0) -> None:
        """After close: wait until every thread started has ended (a library caller's process goes on, and must
        not find our threads behind); a stream is shut within a tenth of a second of its stop."""
        self.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._pool.shutdown(wait=True, cancel_futures=True)
