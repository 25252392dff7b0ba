"""The simulated kubelet runs pods like a real one: status, conditions, restarts, init containers, logs.

Each test creates a pod already bound to sim-worker and follows it through the official Python client, checking
the fields, condition reasons and Events a real kubelet (v1.34) reports.
"""

from __future__ import annotations

import ipaddress
import re

import pytest
from kubernetes.client.exceptions import ApiException

from kubedog_ci.sim.config import ANNOTATION_PREFIX
from tests.sim.kubelet_support import (
    LOOP,
    condition,
    container,
    create,
    event,
    events,
    follow,
    is_ready,
    pod,
    read,
    restarts,
    running,
    status_of,
    wait_event,
    wait_pod,
    waiting_message,
    waiting_reason,
    waiting_states,
)
from tests.support import Kube, wait_until


def test_pod_becomes_running_and_ready_with_real_status(kc: Kube) -> None:
    create(kc, pod("good", container(image="busybox:1.37", script=LOOP)))
    ready = wait_pod(kc, "good", is_ready, "pod good Ready")
    status = ready.status
    assert status.phase == "Running"
    assert [c.type for c in status.conditions] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert all(c.status == "True" and c.last_transition_time for c in status.conditions)
    assert status.host_ip == "172.18.0.2" and [h.ip for h in status.host_ips] == ["172.18.0.2"]
    assert ipaddress.ip_address(status.pod_ip) in ipaddress.ip_network("10.244.0.0/24")
    assert [p.ip for p in status.pod_ips] == [status.pod_ip]
    assert status.start_time is not None and status.qos_class == "BestEffort"
    app = status_of(ready)
    assert app.ready and app.started and app.restart_count == 0
    assert app.state.running.started_at is not None and app.last_state.terminated is None
    assert app.image == "docker.io/library/busybox:1.37"
    assert re.fullmatch(r"docker\.io/library/busybox@sha256:[0-9a-f]{64}", app.image_id)
    assert re.fullmatch(r"containerd://[0-9a-f]{64}", app.container_id)
    reasons = [e.reason for e in events(kc, "good")]
    assert reasons == ["Pulling", "Pulled", "Created", "Started"]
    pulled = event(kc, "good", "Pulled")
    assert re.fullmatch(r'Successfully pulled image "busybox:1\.37" in [0-9.]+m?s \([0-9.]+m?s including waiting\)\. '
                        r"Image size: \d+ bytes\.", pulled.message)
    started = event(kc, "good", "Started")
    assert started.message == "Started container app" and started.type == "Normal"
    assert event(kc, "good", "Created").message == "Created container: app"
    assert started.involved_object.field_path == "spec.containers{app}"
    assert started.source.component == "kubelet" and started.source.host == "sim-worker"


def test_containers_wait_in_container_creating_while_the_image_is_pulled(kc: Kube) -> None:
    create(kc, pod("slow-pull", container(image="nginx:1.25"),
                     annotations={ANNOTATION_PREFIX + "pull-seconds": "300"}))
    pending = wait_pod(kc, "slow-pull", lambda p: p.status.pod_ip, "slow-pull to get its IP")
    assert pending.status.phase == "Pending"
    assert waiting_reason(pending) == "ContainerCreating"
    app = status_of(pending)
    assert app.image == "nginx:1.25" and app.image_id == "" and app.container_id is None and not app.started
    assert condition(pending, "PodReadyToStartContainers").status == "True"
    assert condition(pending, "Initialized").status == "True"
    for kind in ("Ready", "ContainersReady"):
        cond = condition(pending, kind)
        assert (cond.status, cond.reason, cond.message) == (
            "False", "ContainersNotReady", "containers with unready status: [app]")
    assert event(kc, "slow-pull", "Pulling", 'Pulling image "nginx:1.25"')


def test_second_pod_finds_the_image_already_present(kc: Kube) -> None:
    create(kc, pod("first", container(image="redis:7", script=LOOP)))
    wait_pod(kc, "first", is_ready, "first Ready")
    create(kc, pod("second", container(image="redis:7", script=LOOP)))
    wait_pod(kc, "second", is_ready, "second Ready")
    assert [e.reason for e in events(kc, "second")] == ["Pulled", "Created", "Started"]
    assert event(kc, "second", "Pulled").message == 'Container image "redis:7" already present on machine'


def test_pull_policy_always_pulls_on_every_start(kc: Kube) -> None:
    create(kc, pod("always", container(image="redis:7", script="exit 1", imagePullPolicy="Always")))
    wait_pod(kc, "always", lambda p: restarts(p) >= 1, "a restart of always")
    wait_until(lambda: (event(kc, "always", "Pulling").count or 0) >= 2, message="two Pulling events")


@pytest.mark.parametrize(("name", "code", "phase", "reason", "ready_reason"), [
    ("done-ok", 0, "Succeeded", "Completed", "PodCompleted"),
    ("done-bad", 3, "Failed", "Error", "PodFailed"),
])
def test_restart_policy_never_keeps_the_exit_code(kc: Kube, name: str, code: int, phase: str, reason: str,
                                                   ready_reason: str) -> None:
    create(kc, pod(name, container(script=f"echo bye; exit {code}"), restartPolicy="Never"))
    done = wait_pod(kc, name, lambda p: p.status.phase == phase, f"{name} {phase}")
    terminated = status_of(done).state.terminated
    assert (terminated.exit_code, terminated.reason) == (code, reason)
    assert terminated.started_at and terminated.finished_at and terminated.container_id.startswith("containerd://")
    assert status_of(done).restart_count == 0 and not status_of(done).ready
    ready = condition(done, "Ready")
    assert (ready.status, ready.reason) == ("False", ready_reason)
    assert condition(done, "ContainersReady").reason == ready_reason
    wait_pod(kc, name, lambda p: condition(p, "PodReadyToStartContainers").status == "False", "sandbox gone")


def test_on_failure_restarts_until_success_is_not_needed(kc: Kube) -> None:
    create(kc, pod("onfail", container(script="exit 0"), restartPolicy="OnFailure"))
    done = wait_pod(kc, "onfail", lambda p: p.status.phase == "Succeeded", "onfail Succeeded")
    assert status_of(done).restart_count == 0


def test_crash_loop_back_off_doubles_from_ten_seconds(kc: Kube) -> None:
    created = create(kc, pod("crasher", container(script="echo boom; exit 1")))
    history = follow(kc, created, lambda p: "back-off 40s" in (waiting_message(p) or ""))
    seen = [message for reason, message in waiting_states(history) if reason == "CrashLoopBackOff"]
    uid = read(kc, "crasher").metadata.uid
    assert [re.match(r"back-off (\S+) restarting", m).group(1) for m in seen[:3]] == ["10s", "20s", "40s"]
    assert seen[0] == f"back-off 10s restarting failed container=app pod=crasher_default({uid})"
    current = read(kc, "crasher")
    app = status_of(current)
    assert app.restart_count >= 3 and not app.ready
    assert (app.last_state.terminated.exit_code, app.last_state.terminated.reason) == (1, "Error")
    assert current.status.phase == "Running"
    backoff = event(kc, "crasher", "BackOff")
    assert backoff.type == "Warning"
    assert backoff.message == f"Back-off restarting failed container app in pod crasher_default({uid})"
    assert kc.core.read_namespaced_pod_log("crasher", "default", previous=True) == "boom\n"


def test_logs_stream_and_carry_increasing_timestamps(kc: Kube) -> None:
    create(kc, pod("talker", container(script='for i in 1 2 3 4 5; do echo "line $i"; sleep 1; done'),
                     restartPolicy="Never"))
    wait_pod(kc, "talker", lambda p: running(p) or p.status.phase == "Succeeded", "talker start")
    stream = kc.core.read_namespaced_pod_log("talker", "default", follow=True, _preload_content=False)
    assert stream.read().decode() == "".join(f"line {i}\n" for i in range(1, 6))
    stamped = kc.core.read_namespaced_pod_log("talker", "default", timestamps=True).splitlines()
    stamps = [line.split(" ", 1)[0] for line in stamped]
    assert [line.split(" ", 1)[1] for line in stamped] == [f"line {i}" for i in range(1, 6)]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", s) for s in stamps)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    with pytest.raises(ApiException) as raised:
        kc.core.read_namespaced_pod_log("talker", "default", previous=True)
    assert raised.value.status == 400


