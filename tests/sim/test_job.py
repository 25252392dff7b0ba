"""The Job controller through the official Python client: pods, counters, conditions, back-off and Events.

The cluster has no nodes, so no scheduler or kubelet touches the Job's pods: each test plays the kubelet by
writing pod status through the status subresource, which pins down the exact counting rules.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.controllers.job import (
    Backoff,
    backoff_delay,
    first_pending_indexes,
    format_indexes,
    next_backoff,
    parse_indexes,
)
from tests.support import DEFAULT_TIME_SCALE, Kube, cluster_kube, kubectl, make_kube, wait_until

TRACKING = "batch.kubernetes.io/job-tracking"
INDEX = "batch.kubernetes.io/job-completion-index"


# --- pure functions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("failures", "seconds"), [
    (0, 0.0), (1, 10.0), (2, 20.0), (3, 40.0), (6, 320.0), (7, 600.0), (30, 600.0)])
def test_backoff_delay_doubles_from_ten_seconds_up_to_ten_minutes(failures: int, seconds: float) -> None:
    assert backoff_delay(failures) == seconds


@pytest.mark.parametrize(("record", "succeeded", "failed", "expected"), [
    (Backoff(), [], [], Backoff()),
    (Backoff(2, 5.0), [], [], Backoff(2, 5.0)),
    (Backoff(), [], [3.0, 1.0], Backoff(2, 3.0)),
    (Backoff(1, 1.0), [], [4.0], Backoff(2, 4.0)),
    (Backoff(3, 1.0), [2.0], [], Backoff(0, None)),
    (Backoff(3, 1.0), [5.0], [4.0, 6.0, 7.0], Backoff(2, 7.0)),
    (Backoff(3, 1.0), [9.0], [4.0, 6.0], Backoff(0, None)),
])
def test_next_backoff_counts_failures_after_the_last_success(
        record: Backoff, succeeded: list[float], failed: list[float], expected: Backoff) -> None:
    assert next_backoff(record, succeeded, failed) == expected


@pytest.mark.parametrize(("indexes", "text"), [
    ([], ""), ([3], "3"), ([0, 1], "0,1"), ([0, 1, 2], "0-2"), ([4, 0, 2, 1, 6, 7], "0-2,4,6,7")])
def test_completed_indexes_are_written_as_intervals(indexes: list[int], text: str) -> None:
    assert format_indexes(indexes) == text
    assert parse_indexes(text, 100) == set(indexes)


def test_parse_indexes_ignores_corrupt_and_out_of_range_parts() -> None:
    assert parse_indexes("0-2,x,4-9", 6) == {0, 1, 2, 4, 5}


def test_first_pending_indexes_skips_taken_ones() -> None:
    assert first_pending_indexes({0, 2}, 2, 5) == [1, 3]
    assert first_pending_indexes({0, 1}, 3, 3) == [2]


# --- fixtures and helpers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kc() -> Iterator[Kube]:
    """Handles for a cluster without nodes, so no scheduler or kubelet touches the pods."""
    with cluster_kube(nodes=0) as handles:
        yield handles


def create_job(kc: Kube, ns: str, name: str, restart: str = "Never", **spec: object) -> dict:
    body = {"metadata": {"name": name}, "spec": {
        "template": {"spec": {"restartPolicy": restart,
                              "containers": [{"name": "main", "image": "busybox:1.36", "command": ["true"]}]}},
        **spec}}
    return kc.api_client.sanitize_for_serialization(kc.batch.create_namespaced_job(ns, body))


def job_status(kc: Kube, ns: str, name: str) -> dict:
    return kc.api_client.sanitize_for_serialization(kc.batch.read_namespaced_job_status(name, ns)).get("status", {})


def pods(kc: Kube, ns: str, job: str) -> list:
    found = kc.core.list_namespaced_pod(ns, label_selector=f"batch.kubernetes.io/job-name={job}").items
    return sorted(found, key=lambda p: (p.metadata.creation_timestamp, p.metadata.name))


def live_pods(kc: Kube, ns: str, job: str) -> list:
    return [p for p in pods(kc, ns, job) if p.status.phase not in ("Succeeded", "Failed")
            and p.metadata.deletion_timestamp is None]


def wait_pods(kc: Kube, ns: str, job: str, count: int) -> list:
    """Wait until exactly `count` unfinished pods exist and return them."""
    wait_until(lambda: len(live_pods(kc, ns, job)) == count, message=f"{count} running pods of {job}")
    return live_pods(kc, ns, job)


def finish(kc: Kube, ns: str, pod: str, exit_code: int) -> None:
    """Play the kubelet: the container terminated with `exit_code`, so the pod Succeeded or Failed."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    terminated = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                  "startedAt": now, "finishedAt": now}
    kc.core.patch_namespaced_pod_status(pod, ns, {"status": {
        "phase": "Succeeded" if exit_code == 0 else "Failed",
        "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted"}],
        "containerStatuses": [{"name": "main", "image": "busybox:1.36", "imageID": "", "ready": False,
                               "restartCount": 0, "state": {"terminated": terminated}}]}})


