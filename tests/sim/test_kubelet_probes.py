"""Readiness, liveness and startup probes with the prober's thresholds, Unhealthy Events and restarts.

Exec probes run their command through the shell interpreter (a failing one reports its output, as
pkg/kubelet/prober/prober.go does); httpGet, tcpSocket and grpc probes succeed.
"""

from __future__ import annotations

from tests.sim.kubelet_support import (
    LOOP,
    condition,
    container,
    create,
    event,
    is_ready,
    pod,
    read,
    restarts,
    running,
    status_of,
    wait_event,
    wait_pod,
)
from tests.support import Kube, wait_until


def _exec(script: str, **fields: object) -> dict:
    return {"exec": {"command": ["sh", "-c", script]}, "periodSeconds": 1, **fields}


def test_failing_readiness_probe_keeps_the_pod_unready(kc: Kube) -> None:
    probe = _exec("echo not ready yet; exit 1")
    create(kc, pod("unready", container(script=LOOP, readinessProbe=probe)))
    event_ = wait_event(kc, "unready", "Unhealthy", "Readiness probe failed: not ready yet\n")
    assert event_.type == "Warning" and event_.involved_object.field_path == "spec.containers{app}"
    current = read(kc, "unready")
    assert current.status.phase == "Running"
    app = status_of(current)
    assert app.started and not app.ready and app.state.running
    ready = condition(current, "Ready")
    assert (ready.status, ready.reason, ready.message) == (
        "False", "ContainersNotReady", "containers with unready status: [app]")
    assert condition(current, "ContainersReady").status == "False"


def test_readiness_follows_the_probe_with_thresholds(kc: Kube) -> None:
    probe = _exec('test "$READY" = yes', successThreshold=2)
    create(kc, pod("thresholds", container(script=LOOP, readinessProbe=probe,
                                             env=[{"name": "READY", "value": "yes"}])))
    ready = wait_pod(kc, "thresholds", is_ready, "thresholds Ready")
    assert status_of(ready).ready
    assert event(kc, "thresholds", "Unhealthy") is None


def test_http_and_tcp_probes_succeed(kc: Kube) -> None:
    create(kc, pod("web", container(image="nginx:1.25", readinessProbe={"httpGet": {"path": "/", "port": 80}},
                                      livenessProbe={"tcpSocket": {"port": 80}})))
    wait_pod(kc, "web", is_ready, "web Ready")


def test_initial_delay_holds_readiness(kc: Kube) -> None:
    probe = _exec("true", initialDelaySeconds=30)
    create(kc, pod("delayed", container(script=LOOP, readinessProbe=probe)))
    started = wait_pod(kc, "delayed", running, "delayed running")
    assert not status_of(started).ready
    wait_pod(kc, "delayed", is_ready, "delayed Ready after its initial delay")


def test_liveness_failure_kills_and_restarts_the_container(kc: Kube) -> None:
    probe = _exec("echo dead; exit 1", failureThreshold=2, terminationGracePeriodSeconds=3)
    create(kc, pod("zombie", container(script=LOOP, livenessProbe=probe)))
    killing = wait_event(kc, "zombie", "Killing", "Container app failed liveness probe, will be restarted")
    assert killing.type == "Normal"
    assert event(kc, "zombie", "Unhealthy", "Liveness probe failed: dead\n").count >= 2
    restarted = wait_pod(kc, "zombie", lambda p: restarts(p) >= 1, "zombie restarted")
    last = status_of(restarted).last_state.terminated
    assert (last.exit_code, last.reason) == (137, "Error")


def test_startup_probe_gates_liveness_and_readiness(kc: Kube) -> None:
    startup = _exec("exit 1", failureThreshold=3)
    create(kc, pod("slow-start", container(script=LOOP, startupProbe=startup,
                                             livenessProbe=_exec("true"), readinessProbe=_exec("true"))))
    wait_event(kc, "slow-start", "Killing", "Container app failed startup probe, will be restarted")
    assert event(kc, "slow-start", "Unhealthy", "Startup probe failed: ").type == "Warning"
    current = read(kc, "slow-start")
    assert not status_of(current).ready


def test_startup_probe_success_starts_the_container(kc: Kube) -> None:
    create(kc, pod("starts", container(script=LOOP, startupProbe=_exec("true"), readinessProbe=_exec("true"))))
    ready = wait_pod(kc, "starts", is_ready, "starts Ready")
    assert status_of(ready).started


def test_exec_probe_timeout_message(kc: Kube) -> None:
    create(kc, pod("sleepy", container(script=LOOP, readinessProbe=_exec("sleep 5", timeoutSeconds=1))))
    wait_event(kc, "sleepy", "Unhealthy", 'Readiness probe failed: command "sh -c sleep 5" timed out')
    wait_until(lambda: not is_ready(read(kc, "sleepy")), message="sleepy not Ready")
