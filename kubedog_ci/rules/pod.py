"""Pod: readiness-rules.md ("Pod", Recommended): terminal phases decide; a long-running Pod (restartPolicy
Always) fails on a container or init container stuck in an error state (Argo's rule, extended to init
containers, which no peer checks); a run-to-completion Pod waits for its terminal phase (Argo, Helm hooks)."""

from __future__ import annotations

from collections.abc import Iterator

from kubedog_ci.rules import common
from kubedog_ci.rules.verdict import Verdict, failed, progressing, ready


def evaluate(obj: dict) -> Verdict:
    return common.precheck(obj) or _phase(obj)


_ALSO_ERRORS = frozenset({"InvalidImageName"})
"""Waiting reasons outside the pattern that no retry can fix (the kubelet's images.ErrInvalidImageName)."""


def is_error_reason(reason: str) -> bool:
    """Argo's pattern for a waiting reason that means trouble: ErrImagePull, ImagePullBackOff, CrashLoopBackOff,
    CreateContainerConfigError, … but not ContainerCreating or PodInitializing; plus InvalidImageName."""
    return reason.startswith("Err") or reason.endswith(("Error", "BackOff")) or reason in _ALSO_ERRORS


def _containers(status: dict) -> Iterator[tuple[str, dict]]:
    """Init containers first: when one fails, it is the root cause of whatever the app containers show."""
    for label, key in (("init container", "initContainerStatuses"), ("container", "containerStatuses")):
        for entry in status.get(key) or []:
            yield f'{label} "{entry.get("name", "")}"', entry


def _terminated_badly(label: str, entry: dict) -> tuple[str, str] | None:
    terminated = (entry.get("state") or {}).get("terminated")
    if terminated is None or not terminated.get("exitCode"):
        return None
    detail = f" ({terminated['reason']})" if terminated.get("reason") else ""
    return terminated.get("reason") or "Error", f"{label} terminated with exit code {terminated['exitCode']}{detail}"


def _phase(obj: dict) -> Verdict:
    status, subject = common.status(obj), common.subject(obj)
    phase = status.get("phase") or "Pending"
    if phase == "Succeeded":
        return ready("Succeeded", f"{subject} succeeded")
    if phase == "Failed":
        return _failed(obj)
    if (common.spec(obj).get("restartPolicy") or "Always") != "Always":
        # Finite: even Running and Ready it has not done its work yet, and its waiting errors are left to the
        # live engine's failure budget (an ImagePullBackOff must not fail a hook early; Argo does the same).
        return progressing(phase, f"Waiting for {subject} to run to completion: {_waiting_for(obj)}")
    for label, entry in _containers(status):
        waiting = (entry.get("state") or {}).get("waiting") or {}
        if is_error_reason(waiting.get("reason") or ""):
            return failed(waiting["reason"], f"{subject}: {label} is waiting: {common.explain(waiting)}")
        crashed = _terminated_badly(label, entry)
        if crashed is not None:
            return failed(crashed[0], f"{subject}: {crashed[1]}")
    if common.is_true(obj, "Ready"):
        return ready("Ready", f"{subject} is running and ready")
    return progressing(phase, f"Waiting for {subject} to be ready: {_waiting_for(obj)}")


def _failed(obj: dict) -> Verdict:
    """The root cause of a Failed phase: the Pod's own reason (Evicted, DeadlineExceeded, …) or else the first
    container that exited non-zero."""
    status, subject = common.status(obj), common.subject(obj)
    if status.get("reason"):
        return failed(status["reason"], f"{subject} failed: {common.explain(status)}")
    for label, entry in _containers(status):
        crashed = _terminated_badly(label, entry)
        if crashed is not None:
            return failed(crashed[0], f"{subject} failed: {crashed[1]}")
    return failed("Failed", f"{subject} failed")


def _waiting_for(obj: dict) -> str:
    """What the Pod is waiting on, for the progressing message: scheduling, a waiting container, or readiness."""
    status = common.status(obj)
    scheduled = common.condition(obj, "PodScheduled")
    if scheduled is not None and scheduled.get("status") == "False":
        return f"not scheduled: {common.explain(scheduled)}"
    for label, entry in _containers(status):
        waiting = (entry.get("state") or {}).get("waiting")
        if waiting is not None:
            return f"{label} is waiting: {common.explain(waiting) or 'no reason given'}"
    statuses = status.get("containerStatuses") or []
    ready_count = sum(1 for entry in statuses if entry.get("ready"))
    return f"phase {status.get('phase') or 'Pending'}, {ready_count} of {len(statuses)} containers are ready..."
