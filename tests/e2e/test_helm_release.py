"""`--helm-release NAME` end to end: `rollout track`, `follow` and `status` as processes against the simulated
cluster (time scale 0.02), reading releases stored exactly as Helm stores them (tests/helm_support.py).

Each test "installs" a release as Helm would: the release's manifest (and hooks) applied with the real kubectl,
then the storage objects of its revisions created (Secrets by default, ConfigMaps for HELM_DRIVER=configmap).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from kubedog_ci.sim.cluster import SimCluster
from tests import support
from tests.e2e.test_follow import Reader
from tests.helm_support import HookSpec, release, stored_configmap, stored_secret
from tests.support import KUBECTL, CliRun, Kube, requires_kubectl

pytestmark = requires_kubectl

SCALE = ["--grace-scale", "0.02", "--color", "never"]
FOREVER = "while true; do sleep 5; done"
LATE_READY = {"readinessProbe": {"exec": {"command": ["sh", "-c", "exit 0"]}, "initialDelaySeconds": 30}}


def deployment(name: str, image: str = "busybox:1.36", annotations: dict | None = None,
               pod_annotations: dict | None = None) -> dict:
    meta: dict = {"name": name, "labels": {"app.kubernetes.io/instance": "web", "app": name}}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": pod_annotations or {}},
                                  "spec": {"containers": [{"name": "app", "image": image,
                                                           "command": ["sh", "-c", FOREVER]}]}}}}


def service(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}


def configmap(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"mode": "<prod>"}}


def job(name: str, script: str, hook: str | None = None) -> dict:
    meta: dict = {"name": name}
    if hook:
        meta["annotations"] = {"helm.sh/hook": hook}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script]}]}}}}


def templates(*objs: dict) -> list[tuple[str, dict]]:
    return [(f"web/templates/{obj['metadata']['name']}-{obj['kind'].lower()}.yaml", obj) for obj in objs]


def apply(cluster: SimCluster, ns: str, text: str) -> None:
    done = subprocess.run([KUBECTL or "kubectl", "--kubeconfig", cluster.kubeconfig, "apply", "-n", ns, "-f", "-"],
                          input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def install(cluster: SimCluster, kc: Kube, ns: str, *revisions: dict, driver: str = "secret",
            compressed: bool = True, hooks_applied: bool = True) -> None:
    """Store every revision as Helm does; apply the last one's objects (and its hooks) as Helm did."""
    last = revisions[-1]
    apply(cluster, ns, last["manifest"])
    if hooks_applied:
        for hook in last.get("hooks") or []:
            if not hook.get("delete_policies"):
                apply(cluster, ns, hook["manifest"])
    for rls in revisions:
        if driver == "secret":
            kc.core.create_namespaced_secret(ns, stored_secret(rls, compressed=compressed))
        else:
            kc.core.create_namespaced_config_map(ns, stored_configmap(rls, compressed=compressed))


def kubedog(cluster: SimCluster | None, *args: str, kubeconfig: str | None = None, timeout: str = "30s",
            env: dict[str, str] | None = None) -> CliRun:
    config = kubeconfig or (cluster.kubeconfig if cluster else "")
    command = [*support.KUBEDOG, *args, "--kubeconfig", config]
    if args[0] == "rollout":
        command += ["--timeout", timeout, *SCALE]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90,
                          env={**os.environ, **(env or {})})
    return CliRun.of(done)


def track(cluster: SimCluster, ns: str, *args: str, **kwargs: object) -> CliRun:
    return kubedog(cluster, "rollout", "track", "-n", ns, *args, **kwargs)  # type: ignore[arg-type]


def history(ns: str) -> list[dict]:
    """Revisions 2, 9 and 10 of release web: 10 (deployed) has web, api, their Service and a ConfigMap; 9
    (superseded) had web alone. Revision 10 sorts before 9 as a string: the newest is found as a number."""
    v2 = release("web", ns, 2, templates(deployment("web")), status="superseded")
    v9 = release("web", ns, 9, templates(deployment("web"), service("web")), status="superseded")
    v10 = release("web", ns, 10, templates(configmap("web-config"), service("web"), deployment("web"),
                                           deployment("api")))
    return [v2, v9, v10]


# --- the newest revision, either driver ---------------------------------------------------------------------


def test_the_newest_revision_is_tracked_from_its_secret(shared_cluster: SimCluster, kc: Kube, ns: str,
                                                        tmp_path: Path) -> None:
    install(shared_cluster, kc, ns, *history(ns))
    junit = tmp_path / "report.xml"
    run = track(shared_cluster, ns, "--helm-release", "web", "--junit", str(junit))
    assert run.code == 0, run
    assert run.verdicts() == {"svc/web": "ready", "deploy/web": "ready", "deploy/api": "ready"}, run
    assert (f'kubedog: Helm release "web" revision 10 (status deployed) in namespace "{ns}": tracking 3 of its 4 '
            "objects (left out: 1 with no state to reach)") in run.out, run
    report = junit.read_text()
    assert "manifest: helm:web/10:web/templates/api-deployment.yaml:1" in report, report


