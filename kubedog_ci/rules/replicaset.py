"""ReplicaSet: readiness-rules.md ("ReplicaSet", Recommended). kubectl has no viewer; this is Argo's and kstatus's
counter rule, with `ReplicaFailure=True` kept progressing as kstatus does."""

from __future__ import annotations

from kubedog_ci.rules import common, selectors
from kubedog_ci.rules.objects import controlled_by, meta, uid
from kubedog_ci.rules.problems import Problem, replicaset_problems
from kubedog_ci.rules.profile import KindProfile, Related, Stream, always
from kubedog_ci.rules.verdict import Verdict, progressing, ready


def evaluate(obj: dict) -> Verdict:
    return common.precheck(obj, required=True) or _replicas(obj)


def _replicas(obj: dict) -> Verdict:
    status, subject = common.status(obj), common.subject(obj)
    waiting = f"Waiting for {subject}:"
    failure = common.condition(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        # FailedCreate from a quota or an admission webhook may clear (Argo's Degraded is too early); the
        # message is the root cause the live engine shows, and may fail fast on.
        return progressing(failure.get("reason") or "ReplicaFailure", f"{waiting} {common.explain(failure)}")
    replicas = common.desired_replicas(obj)
    ready_pods, available = common.count(status, "readyReplicas"), common.count(status, "availableReplicas")
    if ready_pods < replicas:
        return progressing("LessReady", f"{waiting} {ready_pods} of {replicas} replicas are ready...")
    if available < replicas:
        return progressing("LessAvailable", f"{waiting} {available} of {replicas} replicas are available...")
    total = common.count(status, "replicas")
    if total > replicas:
        return progressing("ExtraPods", f"{waiting} {total - replicas} extra replicas are pending termination...")
    return ready("ReplicasReady", f"{subject} has {replicas} of {replicas} replicas available")


def _pods(obj: dict, related: Related) -> list[dict]:
    return controlled_by(obj, related.owned(Stream.PODS, meta(obj).get("namespace") or "", uid(obj)))


def _problems(obj: dict, related: Related) -> list[Problem]:
    return replicaset_problems(obj)


PROFILE = KindProfile(evaluate, streams=(Stream.PODS,), selects=selectors.workload, current_pods=_pods,
                      replicas=common.desired_replicas, progress=common.ready_replicas, object_problems=_problems,
                      tracked=always, settles=True,
                      without={Stream.PODS: "ready from its own status; a failing Pod is not seen: the run ends at "
                               "its timeout"})