def test_environment_reaches_the_container(kc: Kube) -> None:
    create(kc, pod("env", container(
        script='echo "$POD_NAME $POD_NS $NODE $COLOR $GREETING $HOSTNAME $KUBERNETES_SERVICE_HOST"',
        env=[{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
             {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
             {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
             {"name": "COLOR", "value": "red"},
             {"name": "GREETING", "value": "hi-$(COLOR)"}]), restartPolicy="Never"))
    wait_pod(kc, "env", lambda p: p.status.phase == "Succeeded", "env Succeeded")
    assert kc.core.read_namespaced_pod_log("env", "default") == "env default sim-worker red hi-red env 10.96.0.1\n"


def test_init_containers_run_in_order_before_the_app(kc: Kube) -> None:
    create(kc, pod("inits", container(script=LOOP),
                     init=(container("first", script="echo one; sleep 2"), container("second", script="echo two"))))
    initializing = wait_pod(kc, "inits", lambda p: running(p, "first"), "first init running")
    assert initializing.status.phase == "Pending"
    assert waiting_reason(initializing, "app") == "PodInitializing"
    assert waiting_reason(initializing, "second") == "PodInitializing"
    init = condition(initializing, "Initialized")
    assert (init.status, init.reason, init.message) == (
        "False", "ContainersNotInitialized", "containers with incomplete status: [first second]")
    ready = wait_pod(kc, "inits", is_ready, "inits Ready")
    for name in ("first", "second"):
        done = status_of(ready, name)
        assert done.state.terminated.reason == "Completed" and done.ready and not done.started
    assert condition(ready, "Initialized").status == "True"
    started = [e.involved_object.field_path for e in events(kc, "inits") if e.reason == "Started"]
    assert started == ["spec.initContainers{first}", "spec.initContainers{second}", "spec.containers{app}"]
    assert kc.core.read_namespaced_pod_log("inits", "default", container="second") == "two\n"


def test_failed_init_container_fails_a_never_restarting_pod(kc: Kube) -> None:
    create(kc, pod("init-fail", container(script=LOOP), init=(container("setup", script="exit 2"),),
                     restartPolicy="Never"))
    failed = wait_pod(kc, "init-fail", lambda p: p.status.phase == "Failed", "init-fail Failed")
    assert status_of(failed, "setup").state.terminated.exit_code == 2
    assert waiting_reason(failed, "app") == "PodInitializing"


def test_failed_init_container_crash_loops_when_the_pod_restarts(kc: Kube) -> None:
    create(kc, pod("init-loop", container(script=LOOP), init=(container("setup", script="exit 2"),)))
    looping = wait_pod(kc, "init-loop", lambda p: waiting_reason(p, "setup") == "CrashLoopBackOff",
                       "Init:CrashLoopBackOff")
    assert looping.status.phase == "Pending"
    assert status_of(looping, "setup").last_state.terminated.exit_code == 2
    assert waiting_reason(looping, "app") == "PodInitializing"


def test_sidecar_keeps_running_next_to_the_app(kc: Kube) -> None:
    create(kc, pod("sidecar", container(script=LOOP),
                     init=(container("proxy", script=LOOP, restartPolicy="Always"),)))
    ready = wait_pod(kc, "sidecar", is_ready, "sidecar pod Ready")
    proxy = status_of(ready, "proxy")
    assert proxy.state.running and proxy.started and proxy.ready


def test_oom_annotation_kills_the_container(kc: Kube) -> None:
    create(kc, pod("hog", container(script=LOOP), annotations={ANNOTATION_PREFIX + "oom-after-seconds": "5"}))
    killed = wait_pod(kc, "hog", lambda p: restarts(p) >= 1, "an OOM kill")
    terminated = status_of(killed).last_state.terminated
    assert (terminated.exit_code, terminated.reason) == (137, "OOMKilled")


def test_image_update_restarts_the_container(kc: Kube) -> None:
    create(kc, pod("upgrade", container(script=LOOP)))
    wait_pod(kc, "upgrade", is_ready, "upgrade Ready")
    kc.core.patch_namespaced_pod("upgrade", "default", {"spec": {"containers": [
        {"name": "app", "image": "busybox:1.38"}]}})
    wait_event(kc, "upgrade", "Killing", "Container app definition changed, will be restarted")
    restarted = wait_pod(kc, "upgrade", lambda p: restarts(p) == 1 and status_of(p).ready,
                         "the restart with the new image", timeout=20)
    assert status_of(restarted).image == "docker.io/library/busybox:1.38"


def test_active_deadline_fails_the_pod(kc: Kube) -> None:
    create(kc, pod("deadline", container(script=LOOP), activeDeadlineSeconds=5))
    failed = wait_pod(kc, "deadline", lambda p: p.status.phase == "Failed", "deadline Failed")
    message = "Pod was active on the node longer than the specified deadline"
    assert (failed.status.reason, failed.status.message) == ("DeadlineExceeded", message)
    assert wait_event(kc, "deadline", "DeadlineExceeded", message).type == "Normal"
    wait_event(kc, "deadline", "Killing", "Stopping container app")
    stopped = wait_pod(kc, "deadline", lambda p: status_of(p).state.terminated, "the container stopped")
    assert status_of(stopped).state.terminated.exit_code == 137 and status_of(stopped).restart_count == 0
