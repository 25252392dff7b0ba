"""What a run costs the API server does not grow with what else its namespace holds (engine.watches): old Events
are never transferred, other applications' Pods never listed. The simulator counts each request and each byte it
sends (Stats), so the same run in an empty namespace and in a crowded one can be compared exactly."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable

from kubedog_ci.sim.cluster import SimCluster
from tests import support
from tests.e2e.test_rollout_track import LATE_READY, SCALE, deployment, pod_spec
from tests.support import CliRun, kube_for, wait_until

OLD = "2020-01-01T00:00:00Z"


def crowd(cluster: SimCluster, namespace: str, events: int, pods: int) -> None:
    """Old Events and other applications' Pods, written straight into the store (the Pods bound to a node no
    kubelet runs, so nothing changes them)."""
    for n in range(pods):
        cluster.store.create("/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"other-{n}", "namespace": namespace, "uid": str(uuid.uuid4()),
                         "labels": {"app": f"other-{n % 20}"}, "creationTimestamp": OLD},
            "spec": {"nodeName": "retired", "containers": [{"name": "app", "image": "registry.example/other:1"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    for n in range(events):
        cluster.store.create("/events", {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"other.{n:08x}", "namespace": namespace, "uid": str(uuid.uuid4()),
                         "creationTimestamp": OLD},
            "involvedObject": {"kind": "Pod", "namespace": namespace, "name": f"other-{n % max(pods, 1)}"},
            "reason": "BackOff", "message": "Back-off restarting failed container app", "type": "Warning",
            "firstTimestamp": OLD, "lastTimestamp": OLD, "count": 1})


def test_a_crowded_namespace_costs_what_an_empty_one_does(sim_factory: Callable[..., SimCluster]) -> None:
    cluster = sim_factory()
    assert cluster.server is not None
    with kube_for(cluster) as kube:
        for namespace in ("quiet", "busy"):
            kube.core.create_namespace({"metadata": {"name": namespace}})
            kube.apps.create_namespaced_deployment(namespace, deployment("web", spec=pod_spec(**LATE_READY)))
        for namespace in ("quiet", "busy"):  # both ready before either run: the same work to do
            wait_until(lambda namespace=namespace: (kube.apps.read_namespaced_deployment("web", namespace).status
                                                    .available_replicas == 1), message=f"web in {namespace} ready")
    crowd(cluster, "busy", events=3000, pods=300)
    cost = {}
    for namespace in ("quiet", "busy"):
        before = cluster.server.stats.snapshot()
        done = subprocess.run([*support.KUBEDOG, "rollout", "track", "deploy/web", "-n", namespace, "--kubeconfig",
                               cluster.kubeconfig, "--timeout", "30s", "--settle", "0", *SCALE],
                              capture_output=True, text=True, timeout=60)
        run = CliRun.of(done)
        assert run.code == 0 and run.verdicts() == {"deploy/web": "ready"}, run
        after = cluster.server.stats.snapshot()
        cost[namespace] = (after["requests_total"] - before["requests_total"],
                           after["bytes_sent_total"] - before["bytes_sent_total"])
    (quiet_requests, quiet_bytes), (busy_requests, busy_bytes) = cost["quiet"], cost["busy"]
    assert busy_requests <= quiet_requests * 1.2, cost
    assert busy_bytes <= quiet_bytes * 1.2 and busy_bytes < 300_000, cost  # 3,000 Events alone are over 600 kB
