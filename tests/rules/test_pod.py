"""Pod: readiness-rules.md ("Pod", Recommended): phases, restartPolicy, containers and init containers."""

from __future__ import annotations

import pytest

from kubedog_ci.rules.verdict import State
from tests.rules.builders import FAILED, PROGRESSING, READY, check, cond, resource

SCHEDULED, INITIALIZED = cond("PodScheduled"), cond("Initialized")
READY_TRUE = cond("Ready")
NOT_READY = cond("Ready", "False", "ContainersNotReady", "containers with unready status: [app]")


def running(name: str = "app", ready: bool = True, restarts: int = 0, last: dict | None = None) -> dict:
    entry = {"name": name, "ready": ready, "restartCount": restarts,
             "state": {"running": {"startedAt": "2024-05-01T12:00:00Z"}}}
    if last:
        entry["lastState"] = {"terminated": last}
    return entry


def waiting(reason: str, message: str = "", name: str = "app") -> dict:
    state = {"reason": reason, **({"message": message} if message else {})}
    return {"name": name, "ready": False, "restartCount": 0, "state": {"waiting": state}}


def terminated(exit_code: int, reason: str, name: str = "app") -> dict:
    return {"name": name, "ready": False, "restartCount": 0,
            "state": {"terminated": {"exitCode": exit_code, "reason": reason}}}


def pod(phase: str | None = "Running", *conditions: dict, containers: tuple[dict, ...] = (running(),),
        init: tuple[dict, ...] = (), restart: str | None = "Always", reason: str | None = None,
        message: str | None = None, deleting: bool = False) -> dict:
    """A Pod; by default Running and Ready with restartPolicy Always."""
    spec: dict = {"containers": [{"name": c["name"], "image": "registry.example/api:v2"} for c in containers]}
    if restart:
        spec["restartPolicy"] = restart
    status: dict = {"phase": phase, "reason": reason, "message": message,
                    "containerStatuses": list(containers) or None, "initContainerStatuses": list(init) or None}
    return resource("v1", "Pod", "api-7c9f-x2k", spec=spec, status=status, generation=None, deleting=deleting,
                    conditions=list(conditions or (SCHEDULED, INITIALIZED, READY_TRUE)))


UNSCHEDULABLE = cond("PodScheduled", "False", "Unschedulable", "0/3 nodes are available: 3 Insufficient cpu.")
BACK_OFF = 'Back-off pulling image "registry.example/api:v2"'

