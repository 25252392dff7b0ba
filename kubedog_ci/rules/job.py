"""Job: readiness-rules.md ("Job", Recommended): by the controller's own conditions, never by counters (Helm 3's
`succeeded >= completions` ignores backoffLimit semantics, success policies and pod failure policies)."""

from __future__ import annotations

from collections.abc import Iterable

from kubedog_ci.rules import common
from kubedog_ci.rules.objects import JOB_UID_LABELS, labels, meta, oldest_first, uid
from kubedog_ci.rules.profile import KindProfile, Related, Stream, always
from kubedog_ci.rules.selectors import Selector, by_labels, from_label_selector
from kubedog_ci.rules.verdict import Verdict, failed, progressing, ready


def evaluate(obj: dict) -> Verdict:
    return common.precheck(obj) or _conditions(obj)


def _conditions(obj: dict) -> Verdict:
    subject = common.subject(obj)
    # FailureTarget comes before Failed, which waits for the remaining Pods to terminate: failing on it reports
    # the failure a termination grace period earlier than any peer (all of them wait for Failed).
    for kind in ("Failed", "FailureTarget"):
        entry = common.condition(obj, kind)
        if entry is not None and entry.get("status") == "True":
            return failed(entry.get("reason") or kind, f"{subject} failed: {common.explain(entry) or kind}")
    # SuccessCriteriaMet (a success policy) precedes Complete the same way.
    for kind in ("Complete", "SuccessCriteriaMet"):
        if common.is_true(obj, kind):
            return ready("Complete", f"{subject} completed")
    suspend = common.spec(obj).get("suspend")
    if suspend and common.is_true(obj, "Suspended"):
        return ready("Suspended", f"{subject} is suspended",
                     f"{subject} is suspended: its Pods do not run until it is resumed")
    if suspend:
        return progressing("Suspending", f"Waiting for {subject} to be suspended...")
    # kstatus's "started = Current" is wrong for a CI gate: a running Job has not done its work yet.
    return progressing("Running", f"Waiting for {subject} to complete: {_counts(obj)}...")


def _counts(obj: dict) -> str:
    status = common.status(obj)
    completions = common.spec(obj).get("completions")
    succeeded = common.count(status, "succeeded")
    done = f"{succeeded} of {completions} succeeded" if completions is not None else f"{succeeded} succeeded"
    return f"{common.count(status, 'active')} active, {done}, {common.count(status, 'failed')} failed"


def job_pods(job: dict, pods: Iterable[dict]) -> list[dict]:
    """Pods labelled with the Job's uid: the Job controller's own selector, adoption or not."""
    job_uid = uid(job)
    return oldest_first(pod for pod in pods if any(labels(pod).get(label) == job_uid for label in JOB_UID_LABELS))


def _pods(obj: dict, related: Related) -> list[dict]:
    return job_pods(obj, related.owned(Stream.PODS, meta(obj).get("namespace") or "", uid(obj)))


def _selects(stream: Stream, name: str, obj: dict | None) -> Selector | None:
    """Its Pods: its spec.selector, which the API server sets to its controller-uid label (unless manualSelector,
    and then its template's labels match it); that label itself on a Job without one."""
    if obj is None:
        return None
    return from_label_selector(common.spec(obj).get("selector")) or by_labels({JOB_UID_LABELS[0]: uid(obj)})


def _parallelism(obj: dict) -> int:
    value = common.spec(obj).get("parallelism")
    return 1 if value is None else int(value)


def _progress(obj: dict) -> tuple[int | None, int | None]:
    """Succeeded of completions."""
    return common.count(common.status(obj), "succeeded"), int(common.spec(obj).get("completions") or 1)


PROFILE = KindProfile(evaluate, streams=(Stream.PODS,), selects=_selects,
                      current_pods=_pods, replicas=_parallelism, progress=_progress,
                      controller_counts_pod_failures=True, pods_end_with_verdict=True, tracked=always,
                      without={Stream.PODS: "complete or failed from its own conditions (BackoffLimitExceeded); the "
                               "failed Pod's exit code and an image that cannot be pulled are not seen"})
