"""Deployment: kubectl's `rollout status` counters (DeploymentStatusViewer), the canonical implementation, plus
the cheap guards of readiness-rules.md ("Deployment", Recommended)."""

from __future__ import annotations

from kubedog_ci.rules import common
from kubedog_ci.rules.verdict import Verdict, failed, progressing, ready

DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


def evaluate(obj: dict) -> Verdict:
    """Deletion, then paused, then the rest of §2, then the rollout itself. Paused comes before the generation
    rule, as in Argo and Helm: whatever spec the controller has or has not observed, nothing rolls out."""
    return (common.terminating(obj) or _paused(obj) or common.unobserved(obj, required=True)
            or common.standard_conditions(obj) or _rollout(obj))


def _paused(obj: dict) -> Verdict | None:
    """Ready with a warning (Helm's PausedAsReady, Argo's Suspended): a paused rollout never progresses, so
    waiting for it, as kubectl and kstatus effectively do, can only end in a timeout."""
    if not common.spec(obj).get("paused"):
        return None
    subject = common.subject(obj)
    return ready("Paused", f"{subject} is paused",
                 f"{subject} is paused: its rollout does not progress until it is resumed")


def _rollout(obj: dict) -> Verdict:
    name, status = common.name(obj), common.status(obj)
    waiting = f'Waiting for deployment "{name}" rollout to finish:'
    progress = common.condition(obj, "Progressing")
    if progress is not None and progress.get("reason") == DEADLINE_EXCEEDED:
        detail = progress.get("message")
        return failed(DEADLINE_EXCEEDED, f'deployment "{name}" exceeded its progress deadline'
                      + (f": {detail}" if detail else ""))
    if progress is not None and progress.get("status") == "False":
        # Only the deadline is terminal: e.g. ReplicaSetCreateError (quota, admission) clears once the cause
        # goes (kstatus keeps it InProgress; kapp's "any Progressing=False fails" would fail a recoverable one).
        return progressing(progress.get("reason") or "NotProgressing", f"{waiting} {common.explain(progress)}")
    replicas = common.desired_replicas(obj)
    updated, total = common.count(status, "updatedReplicas"), common.count(status, "replicas")
    available = common.count(status, "availableReplicas")
    if updated < replicas:
        return progressing("LessUpdated", f"{waiting} {updated} out of {replicas} new replicas have been updated...")
    if total > updated:
        return progressing("OldReplicasPending", f"{waiting} {total - updated} old replicas are pending termination...")
    if available < updated:
        return progressing("LessAvailable", f"{waiting} {available} of {updated} updated replicas are available...")
    availability = common.condition(obj, "Available")
    if availability is not None and availability.get("status") == "False":
        return progressing(availability.get("reason") or "Unavailable", f"{waiting} {common.explain(availability)}")
    return ready("RolloutComplete", f'deployment "{name}" successfully rolled out')
