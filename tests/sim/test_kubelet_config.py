"""Pods whose ConfigMaps, Secrets or PVCs are missing wait with the kubelet's errors and recover once they exist.

Environment errors are CreateContainerConfigError (kubelet_pods.go makeEnvironmentVariables), volume errors
are FailedMount Events (the volume manager's "MountVolume.SetUp failed for volume ..."), and an unbound PVC
just keeps the pod in ContainerCreating.
"""

from __future__ import annotations

import base64

from tests.sim.kubelet_support import (
    condition,
    container,
    create,
    event,
    is_ready,
    pod,
    read,
    status_of,
    wait_event,
    wait_pod,
    waiting_message,
    waiting_reason,
)
from tests.support import Kube


def _config_map(kc: Kube, name: str, data: dict[str, str]) -> None:
    kc.core.create_namespaced_config_map("default", {"metadata": {"name": name}, "data": data})


def _waiting(kc: Kube, name: str, reason: str) -> tuple[str, str]:
    current = wait_pod(kc, name, lambda p: waiting_reason(p) == reason, f"{name} waiting with {reason}")
    waiting = status_of(current).state.waiting
    return waiting.reason, waiting.message


def test_missing_config_map_blocks_the_container_until_it_appears(kc: Kube) -> None:
    env = [{"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "colors", "key": "color"}}}]
    create(kc, pod("needs-cm", container(script='echo "color=$COLOR"; sleep 3600', env=env)))
    assert _waiting(kc, "needs-cm", "CreateContainerConfigError") == (
        "CreateContainerConfigError", 'configmap "colors" not found')
    failed = wait_event(kc, "needs-cm", "Failed", 'Error: configmap "colors" not found')
    assert failed.type == "Warning" and failed.involved_object.field_path == "spec.containers{app}"
    assert read(kc, "needs-cm").status.phase == "Pending"
    _config_map(kc, "colors", {"shade": "dark"})
    missing_key = "couldn't find key color in ConfigMap default/colors"
    stuck = wait_pod(kc, "needs-cm", lambda p: waiting_message(p) == missing_key, "the missing-key error")
    assert waiting_reason(stuck) == "CreateContainerConfigError"
    kc.core.patch_namespaced_config_map("colors", "default", {"data": {"color": "teal"}})
    wait_pod(kc, "needs-cm", is_ready, "needs-cm Ready after the ConfigMap got its key")
    assert kc.core.read_namespaced_pod_log("needs-cm", "default") == "color=teal\n"


def test_secret_and_env_from_reach_the_container(kc: Kube) -> None:
    kc.core.create_namespaced_secret("default", {"metadata": {"name": "creds"},
                                                   "data": {"password": base64.b64encode(b"s3cret").decode()}})
    _config_map(kc, "flags", {"MODE": "fast", "LEVEL": "3"})
    env = [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}]
    create(kc, pod("secretive", container(script='echo "$PASSWORD $CFG_MODE $CFG_LEVEL"', env=env,
                                            envFrom=[{"configMapRef": {"name": "flags"}, "prefix": "CFG_"}]),
                     restartPolicy="Never"))
    wait_pod(kc, "secretive", lambda p: p.status.phase == "Succeeded", "secretive Succeeded")
    assert kc.core.read_namespaced_pod_log("secretive", "default") == "s3cret fast 3\n"


def test_missing_secret_key_message(kc: Kube) -> None:
    kc.core.create_namespaced_secret("default", {"metadata": {"name": "partial"}, "data": {}})
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "partial", "key": "token"}}}]
    create(kc, pod("no-key", container(env=env)))
    message = "couldn't find key token in Secret default/partial"
    assert _waiting(kc, "no-key", "CreateContainerConfigError") == ("CreateContainerConfigError", message)


def test_optional_references_do_not_block(kc: Kube) -> None:
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "x", "optional": True}}}]
    create(kc, pod("optional", container(env=env)))
    wait_pod(kc, "optional", is_ready, "optional Ready")


def test_missing_config_map_volume_fails_mount_until_it_appears(kc: Kube) -> None:
    volumes = [{"name": "cfg", "configMap": {"name": "app-config"}}]
    mounts = [{"name": "cfg", "mountPath": "/etc/app", "readOnly": True}]
    create(kc, pod("mounts", container(volumeMounts=mounts), volumes=volumes))
    failed = wait_event(kc, "mounts", "FailedMount",
                        'MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found')
    assert failed.type == "Warning" and failed.involved_object.field_path is None
    stuck = read(kc, "mounts")
    assert stuck.status.phase == "Pending" and waiting_reason(stuck) == "ContainerCreating"
    assert condition(stuck, "PodReadyToStartContainers").status == "False" and stuck.status.pod_ip is None
    wait_pod(kc, "mounts", lambda p: (event(kc, "mounts", "FailedMount").count or 0) >= 2, "a repeated FailedMount")
    _config_map(kc, "app-config", {"app.yaml": "x: 1"})
    ready = wait_pod(kc, "mounts", is_ready, "mounts Ready once the ConfigMap exists")
    mount = status_of(ready).volume_mounts[0]
    assert (mount.name, mount.mount_path, mount.read_only, mount.recursive_read_only) == (
        "cfg", "/etc/app", True, "Disabled")


def test_missing_secret_volume_and_key(kc: Kube) -> None:
    _config_map(kc, "keyless", {"present": "1"})
    volumes = [{"name": "tls", "secret": {"secretName": "tls-cert"}},
               {"name": "cfg", "configMap": {"name": "keyless", "items": [{"key": "nope", "path": "nope"}]}}]
    create(kc, pod("secret-mount", container(), volumes=volumes))
    wait_event(kc, "secret-mount", "FailedMount", 'MountVolume.SetUp failed for volume "tls" : secret "tls-cert" '
               "not found")
    wait_event(kc, "secret-mount", "FailedMount", 'MountVolume.SetUp failed for volume "cfg" : configmap references '
               "non-existent config key: nope")


def test_unbound_claim_keeps_the_pod_waiting(kc: Kube) -> None:
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "later"}}]
    create(kc, pod("claims", container(), volumes=volumes))
    waiting = wait_pod(kc, "claims", lambda p: waiting_reason(p) == "ContainerCreating", "claims ContainerCreating")
    assert waiting.status.phase == "Pending" and event(kc, "claims", "FailedMount") is None
    kc.core.create_namespaced_persistent_volume_claim("default", {
        "metadata": {"name": "later"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    wait_pod(kc, "claims", is_ready, "claims Ready once the claim is Bound", timeout=20)
