"""What the engine may start: shared watchers, log followers, and one-off log reads for diagnoses.

The engine asks for these through this small interface, so it can be driven in tests by a fake that records what
was asked and lets the test put messages on the queue itself; the engine never touches the Kubernetes client.
kube.producers.ClusterProducers is the real one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

from kubedog_ci.kube.discovery import Resource
from kubedog_ci.rules.selectors import EVERYTHING, Selector


class Producers(Protocol):
    """What the engine may start. Everything started puts its reports on `queue`."""

    queue: queue.Queue

    def watch(self, resource: Resource, namespace: str | None, selector: Selector = EVERYTHING, *,
              since: str | None = None, trim: Callable[[dict], dict] | None = None) -> None:
        """List then watch `resource` in `namespace` (None: cluster-scoped or all), only the objects `selector`
        picks out; each ObjectEvent, Synced and WatchFailed of the watch carries the selector. `since`: not
        listed, but watched from that resourceVersion of the collection ("": its version when the watch starts)
        and Synced at once, for a type of which only what happens during the run matters (Events). `trim`: what
        of each object is reported (default: all of it)."""

    def follow(self, namespace: str, pod: str, container: str, since: str | None) -> threading.Event:
        """Follow a container's log (across its restarts); setting the returned event stops it."""

    def log_tail(self, namespace: str, pod: str, container: str, previous: bool, lines: int) -> Future[list[str]]:
        """The last `lines` lines of a container's log, read off the engine's thread."""

    def read_secret(self, namespace: str, name: str) -> str | None:
        """Read a Secret and register its values with the secrets registry, so no output prints them; returns
        None when it was read, else why not ("forbidden", "not found", ...). Blocking: the engine reads a
        workload's Secrets before it follows a line of its logs."""

    def close(self) -> None:
        """Stop everything started; producers are daemon threads, so nothing is joined."""