def test_helm_revision_picks_one(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    install(shared_cluster, kc, ns, *history(ns))
    run = track(shared_cluster, ns, "--helm-release", "web", "--helm-revision", "9")
    assert run.code == 0, run
    assert run.verdicts() == {"deploy/web": "ready", "svc/web": "ready"}, run
    assert f'Helm release "web" revision 9 (status superseded) in namespace "{ns}"' in run.out, run
    missing = track(shared_cluster, ns, "--helm-release", "web", "--helm-revision", "4")
    assert missing.code == 2, missing
    assert f'Helm release "web" in namespace "{ns}" has no revision 4 (revisions: 2, 9, 10)' in missing.err, missing


@pytest.mark.parametrize("how", ["flag", "env"])
def test_configmap_driver_uncompressed(shared_cluster: SimCluster, kc: Kube, ns: str,
                                         how: str) -> None:
    install(shared_cluster, kc, ns, *history(ns), driver="configmap", compressed=False)
    args = ("--helm-driver", "configmap") if how == "flag" else ()
    env = {"HELM_DRIVER": "configmap"} if how == "env" else {"HELM_DRIVER": ""}
    run = track(shared_cluster, ns, "--helm-release", "web", *args, env=env)
    assert run.code == 0, run
    assert run.verdicts() == {"svc/web": "ready", "deploy/web": "ready", "deploy/api": "ready"}, run
    in_secrets = track(shared_cluster, ns, "--helm-release", "web", env={"HELM_DRIVER": ""})
    assert in_secrets.code == 2, in_secrets
    assert "if Helm keeps its releases in configmaps, say --helm-driver configmap" in in_secrets.err, in_secrets


# --- failures and errors ------------------------------------------------------------------------------------


def test_a_failing_release_fails_with_the_diagnosis(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    broken = release("web", ns, 1, templates(deployment("web"), deployment("api", image="registry.example/api:"
                                                                             "does-not-exist")),
                     status="pending-install")
    install(shared_cluster, kc, ns, broken)
    run = track(shared_cluster, ns, "--helm-release", "web")
    assert run.code == 1, run
    assert run.verdicts()["deploy/api"] == "FAILED", run
    headline = run.headline("deploy/api")
    assert "ErrImagePull" in headline or "ImagePullBackOff" in headline, run
    assert "registry.example/api:does-not-exist" in headline, run
    assert "revision 1 (status pending-install)" in run.out, run


def test_a_missing_release_lists_the_releases_there(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    install(shared_cluster, kc, ns, *history(ns))
    other = release("db", ns, 3, templates(deployment("db")), status="failed")
    kc.core.create_namespaced_secret(ns, stored_secret(other))
    run = track(shared_cluster, ns, "--helm-release", "nope")
    assert run.code == 2, run
    assert (f'kubedog: no Helm release "nope" in namespace "{ns}" (no Secrets labeled owner=helm,name=nope; if Helm '
            "keeps its releases in configmaps, say --helm-driver configmap or set HELM_DRIVER=configmap); releases "
            "there: db (revision 3, failed), web (revision 10, deployed)") in run.err, run
    empty = track(shared_cluster, "default", "--helm-release", "nope")
    assert empty.code == 2 and "there is no Helm release in that namespace" in empty.err, empty
    assert "Traceback" not in run.err + empty.err


def test_forbidden_to_list_secrets_is_a_cluster_error_naming_the_permission(shared_cluster: SimCluster, kc: Kube,
                                                                            ns: str) -> None:
    install(shared_cluster, kc, ns, *history(ns))
    read = ["get", "list", "watch"]
    kubeconfig = shared_cluster.service_account_kubeconfig(ns, "viewer", rules=[
        {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": read},
        {"apiGroups": [""], "resources": ["pods", "services", "events"], "verbs": read}])
    run = track(shared_cluster, ns, "--helm-release", "web", kubeconfig=kubeconfig)
    assert run.code == 5, run
    assert f'refused to list secrets in namespace "{ns}" (403 Forbidden)' in run.err, run
    assert "Traceback" not in run.err
    check = track(shared_cluster, ns, "--helm-release", "web", "--check-permissions", kubeconfig=kubeconfig)
    assert check.code == 1, check
    assert any(line.split()[:5] == ["list", "secrets", ns, "verdict", "NO"] for line in check.lines), check


def test_a_release_with_nothing_to_track_is_ready(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    install(shared_cluster, kc, ns, release("web", ns, 1, templates(configmap("web-config"))))
    run = track(shared_cluster, ns, "--helm-release", "web")
    assert run.code == 0, run
    assert ("tracking 0 of its 1 objects (left out: 1 with no state to reach); nothing to track: every object of "
            "the release is ready once applied") in run.out, run


def test_an_account_that_may_read_the_tracked_kinds_and_list_secrets_is_enough(shared_cluster: SimCluster,
                                                                               kc: Kube, ns: str) -> None:
    install(shared_cluster, kc, ns, *history(ns))  # revision 10 has a ConfigMap this account may not read
    read = ["get", "list", "watch"]
    kubeconfig = shared_cluster.service_account_kubeconfig(ns, "tracker", rules=[
        {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": read},
        {"apiGroups": [""], "resources": ["pods", "services", "events"], "verbs": read},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}])
    run = track(shared_cluster, ns, "--helm-release", "web", kubeconfig=kubeconfig)
    assert run.code == 0, run
    assert run.verdicts() == {"svc/web": "ready", "deploy/web": "ready", "deploy/api": "ready"}, run


def test_chart_annotations_are_honoured(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    slow = {"sim.kubedog-ci.io/pull-seconds": "100000"}
    rls = release("web", ns, 1, templates(
        deployment("web"),
        deployment("quiet", image=f"registry.example/{ns}/quiet:1", annotations={"kubedog-ci.io/track": "false"},
                   pod_annotations=slow),
        deployment("stuck", image=f"registry.example/{ns}/stuck:1", annotations={"kubedog-ci.io/timeout": "2s"},
                   pod_annotations=slow)))
    install(shared_cluster, kc, ns, rls)
    run = track(shared_cluster, ns, "--helm-release", "web")
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/web": "ready", "deploy/stuck": "FAILED"}, run
    assert run.headline("deploy/stuck").startswith("deploy/stuck FAILED: Timeout: no verdict after 2s: "), run
    assert "(left out: 1 not tracked by annotation)" in run.out, run


# --- hooks ----------------------------------------------------------------------------------------------------


def with_hooks(ns: str) -> dict:
    return release("web", ns, 1, templates(deployment("web")), hooks=[
        HookSpec(job("migrate", "echo migrating; sleep 1; echo done", hook="pre-install"),
                 "web/templates/migrate-job.yaml", events=["pre-install"]),
        HookSpec(job("seed", "echo seeded", hook="post-install"), "web/templates/seed-job.yaml",
                 events=["post-install"], delete_policies=["hook-succeeded"])])


def test_hooks_are_tracked_only_with_helm_hooks(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    install(shared_cluster, kc, ns, with_hooks(ns))
    plain = track(shared_cluster, ns, "--helm-release", "web")
    assert plain.code == 0, plain
    assert plain.verdicts() == {"deploy/web": "ready"}, plain
    assert "tracking 1 of its 3 objects" in plain.out, plain
    assert "(left out: 2 hooks, which --helm-hooks tracks)" in plain.out, plain
    hooks = track(shared_cluster, ns, "--helm-release", "web", "--helm-hooks")
    assert hooks.code == 0, hooks
    assert hooks.verdicts() == {"deploy/web": "ready", "job/migrate": "ready"}, hooks
    assert ("kubedog: hook job/seed (post-install) is not in the cluster (its delete policy: hook-succeeded; its "
            "last run: Succeeded): not tracked") in hooks.out, hooks
    assert "tracking 2 of its 3 objects (left out: 1 hook no longer in the cluster)" in hooks.out, hooks


def test_a_failed_hook_job_fails_the_run_with_helm_hooks(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    rls = release("web", ns, 1, templates(deployment("web")), status="failed", hooks=[
        HookSpec(job("migrate", "echo 'no such table' >&2; exit 3", hook="pre-install"),
                 "web/templates/migrate-job.yaml", events=["pre-install"], phase="Failed")])
    install(shared_cluster, kc, ns, rls)
    run = track(shared_cluster, ns, "--helm-release", "web", "--helm-hooks")
    assert run.code == 1, run
    assert run.verdicts()["job/migrate"] == "FAILED", run


# --- follow and status ----------------------------------------------------------------------------------------


def test_status_of_a_release(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    install(shared_cluster, kc, ns, *history(ns))
    support.wait_until(lambda: (kc.apps.read_namespaced_deployment("api", ns).status.ready_replicas or 0) == 1,
                       timeout=20, message="api ready")
    run = kubedog(shared_cluster, "status", "-n", ns, "--helm-release", "web", "-o", "json")
    assert run.code == 0, run
    rows = json.loads(run.out)
    assert [(row["kind"], row["name"], row["verdict"]) for row in rows] == [
        ("Service", "web", "ready"), ("Deployment", "web", "ready"), ("Deployment", "api", "ready")], run
    assert f'kubedog: Helm release "web" revision 10 (status deployed) in namespace "{ns}": judging 3' in run.err
    offline = kubedog(None, "status", "--offline", "--helm-release", "web")
    assert offline.code == 2 and "--helm-release need the cluster" in offline.err, offline


def test_follow_a_release_until_sigint(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    install(shared_cluster, kc, ns, *history(ns))
    process = subprocess.Popen([*support.KUBEDOG, "follow", "--helm-release", "web", "-n", ns, "--kubeconfig",
                                shared_cluster.kubeconfig, *SCALE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    reader = Reader(process)
    try:
        reader.wait_for(lambda line: "following 3 of its 4 objects" in line, "the release notice")
        reader.wait_for(lambda line: line.startswith("deploy/api ready:"), "api ready", timeout=20)
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
