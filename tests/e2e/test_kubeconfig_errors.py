"""A kubeconfig that cannot get us to a cluster, end to end: for `apply-and-track`, `rollout track` and `status`,
exit 5 and one paragraph naming the kubeconfig, the context or the server; never a traceback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from tests import support

CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubeconfig-errors, namespace: default}\n"
COMMANDS = ("apply-and-track", "rollout-track", "status")


def kubedog(command: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None) \
        -> subprocess.CompletedProcess[str]:
    """Run one of COMMANDS (apply-and-track with a ConfigMap, the others on deploy/web) with these arguments."""
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(CONFIG_MAP)
    words = {"apply-and-track": ["apply-and-track", "-f", str(manifest), "--timeout", "20s", "--color", "never"],
             "rollout-track": ["rollout", "track", "deploy/web", "--timeout", "20s", "--color", "never"],
             "status": ["status", "deploy/web"]}[command]
    return subprocess.run([*support.KUBEDOG, *words, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def cluster_error(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 5, done.stderr
    assert done.stderr.startswith("kubedog: "), done.stderr
    assert "Traceback" not in done.stderr
    assert "\n" not in done.stderr.strip(), "one paragraph, here one line"
    for text in expected:
        assert text in done.stderr


def config(cluster: SimCluster) -> dict:
    """The cluster's kubeconfig as a dict: one cluster, user and context, all named kubedog-sim."""
    return yaml.safe_load(Path(cluster.kubeconfig).read_text())


def without_clusters(cluster: SimCluster) -> dict:
    return {**config(cluster), "clusters": []}


def with_context(cluster_name: str, user: str) -> Callable[[SimCluster], dict]:
    """The cluster's kubeconfig whose current context names this cluster and user."""
    def make(cluster: SimCluster) -> dict:
        settings = config(cluster)
        settings["contexts"].append({"name": "typo", "context": {"cluster": cluster_name, "user": user}})
        return {**settings, "current-context": "typo"}
    return make


BROKEN: dict[str, tuple[Callable[[SimCluster], dict | str], str]] = {
    "not-yaml": (lambda _: "clusters: [1\n", "not valid YAML (line 2, column 1)"),
    "a-list": (lambda _: "- 1\n- 2\n", "not a kubeconfig (a mapping of kind Config with clusters, contexts and users), "
                                         "but a list"),
    "a-manifest": (lambda _: CONFIG_MAP, "not a kubeconfig (a mapping of kind Config with clusters, contexts and "
                                         "users), but kind ConfigMap"),
    "empty": (lambda _: "", "defines no context"),
    "missing-clusters": (without_clusters, 'cluster "kubedog-sim" was not found for context "kubedog-sim" '
                                           "(clusters: none)"),
    "context-without-cluster": (with_context("ghost", "kubedog-sim"),
                                'cluster "ghost" was not found for context "typo" (clusters: kubedog-sim)'),
    "context-without-user": (with_context("kubedog-sim", "ghost"),
                             'user "ghost" was not found for context "typo" (users: kubedog-sim)'),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_file(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    cluster_error(kubedog(command, tmp_path, "--kubeconfig", str(missing)), f"kubeconfig {missing}: no such file")


@pytest.mark.parametrize("case", BROKEN)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_broken_kubeconfig(shared_cluster: SimCluster, tmp_path: Path, command: str, case: str) -> None:
    make, expected = BROKEN[case]
    made = make(shared_cluster)
    path = tmp_path / "kubeconfig"
    path.write_text(made if isinstance(made, str) else yaml.safe_dump(made))
    cluster_error(kubedog(command, tmp_path, "--kubeconfig", str(path)), f"kubeconfig {path}: {expected}")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_context(shared_cluster: SimCluster, tmp_path: Path, command: str) -> None:
    done = kubedog(command, tmp_path, "--kubeconfig", shared_cluster.kubeconfig, "--context", "nope")
    cluster_error(done, f'kubeconfig {shared_cluster.kubeconfig}: context "nope" not found (contexts: kubedog-sim)')


@pytest.mark.parametrize("command", COMMANDS)
def test_kubeconfig_variable_with_every_path_missing(tmp_path: Path, command: str) -> None:
    paths = os.pathsep.join(str(tmp_path / name) for name in ("one", "two"))
    done = kubedog(command, tmp_path, env={"KUBECONFIG": paths})
    cluster_error(done, f"KUBECONFIG={paths}: none of these files exists")


@pytest.mark.parametrize("command", COMMANDS)
def test_kubeconfig_variable_with_a_broken_path(shared_cluster: SimCluster, tmp_path: Path, command: str) -> None:
    """A missing path is skipped, as kubectl skips it; a broken one is named, whichever its place."""
    broken = tmp_path / "broken"
    broken.write_text("- 1\n")
    paths = os.pathsep.join([str(tmp_path / "absent"), shared_cluster.kubeconfig, str(broken)])
    cluster_error(kubedog(command, tmp_path, env={"KUBECONFIG": paths}), f"kubeconfig {broken}: not a kubeconfig")


def test_kubeconfig_variable_with_a_missing_path_still_works(shared_cluster: SimCluster, tmp_path: Path) -> None:
    paths = os.pathsep.join([str(tmp_path / "absent"), shared_cluster.kubeconfig])
    done = kubedog("status", tmp_path, env={"KUBECONFIG": paths})
    assert done.returncode == 1, done.stderr  # the cluster answered: there is no deploy/web
    assert "NotFound" in done.stdout


def has_api_timeout() -> bool:
    done = subprocess.run([*support.KUBEDOG, "status", "--help"], capture_output=True, text=True, timeout=60)
    return "--api-timeout" in done.stdout


def closed_port() -> int:
    """A local port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_server(shared_cluster: SimCluster, tmp_path: Path, command: str) -> None:
    if not has_api_timeout():
        pytest.skip("needs --api-timeout (another change adds it): without it the run waits the default 60s")
    server = f"http://127.0.0.1:{closed_port()}"
    settings = config(shared_cluster)
    settings["clusters"][0]["cluster"]["server"] = server
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(settings))
    started = time.monotonic()
    done = kubedog(command, tmp_path, "--kubeconfig", str(path), "--api-timeout", "2s")
    cluster_error(done, f"the Kubernetes API server at {server}")
    assert time.monotonic() - started < 20
