"""No false green: "ready" only when it will stay ready. Each case is a rollout that passes its kind's rule and
dies right after (or never reconciled), which `kubectl rollout status`, Helm's --wait and kstatus call ready; each
test checks the verdict and the first line of the diagnosis. Time scale 0.02 with --grace-scale 0.02, so the
default 5s settle window takes 0.1s here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from tests import support
from tests.e2e.test_follow import Reader
from tests.e2e.test_rollout_track import SCALE, deployment, pod_spec, statefulset, track, widgets
from tests.support import CliRun as Run
from tests.support import Kube, namespace_name, running_cluster

__all__ = ["widgets"]  # the module-scoped Widget CRD fixture

KILLING_LIVENESS = {"livenessProbe": {"exec": {"command": ["sh", "-c", "exit 1"]}, "initialDelaySeconds": 3,
                                      "periodSeconds": 1, "failureThreshold": 1}}
"""Kills the container 4s after each start (0.08s here): no readiness probe, so the Pod is ready first."""


SETTLE_SCALE = 0.2
"""The settle cases run on a cluster only five times faster than a real one: at 0.02 a Pod starts, is killed and
restarts before the CLI's first look (its Python start-up alone is a minute of that cluster's time), where a real
cluster gives a CI job seconds."""


@pytest.fixture(scope="module")
def slower() -> Iterator[SimCluster]:
    with running_cluster(time_scale=SETTLE_SCALE) as cluster:
        yield cluster


@pytest.fixture
def ns_name(request: pytest.FixtureRequest) -> str:
    """A namespace name of this test's own; the manifests create it."""
    return namespace_name(request)


def apply_and_track(cluster: SimCluster, ns: str, tmp_path: Path, *objects: dict, extra: tuple[str, ...] = ()) -> Run:
    """As CI does: applied, then tracked from the start of the apply."""
    path = tmp_path / "objects.yaml"
    namespaced = [{**obj, "metadata": {**obj["metadata"], "namespace": ns}} for obj in objects]
    path.write_text(yaml.safe_dump_all([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                                        *namespaced]))
    scale = ["--grace-scale", str(SETTLE_SCALE), "--color", "never"]
    done = subprocess.run([*support.KUBEDOG, "apply-and-track", "-f", str(path), "--kubeconfig", cluster.kubeconfig,
                           "--timeout", "60s", *scale, *extra], capture_output=True, text=True, timeout=90)
    return Run.of(done)
NEVER_STARTED = {"startupProbe": {"exec": {"command": ["sh", "-c", "exit 1"]}, "periodSeconds": 1,
                                  "failureThreshold": 3}}


def test_a_liveness_probe_that_kills_the_container_after_it_is_ready(slower: SimCluster, ns_name: str,
                                                                      tmp_path: Path) -> None:
    run = apply_and_track(slower, ns_name, tmp_path, deployment("web", spec=pod_spec(**KILLING_LIVENESS)))
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/web": "FAILED"}, run
    assert run.headline("deploy/web").startswith("deploy/web FAILED: po/web-"), run
    assert "[app]" in run.headline("deploy/web"), run


def test_an_oom_kill_shortly_after_each_start(slower: SimCluster, ns_name: str, tmp_path: Path) -> None:
    run = apply_and_track(slower, ns_name, tmp_path, deployment(
        "web", annotations={"sim.kubedog-ci.io/oom-after-seconds": "2"}))
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/web": "FAILED"}, run
    assert "[app] OOMKilled" in run.headline("deploy/web"), run


def test_a_startup_probe_that_never_passes(slower: SimCluster, ns_name: str, tmp_path: Path) -> None:
    run = apply_and_track(slower, ns_name, tmp_path, deployment("web", spec=pod_spec(**NEVER_STARTED)))
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/web": "FAILED"}, run
    assert "[app]" in run.headline("deploy/web"), run


def test_a_container_that_exits_0_right_after_start(slower: SimCluster, ns_name: str, tmp_path: Path) -> None:
    run = apply_and_track(slower, ns_name, tmp_path, deployment("web", spec=pod_spec("echo done")))
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/web": "FAILED"}, run
    assert "[app]" in run.headline("deploy/web"), run


def test_a_healthy_rollout_settles_and_is_ready(slower: SimCluster, ns_name: str, tmp_path: Path) -> None:
    run = apply_and_track(slower, ns_name, tmp_path, deployment("web"))
    assert run.code == 0, run
    assert any("outlive the window in which their own probes" in line for line in run.lines), run
    assert run.verdicts() == {"deploy/web": "ready"}, run
    plain = apply_and_track(slower, ns_name, tmp_path, deployment("api"), extra=("--settle", "0"))
    assert plain.code == 0 and not any("outlive the window" in line for line in plain.lines), plain


# --- custom resources wait for their controller --------------------------------------------------------------------


