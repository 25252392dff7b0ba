"""Job: readiness-rules.md ("Job", Recommended): by the controller's conditions, never by counters."""

from __future__ import annotations

import pytest

from kubedog_ci.rules import evaluate
from kubedog_ci.rules.verdict import State
from tests.rules.builders import FAILED, PROGRESSING, READY, check, cond, resource

STARTED = "2024-05-01T12:00:00Z"


def job(*conditions: dict, completions: int | None = 3, backoff_limit: int = 6, suspend: bool | None = None,
        active: int = 0, succeeded: int = 0, failed: int = 0, started: bool = True, deleting: bool = False) -> dict:
    """A Job; by default a started one with no conditions yet."""
    spec: dict = {"backoffLimit": backoff_limit, "parallelism": 1, "template": {"spec": {"restartPolicy": "Never"}}}
    if completions is not None:
        spec["completions"] = completions
    if suspend is not None:
        spec["suspend"] = suspend
    status = {"active": active, "succeeded": succeeded, "failed": failed, "startTime": STARTED if started else None}
    return resource("batch/v1", "Job", "migrate", spec=spec, status=status, deleting=deleting,
                    conditions=list(conditions))


BACKOFF = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE = ("DeadlineExceeded", "Job was active longer than specified deadline")

CASES = [
    pytest.param(job(cond("SuccessCriteriaMet"), cond("Complete"), succeeded=3), READY, "Complete",
                 'job "migrate" completed', id="complete"),
    # A success policy: SuccessCriteriaMet comes before Complete (no peer handles it).
    pytest.param(job(cond("SuccessCriteriaMet", "True", "SuccessPolicy"), active=1, succeeded=1), READY, "Complete",
                 "completed", id="success-criteria-met"),
    pytest.param(job(cond("FailureTarget", "True", *BACKOFF), cond("Failed", "True", *BACKOFF), failed=7), FAILED,
                 "BackoffLimitExceeded", 'job "migrate" failed: BackoffLimitExceeded: Job has reached the specified',
                 id="backoff-limit-exceeded"),
    pytest.param(job(cond("Failed", "True", *DEADLINE), active=0), FAILED, "DeadlineExceeded",
                 "active longer than specified deadline", id="deadline-exceeded"),
    # FailureTarget before Failed: the controller still waits for Pods to terminate; no peer fails this early.
    pytest.param(job(cond("FailureTarget", "True", "PodFailurePolicy", "Container app exited with 42"), active=1),
                 FAILED, "PodFailurePolicy", "exited with 42", id="failure-target"),
    # §4.1: kstatus and Helm 4 --wait call a started Job Current; kapp, Argo, --wait-for-jobs and upstream don't.
    pytest.param(job(active=1, succeeded=1), PROGRESSING, "Running",
                 'Waiting for job "migrate" to complete: 1 active, 1 of 3 succeeded, 0 failed...',
                 id="running-started-job"),
    pytest.param(job(started=False), PROGRESSING, "Running", "0 active, 0 of 3 succeeded", id="not-started"),
    # §4.2: Helm 3 legacy says ready by counters (succeeded >= completions); we wait for the Complete condition.
    pytest.param(job(succeeded=3), PROGRESSING, "Running", "3 of 3 succeeded", id="counters-met-no-condition"),
    # §4.2: Helm 3 legacy fails on failed > backoffLimit; the controller's Failed condition decides here.
    pytest.param(job(failed=7, backoff_limit=6, active=1), PROGRESSING, "Running", "7 failed",
                 id="counters-over-backoff-limit-no-condition"),
    # Argo reports any Failed condition as Degraded, and any Complete as Healthy, whatever its status.
    pytest.param(job(cond("Failed", "False"), active=1), PROGRESSING, "Running", "1 active",
                 id="failed-condition-false"),
    pytest.param(job(cond("Complete", "False"), active=1), PROGRESSING, "Running", "1 active",
                 id="complete-condition-false"),
    pytest.param(job(cond("Suspended", "True", "JobSuspended", "Job suspended"), suspend=True, started=False),
                 READY, "Suspended", 'job "migrate" is suspended', id="suspended"),
    pytest.param(job(suspend=True, active=1), PROGRESSING, "Suspending", "Waiting for job \"migrate\" to be suspended",
                 id="suspend-requested-not-yet-applied"),
    pytest.param(job(cond("Suspended", "False", "JobResumed"), suspend=False, active=1), PROGRESSING, "Running",
                 "1 active", id="resumed"),
    pytest.param(job(completions=None, active=2, succeeded=1), PROGRESSING, "Running",
                 "2 active, 1 succeeded, 0 failed", id="work-queue-without-completions"),
    pytest.param(job(cond("Complete"), deleting=True), PROGRESSING, "Terminating", 'job "migrate" is being deleted',
                 id="deletion-timestamp"),
    pytest.param(job(cond("Stalled", "True", "QuotaExceeded")), FAILED, "QuotaExceeded", "is stalled", id="stalled"),
    pytest.param(job(cond("Reconciling", "True")), PROGRESSING, "Reconciling", "reconcile", id="reconciling"),
]


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_job_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_only_a_suspended_job_warns(obj: dict, state: State, reason: str, fragment: str) -> None:
    assert bool(evaluate(obj).warnings) == (reason == "Suspended")
