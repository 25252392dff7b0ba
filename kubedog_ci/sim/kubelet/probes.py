"""Probe results as prober/worker.go counts them, and exec probes run through the shell interpreter.

httpGet, tcpSocket and grpc probes always succeed (nothing listens anywhere); exec probes run their command
and fail with its output, or with the runtime's timeout message when they run past timeoutSeconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubedog_ci.sim import shell
from kubedog_ci.sim.kubelet.env import expand
from kubedog_ci.sim.kubelet.state import ProbeWorker

PROBES = (("startupProbe", "Startup"), ("readinessProbe", "Readiness"), ("livenessProbe", "Liveness"))


def exec_probe(
    command: Sequence[str], env: Mapping[str, str], timeout: float, files: shell.Files = shell.NO_FILES
) -> tuple[bool, str]:
    """(success, combined output) of an exec probe; one that times out fails with the runtime's message."""
    code, output = shell.probe(command, env, timeout, files)
    if code is None:
        return False, f'command "{" ".join(command)}" timed out'
    return code == 0, output


def run_probe(spec: dict, container: dict, env: Mapping[str, str], files: shell.Files) -> tuple[bool, str]:
    """One probe run; an exec command gets ExpandContainerCommandOnlyStatic's $(VAR) expansion and sees the
    container's files."""
    command = (spec.get("exec") or {}).get("command")
    if command is None:
        return True, ""
    static = {var["name"]: var.get("value", "") for var in container.get("env") or [] if "valueFrom" not in var}
    timeout = float(spec.get("timeoutSeconds", 1))
    return exec_probe([expand(part, static) for part in command], env, timeout, files)


def observe(worker: ProbeWorker, success: bool) -> bool | None:
    """Count a result; the new result once its threshold is met, else None (the previous one holds)."""
    if worker.last == success:
        worker.run += 1
    else:
        worker.last, worker.run = success, 1
    threshold = worker.spec.get("successThreshold", 1) if success else worker.spec.get("failureThreshold", 3)
    return success if worker.run >= threshold else None
