"""What a verdict waits for that the rules cannot see, time: a custom resource's controller's first status report
(its status grace), and a ready workload proving it stays ready (its settle window).

A workload has settled when each current Pod has outlived the window in which its own probes can still have it
killed (rules.objects.kill_window), at least the settle floor, at most its cap.

A window counts from the start of the Pod's last-started container. The kubelet stamps `startedAt` in whole
seconds, so a start the engine saw happen (the container was not running when its Pod was seen before) counts from
that moment, late by the watch's latency only; a container already running when first seen counts from the latest
moment it can have started: the end of its `startedAt` second, or when it was seen, whichever is earlier (a Pod
running for long adds nothing).
"""

from __future__ import annotations

from collections.abc import Callable

from kubedog_ci.engine.outcome import Options
from kubedog_ci.engine.state import TargetState
from kubedog_ci.kube.logs import parse_timestamp_ns
from kubedog_ci.rules import State, Verdict
from kubedog_ci.rules.objects import container_statuses, kill_window, meta, uid
from kubedog_ci.rules.profile import AWAITING_STATUS


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


class Waits:
    """Bends a rule's verdict by the time it cannot see, and says when to judge the target again
    (TargetState.recheck_at). `clock` is the engine's monotonic clock, `started`/`started_wall` the run's start
    on it and by the cluster's clock."""

    def __init__(self, options: Options, clock: Callable[[], float], started: float, started_wall: float) -> None:
        self.options = options
        self.clock = clock
        self.started = started
        self.started_wall = started_wall
        self.starts = ContainerStarts()

    def see(self, pod: dict, now: float) -> None:
        """Take in a current Pod's status (monotonic `now`)."""
        self.starts.see(pod, self.started_wall + now - self.started)

    def bend(self, state: TargetState, verdict: Verdict) -> Verdict:
        """The verdict as it stands now: a custom resource still waiting for its controller is ready, with a
        warning, once its status grace is over; a ready workload is progressing until it has settled."""
        grace = state.profile.status_grace
        if verdict.reason == AWAITING_STATUS and grace is not None:
            return self._awaited(state, verdict, grace * self.options.grace_scale)
        if verdict.state is not State.READY or not state.profile.settles:
            return verdict  # a flap back to progressing within the window leaves it settling: any new sign fails it
        floor = self.options.settle if state.settings.settle is None else state.settings.settle
        now = self.clock() if state.pods else 0.0
        cluster_now = self.started_wall + now - self.started
        until = settled_at(list(state.pods.values()), self.starts, cluster_now, floor, self.options.settle_max,
                           self.options.grace_scale)
        left = until - cluster_now if until is not None else 0.0
        state.settling = left > 0
        if not state.settling:
            return verdict
        state.recheck_at = now + left
        return Verdict(State.PROGRESSING, "Settling", f"{verdict.message}; waiting {left:.1f}s for its Pods to "
                       "outlive the window in which their own probes can still have them killed")

    def _awaited(self, state: TargetState, verdict: Verdict, grace: float) -> Verdict:
        now = self.clock()
        generation = meta(state.obj or {}).get("generation")
        if state.awaiting is None or state.awaiting[0] != generation:
            state.awaiting = (generation, now)
        left = state.awaiting[1] + grace - now
        if left > 0:
            state.recheck_at = now + left
            return verdict
        return Verdict(State.READY, "NoStatus", f"{state.subject} exists", (
            f"no controller reported the status of {state.subject} within {grace:g}s (no Ready condition, no "
            "status.observedGeneration): judged ready without one",))
