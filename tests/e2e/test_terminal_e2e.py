"""The CLI's output end to end: under a pseudo-terminal (the live status block, rendered by a terminal emulator),
with `--output json` (only JSON lines on stdout), and colors as NO_COLOR, FORCE_COLOR and --color ask.

Runs `rollout track` as a process against the simulated cluster (time scale 0.02, grace scale 0.02).
"""

from __future__ import annotations

import codecs
import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable

import pyte
import pytest

from kubedog_ci.sim.cluster import SimCluster
from tests import support
from tests.support import Kube, wait_until

KUBEDOG = [*support.KUBEDOG, "rollout", "track"]
COLUMNS, LINES = 120, 40
FOREVER = "while true; do sleep 5; done"
SGR = re.compile(rb"\x1b\[[0-9;]*m")
"""A color (Select Graphic Rendition) sequence."""
CURSOR_UP = re.compile(rb"\x1b\[\d+A")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


def deployment(name: str, ns: str, *, pull_seconds: int | None = None, image: str | None = None,
               script: str = FOREVER) -> dict:
    """A Deployment; `pull_seconds` (simulated) makes its first pull of an image of its own that slow."""
    annotations = {} if pull_seconds is None else {"sim.kubedog-ci.io/pull-seconds": str(pull_seconds)}
    image = image or (f"registry.example/{ns}/{name}:1" if pull_seconds is not None else "busybox:1.36")
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": annotations},
                                  "spec": {"containers": [{"name": "app", "image": image,
                                                           "command": ["sh", "-c", script]}]}}}}


def available(kc: Kube, ns: str, name: str) -> bool:
    status = kc.apps.read_namespaced_deployment(name, ns).status
    return status is not None and (status.available_replicas or 0) >= 1


def command(cluster: SimCluster, ns: str, *resources: str, timeout: str = "60s") -> list[str]:
    return [*KUBEDOG, *resources, "-n", ns, "--kubeconfig", cluster.kubeconfig, "--timeout", timeout,
            "--grace-scale", "0.02"]


