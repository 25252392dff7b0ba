"""A pod's phase, readiness and conditions, read and written one way by every controller, the scheduler and
the kubelet (after pkg/api/v1/pod/util.go and controller_utils.go), so they agree on when a pod is done or ready.
"""

from __future__ import annotations


def pod_phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase", "")


def is_terminal(pod: dict) -> bool:
    """Succeeded or Failed: the pod's containers will not run again."""
    return pod_phase(pod) in ("Succeeded", "Failed")


def is_pod_active(pod: dict) -> bool:
    """controller.IsPodActive: not terminal and not being deleted."""
    return not is_terminal(pod) and not pod["metadata"].get("deletionTimestamp")


def find_condition(obj: dict, kind: str) -> dict | None:
    """The status condition of type `kind` (of a pod, or of any object with status.conditions)."""
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            return entry
    return None


def is_pod_ready(pod: dict) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    ready = find_condition(pod, "Ready")
    return ready is not None and ready.get("status") == "True"


def pod_condition(kind: str, status: str, reason: str, message: str, previous: dict | None,
                  generation: int | None, now: str) -> dict:
    """A pod condition as the kubelet and the scheduler write it: lastTransitionTime is kept from `previous`
    while the status stays the same (else it is `now`), observedGeneration is the pod's, reason and message
    appear when set."""
    since = previous.get("lastTransitionTime") if previous and previous.get("status") == status else None
    condition: dict = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since or now}
    if generation is not None:
        condition["observedGeneration"] = generation
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition
