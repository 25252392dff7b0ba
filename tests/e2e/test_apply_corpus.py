"""Real-world manifests (tests/corpus/, see its README) applied and tracked by `kubedog apply-and-track` to the
verdict each set must reach: every object applied, every tracked resource ready, exit 0.

Each set goes into a namespace of its own, given with -n (the sets name none); the StorageClass of cassandra is
cluster-scoped and must be applied before the StatefulSet whose claims use it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from tests import support
from tests.support import kube_for

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
KUBEDOG = [*support.KUBEDOG, "apply-and-track"]


def apply_and_track(cluster: SimCluster, namespace: str, directory: Path) -> tuple[subprocess.CompletedProcess[str],
                                                                                   dict[str, str]]:
    """Run the tool on a corpus set; returns the process and RESOURCE -> VERDICT from its summary table."""
    done = subprocess.run([*KUBEDOG, "-f", str(directory), "-n", namespace, "--kubeconfig", cluster.kubeconfig,
                           "--timeout", "90s", "--grace-scale", "0.02", "--color", "never"],
                          capture_output=True, text=True, timeout=120)
    lines = done.stdout.splitlines()
    start = max((i for i, line in enumerate(lines) if line.startswith("RESOURCE ")), default=len(lines))
    verdicts = {parts[0]: parts[1] for parts in (line.split() for line in lines[start + 1:]) if len(parts) >= 3}
    return done, verdicts


def documents(directory: Path) -> list[dict]:
    return [doc for path in sorted(directory.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("name", ["microservices-demo", "guestbook"])
def test_corpus_set_is_applied_and_tracked_to_ready(shared_cluster: SimCluster, name: str) -> None:
    namespace = f"corpus-{name}"
    with kube_for(shared_cluster) as kube:
        kube.core.create_namespace({"metadata": {"name": namespace}})
    directory = CORPUS / name
    done, verdicts = apply_and_track(shared_cluster, namespace, directory)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    objects = documents(directory)
    applied = [line for line in done.stdout.splitlines() if line.endswith(" created")]
    assert len(applied) == len(objects), applied
    expected = {f"{short}/{obj['metadata']['name']}" for obj in objects for kind, short in
                (("Deployment", "deploy"), ("StatefulSet", "sts")) if obj["kind"] == kind}
    expected |= {f"svc/{obj['metadata']['name']}" for obj in objects
                 if obj["kind"] == "Service" and obj["spec"].get("type") == "LoadBalancer"}
    assert expected <= set(verdicts), verdicts
    assert set(verdicts.values()) == {"ready"}, verdicts


def test_cassandra_storage_class_is_applied_before_the_statefulset_and_claims_bind(
        shared_cluster: SimCluster) -> None:
    with kube_for(shared_cluster) as kube:
        kube.core.create_namespace({"metadata": {"name": "corpus-cassandra"}})
        done, verdicts = apply_and_track(shared_cluster, "corpus-cassandra", CORPUS / "cassandra")
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        lines = done.stdout.splitlines()
        assert len([line for line in lines if line.endswith(" created")]) == len(documents(CORPUS / "cassandra"))
        assert lines.index("storageclass.storage.k8s.io/fast created") < lines.index(
            "statefulset.apps/cassandra created")
        assert verdicts == {"sts/cassandra": "ready", "svc/cassandra": "ready"}  # a Service, by its endpoints
        claims = kube.core.list_namespaced_persistent_volume_claim("corpus-cassandra").items
        assert sorted(c.metadata.name for c in claims) == [f"cassandra-data-cassandra-{n}" for n in range(3)]
        assert {c.status.phase for c in claims} == {"Bound"}
