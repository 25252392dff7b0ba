"""What a run is asked to do (Options) and what it found (Outcome): the contract between the CLI and the engine.

The engine never picks an exit code; the CLI turns an Outcome into one, so the other commands (follow,
apply-and-track) can reuse the same outcome with their own rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubedog_ci.engine.target import Target
from kubedog_ci.rules import State


@dataclass(frozen=True)
class Options:
    """`timeout` 0 means none. `logs_since`: None for all lines, else seconds before the start of tracking
    (0 is "now"). `grace_scale` multiplies every grace period of the reason table."""

    timeout: float = 600.0
    logs: bool = True
    logs_since: float | None = 0.0
    fail_fast: bool = True
    failures_allowed_per_replica: int = 1
    grace_scale: float = 1.0
    api_timeout: float = 60.0
    """Seconds the API may stay unreachable before a watcher gives up (a cluster error)."""
    origin: float | None = None
    """When the run began, by the cluster's clock (epoch seconds; the CLI reads it with kube Cluster.now): the
    start of tracking, or of the apply for apply-and-track. Log lines (`logs_since`) and Events are taken from
    then on, so what the new Pods did between their creation and the start of the watches is not lost, whatever
    the runner's own clock says. None: this machine's clock when tracking starts."""
    max_log_streams: int = 50
    """Container logs followed at once; the others wait, in the order they started, for one of them to end."""
    settle: float = 5.0
    """Seconds a Pod must have been running before a workload it belongs to is ready (at least; longer when its
    liveness or startup probes can still have it killed later), scaled by grace_scale; 0: ready at once."""
    settle_max: float = 120.0
    """The longest settle window, whatever the probes say (scaled by grace_scale)."""
    redact_secrets: bool = True
    """Read the Secrets the tracked Pods consume, so their values are redacted from every output (a 403 on one is
    a notice)."""
    events_since: tuple[tuple[str, str], ...] = ()
    """(namespace, resourceVersion) of each namespace's Events when the run began (kubedog_ci.library.
    event_versions, taken before an apply): its Events are watched from there, none older transferred. A
    namespace not named here has its version taken when its watch starts (engine.watches)."""
    selective_watches: int = 6
    """The most targets of one namespace for which a resource type is watched per target, with a selector (by
    name, by the target's selector); more share one unfiltered watch of the namespace (engine.watches). Chosen
    by measurement: README, Benchmarks."""
    follow: bool = False
    """`kubedog follow`: never end on verdicts (only on a stop request or a cluster error); a target with a
    verdict re-opens when its object starts a new revision, and a deleted one is reported and waited for."""


@dataclass(frozen=True)
class Diagnosis:
    """Why one resource failed. `lines()` is the block the terminal prints; the fields serve other sinks.
    `headline` is its first line and names the root cause."""

    target: str
    headline: str
    reason: str
    message: str
    details: tuple[tuple[str, str], ...] = ()
    """(label, value) rows: pod, container, reason, message, exit code, restarts, ..."""
    log_title: str = ""
    log_tail: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    """Recent Warning events, oldest first, one line each."""
    pod: str | None = None
    container: str | None = None
    """The Pod and container of the root cause, when a container is it."""

    def lines(self) -> list[str]:
        out = [self.headline]
        width = max((len(label) for label, _ in self.details), default=0) + 1
        out += [f"  {(label + ':').ljust(width)} {value}" for label, value in self.details]
        if self.log_tail:
            out.append(f"  {self.log_title}:")
            out += [f"    | {line}" for line in self.log_tail]
        elif self.log_title:
            out.append(f"  {self.log_title}")
        if self.warnings:
            out.append("  recent Warning events:")
            out += [f"    {line}" for line in self.warnings]
        return out


@dataclass(frozen=True)
class TargetResult:
    """One target at the end of the run. `state` is progressing for one that had no verdict yet. `ignored`: a
    failure of a fail-mode-ignore target, shown but not counted; `left_behind`: a non-blocking target the run did
    not wait for."""

    target: Target
    label: str
    state: State
    reason: str
    message: str
    duration: float
    diagnosis: Diagnosis | None = None
    warnings: tuple[str, ...] = ()
    ignored: bool = False
    left_behind: bool = False

    @property
    def verdict(self) -> str:
        """ready, progressing, failed, ignored or left-behind: one word for how it ended."""
        if self.ignored:
            return "ignored"
        return "left-behind" if self.left_behind else str(self.state)


@dataclass(frozen=True)
class Outcome:
    """The run's result. `stopped_by` is the signal number when a signal ended it; `cluster_error` the message
    when the cluster could not be watched. `timed_out`: the timeout ended it, and nothing counted as failed."""

    results: list[TargetResult] = field(default_factory=list)
    timed_out: bool = False
    stopped_by: int | None = None
    cluster_error: str | None = None
    duration: float = 0.0

    @property
    def failed(self) -> list[TargetResult]:
        """The failures that fail the run (not the ignored ones)."""
        return [result for result in self.results if result.state is State.FAILED and not result.ignored]

    @property
    def all_ready(self) -> bool:
        """Every target the run answers for is ready: ignored failures and left-behind targets do not spoil it."""
        return all(result.state is State.READY or result.ignored or result.left_behind for result in self.results)