def environment(**overrides: str) -> dict[str, str]:
    """The test's environment without anything that would change colors or add CI output."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "FORCE_COLOR", "GITHUB_ACTIONS", "GITLAB_CI", "CI")}
    return {**env, "TERM": "xterm", "COLUMNS": str(COLUMNS), "LINES": str(LINES), **overrides}


class PtyRun:
    """A process whose stdin, stdout and stderr are a pseudo-terminal of COLUMNS x LINES; everything it writes
    is kept (`raw`) and fed to a terminal emulator (`screen`) as it is read."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        self.process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.master = master
        self.raw = b""
        self.screen = pyte.Screen(COLUMNS, LINES)
        self.stream = pyte.Stream(self.screen)
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.eof = False

    def pump(self, wait: float = 0.05) -> None:
        """Read what has arrived (waiting up to `wait` for it)."""
        while not self.eof and select.select([self.master], [], [], wait)[0]:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the process has ended and closed the terminal
                data = b""
            if not data:
                self.eof = True
                break
            self.raw += data
            self.stream.feed(self.decoder.decode(data))
            wait = 0

    def display(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def until(self, predicate: Callable[[list[str]], bool], timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            if predicate(self.display()):
                return
            if self.eof:
                break
        raise AssertionError(f"{message}: screen was\n" + "\n".join(self.display()))

    def finish(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self.pump(0.2)
        code = self.process.wait(timeout=max(1.0, deadline - time.monotonic()))
        os.close(self.master)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def content(display: list[str]) -> list[str]:
    last = max((i for i, line in enumerate(display) if line), default=-1)
    return display[:last + 1]


def status_block(display: list[str]) -> list[str]:
    """The live block: from its header (RESOURCE STATE ...) to the end of the screen's content."""
    shown = content(display)
    start = next((i for i, line in enumerate(shown) if line.split()[:2] == ["RESOURCE", "STATE"]), None)
    return [] if start is None else shown[start:]


def test_live_status_block_under_a_terminal(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web", ns, script=f"echo serving; {FOREVER}"))
    wait_until(lambda: available(kc, ns, "web"), timeout=20, message="web available")
    kc.apps.create_namespaced_deployment(ns, deployment("slow", ns, pull_seconds=200))  # 4s at this time scale
    run = PtyRun(command(shared_cluster, ns, "deploy/slow", "deploy/web", "--logs-since", "all"), environment())
    try:
        run.until(lambda display: any(line.startswith("deploy/slow ") and " progressing " in line
                                      for line in status_block(display)), timeout=20,
                  message="the status block with deploy/slow progressing")
        display = run.display()
        block = status_block(display)
        assert block[0].split() == ["RESOURCE", "STATE", "READY", "RESTARTS", "AGE", "REASON"]
        assert len(block) == 3 and {line.split()[0] for line in block[1:]} == {"deploy/slow", "deploy/web"}
        above = content(display)[:-len(block)]
        assert any(line.endswith("[app] | serving") for line in above), display  # log lines above, intact
        code = run.finish()
    finally:
        run.kill()
    shown = content(run.display())
    assert code == 0, shown
    assert not status_block(shown), shown  # erased for good
    summary = shown[shown.index(next(line for line in shown if line.split()[:2] == ["RESOURCE", "VERDICT"])):]
    assert {line.split()[0]: line.split()[1] for line in summary[1:]} == {"deploy/slow": "ready", "deploy/web": "ready"}
    assert CURSOR_UP.search(run.raw) and SGR.search(run.raw)  # redrawn in place; colors on a terminal by default
    assert b"\x1b[2J" not in run.raw and b"\x1b]" not in run.raw


def test_json_output_end_to_end(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web", ns))
    wait_until(lambda: available(kc, ns, "web"), timeout=20, message="web available")
    kc.apps.create_namespaced_deployment(ns, deployment("api", ns, image="registry.example/api:does-not-exist"))
    kc.apps.create_namespaced_deployment(ns, deployment("slow", ns, pull_seconds=1000))
    done = subprocess.run([*command(shared_cluster, ns, "deploy/web", "deploy/api", "deploy/slow", timeout="4s"),
                           "--no-fail-fast", "-o", "json"], capture_output=True, text=True, timeout=60,
                          env=environment())
    assert done.returncode == 1, done
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records and all(r["schema"] == 1 and r["time"].endswith("Z") for r in records)
    types = [r["type"] for r in records]
    assert types[-1] == "summary" and types.count("summary") == 1
    assert {"status", "failure", "progress"} <= set(types), types
    summary = records[-1]
    assert {r["target"]: r["verdict"] for r in summary["results"]} == {
        "deploy/web": "ready", "deploy/api": "failed", "deploy/slow": "progressing"}
    assert all(r["namespace"] == ns and r["kind"] == "Deployment" for r in summary["results"])
    assert summary["stopped_by"] is None and summary["cluster_error"] is None
    failure = next(r for r in records if r["type"] == "failure")
    assert failure["target"] == "deploy/api" and failure["headline"].startswith("deploy/api FAILED: ")
    assert isinstance(failure["details"], dict) and isinstance(failure["log_tail"], list)


@pytest.mark.parametrize(("terminal", "flags", "env", "colored"), [
    (True, (), {"NO_COLOR": "1"}, False),
    (True, ("--color", "never"), {}, False),
    (False, ("--color", "always"), {"NO_COLOR": "1"}, True),
    (False, (), {"FORCE_COLOR": "1"}, True),
    (False, (), {}, False),
])
def test_colors_in_the_output_bytes(shared_cluster: SimCluster, kc: Kube, ns: str, terminal: bool,
                                    flags: tuple[str, ...], env: dict[str, str], colored: bool) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web", ns))
    wait_until(lambda: available(kc, ns, "web"), timeout=20, message="web available")
    args = [*command(shared_cluster, ns, "deploy/web"), *flags]
    if terminal:
        run = PtyRun(args, environment(**env))
        try:
            code, raw = run.finish(), run.raw
        finally:
            run.kill()
    else:
        done = subprocess.run(args, capture_output=True, timeout=60, env=environment(**env))
        code, raw = done.returncode, done.stdout
    assert code == 0, raw
    assert b"deploy/web" in raw and b"VERDICT" in raw
    assert bool(SGR.search(raw)) is colored, raw
    if not terminal:
        assert not CURSOR_UP.search(raw) and b"\x1b[J" not in raw  # no live block off a terminal
