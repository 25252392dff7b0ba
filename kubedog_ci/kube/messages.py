"""The messages the producer threads (informers, log followers) put on the engine's queue: everything they saw,
nothing they decided.

Watcher threads put ObjectEvent / Synced / WatchFailed, log readers put LogLines / LogAttached / LogInstanceRead /
LogEnded; the engine's single loop reads them in order and owns all state. Keeping producers to "report what happened"
is what lets the engine be single-threaded and its decisions testable.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubedog_ci.kube.discovery import Resource
from kubedog_ci.rules.selectors import EVERYTHING, Selector

__all__ = ["EVERYTHING", "ApiNote", "LogAttached", "LogEnded", "LogInstanceRead", "LogLines", "Message", "ObjectEvent",
           "Selector", "Synced", "WatchFailed"]


@dataclass(frozen=True)
class ObjectEvent:
    """An object of a watched resource type was added, modified or deleted (type as the watch API says), as the
    watch of `resource` with `selector` saw it (DELETED: gone, or no longer selected by it)."""

    resource: Resource
    type: str  # "ADDED" | "MODIFIED" | "DELETED"
    obj: dict
    selector: Selector = EVERYTHING


@dataclass(frozen=True)
class Synced:
    """A watcher finished its initial list (or a relist after 410 Gone): its view is complete as of now. A watcher
    of what happens from now on only (Events) says so at once."""

    resource: Resource
    namespace: str | None
    selector: Selector = EVERYTHING


@dataclass(frozen=True)
class WatchFailed:
    """A watcher gave up (401/403, or the API stayed unreachable past its budget); `message` is for the user."""

    resource: Resource
    namespace: str | None
    message: str
    status: int | None = None
    selector: Selector = EVERYTHING


@dataclass(frozen=True)
class LogLines:
    """Complete lines of one container's log, in order, as one read of its stream brought them: one item for
    many lines, so a chatty container costs the queue and the engine per read, not per line. `timestamps[i]`
    is the kubelet's RFC3339Nano stamp of `texts[i]` (empty for a line without one)."""

    namespace: str
    pod: str
    container: str
    timestamps: tuple[str, ...]
    texts: tuple[str, ...]
    previous: bool = False


@dataclass(frozen=True)
class LogAttached:
    """A container's log stream is open: whatever it printed so far is on its way. The end of a run waits for
    this (briefly), so a follower still retrying a failing API does not lose a ready Pod's first lines."""

    namespace: str
    pod: str
    container: str


@dataclass(frozen=True)
class LogInstanceRead:
    """A followed stream ended normally, as it does when its container instance (`instance`, a containerID) ends:
    every line of that instance was put on the queue before this. The end of a run waits for it when the verdict
    came from the instance's end (a crash), so its last lines are printed."""

    namespace: str
    pod: str
    container: str
    instance: str


@dataclass(frozen=True)
class LogEnded:
    """A container's log stream ended (the container terminated or the pod went away) and will not resume."""

    namespace: str
    pod: str
    container: str
    reason: str


@dataclass(frozen=True)
class ApiNote:
    """A producer's remark on its API traffic (a watch reconnecting, a relist after 410 Gone, a retried request):
    nothing to decide on, shown with -v."""

    message: str


Message = ObjectEvent | Synced | WatchFailed | LogLines | LogAttached | LogInstanceRead | LogEnded | ApiNote
