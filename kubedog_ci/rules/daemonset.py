"""DaemonSet: readiness-rules.md ("DaemonSet", Recommended): kubectl's DaemonSetStatusViewer counters, plus a
readiness check and an OnDelete rule that still waits for every Pod to be available."""

from __future__ import annotations

from kubedog_ci.rules import common
from kubedog_ci.rules.verdict import Verdict, progressing, ready


def evaluate(obj: dict) -> Verdict:
    return common.precheck(obj, required=True) or _rollout(obj)


def _rollout(obj: dict) -> Verdict:
    status, subject = common.status(obj), common.subject(obj)
    waiting = f"Waiting for {subject} rollout to finish:"
    if status.get("desiredNumberScheduled") is None:
        return progressing("NoDesiredNumber", f"Waiting for {subject} to count the nodes it must run on...")
    desired = common.count(status, "desiredNumberScheduled")
    updated = common.count(status, "updatedNumberScheduled")
    on_delete = (common.spec(obj).get("updateStrategy") or {}).get("type") == "OnDelete"
    if not on_delete and updated < desired:
        return progressing("LessUpdated", f"{waiting} {updated} out of {desired} new pods have been updated...")
    ready_pods = common.count(status, "numberReady")
    if ready_pods < desired:
        return progressing("LessReady", f"{waiting} {ready_pods} of {desired} pods are ready...")
    # Both counters are omitempty; the controller writes numberUnavailable = desired - numberAvailable.
    available = (status["numberAvailable"] if status.get("numberAvailable") is not None
                 else desired - common.count(status, "numberUnavailable"))
    if available < desired:
        return progressing("LessAvailable", f"{waiting} {available} of {desired} updated pods are available...")
    if on_delete:
        # Not "ready at once" (the original kubedog's gap): readiness and availability were checked above; only
        # the updated count is skipped, since OnDelete replaces a Pod only when someone deletes it.
        behind = desired - updated
        warnings = [f"{behind} of {desired} pods run an old template: with the OnDelete strategy they are "
                    f"replaced only when deleted"] if behind > 0 else []
        return ready("OnDelete", f"{subject} (OnDelete): {available} of {desired} pods are available", *warnings)
    return ready("RolloutComplete", f"{subject} successfully rolled out")
