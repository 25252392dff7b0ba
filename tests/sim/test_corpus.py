"""Real-world manifests (tests/corpus/) applied with the real kubectl come up ready on the simulated cluster.

These sets were written for real clusters and real images: their own entrypoints, grpc and httpGet probes,
an init container that polls a Service with wget, an exec readiness probe, a legacy storage-class annotation.
Each set goes into a namespace of its own and must reach the verdict tests/corpus/README.md records.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from tests.support import KUBECTL, requires_kubectl, wait_until

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
pytestmark = [pytest.mark.kubectl, requires_kubectl]


def kubectl(cluster: SimCluster, *args: str) -> str:
    done = subprocess.run([KUBECTL or "kubectl", "--kubeconfig", cluster.kubeconfig, *args], capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def apply_set(cluster: SimCluster, name: str, *files: str) -> list[dict]:
    kubectl(cluster, "create", "namespace", name)
    objects = []
    for file in files:
        path = CORPUS / name / file
        applied = kubectl(cluster, "apply", "--server-side", "-n", name, "-f", str(path))
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert len(applied.splitlines()) == len(docs)
        assert all(line.endswith(" serverside-applied") for line in applied.splitlines())
        objects += docs
    return objects


def rollout(cluster: SimCluster, namespace: str, objects: list[dict]) -> None:
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            kubectl(cluster, "rollout", "status", f"{obj['kind'].lower()}/{obj['metadata']['name']}", "-n",
                    namespace, "--timeout=120s")


def test_microservices_demo(shared_cluster: SimCluster) -> None:
    objects = apply_set(shared_cluster, "microservices-demo", "kubernetes-manifests.yaml")
    assert sum(o["kind"] == "Deployment" for o in objects) == 12
    rollout(shared_cluster, "microservices-demo", objects)
    external = wait_until(lambda: kubectl(shared_cluster, "get", "svc", "frontend-external", "-n", "microservices-demo",
                                          "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"),
                          timeout=30, message="the LoadBalancer ingress")
    assert str(external).startswith("172.18.255.")
    logs = kubectl(shared_cluster, "logs", "deploy/loadgenerator", "-c", "frontend-check", "-n", "microservices-demo")
    assert "Frontend is reachable." in logs


def test_guestbook(shared_cluster: SimCluster) -> None:
    objects = apply_set(shared_cluster, "guestbook", "guestbook-all-in-one.yaml")
    rollout(shared_cluster, "guestbook", objects)


def test_cassandra_storage_class_first_then_ordered_replicas(shared_cluster: SimCluster) -> None:
    objects = apply_set(shared_cluster, "cassandra", "cassandra-service.yaml", "cassandra-statefulset.yaml")
    rollout(shared_cluster, "cassandra", objects)
    claims = yaml.safe_load(kubectl(shared_cluster, "get", "pvc", "-n", "cassandra", "-o", "yaml"))["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == [f"cassandra-data-cassandra-{n}" for n in range(3)]
    assert {c["status"]["phase"] for c in claims} == {"Bound"}
    assert {c["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"] for c in claims} == {"fast"}
    pods = yaml.safe_load(kubectl(shared_cluster, "get", "pods", "-n", "cassandra", "-o", "yaml"))["items"]
    started = sorted((p["status"]["startTime"], p["metadata"]["name"]) for p in pods)
    assert [name for _, name in started] == ["cassandra-0", "cassandra-1", "cassandra-2"]
