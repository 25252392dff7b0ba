"""When a ready workload has proven it stays ready: each current Pod has outlived the window in which its own
probes can still have it killed (rules.objects.kill_window), at least the settle floor, at most its cap.

A window counts from the start of the Pod's last-started container. The kubelet stamps `startedAt` in whole
seconds, so a start the engine saw happen (the container was not running when its Pod was seen before) counts from
that moment, late by the watch's latency only; a container already running when first seen counts from the latest
moment it can have started: the end of its `startedAt` second, or when it was seen, whichever is earlier (a Pod
running for long adds nothing).
"""

from __future__ import annotations

from kubedog_ci.kube.logs import parse_timestamp_ns
from kubedog_ci.rules.objects import container_statuses, kill_window, uid


class ContainerStarts:
    """When each running container instance started, in cluster time (epoch seconds)."""

    def __init__(self) -> None:
        self._seen_pods: set[str] = set()
        self._starts: dict[str, float] = {}
        """containerID -> when the engine first saw it running, for the starts it saw happen."""

    def see(self, pod: dict, now: float) -> None:
        """Take in a Pod's latest status at cluster time `now`."""
        known = uid(pod) in self._seen_pods
        self._seen_pods.add(uid(pod))
        for entry in container_statuses(pod):
            instance, running = entry.get("containerID"), (entry.get("state") or {}).get("running")
            if not instance or not running or instance in self._starts:
                continue
            stamp = parse_timestamp_ns(running.get("startedAt") or "")
            self._starts[instance] = now if known or stamp is None else min(stamp / 1e9 + 1, now)

    def started(self, pod: dict) -> float | None:
        """When its last-started running container started, or None when none is running."""
        found = [self._starts.get(entry.get("containerID") or "") for entry in container_statuses(pod)
                 if (entry.get("state") or {}).get("running")]
        return max((start for start in found if start is not None), default=None)


def settled_at(pods: list[dict], starts: ContainerStarts, now: float, floor: float, cap: float,
               scale: float) -> float | None:
    """When (cluster time) every Pod has run through its settle window; None without Pods, or when the floor is 0
    (settling is off). A Pod with no running container in the engine's view counts as starting `now`: its
    workload's status (another watch) has overtaken the Pod's own."""
    if floor <= 0 or not pods:
        return None
    return max((starts.started(pod) or now) + min(max(kill_window(pod), floor), cap) * scale for pod in pods)
