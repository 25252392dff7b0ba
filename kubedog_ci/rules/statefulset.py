"""StatefulSet: readiness-rules.md ("StatefulSet", Recommended): kubectl's StatefulSetStatusViewer for
readiness and partitions, Helm's revision check for the end of a full rollout, Argo's answer for OnDelete."""

from __future__ import annotations

from collections.abc import Iterable

from kubedog_ci.rules import common, selectors
from kubedog_ci.rules.objects import REVISION_HASH_LABEL, controlled_by, is_observed, labels, meta, uid
from kubedog_ci.rules.profile import KindProfile, Related, Stream, always
from kubedog_ci.rules.verdict import Verdict, progressing, ready


def evaluate(obj: dict) -> Verdict:
    """kubectl treats observedGeneration 0 as "not observed yet", so the generation rule does too."""
    return common.precheck(obj, required=True, zero_is_unobserved=True) or _rollout(obj)


def _rollout(obj: dict) -> Verdict:
    spec, status = common.spec(obj), common.status(obj)
    replicas = common.desired_replicas(obj)
    ready_pods, total = common.count(status, "readyReplicas"), common.count(status, "replicas")
    updated, current = common.count(status, "updatedReplicas"), common.count(status, "currentReplicas")
    update_revision, current_revision = status.get("updateRevision"), status.get("currentRevision")
    if ready_pods < replicas:
        return progressing("LessReady", f"Waiting for {replicas - ready_pods} pods to be ready...")
    if total > replicas:
        # kstatus's ExtraPods: a scale-down is not done while surplus Pods still exist.
        return progressing("ExtraPods", f"Waiting for {total - replicas} pods to be deleted on scale down...")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        # Nothing rolls on its own, so "observed and every replica ready" is all one can ask (Argo). kubectl
        # errors, kstatus and Helm skip readiness, kapp hangs; say ready but tell how many Pods are behind.
        behind = replicas - updated if update_revision != current_revision else 0
        warnings = [f"{behind} of {replicas} pods run an old revision: with the OnDelete strategy they are "
                    f"replaced only when deleted"] if behind > 0 else []
        return ready("OnDelete", f"{common.subject(obj)} (OnDelete): {ready_pods} of {replicas} pods are ready",
                     *warnings)
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    if partition > 0:
        # Everyone: the Pods at or above the partition must be updated; a partition above replicas is done.
        target = replicas - partition
        if updated < target:
            return progressing("PartitionRollout", "Waiting for partitioned roll out to finish: "
                               f"{updated} out of {target} new pods have been updated...")
        return ready("PartitionRolledOut", f"partitioned roll out complete: {updated} new pods have been updated...")
    if update_revision != current_revision:
        # Only Helm compares revisions, but the controller sets currentRevision = updateRevision only once every
        # replica is updated and ready (completeRollingUpdate): the true end of the rollout.
        return progressing("RevisionMismatch", "waiting for statefulset rolling update to complete "
                           f"{updated} pods at revision {update_revision}...")
    # With equal revisions the controller counts each Pod in both counters; take either one a snapshot has.
    at_revision = max(updated, current)
    if at_revision < replicas:
        return progressing("LessUpdated", "waiting for statefulset rolling update to complete "
                           f"{at_revision} pods at revision {update_revision}...")
    return ready("RolloutComplete", f"statefulset rolling update complete {at_revision} pods at revision "
                 f"{current_revision}...")



def statefulset_pods(sts: dict, pods: Iterable[dict]) -> list[dict]:
    """Pods whose controller-revision-hash is status.updateRevision (with a partition, only those updated)."""
    revision = common.status(sts).get("updateRevision")
    if not revision or not is_observed(sts):
        return []
    return [pod for pod in controlled_by(sts, pods) if labels(pod).get(REVISION_HASH_LABEL) == revision]


def _pods(obj: dict, related: Related) -> list[dict]:
    return statefulset_pods(obj, related.owned(Stream.PODS, meta(obj).get("namespace") or "", uid(obj)))


PROFILE = KindProfile(evaluate, streams=(Stream.PODS,), selects=selectors.workload, current_pods=_pods,
                      replicas=common.desired_replicas, progress=common.ready_replicas, own_events_are_signs=True,
                      tracked=always, settles=True,
                      without={Stream.PODS: "ready from its own status; a failing Pod is not seen (a StatefulSet has "
                               "no progress deadline: the run ends at its timeout)"})
