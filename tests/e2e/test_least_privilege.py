"""Right verdicts with the permissions of real CI: a ServiceAccount bound to `edit` or `view` in one namespace, or
to a Role missing one of the streams the tool reads, tracking a healthy Deployment, a Deployment whose image does
not exist, a failing Job and a StatefulSet. RBAC is enforced by the simulator as by a real API server.

Every run ends with the verdicts it has under full permissions (ready, failed, failed, ready: exit 1 for the
failures) within its timeout, and says what it could not read. Without Pods or ReplicaSets a Deployment's missing
image is not seen: it fails later, when the rollout exceeds its progress deadline (set to 60s here, 1.2s at this
time scale), as the tests state.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from tests import support
from tests.support import CliRun as Run
from tests.support import Kube, kube_for, running_cluster

SCALE = ["--grace-scale", "0.02", "--color", "never"]
ALL = ["get", "list", "watch", "create", "update", "patch", "delete"]
READ = ["get", "list", "watch"]


def rules_without(missing: str | None) -> list[dict]:
    """A Role with what the four workloads need, less one stream (a `resource` or `group/resource` key)."""
    rules = [
        ("apps", "deployments", ALL), ("apps", "statefulsets", ALL), ("batch", "jobs", ALL),
        ("apps", "replicasets", READ), ("", "pods", READ), ("", "pods/log", ["get"]), ("", "events", READ),
        ("events.k8s.io", "events", READ), ("", "namespaces", ["get"]), ("", "secrets", ["get"]),
    ]
    return [{"apiGroups": [group], "resources": [resource], "verbs": verbs} for group, resource, verbs in rules
            if missing not in (resource, f"{group}/{resource}") and not (missing == "events" and resource == "events")]


CASES = {
    "edit": {"role": "edit"},
    "view": {"role": "view"},
    "no-events": {"rules": rules_without("events")},
    "no-pods": {"rules": rules_without("pods")},
    "no-pods-log": {"rules": rules_without("pods/log")},
    "no-replicasets": {"rules": rules_without("replicasets")},
    "no-namespaces": {"rules": rules_without("namespaces")},
    "no-nodes": {"rules": rules_without(None)},  # nodes are cluster-scoped: a Role never grants them
}
NOTICES = {"no-events": "continuing without events", "no-pods": "continuing without pods",
           "no-replicasets": "continuing without replicasets"}
"""What a run says when a stream is forbidden (the `view` role reads all of them)."""
LATE = {"no-pods", "no-replicasets"}
"""Without the current Pods, the missing image is seen only at the progress deadline."""


def manifests() -> list[dict]:
    def pod(image: str = "busybox:1.36", script: str = "while true; do sleep 5; done") -> dict:
        return {"containers": [{"name": "app", "image": image, "command": ["sh", "-c", script]}]}

    def deployment(name: str, image: str = "busybox:1.36") -> dict:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                "spec": {"replicas": 1, "progressDeadlineSeconds": 60, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}}, "spec": pod(image)}}}

    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
           "spec": {"backoffLimit": 0, "template": {"spec": {
               "restartPolicy": "Never", **pod(script="echo migrating; echo 'no such table' >&2; exit 3")}}}}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}}, "spec": pod()}}}
    return [deployment("web"), deployment("api", "registry.example/api:does-not-exist"), job, sts]


EXPECTED = {"deploy/web": "ready", "deploy/api": "FAILED", "job/migrate": "FAILED", "sts/db": "ready"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with running_cluster() as started:
        yield started


@pytest.fixture(scope="module")
def admin(cluster: SimCluster) -> Iterator[Kube]:
    with kube_for(cluster) as kube:
        yield kube


def account(cluster: SimCluster, case: str, command: str) -> tuple[str, str]:
    """A namespace of the case's own and the kubeconfig of a ServiceAccount granted the case's role in it."""
    namespace = f"lp-{command}-{case}"
    kubeconfig = cluster.service_account_kubeconfig(namespace, "ci", **CASES[case])
    return namespace, kubeconfig


def kubedog(*args: str, timeout: float = 60) -> Run:
    done = subprocess.run([*support.KUBEDOG, *args, "--timeout", "30s", "--no-fail-fast", *SCALE],
                          capture_output=True, text=True, timeout=timeout)
    return Run.of(done)


def check(run: Run, case: str) -> None:
    assert run.code == 1, run
    assert run.verdicts() == EXPECTED, run
    api = run.headline("deploy/api")
    if case in LATE:  # stated: without its current Pods, the missing image shows only as the missed deadline
        assert "ProgressDeadlineExceeded" in api, run
    else:
        assert "ImagePullBackOff" in api or "ErrImagePull" in api, run
    assert "BackoffLimitExceeded" in run.headline("job/migrate") or "exit" in run.headline("job/migrate"), run
    text = run.out + run.err
    if case in NOTICES:
        assert NOTICES[case] in text, run
    for notice in set(NOTICES.values()) - {NOTICES.get(case)}:
        assert notice not in text, run
    assert "Traceback" not in text, run


@pytest.mark.parametrize("case", list(CASES))
def test_rollout_track(cluster: SimCluster, admin: Kube, case: str, tmp_path: Path) -> None:
    namespace, kubeconfig = account(cluster, case, "track")
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(manifests()))
    applied = subprocess.run([support.KUBECTL, "--kubeconfig", cluster.kubeconfig, "apply", "-n", namespace, "-f",
                              str(path)], capture_output=True, text=True, timeout=60)
    assert applied.returncode == 0, applied.stderr
    run = kubedog("rollout", "track", "-n", namespace, "--kubeconfig", kubeconfig, "deploy/web", "deploy/api",
                  "job/migrate", "sts/db")
    check(run, case)


@pytest.mark.parametrize("case", [case for case in CASES if case != "view"])  # view may not apply anything
def test_apply_and_track(cluster: SimCluster, case: str, tmp_path: Path) -> None:
    namespace, kubeconfig = account(cluster, case, "apply")
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(manifests()))
    run = kubedog("apply-and-track", "-n", namespace, "--kubeconfig", kubeconfig, "-f", str(path))
    check(run, case)
    if case == "no-namespaces":
        assert f'cannot get namespace "{namespace}" (forbidden): not checked before apply' in run.out, run
    else:
        assert "cannot get namespace" not in run.out + run.err, run


def check_permissions(cluster: SimCluster, case: str, *args: str) -> Run:
    namespace, kubeconfig = account(cluster, case, "check")
    done = subprocess.run([*support.KUBEDOG, *args, "-n", namespace, "--kubeconfig", kubeconfig,
                           "--check-permissions"], capture_output=True, text=True, timeout=60)
    return Run.of(done)


def granted(run: Run) -> dict[tuple[str, str, str], str]:
    """(verb, resource, for) -> yes/NO from the --check-permissions table."""
    rows = [line.split() for line in run.lines[1:run.lines.index("")] if line.strip()] if "" in run.lines else \
        [line.split() for line in run.lines[1:]]
    return {(row[0], row[1], row[3]): row[4] for row in rows if len(row) >= 5}


def test_check_permissions_with_edit_grants_everything(cluster: SimCluster) -> None:
    run = check_permissions(cluster, "edit", "rollout", "track", "deploy/web", "job/migrate", "sts/db")
    assert run.code == 0, run
    table = granted(run)
    assert table[("list", "deployments.apps", "verdict")] == "yes", run
    assert table[("watch", "pods", "optional")] == "yes" and table[("get", "pods/log", "optional")] == "yes", run
    assert table[("get", "secrets", "optional")] == "yes", run
    assert "Rules that grant" not in run.out, run


def test_check_permissions_with_view_lacks_only_secrets_for_tracking(cluster: SimCluster, tmp_path: Path) -> None:
    run = check_permissions(cluster, "view", "rollout", "track", "deploy/web")
    assert run.code == 0, run  # every permission needed for a verdict is granted
    assert granted(run)[("get", "secrets", "optional")] == "NO", run
    roles = list(yaml.safe_load_all(run.out.split("bind them to this account):", 1)[1].rsplit("\n\n", 1)[0]))
    assert roles == [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                      "metadata": {"name": "kubedog-ci", "namespace": "lp-check-view"},
                      "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}], run
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(manifests()))
    applying = check_permissions(cluster, "view", "apply-and-track", "-f", str(path))
    assert applying.code == 1, applying  # view may not apply
    assert granted(applying)[("patch", "deployments.apps", "verdict")] == "NO", applying


def test_check_permissions_with_a_custom_role_names_what_is_lost(cluster: SimCluster) -> None:
    run = check_permissions(cluster, "no-events", "rollout", "track", "deploy/web")
    assert run.code == 0, run
    assert granted(run)[("watch", "events", "optional")] == "NO", run
    row = next(line for line in run.lines if line.startswith("list ") and " events " in line)
    assert "failures are named from status only" in row, run
    lacking = CASES["no-pods"]
    namespace = "lp-check-no-pods-deploy"
    kubeconfig = cluster.service_account_kubeconfig(namespace, "ci", rules=[
        rule for rule in lacking["rules"] if rule["resources"] != ["deployments"]])
    done = subprocess.run([*support.KUBEDOG, "rollout", "track", "deploy/web", "-n", namespace, "--kubeconfig",
                           kubeconfig, "--check-permissions"], capture_output=True, text=True, timeout=60)
    missing = Run.of(done)
    assert missing.code == 1, missing
    assert granted(missing)[("list", "deployments.apps", "verdict")] == "NO", missing
