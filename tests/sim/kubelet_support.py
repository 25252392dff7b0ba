"""Helpers for the simulated kubelet's tests: pod manifests bound to a node, status and Event lookups.

Pods are created with spec.nodeName already set, as a real kubelet runs them too, so the tests do not
depend on the scheduler; everything is read back through the official Python client. The tests share one
cluster per module (the `kc` fixture) and use distinct pod names in "default".
"""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client, watch

from tests.support import Kube, wait_until

NODE = "sim-worker"
Check = Callable[[client.V1Pod], object]
BUSYBOX = "busybox:1.36"
LOOP = "while true; do sleep 1; done"
"""A container script that runs until it is killed."""


def container(name: str = "app", image: str = BUSYBOX, script: str | None = None, **fields: object) -> dict:
    body: dict = {"name": name, "image": image, **fields}
    if script is not None:
        body["command"] = ["sh", "-c", script]
    return body


def pod(name: str, *containers: dict, init: tuple[dict, ...] = (), annotations: dict | None = None,
        **spec: object) -> dict:
    body: dict = {"metadata": {"name": name}, "spec": {"nodeName": NODE, "containers": list(containers), **spec}}
    if init:
        body["spec"]["initContainers"] = list(init)
    if annotations:
        body["metadata"]["annotations"] = annotations
    return body


def create(kube: Kube, body: dict, namespace: str = "default") -> client.V1Pod:
    return kube.core.create_namespaced_pod(namespace, body)


def read(kube: Kube, name: str, namespace: str = "default") -> client.V1Pod:
    return kube.core.read_namespaced_pod(name, namespace)


def status_of(pod: client.V1Pod, name: str = "app") -> client.V1ContainerStatus | None:
    statuses = (pod.status.container_statuses or []) + (pod.status.init_container_statuses or [])
    return next((s for s in statuses if s.name == name), None)


def restarts(pod: client.V1Pod, name: str = "app") -> int:
    status = status_of(pod, name)
    return status.restart_count if status else 0


def running(pod: client.V1Pod, name: str = "app") -> bool:
    status = status_of(pod, name)
    return bool(status and status.state.running)


def condition(pod: client.V1Pod, kind: str) -> client.V1PodCondition | None:
    return next((c for c in pod.status.conditions or [] if c.type == kind), None)


def waiting_reason(pod: client.V1Pod, name: str = "app") -> str | None:
    status = status_of(pod, name)
    return status.state.waiting.reason if status and status.state.waiting else None


def waiting_message(pod: client.V1Pod, name: str = "app") -> str | None:
    status = status_of(pod, name)
    return status.state.waiting.message if status and status.state.waiting else None


def events(kube: Kube, name: str, namespace: str = "default") -> list[client.CoreV1Event]:
    """Events about `name` in the order they were first recorded (names end in an increasing hex stamp)."""
    listed = kube.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
    return sorted(listed.items, key=lambda e: int(e.metadata.name.rsplit(".", 1)[1], 16))


def event(kube: Kube, name: str, reason: str, message: str | None = None,
          namespace: str = "default") -> client.CoreV1Event | None:
    """The first Event about `name` with this reason (and message, when given)."""
    return next((e for e in events(kube, name, namespace)
                 if e.reason == reason and (message is None or e.message == message)), None)


def wait_pod(kube: Kube, name: str, check: Check, message: str, timeout: float = 15.0,
             namespace: str = "default") -> client.V1Pod:
    """Poll the pod until check(pod) is truthy; return the pod."""
    found: list[client.V1Pod] = []

    def probe() -> bool:
        current = read(kube, name, namespace)
        if check(current):
            found.append(current)
            return True
        return False

    wait_until(probe, timeout=timeout, message=message)
    return found[0]


def follow(kube: Kube, created: client.V1Pod, stop: Check, timeout: int = 20) -> list[client.V1Pod]:
    """Every version of the pod after `created`, from a watch (so no short-lived state is missed), until
    stop(pod) is truthy."""
    seen: list[client.V1Pod] = []
    for item in watch.Watch().stream(kube.core.list_namespaced_pod, created.metadata.namespace,
                                     resource_version=created.metadata.resource_version, timeout_seconds=timeout,
                                     field_selector=f"metadata.name={created.metadata.name}"):
        seen.append(item["object"])
        if stop(item["object"]):
            return seen
    raise AssertionError(f"pod {created.metadata.name} never reached the expected state in {timeout}s")


def waiting_states(history: list[client.V1Pod], name: str = "app") -> list[tuple[str, str | None]]:
    """The distinct (reason, message) waiting states of a container, in order."""
    states: list[tuple[str, str | None]] = []
    for version in history:
        status = status_of(version, name)
        waiting = status.state.waiting if status else None
        if waiting and (waiting.reason, waiting.message) not in states:
            states.append((waiting.reason, waiting.message))
    return states


def wait_event(kube: Kube, name: str, reason: str, message: str | None = None,
               timeout: float = 15.0) -> client.CoreV1Event:
    return wait_until(lambda: event(kube, name, reason, message), timeout=timeout,  # type: ignore[return-value]
                      message=f"{reason} event {message or ''} for {name}")


def is_ready(pod: client.V1Pod) -> bool:
    ready = condition(pod, "Ready")
    return ready is not None and ready.status == "True"
