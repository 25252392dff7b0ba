"""TLS verified as the kubeconfig says, end to end: the CLI as a process against the simulated cluster serving
HTTPS with a certificate made at its start (`SimCluster(tls=True)`, `kubedog sim serve --tls`)."""

from __future__ import annotations

import base64
import copy
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.tls import make_ca
from tests import support
from tests.support import KUBECTL, kube_for, requires_kubectl

API_TIMEOUT_SECONDS = 60
"""The tool's default API timeout: a certificate it cannot verify must fail well before it."""


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[SimCluster]:
    """A TLS cluster with a ready Deployment `web` in `default`."""
    with SimCluster(support.sim_config(), tls=True) as cluster, kube_for(cluster) as kube:
        app = {"name": "app", "image": "busybox:1.36", "command": ["sh", "-c", "while true; do sleep 5; done"]}
        kube.apps.create_namespaced_deployment("default", {
            "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [app]}}}})
        yield cluster


def kubeconfig(cluster: SimCluster, path: Path, **settings: object) -> str:
    """The cluster's kubeconfig without its CA, with these cluster settings instead."""
    config = copy.deepcopy(cluster.kubeconfig_dict())
    entry = config["clusters"][0]["cluster"]
    del entry["certificate-authority-data"]
    entry.update(settings)
    path.write_text(yaml.safe_dump(config))
    return str(path)


def track(config: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run([*support.KUBEDOG, "rollout", "track", "deploy/web", "--kubeconfig", config, "--color",
                           "never", "--timeout", "30s"], capture_output=True, text=True, timeout=API_TIMEOUT_SECONDS)
    return done, time.monotonic() - started


def test_the_kubeconfig_s_ca_is_trusted(tls_cluster: SimCluster) -> None:
    assert tls_cluster.url.startswith("https://127.0.0.1:")
    assert "certificate-authority-data" in Path(tls_cluster.kubeconfig).read_text()
    done, _ = track(tls_cluster.kubeconfig)
    assert done.returncode == 0, done
    assert "deploy/web ready" in done.stdout and "Warning" not in done.stderr, done


@pytest.mark.parametrize("ca", ["none", "wrong"])
def test_a_certificate_that_cannot_be_verified_fails_at_once(tls_cluster: SimCluster, tmp_path: Path,
                                                             ca: str) -> None:
    settings: dict[str, object] = {}
    if ca == "wrong":
        other, _ = make_ca(tmp_path, "another-ca")
        settings["certificate-authority-data"] = base64.b64encode(other.read_bytes()).decode()
    done, elapsed = track(kubeconfig(tls_cluster, tmp_path / "kubeconfig", **settings))
    assert done.returncode == 5, done
    assert "certificate verify failed" in done.stderr and tls_cluster.url in done.stderr, done
    assert "Traceback" not in done.stderr and elapsed < 10, (elapsed, done)


def test_insecure_skip_tls_verify_is_honoured(tls_cluster: SimCluster, tmp_path: Path) -> None:
    done, _ = track(kubeconfig(tls_cluster, tmp_path / "kubeconfig", **{"insecure-skip-tls-verify": True}))
    assert done.returncode == 0, done
    assert "deploy/web ready" in done.stdout and not done.stderr, done


@requires_kubectl
def test_kubectl_trusts_the_kubeconfig_s_ca(tls_cluster: SimCluster) -> None:
    done = subprocess.run([KUBECTL or "kubectl", "--kubeconfig", tls_cluster.kubeconfig, "get", "deploy", "web",
                           "-o", "name"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done
    assert done.stdout.strip() == "deployment.apps/web"


def test_sim_serve_tls(tmp_path: Path) -> None:
    """`kubedog sim serve --tls` prints an https URL and writes a kubeconfig the tool trusts."""
    config = tmp_path / "kubeconfig"
    server = subprocess.Popen([*support.KUBEDOG, "sim", "serve", "--tls", "--time-scale", "0.02",
                               "--kubeconfig-out", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        assert "serving the Kubernetes API at https://127.0.0.1:" in line, line
        done = subprocess.run([*support.KUBEDOG, "status", "svc/kubernetes", "--kubeconfig", str(config)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and " ready " in done.stdout, done
    finally:
        server.terminate()
        server.wait(timeout=30)