def run_ready(kc: Kube, ns: str, pod: str, restarts: int = 0) -> None:
    kc.core.patch_namespaced_pod_status(pod, ns, {"status": {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "main", "image": "busybox:1.36", "imageID": "", "ready": True,
                               "restartCount": restarts, "state": {"running": {}}}]}})


def conditions(kc: Kube, ns: str, name: str) -> list[tuple[str, str, str, str]]:
    return [(c["type"], c["status"], c.get("reason", ""), c.get("message", ""))
            for c in job_status(kc, ns, name).get("conditions", [])]


def events(kc: Kube, ns: str, name: str) -> list[tuple[str, str, str]]:
    items = kc.core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items
    return [(e.type, e.reason, e.message) for e in items if e.source.component == "job-controller"]


def wait_finished(kc: Kube, ns: str, name: str, ctype: str) -> dict:
    wait_until(lambda: any(c[0] == ctype and c[1] == "True" for c in conditions(kc, ns, name)),
               message=f"condition {ctype} on job {name}")
    return job_status(kc, ns, name)


COMPLETED = [("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
             ("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods")]


def failed_conditions(reason: str, message: str) -> list[tuple[str, str, str, str]]:
    return [("FailureTarget", "True", reason, message), ("Failed", "True", reason, message)]


# --- pods and success -------------------------------------------------------------------------------------


def test_job_creates_tracked_pods_from_its_template(kc: Kube, ns: str) -> None:
    job = create_job(kc, ns, "migrate")
    [pod] = wait_pods(kc, ns, "migrate", 1)
    uid = job["metadata"]["uid"]
    assert re.fullmatch(r"migrate-[a-z0-9]{5}", pod.metadata.name)
    assert pod.metadata.generate_name == "migrate-"
    assert pod.metadata.finalizers == [TRACKING]
    assert pod.metadata.labels == {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "migrate",
                                   "controller-uid": uid, "job-name": "migrate"}
    [ref] = pod.metadata.owner_references
    assert (ref.api_version, ref.kind, ref.name, ref.uid, ref.controller, ref.block_owner_deletion) == \
        ("batch/v1", "Job", "migrate", uid, True, True)
    assert pod.spec.restart_policy == "Never"
    wait_until(lambda: job_status(kc, ns, "migrate").get("active") == 1, message="active 1")
    status = job_status(kc, ns, "migrate")
    assert status["startTime"] and status["ready"] == 0 and status["terminating"] == 0
    assert status["uncountedTerminatedPods"] == {}
    assert "succeeded" not in status and "failed" not in status and "conditions" not in status
    assert events(kc, ns, "migrate") == [("Normal", "SuccessfulCreate", f"Created pod: {pod.metadata.name}")]


def test_completions_run_one_after_another_until_complete(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "batch", completions=3)
    names = []
    for done in range(3):
        [pod] = wait_pods(kc, ns, "batch", 1)
        names.append(pod.metadata.name)
        finish(kc, ns, pod.metadata.name, 0)
        if done < 2:
            wait_until(lambda n=done: job_status(kc, ns, "batch").get("succeeded") == n + 1, message="succeeded")
    status = wait_finished(kc, ns, "batch", "Complete")
    assert conditions(kc, ns, "batch") == COMPLETED
    assert status["succeeded"] == 3 and "active" not in status and "failed" not in status
    assert status["completionTime"] == status["conditions"][1]["lastTransitionTime"]
    assert status["uncountedTerminatedPods"] == {} and status["ready"] == 0 and status["terminating"] == 0
    assert all(p.metadata.finalizers is None for p in pods(kc, ns, "batch"))
    assert events(kc, ns, "batch") == [
        *[("Normal", "SuccessfulCreate", f"Created pod: {n}") for n in names], ("Normal", "Completed", "Job completed")]


def test_parallel_pods_report_ready_and_stop_at_completions(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "fanout", completions=3, parallelism=2)
    first, second = wait_pods(kc, ns, "fanout", 2)
    run_ready(kc, ns, first.metadata.name)
    wait_until(lambda: job_status(kc, ns, "fanout").get("ready") == 1, message="ready 1")
    assert job_status(kc, ns, "fanout")["active"] == 2
    finish(kc, ns, first.metadata.name, 0)
    finish(kc, ns, second.metadata.name, 0)
    [third] = wait_pods(kc, ns, "fanout", 1)  # only one completion is left, so only one more pod
    # The pod can appear before the status write that counts the first two lands, as on a real cluster.
    wait_until(lambda: job_status(kc, ns, "fanout").get("succeeded") == 2, message="succeeded 2")
    finish(kc, ns, third.metadata.name, 0)
    assert wait_finished(kc, ns, "fanout", "Complete")["succeeded"] == 3
    assert len(pods(kc, ns, "fanout")) == 3


def test_work_queue_job_completes_when_one_pod_succeeds_and_the_rest_finish(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "queue", parallelism=2)
    first, second = wait_pods(kc, ns, "queue", 2)
    assert kc.batch.read_namespaced_job("queue", ns).spec.completions is None
    finish(kc, ns, first.metadata.name, 0)
    wait_until(lambda: job_status(kc, ns, "queue").get("succeeded") == 1, message="succeeded 1")
    assert len(live_pods(kc, ns, "queue")) == 1 and "conditions" not in job_status(kc, ns, "queue")
    finish(kc, ns, second.metadata.name, 0)
    assert wait_finished(kc, ns, "queue", "Complete")["succeeded"] == 2


def test_a_deleted_finished_pod_is_still_counted(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "short")
    [pod] = wait_pods(kc, ns, "short", 1)
    finish(kc, ns, pod.metadata.name, 0)
    kc.core.delete_namespaced_pod(pod.metadata.name, ns)
    assert wait_finished(kc, ns, "short", "Complete")["succeeded"] == 1
    wait_until(lambda: not pods(kc, ns, "short"), message="the deleted pod released by the finalizer")


# --- failures ---------------------------------------------------------------------------------------------


def test_failed_pods_are_replaced_after_a_growing_back_off_until_the_backoff_limit(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "flaky", backoffLimit=2)
    [pod] = wait_pods(kc, ns, "flaky", 1)
    names = [pod.metadata.name]
    for failures, back_off in ((1, 10), (2, 20)):
        failed_at = time.monotonic()
        finish(kc, ns, pod.metadata.name, 1)
        [pod] = wait_pods(kc, ns, "flaky", 1)
        # the replacement waits out 10s, then 20s (simulated) after the failure; slowness only adds to it
        assert time.monotonic() - failed_at >= back_off * DEFAULT_TIME_SCALE * 0.95
        assert job_status(kc, ns, "flaky")["failed"] == failures
        names.append(pod.metadata.name)
    finish(kc, ns, pod.metadata.name, 1)
    status = wait_finished(kc, ns, "flaky", "Failed")
    message = "Job has reached the specified backoff limit"
    assert conditions(kc, ns, "flaky") == failed_conditions("BackoffLimitExceeded", message)
    assert status["failed"] == 3 and "active" not in status and "completionTime" not in status
    created = {p.metadata.name: p.metadata.creation_timestamp for p in pods(kc, ns, "flaky")}
    assert set(created) == set(names)
    assert [created[n] for n in names] == sorted(created.values())
    assert events(kc, ns, "flaky") == [*[("Normal", "SuccessfulCreate", f"Created pod: {n}") for n in names],
                                       ("Warning", "BackoffLimitExceeded", message)]


def test_a_deleted_running_pod_counts_as_failed_and_is_replaced(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "evicted")
    [pod] = wait_pods(kc, ns, "evicted", 1)
    kc.core.delete_namespaced_pod(pod.metadata.name, ns)
    [replacement] = wait_pods(kc, ns, "evicted", 1)
    assert replacement.metadata.name != pod.metadata.name
    wait_until(lambda: job_status(kc, ns, "evicted").get("failed") == 1, message="failed 1")


def test_on_failure_restarts_count_toward_the_backoff_limit(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "crashy", restart="OnFailure", backoffLimit=2)
    [pod] = wait_pods(kc, ns, "crashy", 1)
    run_ready(kc, ns, pod.metadata.name, restarts=1)
    wait_until(lambda: job_status(kc, ns, "crashy").get("ready") == 1, message="ready 1")
    assert "conditions" not in job_status(kc, ns, "crashy")
    run_ready(kc, ns, pod.metadata.name, restarts=2)
    status = wait_finished(kc, ns, "crashy", "Failed")
    message = "Job has reached the specified backoff limit"
    assert conditions(kc, ns, "crashy") == failed_conditions("BackoffLimitExceeded", message)
    assert status["failed"] == 1 and status["ready"] == 0 and "active" not in status
    assert events(kc, ns, "crashy")[-2:] == [("Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}"),
                                            ("Warning", "BackoffLimitExceeded", message)]


def test_active_deadline_fails_the_job_and_deletes_its_pods(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "slow", activeDeadlineSeconds=3, parallelism=2, completions=2)
    first, second = wait_pods(kc, ns, "slow", 2)
    status = wait_finished(kc, ns, "slow", "Failed")
    message = "Job was active longer than specified deadline"
    assert conditions(kc, ns, "slow") == failed_conditions("DeadlineExceeded", message)
    assert status["failed"] == 2 and "active" not in status and status["terminating"] == 0
    deleted = {e for e in events(kc, ns, "slow") if e[1] == "SuccessfulDelete"}
    assert deleted == {("Normal", "SuccessfulDelete", f"Deleted pod: {p.metadata.name}") for p in (first, second)}
    assert events(kc, ns, "slow")[-1] == ("Warning", "DeadlineExceeded", message)


# --- suspend, indexed, deletion ---------------------------------------------------------------------------


def test_a_suspended_job_creates_no_pods_until_resumed(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "later", suspend=True)
    wait_until(lambda: conditions(kc, ns, "later"), message="the Suspended condition")
    assert conditions(kc, ns, "later") == [("Suspended", "True", "JobSuspended", "Job suspended")]
    status = job_status(kc, ns, "later")
    assert "startTime" not in status and not pods(kc, ns, "later")
    kc.batch.patch_namespaced_job("later", ns, {"spec": {"suspend": False}})
    wait_pods(kc, ns, "later", 1)
    wait_until(lambda: conditions(kc, ns, "later")[0][1] == "False", message="resumed")
    assert conditions(kc, ns, "later") == [("Suspended", "False", "JobResumed", "Job resumed")]
    assert job_status(kc, ns, "later")["startTime"]
    # manageJob creates the pods before the sync records the condition change, as in the real controller
    assert [e[1] for e in events(kc, ns, "later")] == ["Suspended", "SuccessfulCreate", "Resumed"]


def test_suspending_a_running_job_deletes_its_pods_without_counting_failures(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "paused", parallelism=2, completions=4)
    wait_pods(kc, ns, "paused", 2)
    kc.batch.patch_namespaced_job("paused", ns, {"spec": {"suspend": True}})
    wait_until(lambda: not pods(kc, ns, "paused"), message="pods deleted")
    wait_until(lambda: ("Suspended", "True", "JobSuspended", "Job suspended") in conditions(kc, ns, "paused"),
               message="suspended")
    status = job_status(kc, ns, "paused")
    assert "failed" not in status and "active" not in status


def test_indexed_job_gives_each_pod_its_completion_index(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "shard", completions=3, parallelism=3, completionMode="Indexed")
    running = wait_pods(kc, ns, "shard", 3)
    by_index = {int(p.metadata.annotations[INDEX]): p for p in running}
    assert sorted(by_index) == [0, 1, 2]
    for index, pod in by_index.items():
        assert pod.metadata.name.startswith(f"shard-{index}-")
        assert pod.metadata.labels[INDEX] == str(index)
        assert pod.spec.hostname == f"shard-{index}"
        [env] = pod.spec.containers[0].env
        assert (env.name, env.value_from.field_ref.field_path) == \
            ("JOB_COMPLETION_INDEX", f"metadata.labels['{INDEX}']")
    finish(kc, ns, by_index[0].metadata.name, 0)
    finish(kc, ns, by_index[2].metadata.name, 0)
    wait_until(lambda: job_status(kc, ns, "shard").get("completedIndexes") == "0,2", message="indexes 0,2")
    assert job_status(kc, ns, "shard")["succeeded"] == 2
    finish(kc, ns, by_index[1].metadata.name, 1)
    [retry] = wait_pods(kc, ns, "shard", 1)
    assert retry.metadata.annotations[INDEX] == "1"
    finish(kc, ns, retry.metadata.name, 0)
    status = wait_finished(kc, ns, "shard", "Complete")
    assert (status["completedIndexes"], status["succeeded"], status["failed"]) == ("0-2", 3, 1)


def test_deleting_a_job_in_the_background_removes_its_pods(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "gone", parallelism=2, completions=2)
    wait_pods(kc, ns, "gone", 2)
    kc.batch.delete_namespaced_job("gone", ns, propagation_policy="Background")
    wait_until(lambda: not pods(kc, ns, "gone"), message="the job's pods deleted")


def test_deleting_a_job_without_propagation_orphans_its_pods(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "kept")
    [pod] = wait_pods(kc, ns, "kept", 1)
    kc.batch.delete_namespaced_job("kept", ns)
    wait_until(lambda: not kc.batch.list_namespaced_job(ns).items, message="the job deleted")
    wait_until(lambda: kc.core.read_namespaced_pod(pod.metadata.name, ns).metadata.finalizers is None,
               message="the tracking finalizer removed from the orphan")
    orphan = kc.core.read_namespaced_pod(pod.metadata.name, ns)
    assert orphan.metadata.owner_references is None and orphan.metadata.deletion_timestamp is None


# --- on the full cluster ---------------------------------------------------------------------------------


def test_jobs_of_real_containers_complete_and_fail(sim_factory: Callable[..., SimCluster]) -> None:
    """Scheduler and kubelet run the containers; exit codes decide the pods' and the Jobs' fate."""
    full = make_kube(sim_factory())
    try:
        create_shell_job(full, "ok", "echo migrating; sleep 1")
        create_shell_job(full, "bad", "echo broken; exit 3", backoffLimit=1)
        create_shell_job(full, "crash", "exit 1", restart="OnFailure", backoffLimit=2)
        assert wait_finished(full, "default", "ok", "Complete")["succeeded"] == 1
        assert conditions(full, "default", "ok") == COMPLETED
        message = "Job has reached the specified backoff limit"
        assert wait_finished(full, "default", "bad", "Failed")["failed"] == 2
        assert conditions(full, "default", "bad") == failed_conditions("BackoffLimitExceeded", message)
        exit_codes = [p.status.container_statuses[0].state.terminated.exit_code for p in pods(full, "default", "bad")]
        assert exit_codes == [3, 3]
        assert wait_finished(full, "default", "crash", "Failed")["failed"] == 1
        assert events(full, "default", "crash")[-1] == ("Warning", "BackoffLimitExceeded", message)
    finally:
        full.api_client.close()


def create_shell_job(kc: Kube, name: str, script: str, restart: str = "Never", **spec: object) -> None:
    kc.batch.create_namespaced_job("default", {"metadata": {"name": name}, "spec": {**spec, "template": {"spec": {
        "restartPolicy": restart, "containers": [{"name": "main", "image": "busybox:1.36",
                                                  "command": ["sh", "-c", script]}]}}}})


# --- kubectl ----------------------------------------------------------------------------------------------


@pytest.mark.kubectl
def test_kubectl_wait_for_complete_and_failed(kc: Kube, ns: str) -> None:
    create_job(kc, ns, "ok")
    create_job(kc, ns, "bad", backoffLimit=0)
    [ok] = wait_pods(kc, ns, "ok", 1)
    [bad] = wait_pods(kc, ns, "bad", 1)
    finish(kc, ns, ok.metadata.name, 0)
    finish(kc, ns, bad.metadata.name, 2)
    done = kubectl(kc, "-n", ns, "wait", "--for=condition=complete", "job/ok", "--timeout=20s")
    assert done.returncode == 0 and done.stdout.strip() == "job.batch/ok condition met", done.stderr
    failed = kubectl(kc, "-n", ns, "wait", "--for=condition=failed", "job/bad", "--timeout=20s")
    assert failed.returncode == 0 and failed.stdout.strip() == "job.batch/bad condition met", failed.stderr
