"""Deployment: kubectl's `rollout status` counters (DeploymentStatusViewer), the canonical implementation, plus
the cheap guards of readiness-rules.md ("Deployment", Recommended)."""

from __future__ import annotations

from collections.abc import Iterable

from kubedog_ci.rules import common, selectors
from kubedog_ci.rules.objects import annotations, controlled_by, is_observed, labels, meta, uid
from kubedog_ci.rules.problems import Problem, replicaset_problems
from kubedog_ci.rules.profile import KindProfile, Related, Stream, always
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


REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def current_replicaset(deployment: dict, replicasets: Iterable[dict]) -> dict | None:
    """The Deployment's ReplicaSet of its newest revision: the one whose revision annotation equals the
    Deployment's (the controller stamps both with the same number)."""
    if not is_observed(deployment):
        return None
    revision = annotations(deployment).get(REVISION_ANNOTATION)
    if revision is None:
        return None
    return next((rs for rs in controlled_by(deployment, replicasets)
                 if annotations(rs).get(REVISION_ANNOTATION) == revision), None)


def deployment_pods(deployment: dict, replicasets: Iterable[dict], pods: Iterable[dict]) -> list[dict]:
    """Deployment → the ReplicaSet of the newest revision → its Pods with that pod-template-hash."""
    rs = current_replicaset(deployment, replicasets)
    if rs is None:
        return []
    template_hash = labels(rs).get("pod-template-hash")
    return [pod for pod in controlled_by(rs, pods)
            if template_hash is None or labels(pod).get("pod-template-hash") == template_hash]


def _current(obj: dict, related: Related) -> list[dict]:
    rs = current_replicaset(obj, related.owned(Stream.REPLICASETS, meta(obj).get("namespace") or "", uid(obj)))
    return [rs] if rs is not None else []


def _pods(obj: dict, related: Related) -> list[dict]:
    namespace = meta(obj).get("namespace") or ""
    replicasets = related.owned(Stream.REPLICASETS, namespace, uid(obj))
    rs = current_replicaset(obj, replicasets)
    return deployment_pods(obj, replicasets, related.owned(Stream.PODS, namespace, uid(rs))) if rs else []


def _problems(obj: dict, related: Related) -> list[Problem]:
    """The current ReplicaSet's ReplicaFailure: the controller cannot create its Pods (quota, admission)."""
    return [problem for rs in _current(obj, related) for problem in replicaset_problems(rs)]


_WITHOUT_PODS = ("ready from its own status; a failing Pod is found only when the rollout exceeds its progress "
                 "deadline (ProgressDeadlineExceeded)")
PROFILE = KindProfile(evaluate, streams=(Stream.REPLICASETS, Stream.PODS), selects=selectors.workload,
                      current_pods=_pods, current_related=_current, replicas=common.desired_replicas,
                      progress=common.ready_replicas, object_problems=_problems, tracked=always, settles=True,
                      without={Stream.PODS: _WITHOUT_PODS, Stream.REPLICASETS: _WITHOUT_PODS + "; quota and "
                               "admission refusals (ReplicaFailure) are not seen"})
