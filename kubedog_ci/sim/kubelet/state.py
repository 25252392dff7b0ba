"""What the simulated kubelet knows about its pods: the container runtime's view, kept in memory.

Nothing here is API state; pod.status is generated from it (status.py) and written by the controller.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

from kubedog_ci.sim import shell
from kubedog_ci.sim.kubelet.backoff import Backoff
from kubedog_ci.sim.kubelet.images import Reference

Key = tuple[str, str]


@dataclass(eq=False)
class Instance:
    """One run of a container: what containerd calls a container, with its own ID and log."""

    image: Reference
    spec_image: str
    restart_count: int
    env: dict[str, str]
    started: float
    started_at: str
    steps: Iterator[shell.Step] | None
    files: shell.Files
    """What its volume mounts showed when it started; exec probes read them too."""
    id: str = field(default_factory=lambda: secrets.token_hex(32))
    running: bool = True
    stopping: bool = False
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    finished: float = 0.0
    finished_at: str = ""

    @property
    def container_id(self) -> str:
        return f"containerd://{self.id}"

    def terminated(self) -> dict:
        state = {"exitCode": self.exit_code, "reason": self.reason, "startedAt": self.started_at,
                 "finishedAt": self.finished_at, "containerID": self.container_id}
        if self.message:
            state["message"] = self.message
        return state


@dataclass(eq=False)
class ProbeWorker:
    """One probe of one container instance (prober/worker.go's state)."""

    kind: str  # "Liveness", "Readiness" or "Startup", as the Unhealthy message spells it
    spec: dict
    instance: Instance
    last: bool | None = None
    run: int = 0


@dataclass(eq=False)
class Container:
    """A container of the pod across its restarts."""

    spec: dict
    init: bool
    field_path: str
    instance: Instance | None = None
    previous: Instance | None = None
    reason: tuple[str, str] | None = None
    """The reason cache: why the last start attempt failed (ErrImagePull, CrashLoopBackOff, …) and its message."""
    busy: bool = False
    """An image pull is in flight."""
    ready: bool = False
    started: bool = False
    crash: Backoff = field(default_factory=Backoff)
    pull: Backoff = field(default_factory=Backoff)
    pull_error: str = ""
    backoff_image: str = ""
    """The image the back-offs belong to: the kubelet keys them by container hash and image."""

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def sidecar(self) -> bool:
        return self.init and self.spec.get("restartPolicy") == "Always"

    @property
    def running(self) -> bool:
        return self.instance is not None and self.instance.running


@dataclass(eq=False)
class PodState:
    """One pod bound to a simulated node."""

    key: Key
    uid: str
    node: str
    pod: dict
    host_ip: str = ""
    start_time: str = ""
    pod_ip: str = ""
    sandbox: str = "none"  # none, creating, ready, stopped
    volumes_ready: bool = False
    mount_delay: float = 0.0
    mount_retry_at: float = 0.0
    initialized: bool = False
    finished: bool = False
    """Every container is done and will not restart: the sandbox is gone (KillPod)."""
    terminating: bool = False
    terminal: bool = False
    """podIsTerminal: deletion stopped every container, so the phase becomes Succeeded or Failed."""
    gone: bool = False
    dirty: bool = False
    written: dict | None = None
    """The status last written, to tell our own writes from others' in the watch."""
    started: float = 0.0
    """Simulated time the kubelet admitted the pod (status.startTime), for activeDeadlineSeconds."""
    deadline: float | None = None
    """The activeDeadlineSeconds a timer is armed for."""
    evicted: tuple[str, str] | None = None
    """(reason, message) once an internal module failed the pod (the active deadline handler)."""
    blocked: frozenset[tuple[str, str, str]] = frozenset()
    init: list[Container] = field(default_factory=list)
    apps: list[Container] = field(default_factory=list)

    @property
    def all(self) -> list[Container]:
        return self.init + self.apps

    @property
    def uid_name(self) -> str:
        """format.Pod: name_namespace(uid)."""
        return f"{self.key[1]}_{self.key[0]}({self.uid})"
