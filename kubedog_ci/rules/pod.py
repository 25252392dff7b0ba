"""Pod: readiness-rules.md ("Pod", Recommended): terminal phases decide; a long-running Pod (restartPolicy
Always) fails on a container or init container stuck in an error state (Argo's rule, extended to init
containers, which no peer checks); a run-to-completion Pod waits for its terminal phase (Argo, Helm hooks)."""

from __future__ import annotations

from collections.abc import Iterator

from kubedog_ci.reasons import looks_like_error
from kubedog_ci.rules import common
from kubedog_ci.rules.objects import container_statuses
from kubedog_ci.rules.profile import KindProfile, Related, Stream, always
from kubedog_ci.rules.selectors import by_name
from kubedog_ci.rules.verdict import State, Verdict, failed, progressing, ready


def evaluate(obj: dict) -> Verdict:
    return common.precheck(obj) or _phase(obj)


_ALSO_ERRORS = frozenset({"InvalidImageName"})
"""Waiting reasons outside the pattern that no retry can fix (the kubelet's images.ErrInvalidImageName)."""


def is_error_reason(reason: str) -> bool:
    """A waiting reason that means trouble: named like an error (reasons.looks_like_error), or InvalidImageName."""
    return looks_like_error(reason) or reason in _ALSO_ERRORS


def _containers(obj: dict) -> Iterator[tuple[str, dict]]:
    """Each container status, init containers first (objects.container_statuses), with how messages name it."""
    init = {id(entry) for entry in common.status(obj).get("initContainerStatuses") or []}
    for entry in container_statuses(obj):
        yield f'{"init container" if id(entry) in init else "container"} "{entry.get("name", "")}"', entry


def _terminated_badly(label: str, entry: dict) -> tuple[str, str] | None:
    terminated = (entry.get("state") or {}).get("terminated")
    if terminated is None or not terminated.get("exitCode"):
        return None
    detail = f" ({terminated['reason']})" if terminated.get("reason") else ""
    said = (terminated.get("message") or "").strip().splitlines()  # its termination log: the app's last words
    detail += f": {said[0]}" if said else ""
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
    for label, entry in _containers(obj):
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
    for label, entry in _containers(obj):
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
    for label, entry in _containers(obj):
        waiting = (entry.get("state") or {}).get("waiting")
        if waiting is not None:
            return f"{label} is waiting: {common.explain(waiting) or 'no reason given'}"
    statuses = status.get("containerStatuses") or []
    ready_count = sum(1 for entry in statuses if entry.get("ready"))
    return f"phase {status.get('phase') or 'Pending'}, {ready_count} of {len(statuses)} containers are ready..."


def evaluate_live(obj: dict, related: Related) -> Verdict:
    """A running Pod's container errors are the live engine's to weigh, with grace periods and the failure budget;
    the rule fails them at once only because one snapshot has nothing better to go on. A Failed phase is final."""
    verdict = evaluate(obj)
    if verdict.state is State.FAILED and common.status(obj).get("phase") != "Failed":
        return progressing(verdict.reason, verdict.message)
    return verdict


def _replicas(obj: dict) -> int:
    """A Pod that restarts its containers runs one instance at a time; one that never restarts has no budget."""
    return 0 if common.spec(obj).get("restartPolicy") == "Never" else 1


def _progress(obj: dict) -> tuple[int | None, int | None]:
    """Containers ready of containers."""
    statuses = common.status(obj).get("containerStatuses") or []
    return sum(1 for entry in statuses if entry.get("ready")), len(common.spec(obj).get("containers") or statuses)


PROFILE = KindProfile(evaluate, evaluate_live=evaluate_live, selects=lambda stream, name, obj: by_name(name),
                      streams=(Stream.PODS,),
                      current_pods=lambda obj, related: [obj], replicas=_replicas, progress=_progress, tracked=always,
                      settles=True)
