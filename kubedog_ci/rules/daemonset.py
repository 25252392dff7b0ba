"""DaemonSet: readiness-rules.md ("DaemonSet", Recommended): kubectl's DaemonSetStatusViewer counters, plus a
readiness check and an OnDelete rule that still waits for every Pod to be available."""

from __future__ import annotations

from collections.abc import Iterable

from kubedog_ci.rules import common, selectors
from kubedog_ci.rules.objects import REVISION_HASH_LABEL, annotations, controlled_by, is_observed, labels, meta, uid
from kubedog_ci.rules.profile import KindProfile, Related, Stream, always
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
    # Both availability counters are omitempty; the controller writes numberUnavailable = desired - numberAvailable.
    explicit = status.get("numberAvailable") is not None or status.get("numberUnavailable") is not None
    available = (status["numberAvailable"] if status.get("numberAvailable") is not None
                 else desired - common.count(status, "numberUnavailable"))
    # An available Pod is a ready one (that stayed ready minReadySeconds): peers' objects that carry only the
    # availability counters prove readiness too.
    ready_pods = max(common.count(status, "numberReady"), available if explicit else 0)
    if ready_pods < desired:
        return progressing("LessReady", f"{waiting} {ready_pods} of {desired} pods are ready...")
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


TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


def daemonset_pods(ds: dict, revisions: Iterable[dict], pods: Iterable[dict]) -> list[dict]:
    """Pods whose controller-revision-hash is the newest ControllerRevision's, or whose pod-template-generation
    is the DaemonSet's template generation (what the controller itself checks)."""
    if not is_observed(ds):
        return []
    newest = max(controlled_by(ds, revisions), key=lambda rev: int(rev.get("revision") or 0), default=None)
    revision_hash = labels(newest).get(REVISION_HASH_LABEL) if newest else None
    generation = str(annotations(ds).get(TEMPLATE_GENERATION_ANNOTATION) or meta(ds).get("generation") or "")
    current = []
    for pod in controlled_by(ds, pods):
        pod_labels = labels(pod)
        if (revision_hash and pod_labels.get(REVISION_HASH_LABEL) == revision_hash) or (
                generation and pod_labels.get(TEMPLATE_GENERATION_LABEL) == generation):
            current.append(pod)
    return current


def _pods(obj: dict, related: Related) -> list[dict]:
    namespace, owner = meta(obj).get("namespace") or "", uid(obj)
    return daemonset_pods(obj, related.owned(Stream.CONTROLLER_REVISIONS, namespace, owner),
                          related.owned(Stream.PODS, namespace, owner))


def _desired(obj: dict) -> int:
    return common.count(common.status(obj), "desiredNumberScheduled")


def _progress(obj: dict) -> tuple[int | None, int | None]:
    return common.count(common.status(obj), "numberReady"), _desired(obj)


PROFILE = KindProfile(evaluate, streams=(Stream.CONTROLLER_REVISIONS, Stream.PODS), selects=selectors.workload,
                      current_pods=_pods, replicas=_desired, progress=_progress, own_events_are_signs=True,
                      tracked=always, settles=True,
                      without={Stream.PODS: "ready from its own status; a failing Pod is not seen (a DaemonSet has no "
                               "progress deadline: the run ends at its timeout)",
                               Stream.CONTROLLER_REVISIONS: "its current Pods are found by their template generation "
                               "alone"})
