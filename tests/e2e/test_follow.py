"""`kubedog follow` end to end: the CLI as a process against the simulated cluster (time scale 0.02). It streams
the v1 logs and the ready status, keeps going past ready, follows the v2 revision once it is rolled out, and
ends only on SIGINT, with exit code 0."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable

import pytest

from kubedog_ci.sim.cluster import SimCluster
from tests import support
from tests.support import Kube

KUBEDOG = [*support.KUBEDOG, "follow"]


def ticking(version: str) -> dict:
    script = f'while true; do echo "{version} tick"; sleep 1; done'
    return {"containers": [{"name": "app", "image": "busybox:1.36", "command": ["sh", "-c", script]}]}


def deployment(name: str, spec: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


class Reader:
    """Reads a process's stdout on a thread, so the pipe never fills up, and keeps every line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self.lock = threading.Lock()
        assert process.stdout is not None
        self.thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream: Iterable[str]) -> None:
        for line in stream:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def interrupt(self) -> str:
        """Ctrl-C, as a user ends `follow`: waits for the exit and the last lines; returns stderr."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=10)
        self.thread.join(timeout=5)
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def close(self) -> None:
        """Kill the process if a failed test left it running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def snapshot(self) -> list[str]:
        with self.lock:
            return list(self.lines)

    def wait_for(self, predicate: Callable[[str], bool], what: str, start: int = 0, timeout: float = 10) -> int:
        """The index of the first line from `start` on that matches; fails the test, with the output so far,
        after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.snapshot()
            found = next((i for i in range(start, len(lines)) if predicate(lines[i])), None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}; output:\n" + "\n".join(lines))
            time.sleep(0.02)


def test_follow_streams_new_revisions_until_sigint(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web", ticking("v1")))
    process = subprocess.Popen([*KUBEDOG, "deploy/web", "-n", ns, "--kubeconfig", shared_cluster.kubeconfig,
                                "--grace-scale", "0.02", "--color", "never"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader = Reader(process)
    try:
        def output() -> str:
            return "\n".join(reader.snapshot()) + f"\n--- exit {process.poll()}"

        reader.wait_for(lambda line: "[app] | v1 tick" in line, "v1 tick")
        reader.wait_for(lambda line: line.startswith("deploy/web ready:"), "the ready status")
        assert process.poll() is None, output()
        patched = len(reader.snapshot())
        kc.apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": ticking("v2")}}})
        reader.wait_for(lambda line: "[app] | v2 tick" in line, "v2 tick", patched)
        time.sleep(0.3)
        assert process.poll() is None, output()  # it never ends on its own
        err = reader.interrupt()
    finally:
        reader.close()
    out = "\n".join(reader.snapshot())
    assert process.returncode == 0, f"{out}\n--- stderr\n{err}"
    assert "Traceback" not in err
    lines = out.splitlines()
    v2 = next(i for i, line in enumerate(lines) if "[app] | v2 tick" in line)
    assert any(line.startswith("deploy/web progressing:") for line in lines[patched:v2]), out
    assert "interrupted by SIGINT" in out
