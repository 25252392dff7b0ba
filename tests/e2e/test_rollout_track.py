"""`kubedog rollout track` end to end: the CLI as a process against the simulated cluster (time scale 0.02).

Each test asserts the exit code, the verdict in the summary table and, for a failure, the first line of the
diagnosis. Grace periods are scaled with the cluster (`--grace-scale 0.02`), so a 60s grace takes 1.2s here.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import DenyRule
from tests import support
from tests.support import CliRun as Run
from tests.support import Kube, kube_for, wait_until

KUBEDOG = [*support.KUBEDOG, "rollout", "track"]
SCALE = ["--grace-scale", "0.02", "--color", "never"]
FOREVER = "while true; do sleep 5; done"
SLOW_PULL = {"sim.kubedog-ci.io/pull-seconds": "1000"}
"""A pull that takes 20s at this time scale: a rollout that stays progressing, with no failure sign (with an
image no node has pulled before, see `slow`)."""
LATE_READY = {"readinessProbe": {"exec": {"command": ["sh", "-c", "exit 0"]}, "initialDelaySeconds": 60}}
"""Ready 1.2s after the start at this time scale: time for what happens first (a crash, an OOM kill, the first
log lines reaching the output; a real cluster is fifty times slower than this one)."""


def args_for(cluster: SimCluster, ns: str, *resources: str, timeout: str = "30s") -> list[str]:
    return [*KUBEDOG, *resources, "-n", ns, "--kubeconfig", cluster.kubeconfig, "--timeout", timeout, *SCALE]


def track(cluster: SimCluster, ns: str, *resources: str, timeout: str = "30s", extra: tuple[str, ...] = ()) -> Run:
    done = subprocess.run([*args_for(cluster, ns, *resources, timeout=timeout), *extra], capture_output=True,
                          text=True, timeout=60)
    return Run.of(done)


def pod_spec(script: str = FOREVER, image: str = "busybox:1.36", **container: object) -> dict:
    return {"containers": [{"name": "app", "image": image, "command": ["sh", "-c", script], **container}]}


def deployment(name: str, *, replicas: int = 1, annotations: dict | None = None, spec: dict | None = None,
               **fields: object) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, **fields,
                     "template": {"metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                                  "spec": spec or pod_spec()}}}


def job(name: str, script: str, backoff_limit: int = 6) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": backoff_limit, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script]}]}}}}


def statefulset(name: str, replicas: int = 2) -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec()}}}


def daemonset(name: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec()}}}


def slow(name: str, ns: str, **fields: object) -> dict:
    """A Deployment whose image pull takes 20s: progressing, with no failure sign, for as long as a test needs."""
    return deployment(name, annotations=SLOW_PULL, spec=pod_spec(image=f"registry.example/{ns}/{name}:1"), **fields)


def available(kc: Kube, ns: str, name: str) -> bool:
    status = kc.apps.read_namespaced_deployment(name, ns).status
    return status is not None and (status.available_replicas or 0) >= 1 and (
        status.updated_replicas or 0) == (status.replicas or 0)


# --- Deployments ------------------------------------------------------------------------------------------------


def test_good_rollout_from_v1_to_v2_shows_only_the_new_revisions_logs(shared_cluster: SimCluster, kc: Kube,
                                                                      ns: str) -> None:
    probe = LATE_READY  # lines are read before the rollout completes, even on a loaded machine
    kc.apps.create_namespaced_deployment(ns, deployment("web", replicas=2, spec=pod_spec(
        f"echo serving v1; {FOREVER}", **probe)))
    wait_until(lambda: available(kc, ns, "web"), timeout=20, message="web v1 available")
    kc.apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": pod_spec(
        f"echo serving v2; {FOREVER}", **probe)}}})
    run = track(shared_cluster, ns, "deploy/web", extra=("--logs-since", "all"))
    assert run.code == 0, run
    assert run.verdicts() == {"deploy/web": "ready"}
    assert "serving v2" in run.out and "serving v1" not in run.out, run
    assert any(line.startswith("deploy/web po/web-") and "[app] | serving v2" in line for line in run.out.splitlines())


def test_bad_image_fails_at_the_first_pull_error(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("api", spec=pod_spec(
        image="registry.example/api:does-not-exist")))
    run = track(shared_cluster, ns, "deploy/api")
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/api": "FAILED"}
    headline = run.headline("deploy/api")
    assert headline.startswith("deploy/api FAILED: po/api-") and " [app] " in headline
    assert "ErrImagePull: " in headline or "ImagePullBackOff: " in headline
    assert "registry.example/api:does-not-exist" in headline and "not found" in headline


def test_invalid_image_name_fails_at_once(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("api", spec=pod_spec(image="Registry/API:v2")))
    run = track(shared_cluster, ns, "deploy/api")
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/api": "FAILED"}
    assert "[app] InvalidImageName: " in run.headline("deploy/api")


def test_crash_loop_shows_the_crashed_instances_last_lines(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("crash", spec=pod_spec("echo starting; echo boom; exit 3")))
    run = track(shared_cluster, ns, "deploy/crash")
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/crash": "FAILED"}
    assert run.headline("deploy/crash").endswith("[app] Error: exited with code 3")
    block = run.block("deploy/crash")
    assert "  exit code: 3" in block
    logs = block.index(next(line for line in block if line.startswith("  last 2 log lines of app")))
    assert block[logs + 1:logs + 3] == ["    | starting", "    | boom"], block
    assert any(line.startswith("  budget:    2 failures counted, 1 allowed") for line in block)


def test_oom_killed(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("hog", spec=pod_spec(**LATE_READY), annotations={
        "sim.kubedog-ci.io/oom-after-seconds": "2"}))
    run = track(shared_cluster, ns, "deploy/hog")
    assert run.code == 1, run
    assert run.headline("deploy/hog").endswith("[app] OOMKilled: exited with code 137 (SIGKILL)")
    assert "  exit code: 137 (SIGKILL)" in run.block("deploy/hog")


def test_missing_configmap_key_fails_after_its_grace(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_config_map(ns, {"metadata": {"name": "settings"}, "data": {"present": "1"}})
    env = [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "absent"}}}]
    kc.apps.create_namespaced_deployment(ns, deployment("cfg", spec=pod_spec(env=env)))
    run = track(shared_cluster, ns, "deploy/cfg")
    assert run.code == 1, run
    headline = run.headline("deploy/cfg")
    assert "[app] CreateContainerConfigError: " in headline and "absent" in headline


def test_unschedulable_fails_after_the_capacity_grace(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("big", spec=pod_spec(resources={"requests": {"cpu": "100"}})))
    run = track(shared_cluster, ns, "deploy/big")
    assert run.code == 1, run
    headline = run.headline("deploy/big")
    assert headline.startswith("deploy/big FAILED: po/big-") and " Unschedulable: " in headline
    assert "Insufficient cpu" in headline


def test_failing_readiness_probe(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    probe = {"readinessProbe": {"exec": {"command": ["sh", "-c", "exit 1"]}, "periodSeconds": 5,
                                "failureThreshold": 2}}
    kc.apps.create_namespaced_deployment(ns, deployment("shy", spec=pod_spec(**probe)))
    run = track(shared_cluster, ns, "deploy/shy")
    assert run.code == 1, run
    assert "[app] Unhealthy: Readiness probe failed" in run.headline("deploy/shy")


def test_progress_deadline_exceeded(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, slow("slow", ns, progressDeadlineSeconds=30))
    run = track(shared_cluster, ns, "deploy/slow")
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/slow": "FAILED"}
    assert run.headline("deploy/slow").startswith(
        'deploy/slow FAILED: ProgressDeadlineExceeded: deployment "slow" exceeded its progress deadline')


def test_replicaset_failed_create_on_quota(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_resource_quota(ns, {"metadata": {"name": "pods"}, "spec": {"hard": {"pods": "1"}}})
    kc.apps.create_namespaced_deployment(ns, deployment("wide", replicas=3))
    run = track(shared_cluster, ns, "deploy/wide")
    assert run.code == 1, run
    headline = run.headline("deploy/wide")
    assert headline.startswith("deploy/wide FAILED: rs/wide-") and " FailedCreate: " in headline
    assert "exceeded quota" in headline


def test_deployment_deleted_mid_run(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, slow("doomed", ns))
    process = subprocess.Popen(args_for(shared_cluster, ns, "deploy/doomed"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("deploy/doomed progressing"), first
    kc.apps.delete_namespaced_deployment("doomed", ns)
    out, err = process.communicate(timeout=30)
    run = Run(process.returncode, first + out, err)
    assert run.code == 1, run
    assert run.headline("deploy/doomed") == \
        'deploy/doomed FAILED: Deleted: deployment "doomed" was deleted while tracked'


def test_timeout_without_failure_exits_3(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, slow("slow", ns))
    started = time.monotonic()
    run = track(shared_cluster, ns, "deploy/slow", timeout="1s")
    assert run.code == 3, run
    assert time.monotonic() - started < 10
    assert run.verdicts() == {"deploy/slow": "progressing"}
    assert "timed out after" in run.out


# --- Jobs, StatefulSets, DaemonSets ----------------------------------------------------------------------------


def test_job_success(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.batch.create_namespaced_job(ns, job("migrate", "echo migrating; sleep 40; echo done"))
    run = track(shared_cluster, ns, "job/migrate", extra=("--logs-since", "all"))
    assert run.code == 0, run
    assert run.verdicts() == {"job/migrate": "ready"}
    lines = [line.split("[main] | ")[1] for line in run.out.splitlines() if "[main] | " in line]
    assert lines == ["migrating", "done"], run


def test_job_backoff_limit_exceeded(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.batch.create_namespaced_job(ns, job("migrate", "echo no database; exit 2", backoff_limit=1))
    run = track(shared_cluster, ns, "job/migrate")
    assert run.code == 1, run
    assert run.verdicts() == {"job/migrate": "FAILED"}
    headline = run.headline("job/migrate")
    assert headline.startswith("job/migrate FAILED: po/migrate-")
    assert headline.endswith("[main] Error: exited with code 2 (BackoffLimitExceeded)")
    assert "    | no database" in run.block("job/migrate")


def test_job_deadline_exceeded(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    body = job("slowjob", "echo working; sleep 1000")
    body["spec"]["activeDeadlineSeconds"] = 30
    kc.batch.create_namespaced_job(ns, body)
    run = track(shared_cluster, ns, "job/slowjob")
    assert run.code == 1, run
    assert run.verdicts() == {"job/slowjob": "FAILED"}
    assert run.headline("job/slowjob") == \
        "job/slowjob FAILED: DeadlineExceeded: Job was active longer than specified deadline"


def test_statefulset_partition_tracks_only_the_updated_ordinals(shared_cluster: SimCluster, kc: Kube,
                                                                 ns: str) -> None:
    kc.apps.create_namespaced_stateful_set(ns, statefulset("db", replicas=3))
    wait_until(lambda: (getattr(kc.apps.read_namespaced_stateful_set("db", ns).status, "ready_replicas", 0)
                        or 0) == 3, timeout=20, message="db ready")
    kc.apps.patch_namespaced_stateful_set("db", ns, {"spec": {
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        "template": {"spec": pod_spec(f"echo db v2; {FOREVER}", **LATE_READY)}}})
    run = track(shared_cluster, ns, "sts/db", extra=("--logs-since", "all"))
    assert run.code == 0, run
    assert run.verdicts() == {"sts/db": "ready"}
    assert "sts/db po/db-2[app] | db v2" in run.out.splitlines()
    assert "po/db-0" not in run.out and "po/db-1" not in run.out


def test_statefulset_and_daemonset(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_stateful_set(ns, statefulset("db"))
    kc.apps.create_namespaced_daemon_set(ns, daemonset("agent"))
    run = track(shared_cluster, ns, "sts/db", "ds/agent")
    assert run.code == 0, run
    assert run.verdicts() == {"sts/db": "ready", "ds/agent": "ready"}


# --- custom resources --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def widgets(kc: Kube) -> str:
    """A namespaced Widget CRD (example.com), Established."""
    version = {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    kc.extensions.create_custom_resource_definition({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "versions": [version],
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"}}})

    def established() -> bool:
        crd = kc.extensions.read_custom_resource_definition("widgets.example.com")
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    wait_until(established, timeout=10, message="the Widget CRD to be Established")
    return "widgets.example.com"


@pytest.mark.parametrize(("annotation", "code", "verdict"), [("ready-after-seconds", 0, "ready"),
                                                             ("fail-after-seconds", 1, "FAILED")])
def test_custom_resource(shared_cluster: SimCluster, kc: Kube, ns: str, widgets: str, annotation: str, code: int,
                         verdict: str) -> None:
    kc.custom.create_namespaced_custom_object("example.com", "v1", ns, "widgets", {
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "gear", "annotations": {f"sim.kubedog-ci.io/{annotation}": "5",
                                                     "sim.kubedog-ci.io/fail-message": "gear jammed"}}})
    run = track(shared_cluster, ns, "widget.example.com/gear")
    assert run.code == code, run
    assert run.verdicts() == {"widget/gear": verdict}
    if code:
        assert run.headline("widget/gear") == "widget/gear FAILED: Failed: gear jammed"


# --- many at once, and the other exit codes -------------------------------------------------------------------------


def test_twenty_mixed_resources_at_once(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    names = []
    for index in range(8):
        kc.apps.create_namespaced_deployment(ns, deployment(f"web{index}", spec=pod_spec(
            f"echo web{index} up; {FOREVER}", **LATE_READY)))
        names.append(f"deploy/web{index}")
    for index in range(5):
        kc.batch.create_namespaced_job(ns, job(f"task{index}", f"sleep 60; echo task{index} done"))
        names.append(f"job/task{index}")
    for index in range(3):
        body = statefulset(f"db{index}", replicas=1)
        body["spec"]["template"]["spec"] = pod_spec(**LATE_READY)
        kc.apps.create_namespaced_stateful_set(ns, body)
        names.append(f"sts/db{index}")
    for index in range(2):
        kc.apps.create_namespaced_daemon_set(ns, daemonset(f"agent{index}"))
        names.append(f"ds/agent{index}")
    kc.core.create_namespaced_config_map(ns, {"metadata": {"name": "settings"}})
    names.append("cm/settings")
    kc.apps.create_namespaced_deployment(ns, deployment("broken", spec=pod_spec(image="busybox:does-not-exist")))
    names.append("deploy/broken")
    run = track(shared_cluster, ns, *names, extra=("--no-fail-fast", "--logs-since", "all"))
    assert run.code == 1, run
    verdicts = run.verdicts()
    assert len(verdicts) == 20
    assert verdicts.pop("deploy/broken") == "FAILED"
    assert set(verdicts.values()) == {"ready"}, run
    assert "ErrImagePull" in run.headline("deploy/broken") or "ImagePullBackOff" in run.headline("deploy/broken")
    for index in range(5):
        assert f"job/task{index} po/task{index}-" in run.out and f"[main] | task{index} done" in run.out, run


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_stop_the_run_with_a_summary(shared_cluster: SimCluster, kc: Kube, ns: str, signum: int,
                                             code: int) -> None:
    kc.apps.create_namespaced_deployment(ns, slow("slow", ns))
    process = subprocess.Popen(args_for(shared_cluster, ns, "deploy/slow"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("deploy/slow progressing"), first
    process.send_signal(signum)
    out, err = process.communicate(timeout=20)
    assert process.returncode == code, out + err
    assert f"interrupted by {signal.Signals(signum).name}" in out
    assert "Traceback" not in err


def test_usage_errors_exit_2(shared_cluster: SimCluster, ns: str) -> None:
    for extra in (["deploy/web", "--timeout", "soon"], ["deploy/web", "--logs-since", "yesterday"], ["deploy"],
                  ["deploy/web", "-l", "app=web"], ["frobnicator/x"]):
        done = subprocess.run([*KUBEDOG, *extra, "-n", ns, "--kubeconfig", shared_cluster.kubeconfig],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 2, (extra, done.stderr)
        assert "Traceback" not in done.stderr


def test_a_target_that_cannot_be_watched_is_a_cluster_error(sim_factory: Callable[..., SimCluster]) -> None:
    cluster = sim_factory(deny=(DenyRule("list", "deployments.apps"),))
    with kube_for(cluster) as kube:
        kube.apps.create_namespaced_deployment("default", deployment("web"))
    done = subprocess.run([*KUBEDOG, "deploy/web", "--kubeconfig", cluster.kubeconfig, *SCALE],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 5, done
    assert "403" in done.stderr and "deployments" in done.stderr
    assert "Traceback" not in done.stderr


def test_selector_tracks_every_matching_object(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    for name in ("a", "b"):
        body = deployment(name)
        body["metadata"]["labels"] = {"tier": "front"}
        kc.apps.create_namespaced_deployment(ns, body)
    run = track(shared_cluster, ns, "deploy", extra=("-l", "tier=front"))
    assert run.code == 0, run
    assert run.verdicts() == {"deploy/a": "ready", "deploy/b": "ready"}



def test_objects_named_in_manifest_files(shared_cluster: SimCluster, kc: Kube, ns: str, tmp_path: Path) -> None:
    web, settings = deployment("web"), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}
    kc.apps.create_namespaced_deployment(ns, web)
    kc.core.create_namespaced_config_map(ns, settings)
    path = tmp_path / "release.yaml"
    path.write_text(yaml.safe_dump_all([settings, web]))
    run = track(shared_cluster, ns, extra=("-f", str(path)))
    assert run.code == 0, run
    assert run.verdicts() == {"cm/settings": "ready", "deploy/web": "ready"}


def test_same_name_in_two_namespaces_are_two_resources(shared_cluster: SimCluster, kc: Kube, ns: str,
                                                        tmp_path: Path) -> None:
    other = f"{ns}-b"[:63]
    kc.core.create_namespace({"metadata": {"name": other}})
    kc.apps.create_namespaced_deployment(ns, deployment("web"))
    broken = deployment("web", spec=pod_spec(image="registry.example/does-not-exist:v2"))
    kc.apps.create_namespaced_deployment(other, broken)
    path = tmp_path / "both.yaml"
    path.write_text(yaml.safe_dump_all([{**deployment("web"), "metadata": {"name": "web", "namespace": ns}},
                                        {**broken, "metadata": {"name": "web", "namespace": other}}]))
    done = subprocess.run([*KUBEDOG, "-f", str(path), "--kubeconfig", shared_cluster.kubeconfig, "--timeout", "30s",
                           "--no-fail-fast", *SCALE], capture_output=True, text=True, timeout=60)
    run = Run.of(done)
    assert run.code == 1, run
    assert run.verdicts() == {f"{ns}/deploy/web": "ready", f"{other}/deploy/web": "FAILED"}
    assert run.headline(f"{other}/deploy/web").startswith(f"{other}/deploy/web FAILED: po/web-")
