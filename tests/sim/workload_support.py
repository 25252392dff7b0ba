"""Test support for the workload controllers: a recorder of pod watch events, and a stand-in kubelet.

The recorder follows pods through the official client's watch from a resourceVersion taken before the test
acts, so it sees every change in the API server's order; tests then assert on that order (pod N+1 added only
after pod N was Ready, highest ordinal deleted first) instead of on timing. The stand-in kubelet marks new
pods Running and Ready through the status subresource, and only runs while the simulated kubelet is still a
placeholder, so the same tests run against the full cluster once it exists.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from kubedog_ci.sim.controllers import kubelet
from kubedog_ci.sim.errors import forbidden
from tests.support import wait_until


@dataclass(frozen=True)
class PodEvent:
    at: float
    type: str
    name: str
    ready: bool
    terminating: bool
    revision: str
    node: str | None


def is_ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def _event(kind: str, pod: client.V1Pod, revision_label: str) -> PodEvent:
    node = pod.spec.node_name
    if node is None and pod.spec.affinity and pod.spec.affinity.node_affinity:
        required = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        node = required.node_selector_terms[0].match_fields[0].values[0]
    return PodEvent(time.monotonic(), kind, pod.metadata.name, is_ready(pod),
                    pod.metadata.deletion_timestamp is not None or kind == "DELETED",
                    (pod.metadata.labels or {}).get(revision_label, ""), node)


@contextmanager
def _stream(core: client.CoreV1Api, namespace: str,
            handle: Callable[[str, client.V1Pod], None]) -> Iterator[None]:
    """Feed every pod change after now to `handle` on a thread, until the block ends."""
    since = core.list_namespaced_pod(namespace).metadata.resource_version
    stopping = threading.Event()
    watcher = watch.Watch()

    def run() -> None:
        try:
            for event in watcher.stream(core.list_namespaced_pod, namespace, resource_version=since,
                                        timeout_seconds=120):
                if stopping.is_set():
                    return
                handle(event["type"], event["object"])
        except (ApiException, urllib3.exceptions.HTTPError):
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, name="pod-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopping.set()
        watcher.stop()


class PodRecorder:
    """Every pod watch event in a namespace, in order, as PodEvents."""

    def __init__(self, revision_label: str = "controller-revision-hash") -> None:
        self.events: list[PodEvent] = []
        self._label = revision_label
        self._lock = threading.Lock()

    def handle(self, kind: str, pod: client.V1Pod) -> None:
        with self._lock:
            self.events.append(_event(kind, pod, self._label))

    def snapshot(self) -> list[PodEvent]:
        with self._lock:
            return list(self.events)

    def _first(self, predicate: Callable[[PodEvent], bool]) -> int | None:
        return next((i for i, e in enumerate(self.snapshot()) if predicate(e)), None)

    def index(self, predicate: Callable[[PodEvent], bool], message: str = "pod event", timeout: float = 10.0) -> int:
        """Index of the first event matching `predicate`, waiting for the watch to deliver it."""
        found: list[int] = []

        def seen() -> bool:
            index = self._first(predicate)
            if index is not None:
                found.append(index)
            return index is not None

        wait_until(seen, timeout, message=message)
        return found[-1]

    def at(self, index: int) -> float:
        return self.snapshot()[index].at


@contextmanager
def recording(core: client.CoreV1Api, namespace: str = "default") -> Iterator[PodRecorder]:
    recorder = PodRecorder()
    with _stream(core, namespace, recorder.handle):
        yield recorder


@contextmanager
def standin_kubelet(core: client.CoreV1Api, namespace: str = "default") -> Iterator[None]:
    """Mark each new pod Running and Ready, unless the simulated kubelet does that already."""
    if kubelet.CONTROLLERS:
        yield
        return

    def handle(kind: str, pod: client.V1Pod) -> None:
        if kind == "DELETED" or pod.metadata.deletion_timestamp or pod.status.phase != "Pending":
            return
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        conditions = [{"type": t, "status": "True", "lastTransitionTime": now}
                      for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]
        try:
            core.patch_namespaced_pod_status(pod.metadata.name, namespace,
                                             {"status": {"phase": "Running", "conditions": conditions}})
        except ApiException:
            return

    with _stream(core, namespace, handle):
        yield


Admit = Callable[[str, object, dict, dict | None], None]


def refuse_pods(matches: Callable[[dict], bool], used: int) -> Admit:
    """An admission plugin refusing the pods `matches` selects the way a ResourceQuota exhausted at `used`
    pods does."""
    def admit(operation: str, rt: object, obj: dict, old: dict | None) -> None:
        if operation == "CREATE" and getattr(rt, "key", "") == "/pods" and matches(obj):
            raise forbidden(rt, obj["metadata"]["name"],
                            f"exceeded quota: pods, requested: pods=1, used: pods={used}, limited: pods={used}")
    return admit
