"""Failure signs: what a Pod's status, a ReplicaSet's condition, a custom resource and an Event say, classified,
and keyed so that one crashed container run counts once however many times it is reported."""

from __future__ import annotations

import pytest

from kubedog_ci.rules.problems import (
    custom_problems,
    event_problem,
    pod_problems,
    readiness_grace,
    replicaset_problems,
)
from tests.engine.builders import event, exited, obj, pod, running, terminated, waiting

NOT_FOUND = 'Back-off pulling image "r/api:v2": ErrImagePull: r/api:v2: not found'


def signs(target: dict, **kwargs: object) -> list[tuple[str, str, str | None, str]]:
    return [(s.where, s.reason, s.container, str(s.classification.cls)) for s in pod_problems(target, **kwargs)]


@pytest.mark.parametrize(("target", "expected"), [
    pytest.param(pod("p", "u", running()), [], id="healthy"),
    pytest.param(pod("p", "u", waiting(reason="ContainerCreating")), [], id="info-is-left-out"),
    pytest.param(pod("p", "u", waiting(reason="ImagePullBackOff", message=NOT_FOUND)),
                 [("waiting", "ImagePullBackOff", "app", "fatal")], id="image-not-found-is-fatal"),
    pytest.param(pod("p", "u", waiting(reason="ImagePullBackOff", message="Back-off pulling image: i/o timeout")),
                 [("waiting", "ImagePullBackOff", "app", "failure")], id="image-pull-timeout-is-a-failure"),
    pytest.param(pod("p", "u", terminated(code=3)), [("terminated", "Error", "app", "failure")], id="exited"),
    pytest.param(pod("p", "u", waiting(reason="CrashLoopBackOff", last=exited(137, "OOMKilled"))),
                 [("terminated", "OOMKilled", "app", "failure")], id="crash-loop-blames-the-exit"),
    pytest.param(pod("p", "u", waiting(reason="CrashLoopBackOff", last=exited(0, "Completed"))),
                 [("waiting", "CrashLoopBackOff", "app", "failure")], id="crash-loop-after-exit-0"),
    pytest.param(pod("p", "u", running(last=exited(2))), [("terminated", "Error", "app", "failure")],
                 id="running-after-a-crash"),
    pytest.param(pod("p", "u", waiting(reason="PodInitializing"), init=(waiting("init", "InvalidImageName"),)),
                 [("waiting", "InvalidImageName", "init", "fatal")], id="init-container"),
    pytest.param(pod("p", "u", phase="Pending", conditions=(
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/3 nodes are available: 3 Insufficient cpu."},)),
        [("condition:PodScheduled", "Unschedulable", None, "capacity")], id="unschedulable"),
])
def test_pod_signs(target: dict, expected: list) -> None:
    assert signs(target) == expected


def test_one_crashed_run_has_one_key_in_every_report() -> None:
    crash = exited(3, cid="docker://run-0")
    reports = [pod("p", "u", {**terminated(code=3, cid="docker://run-0")}),
               pod("p", "u", waiting(reason="CrashLoopBackOff", last=crash)),
               pod("p", "u", running(cid="docker://run-1", restarts=1, last=crash))]
    keys = {sign.key for report in reports for sign in pod_problems(report)}
    assert keys == {("u", "app", "docker://run-0")}


def test_a_crash_records_what_the_diagnosis_needs() -> None:
    (now,) = pod_problems(pod("p", "u", terminated(code=137, reason="OOMKilled")))
    assert (now.exit_code, now.signal, now.crashed_previous, now.pod) == (137, 9, False, "p")
    assert now.message == "exited with code 137 (SIGKILL)"
    (before,) = pod_problems(pod("p", "u", waiting(reason="CrashLoopBackOff", restarts=2, last=exited(3))))
    assert (before.exit_code, before.signal, before.crashed_previous, before.restart_count) == (3, None, True, 2)


def test_a_jobs_pods_count_only_what_the_job_controller_does_not() -> None:
    failing = pod("p", "u", terminated(code=1), waiting("side", "CrashLoopBackOff", last=exited(1)),
                  waiting("pull", "ImagePullBackOff", message="i/o timeout"), phase="Failed")
    failing["status"]["reason"] = "DeadlineExceeded"
    assert signs(failing, job_pod=True) == [("waiting", "ImagePullBackOff", "pull", "failure")]
    assert len(signs(failing)) == 4


def test_replicaset_failed_create_on_quota_is_capacity() -> None:
    rs = obj("apps/v1", "ReplicaSet", "web-1", "rs-1", status={"conditions": [
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
         "message": 'pods "web-1-x" is forbidden: exceeded quota: pods, requested: pods=1'}]})
    (sign,) = replicaset_problems(rs)
    assert (sign.subject, sign.reason, str(sign.classification.cls)) == ("rs/web-1", "FailedCreate", "capacity")
    assert replicaset_problems(obj("apps/v1", "ReplicaSet", "web-1", "rs-1")) == []


@pytest.mark.parametrize(("condition", "generation", "failed"), [
    ({"type": "Ready", "status": "False", "reason": "Failed", "message": "jammed"}, 1, True),
    ({"type": "Ready", "status": "False", "reason": "ReconcileError", "observedGeneration": 2}, 2, True),
    ({"type": "Ready", "status": "False", "reason": "Failed", "observedGeneration": 1}, 2, False),
    ({"type": "Ready", "status": "False", "reason": "Progressing"}, 1, False),
    ({"type": "Ready", "status": "True", "reason": "Failed"}, 1, False),
])
def test_custom_resource_ready_false_with_a_failure_reason(condition: dict, generation: int, failed: bool) -> None:
    widget = obj("example.com/v1", "Widget", "gear", "w-1", generation=generation,
                 status={"conditions": [condition]})
    found = custom_problems(widget, "")
    assert bool(found) is failed
    if failed:
        assert found[0].classification.cls == "fatal" and found[0].classification.grace_seconds


def test_events_the_status_mirrors_are_shown_but_not_counted() -> None:
    target = pod("p", "u", waiting(reason="ImagePullBackOff"))
    assert event_problem(event("Failed", "Error: ErrImagePull", field_path="spec.containers{app}"), "po/p",
                         target) is None
    assert event_problem(event("FailedScheduling", "0/3 nodes"), "po/p", target) is None
    assert event_problem(event("FailedCreate", "exceeded quota", kind="ReplicaSet"), "rs/x", None) is None
    assert event_problem(event("Scheduled", "assigned", type_="Normal"), "po/p", target) is None


def test_readiness_failure_takes_its_grace_from_the_probe_and_its_key_from_the_container() -> None:
    spec = [{"name": "app", "readinessProbe": {"initialDelaySeconds": 5, "periodSeconds": 2, "failureThreshold": 4}}]
    target = pod("p", "u", running(cid="run-7", ready=False), spec_containers=spec)
    assert readiness_grace(target, "app") == 13
    sign = event_problem(event("Unhealthy", "Readiness probe failed: 503", uid="u",
                               field_path="spec.containers{app}"), "po/p", target)
    assert sign is not None
    assert (sign.key, sign.container, sign.classification.grace_seconds, sign.source) == (
        ("u", "app", "run-7"), "app", 13, "event")
    assert event_problem(event("Unhealthy", "Liveness probe failed: 503", field_path="spec.containers{app}"),
                         "po/p", target) is None


def test_a_jobs_pod_events_count_only_for_configuration_it_cannot_start_without() -> None:
    target = pod("p", "u", waiting(reason="ContainerCreating"))
    mount = event("FailedMount", 'MountVolume.SetUp failed for volume "cfg" : configmap "cfg" not found')
    assert event_problem(mount, "po/p", target, job_pod=True) is not None
    assert event_problem(event("Unhealthy", "Readiness probe failed"), "po/p", target, job_pod=True) is None


def test_a_multi_line_termination_message_keeps_the_headline_on_one_line() -> None:
    crashed = terminated(code=1)
    crashed["state"]["terminated"]["message"] = "panic: no config\n\ngoroutine 1 [running]:\nmain.main()"
    (sign,) = pod_problems(pod("p", "u", crashed))
    assert sign.describe() == "po/p [app] Error: panic: no config"
