"""The settle window, driven by hand: once a workload's rule says ready, it waits until its current Pods have
outlived the window in which their own probes can still have them killed; a new failure sign meanwhile fails it."""

from __future__ import annotations

from kubedog_ci.rules import State
from tests.engine.builders import exited, running, waiting
from tests.engine.test_tracker import DEPLOYMENTS, NEW_RS, PODS, REPLICASETS, WEB, Harness, deployment, web_pod
from tests.engine.test_tracker import EVENTS as EVENTS_RESOURCE

LIVENESS = {"livenessProbe": {"exec": {"command": ["true"]}, "initialDelaySeconds": 20, "periodSeconds": 10,
                              "failureThreshold": 3}}


def started_web(settle: float = 5.0) -> Harness:
    """A Deployment whose one Pod the engine sees start (ContainerCreating, then running), then ready."""
    harness = Harness(WEB, settle=settle)
    harness.put(REPLICASETS, NEW_RS)
    harness.put(DEPLOYMENTS, deployment())
    harness.sync(DEPLOYMENTS, PODS, EVENTS_RESOURCE, REPLICASETS)
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting()))
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running(), ready=True), "MODIFIED")
    harness.put(DEPLOYMENTS, deployment(ready=True), "MODIFIED")
    return harness


def test_ready_waits_out_the_settle_window_then_is_ready() -> None:
    harness = started_web()
    assert harness.state() is State.PROGRESSING
    assert harness.sink.statuses[-1].reason == "Settling"
    harness.clock.now += 4.9
    harness.tracker.tick()
    assert harness.state() is State.PROGRESSING
    harness.clock.now += 0.2
    harness.tracker.tick()
    assert harness.state() is State.READY
    assert harness.sink.statuses[-1].reason == "RolloutComplete"


def test_a_restart_within_the_window_fails_at_once() -> None:
    harness = started_web()
    oom = exited(137, "OOMKilled", "c1")
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting(reason="CrashLoopBackOff", restarts=1, last=oom)),
                "MODIFIED")
    assert harness.state() is State.FAILED
    assert harness.sink.diagnoses[0].headline.startswith("deploy/web FAILED: po/web-bbb-1 [app] OOMKilled")


def test_the_liveness_probe_window_is_waited_for() -> None:
    harness = Harness(WEB, settle=5.0)
    harness.put(REPLICASETS, NEW_RS)
    harness.put(DEPLOYMENTS, deployment())
    harness.sync(DEPLOYMENTS, PODS, EVENTS_RESOURCE, REPLICASETS)
    probed = web_pod("web-bbb-1", "rs-2", waiting())
    probed["spec"]["containers"] = [{"name": "app", **LIVENESS}]
    harness.put(PODS, probed)
    probed = web_pod("web-bbb-1", "rs-2", running(), ready=True)
    probed["spec"]["containers"] = [{"name": "app", **LIVENESS}]
    harness.put(PODS, probed, "MODIFIED")
    harness.put(DEPLOYMENTS, deployment(ready=True), "MODIFIED")
    harness.clock.now += 49  # 20 + 10 x 3 = 50s
    harness.tracker.tick()
    assert harness.state() is State.PROGRESSING
    harness.clock.now += 1.1
    harness.tracker.tick()
    assert harness.state() is State.READY


def test_a_pod_running_for_long_adds_nothing() -> None:
    """Re-tracking a Deployment ready for long stays as fast as without settling."""
    harness = Harness(WEB, settle=5.0)
    harness.put(REPLICASETS, NEW_RS)
    harness.put(DEPLOYMENTS, deployment(ready=True))
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running(), ready=True))  # started in 2024
    harness.sync(DEPLOYMENTS, PODS, EVENTS_RESOURCE, REPLICASETS)
    assert harness.state() is State.READY


def test_settle_zero_is_ready_at_once() -> None:
    assert started_web(settle=0.0).state() is State.READY