CASES = [
    pytest.param(pod(), READY, "Ready", 'pod "api-7c9f-x2k" is running and ready', id="running-ready"),
    pytest.param(pod("Succeeded", cond("Ready", "False", "PodCompleted"), containers=(terminated(0, "Completed"),)),
                 READY, "Succeeded", "succeeded", id="succeeded"),
    # §4.3: kstatus calls a Failed Pod Current (reconciled); Argo, kapp and Helm 4 hooks say failed. Failed.
    pytest.param(pod("Failed", NOT_READY, containers=(terminated(1, "Error"),), restart="Never"), FAILED, "Error",
                 'container "app" terminated with exit code 1 (Error)', id="failed-phase-exit-code"),
    pytest.param(pod("Failed", NOT_READY, containers=({**terminated(3, "Error"), "state": {"terminated": {
        "exitCode": 3, "reason": "Error", "message": "migration failed: no such table\nat step 4\n"}}},),
        restart="Never"), FAILED, "Error",
                 'container "app" terminated with exit code 3 (Error): migration failed: no such table',
                 id="failed-phase-termination-message-first-line"),
    pytest.param(pod("Failed", NOT_READY, containers=(terminated(137, "OOMKilled"),), restart="Never"), FAILED,
                 "OOMKilled", "exit code 137 (OOMKilled)", id="failed-phase-oom-killed"),
    pytest.param(pod("Failed", NOT_READY, reason="Evicted", message="The node was low on resource: memory."),
                 FAILED, "Evicted", "Evicted: The node was low on resource", id="evicted"),
    pytest.param(pod("Running", NOT_READY, containers=(
        waiting("CrashLoopBackOff", "back-off 40s restarting failed container=app"),)), FAILED, "CrashLoopBackOff",
                 'container "app" is waiting: CrashLoopBackOff: back-off 40s', id="crash-loop"),
    pytest.param(pod("Pending", NOT_READY, containers=(waiting("ImagePullBackOff", BACK_OFF),)), FAILED,
                 "ImagePullBackOff", "Back-off pulling image", id="image-pull-back-off"),
    pytest.param(pod("Pending", NOT_READY, containers=(waiting("ErrImagePull", "not found"),)), FAILED,
                 "ErrImagePull", "ErrImagePull: not found", id="err-image-pull"),
    # Outside Argo's pattern, but no retry fixes an unparsable image reference.
    pytest.param(pod("Pending", NOT_READY, containers=(waiting(
        "InvalidImageName", 'Failed to apply default image tag "Web:1"'),)), FAILED, "InvalidImageName",
                 "InvalidImageName: Failed to apply default image tag", id="invalid-image-name"),
    pytest.param(pod("Pending", NOT_READY, containers=(waiting(
        "CreateContainerConfigError", 'couldn\'t find key db-url in ConfigMap default/app'),)), FAILED,
                 "CreateContainerConfigError", "couldn't find key", id="create-container-config-error"),
    # No peer reads initContainerStatuses: Init:CrashLoopBackOff hangs them all until the timeout.
    pytest.param(pod("Pending", NOT_READY, containers=(waiting("PodInitializing"),), init=(
        waiting("CrashLoopBackOff", "back-off 20s", name="migrate"),)), FAILED, "CrashLoopBackOff",
                 'init container "migrate" is waiting', id="init-container-crash-loop"),
    pytest.param(pod("Pending", NOT_READY, containers=(waiting("PodInitializing"),), init=(
        waiting("ErrImagePull", name="setup"),)), FAILED, "ErrImagePull", 'init container "setup"',
                 id="init-container-err-image-pull"),
    # Between the crash and the back-off the container shows terminated with its exit code.
    pytest.param(pod("Running", NOT_READY, containers=(terminated(2, "Error"),)), FAILED, "Error", "exit code 2",
                 id="just-crashed"),
    pytest.param(pod("Pending", SCHEDULED, NOT_READY, containers=(waiting("ContainerCreating"),)), PROGRESSING,
                 "Pending", 'container "app" is waiting: ContainerCreating', id="container-creating"),
    pytest.param(pod("Pending", SCHEDULED, NOT_READY, containers=(waiting("PodInitializing"),), init=(
        running("setup", ready=False),)), PROGRESSING, "Pending", "PodInitializing", id="init-container-running"),
    # §4.4: kstatus fails an unschedulable Pod after 15s; the others wait (an autoscaler may add a node).
    pytest.param(pod("Pending", UNSCHEDULABLE, containers=()), PROGRESSING, "Pending",
                 "not scheduled: Unschedulable: 0/3 nodes are available", id="unschedulable"),
    pytest.param(pod("Running", SCHEDULED, NOT_READY, containers=(running(ready=False),)), PROGRESSING, "Running",
                 "0 of 1 containers are ready", id="running-not-ready"),
    # Argo fails "Running, Always, not Ready, with a lastState.terminated"; a restart is the live engine's
    # failure budget to count, not a verdict from one snapshot.
    pytest.param(pod("Running", NOT_READY, containers=(running(ready=False, restarts=1, last={"exitCode": 1}),)),
                 PROGRESSING, "Running", "0 of 1 containers are ready", id="restarted-once-now-running"),
    # §4.11: a run-to-completion Pod is not done while Running, even Ready (Helm hooks, Argo).
    pytest.param(pod(restart="Never"), PROGRESSING, "Running", "Waiting for pod \"api-7c9f-x2k\" to run to completion",
                 id="never-running-ready"),
    # Argo: a finite Pod's waiting errors must not fail it early (a hook's ImagePullBackOff); the engine's
    # failure budget (0 for Never) decides.
    pytest.param(pod("Pending", NOT_READY, containers=(waiting("ImagePullBackOff", BACK_OFF),), restart="OnFailure"),
                 PROGRESSING, "Pending", "ImagePullBackOff", id="on-failure-image-pull-back-off"),
    # kapp fails phase Unknown; a node briefly unreachable should not fail the run.
    pytest.param(pod("Unknown", NOT_READY, containers=(running(ready=False),)), PROGRESSING, "Unknown",
                 "phase Unknown", id="phase-unknown"),
    pytest.param(resource("v1", "Pod", "bare", spec={"containers": [{"name": "app", "image": "nginx"}]},
                          generation=None), PROGRESSING, "Pending", "phase Pending, 0 of 0 containers",
                 id="manifest-without-status-or-restart-policy"),
    pytest.param(pod(deleting=True), PROGRESSING, "Terminating", 'pod "api-7c9f-x2k" is being deleted',
                 id="deletion-timestamp"),
    pytest.param(pod("Running", cond("Stalled", "True", "Blocked"), READY_TRUE), FAILED, "Blocked", "is stalled",
                 id="stalled"),
    pytest.param(pod("Running", cond("Reconciling", "True"), READY_TRUE), PROGRESSING, "Reconciling", "reconcile",
                 id="reconciling"),
]


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_pod_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)
