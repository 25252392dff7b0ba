"""Cluster time, not runner time: against a cluster whose clock is five minutes ahead of or behind the runner's
(`SimConfig.clock_offset`, `kubedog sim serve --clock-offset`), every log line of a Job and every Warning Event of
a failure are shown, and the verdicts are those of a cluster in step."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from tests import support
from tests.support import CliRun as Run

LINES = 40


def manifests(namespace: str) -> list[dict]:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "count", "namespace": namespace},
           "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{
               "name": "main", "image": "busybox:1.36",
               "command": ["sh", "-c", f"i=1; while [ $i -le {LINES} ]; do echo line-$i; i=$((i+1)); done"]}]}}}}
    never_ready = {"exec": {"command": ["sh", "-c", "echo not yet; exit 1"]}, "periodSeconds": 10,
                   "failureThreshold": 20}
    broken = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": namespace},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}},
                       "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{
                           "name": "app", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600"],
                           "readinessProbe": never_ready}]}}}}
    """Its readiness probe never passes: Warning Unhealthy events for 200s (4s here) before it fails."""
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, job, broken]


@pytest.mark.parametrize("offset", [300.0, -300.0], ids=["cluster-5m-ahead", "cluster-5m-behind"])
def test_skewed_clocks_lose_no_line_and_no_event(sim_factory: Callable[..., SimCluster], offset: float,
                                                 tmp_path: Path) -> None:
    cluster = sim_factory(clock_offset=offset)
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(manifests("skew")))
    done = subprocess.run([*support.KUBEDOG, "apply-and-track", "-f", str(path), "--kubeconfig", cluster.kubeconfig,
                           "--timeout", "30s", "--no-fail-fast", "--grace-scale", "0.02", "--color", "never"],
                          capture_output=True, text=True, timeout=60)
    run = Run.of(done)
    assert run.code == 1, run
    assert run.verdicts() == {"job/count": "ready", "deploy/api": "FAILED"}, run
    shown = [line.rsplit("| ", 1)[1] for line in run.lines if "job/count po/" in line and "| line-" in line]
    assert shown == [f"line-{number}" for number in range(1, LINES + 1)], run
    warnings = [line for line in run.lines if line.startswith("deploy/api po/") and " Warning " in line]
    assert any("Warning Unhealthy" in line and "Readiness probe failed" in line for line in warnings), run
    assert "Unhealthy" in run.headline("deploy/api"), run


@pytest.mark.parametrize("offset", [300.0, -300.0], ids=["cluster-5m-ahead", "cluster-5m-behind"])
def test_rollout_track_then_kubectl_apply_with_a_skewed_clock(sim_factory: Callable[..., SimCluster], offset: float,
                                                              tmp_path: Path) -> None:
    """Tracking starts first (the objects are not found yet), then kubectl applies them: with the default
    `--logs-since now`, every line the Job prints after the start is shown, whatever either clock says."""
    cluster = sim_factory(clock_offset=offset)
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(manifests("skew")))
    subprocess.run([support.KUBECTL, "--kubeconfig", cluster.kubeconfig, "create", "namespace", "skew"],
                   capture_output=True, check=True, timeout=60)
    process = subprocess.Popen([*support.KUBEDOG, "rollout", "track", "job/count", "deploy/api", "-n", "skew",
                                "--kubeconfig", cluster.kubeconfig, "--timeout", "30s", "--no-fail-fast",
                                "--grace-scale", "0.02", "--color", "never"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()  # the first status: both are not found yet
    assert "not found" in first, first
    applied = subprocess.run([support.KUBECTL, "--kubeconfig", cluster.kubeconfig, "apply", "-f", str(path)],
                             capture_output=True, text=True, timeout=60)
    assert applied.returncode == 0, applied.stderr
    rest, err = process.communicate(timeout=60)
    run = Run(process.returncode, first + rest, err)
    assert run.code == 1, run
    assert run.verdicts() == {"job/count": "ready", "deploy/api": "FAILED"}, run
    shown = [line.rsplit("| ", 1)[1] for line in run.lines if "job/count po/" in line and "| line-" in line]
    assert shown == [f"line-{number}" for number in range(1, LINES + 1)], run
