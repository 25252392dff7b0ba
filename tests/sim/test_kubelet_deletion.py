"""Graceful pod deletion: deletionTimestamp and grace period, Killing Events, terminal status, then removal.

The kubelet stops the containers within the grace period (a shell script as PID 1 ignores SIGTERM and is
killed when the period ends, an image's own server exits at once), reports the terminal phase and then
deletes the pod with grace 0, as the kubelet's status manager does.
"""

from __future__ import annotations

import pytest
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from tests.sim.kubelet_support import LOOP, container, create, event, is_ready, pod, read, status_of, wait_pod
from tests.support import Kube, wait_until


def _gone(kc: Kube, name: str) -> bool:
    try:
        read(kc, name)
    except ApiException as err:
        return err.status == 404
    return False


def _follow_until_deleted(kc: Kube, name: str, since: str) -> list[tuple[str, object]]:
    seen = []
    for item in watch.Watch().stream(kc.core.list_namespaced_pod, "default", resource_version=since,
                                     field_selector=f"metadata.name={name}", timeout_seconds=15):
        seen.append((item["type"], item["object"]))
        if item["type"] == "DELETED":
            break
    return seen


def test_graceful_deletion_stops_containers_then_removes_the_pod(kc: Kube) -> None:
    create(kc, pod("graceful", container(script=LOOP), terminationGracePeriodSeconds=20))
    ready = wait_pod(kc, "graceful", is_ready, "graceful Ready")
    kc.core.delete_namespaced_pod("graceful", "default")
    seen = _follow_until_deleted(kc, "graceful", ready.metadata.resource_version)
    assert seen[-1][0] == "DELETED"
    marked = [obj for _, obj in seen if obj.metadata.deletion_timestamp is not None]
    assert marked[0].metadata.deletion_grace_period_seconds == 20
    assert marked[0].status.phase == "Running" and status_of(marked[0]).state.running
    final = seen[-2][1]
    assert final.status.phase == "Failed"
    terminated = status_of(final).state.terminated
    assert (terminated.exit_code, terminated.reason) == (137, "Error")
    assert final.status.conditions[0].type == "PodReadyToStartContainers"
    assert final.status.conditions[0].status == "False"
    killing = event(kc, "graceful", "Killing", "Stopping container app")
    assert killing.type == "Normal" and killing.involved_object.field_path == "spec.containers{app}"
    with pytest.raises(ApiException) as raised:
        kc.core.read_namespaced_pod_log("graceful", "default")
    assert raised.value.status == 404


def test_grace_period_from_the_request_and_a_prompt_exit(kc: Kube) -> None:
    create(kc, pod("prompt", container(image="nginx:1.25")))
    ready = wait_pod(kc, "prompt", is_ready, "prompt Ready")
    kc.core.delete_namespaced_pod("prompt", "default", grace_period_seconds=5)
    seen = _follow_until_deleted(kc, "prompt", ready.metadata.resource_version)
    marked = next(obj for _, obj in seen if obj.metadata.deletion_timestamp is not None)
    assert marked.metadata.deletion_grace_period_seconds == 5
    final = seen[-2][1]
    assert final.status.phase == "Succeeded"
    assert status_of(final).state.terminated.reason == "Completed"


def test_force_deletion_removes_at_once(kc: Kube) -> None:
    create(kc, pod("forced", container(script=LOOP)))
    wait_pod(kc, "forced", is_ready, "forced Ready")
    kc.core.delete_namespaced_pod("forced", "default", grace_period_seconds=0)
    assert _gone(kc, "forced")


def test_unbound_pod_is_deleted_at_once(kc: Kube) -> None:
    body = pod("unbound", container(), schedulerName="nobody")
    del body["spec"]["nodeName"]
    create(kc, body)
    kc.core.delete_namespaced_pod("unbound", "default")
    assert _gone(kc, "unbound")


def test_completed_pod_is_deleted_at_once(kc: Kube) -> None:
    create(kc, pod("finished", container(script="exit 0"), restartPolicy="Never"))
    wait_pod(kc, "finished", lambda p: p.status.phase == "Succeeded", "finished Succeeded")
    kc.core.delete_namespaced_pod("finished", "default")
    assert _gone(kc, "finished")


def test_pod_stuck_pulling_is_removed_promptly(kc: Kube) -> None:
    create(kc, pod("stuck", container(image="nginx:does-not-exist")))
    wait_pod(kc, "stuck", lambda p: p.status.container_statuses and p.status.container_statuses[0].state.waiting
             and p.status.container_statuses[0].state.waiting.reason == "ErrImagePull", "stuck ErrImagePull")
    kc.core.delete_namespaced_pod("stuck", "default")
    wait_until(lambda: _gone(kc, "stuck"), message="stuck removed")