def widget(kc: Kube, ns: str, name: str, annotations: dict[str, str], spec: dict | None = None) -> None:
    kc.custom.create_namespaced_custom_object("example.com", "v1", ns, "widgets", {
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name, "annotations": annotations},
        **({"spec": spec} if spec else {})})


def test_a_custom_resource_that_fails_shortly_after_creation(shared_cluster: SimCluster, kc: Kube, ns: str,
                                                             widgets: str) -> None:
    widget(kc, ns, "gear", {"sim.kubedog-ci.io/fail-after-seconds": "1", "sim.kubedog-ci.io/fail-message": "jammed"})
    run = track(shared_cluster, ns, "widget.example.com/gear")
    assert run.code == 1, run
    assert run.headline("widget/gear") == "widget/gear FAILED: Failed: jammed", run


def test_a_custom_resource_whose_controller_never_writes_status(shared_cluster: SimCluster, kc: Kube, ns: str,
                                                                widgets: str) -> None:
    widget(kc, ns, "plain", {})
    run = track(shared_cluster, ns, "widget.example.com/plain")
    assert run.code == 0, run
    assert run.verdicts() == {"widget/plain": "ready"}, run
    assert any("Waiting for a controller to report the status" in line for line in run.lines), run
    assert any("warning: no controller reported the status" in line for line in run.lines), run


def test_a_custom_resource_with_observed_generation_behind_a_new_generation(shared_cluster: SimCluster, kc: Kube,
                                                                           ns: str, widgets: str) -> None:
    widget(kc, ns, "gear", {"sim.kubedog-ci.io/ready-after-seconds": "100"}, {"size": 1})  # 2s here
    assert track(shared_cluster, ns, "widget.example.com/gear").code == 0
    kc.custom.patch_namespaced_custom_object("example.com", "v1", ns, "widgets", "gear", {"spec": {"size": 2}})
    run = track(shared_cluster, ns, "widget.example.com/gear")
    assert run.code == 0, run
    assert run.verdicts() == {"widget/gear": "ready"}, run
    first = next(line for line in run.lines if line.startswith("widget/gear "))
    assert first.startswith("widget/gear progressing:"), run  # generation 2 not yet observed: not ready at once


# --- Services are tracked by their endpoints -------------------------------------------------------------------------


def service(name: str, selector: dict[str, str], *, headless: bool = False) -> dict:
    spec: dict = {"selector": selector, "ports": [{"port": 80}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def test_a_service_with_a_typo_in_its_selector(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web"))
    kc.core.create_namespaced_service(ns, service("web", {"app": "wbe"}))
    run = track(shared_cluster, ns, "deploy/web", "svc/web", extra=("--no-fail-fast",))
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/web": "ready", "svc/web": "FAILED"}, run
    assert run.headline("svc/web") == (f'svc/web FAILED: NoMatchingPods: selector app=wbe matches no Pod in namespace '
                                       f'"{ns}"; Pods of deploy/web are labeled app=web'), run


def test_a_headless_service_for_a_statefulset(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_service(ns, service("db", {"app": "db"}, headless=True))
    kc.apps.create_namespaced_stateful_set(ns, statefulset("db", replicas=2))
    run = track(shared_cluster, ns, "sts/db", "svc/db")
    assert run.code == 0, run
    assert run.verdicts() == {"sts/db": "ready", "svc/db": "ready"}, run
    assert any(line.startswith("svc/db ready:") and "2 ready endpoints" in line for line in run.lines), run


@pytest.mark.parametrize("spec", [{"type": "ExternalName", "externalName": "db.example.com"},
                                  {"ports": [{"port": 80}]}], ids=["external-name", "no-selector"])
def test_services_without_a_selector_are_ready_at_once(shared_cluster: SimCluster, kc: Kube, ns: str,
                                                       spec: dict) -> None:
    kc.core.create_namespaced_service(ns, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                                           "spec": spec})
    run = track(shared_cluster, ns, "svc/x")
    assert run.code == 0, run
    assert run.verdicts() == {"svc/x": "ready"}, run


def test_follow_reopens_a_verdict_when_a_ready_pod_is_oom_killed(shared_cluster: SimCluster, kc: Kube,
                                                                  ns: str) -> None:
    """An OOM kill 60s after each start (1.2s here), long after the settle window: follow reports it."""
    kc.apps.create_namespaced_deployment(ns, deployment("web", annotations={
        "sim.kubedog-ci.io/oom-after-seconds": "60"}))
    process = subprocess.Popen([*support.KUBEDOG, "follow", "deploy/web", "-n", ns, "--kubeconfig",
                                shared_cluster.kubeconfig, *SCALE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    reader = Reader(process)
    try:
        ready = reader.wait_for(lambda line: line.startswith("deploy/web ready:"), "the ready status")
        reader.wait_for(lambda line: line.startswith("deploy/web progressing:") and "OOMKilled" in line
                        and "(after it was ready)" in line, "the OOM kill re-opening the verdict", ready)
        reader.interrupt()
    finally:
        reader.close()
    assert process.returncode == 0, "\n".join(reader.snapshot())
