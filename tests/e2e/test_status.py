"""`kubedog status` end to end: the CLI as a process, against the simulated cluster or offline."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import DenyRule
from tests.support import KUBEDOG, Kube, wait_until

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 2
  progressDeadlineSeconds: {deadline}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: app, image: "{image}"}}]
"""


def kubedog(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KUBEDOG, *args], input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def deployment(name: str, image: str = "nginx:1.27", deadline: int = 600) -> dict:
    return yaml.safe_load(DEPLOY.format(name=name, image=image, deadline=deadline))


def rows(out: str) -> list[dict]:
    return json.loads(out)


# --- offline ------------------------------------------------------------------------------------------------


def with_status(obj: dict, status: dict, generation: int = 1) -> dict:
    return {**obj, "metadata": {**obj["metadata"], "generation": generation, "namespace": "prod"}, "status": status}


READY = {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}
ROLLING = {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2}
STUCK = {**ROLLING, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                    "message": 'ReplicaSet "web-1" has timed out progressing.'}]}


@pytest.mark.parametrize(("status", "verdict", "code"), [
    (READY, "ready", 0), (ROLLING, "progressing", 3), (STUCK, "failed", 1),
])
def test_offline_from_stdin_judges_the_object_as_given(status: dict, verdict: str, code: int) -> None:
    document = yaml.safe_dump(with_status(deployment("web"), status))
    done = kubedog("status", "--offline", "-f", "-", "-o", "json", stdin=document)
    assert done.returncode == code, done.stderr
    (row,) = rows(done.stdout)
    assert row == {**row, "apiVersion": "apps/v1", "kind": "Deployment", "namespace": "prod", "name": "web",
                   "verdict": verdict}
    assert set(row) == {"apiVersion", "kind", "namespace", "name", "verdict", "reason", "message"}


def test_offline_keeps_input_order_and_the_worst_verdict_decides(tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    docs = [with_status(deployment("a"), READY), with_status(deployment("b"), STUCK),
            with_status(deployment("c"), ROLLING)]
    path.write_text(yaml.safe_dump_all(docs))
    done = kubedog("status", "--offline", "-f", str(path), "-o", "json")
    assert done.returncode == 1
    assert [(r["name"], r["verdict"]) for r in rows(done.stdout)] == [("a", "ready"), ("b", "failed"),
                                                                       ("c", "progressing")]
    text = kubedog("status", "--offline", "-f", str(path))
    header, *lines = text.stdout.splitlines()
    assert header.split()[:4] == ["NAMESPACE", "RESOURCE", "VERDICT", "REASON"]
    assert [line.split()[1:3] for line in lines] == [["deployment/a", "ready"], ["deployment/b", "failed"],
                                                      ["deployment/c", "progressing"]]


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["status"], None, "name the objects"),
    (["status", "--offline", "deploy/web"], None, "--offline judges objects read with -f"),
    (["status", "--offline", "-f", "-"], "a: [1\n", "<stdin>:2:1: invalid YAML"),
    (["status", "--offline", "-f", "/nonexistent.yaml"], None, "/nonexistent.yaml: no such file"),
    (["status", "deploy"], None, "names a kind without an object"),
])
def test_usage_and_input_errors_exit_2_without_a_traceback(args: list[str], stdin: str | None, message: str) -> None:
    done = kubedog(*args, stdin=stdin)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


# --- live -----------------------------------------------------------------------------------------------------


def test_live_verdicts_by_every_naming_form(shared_cluster: SimCluster, kc: Kube) -> None:
    kc.apps.create_namespaced_deployment("default", deployment("web"))
    wait_until(lambda: (kc.apps.read_namespaced_deployment("web", "default").status.ready_replicas or 0) == 2,
               timeout=20, message="web ready")
    for form in (["deploy/web"], ["deployments.apps/web"], ["Deployment", "web"], ["deployment.v1.apps/web"]):
        done = kubedog("status", *form, "--kubeconfig", shared_cluster.kubeconfig, "-o", "json")
        assert done.returncode == 0, (form, done.stderr)
        assert [(r["kind"], r["namespace"], r["verdict"]) for r in rows(done.stdout)] == [
            ("Deployment", "default", "ready")]


def test_live_failed_after_the_progress_deadline_and_missing_objects(shared_cluster: SimCluster, kc: Kube) -> None:
    kc.core.create_namespace({"metadata": {"name": "bad"}})
    kc.apps.create_namespaced_deployment("bad", deployment("api", image="registry.example/does-not-exist:v2",
                                                           deadline=20))
    kubeconfig = ["--kubeconfig", shared_cluster.kubeconfig]
    first = kubedog("status", "deploy/api", "-n", "bad", *kubeconfig, "-o", "json")
    assert first.returncode in (1, 3)

    def failed() -> bool:
        return kubedog("status", "deploy/api", "-n", "bad", *kubeconfig).returncode == 1

    wait_until(failed, timeout=30, message="the progress deadline")
    (row,) = rows(kubedog("status", "deploy/api", "-n", "bad", *kubeconfig, "-o", "json").stdout)
    assert row["verdict"] == "failed" and "ProgressDeadlineExceeded" in row["reason"] + row["message"]
    missing = kubedog("status", "deploy/nope", "-n", "bad", *kubeconfig, "-o", "json")
    assert missing.returncode == 1
    assert rows(missing.stdout)[0]["verdict"] == "failed"


def test_live_objects_named_in_a_manifest(shared_cluster: SimCluster, kc: Kube, tmp_path: Path) -> None:
    kc.core.create_namespace({"metadata": {"name": "files"}})
    kc.core.create_namespaced_config_map("files", {"metadata": {"name": "settings"}})
    path = tmp_path / "m.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: files}\n")
    done = kubedog("status", "-f", str(path), "--kubeconfig", shared_cluster.kubeconfig, "-o", "json")
    assert done.returncode == 0, done.stderr
    assert rows(done.stdout)[0]["namespace"] == "files"


def test_kubeconfig_from_kubeconfig_variable_with_several_paths(shared_cluster: SimCluster, kc: Kube,
                                                                 tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    env = {"KUBECONFIG": f"{empty}{os.pathsep}{shared_cluster.kubeconfig}"}
    done = kubedog("status", "svc/kubernetes", env=env)
    assert done.returncode == 0, done.stderr


def test_unknown_kind_is_an_input_error(shared_cluster: SimCluster) -> None:
    done = kubedog("status", "frobnicator/x", "--kubeconfig", shared_cluster.kubeconfig)
    assert done.returncode == 2
    assert 'the server doesn\'t have a resource type "frobnicator"' in done.stderr


@pytest.mark.parametrize(("setup", "message"), [
    ("unreachable", "the Kubernetes API server at http://127.0.0.1:9 has not answered successfully for "),
    ("unknown-context", 'context "nope" not found'),
    ("missing-file", "no such file"),
    ("forbidden", 'refused to get deployments.apps "web" in namespace "default" (403 Forbidden)'),
    ("unauthorized", "(401 Unauthorized)"),
])
def test_cluster_errors_exit_5_with_one_message(setup: str, message: str, tmp_path: Path,
                                                 sim_factory: Callable[..., SimCluster]) -> None:
    args = ["status", "deploy/web"]
    if setup == "unreachable":
        kubeconfig = tmp_path / "kc"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "x",
            "clusters": [{"name": "x", "cluster": {"server": "http://127.0.0.1:9"}}],
            "users": [{"name": "x", "user": {}}],
            "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}))
        args += ["--kubeconfig", str(kubeconfig), "--api-timeout", "1s"]
    elif setup == "unknown-context":
        args += ["--kubeconfig", sim_factory().kubeconfig, "--context", "nope"]
    elif setup == "missing-file":
        args += ["--kubeconfig", str(tmp_path / "absent")]
    elif setup == "forbidden":
        args += ["--kubeconfig", sim_factory(deny=(DenyRule("get", "deployments.apps"),)).kubeconfig]
    else:
        protected = sim_factory(token="secret-token")
        config = yaml.safe_load(Path(protected.kubeconfig).read_text())
        config["users"][0]["user"] = {"token": "wrong"}
        kubeconfig = tmp_path / "kc"
        kubeconfig.write_text(yaml.safe_dump(config))
        args += ["--kubeconfig", str(kubeconfig)]
    done = kubedog(*args)
    assert done.returncode == 5, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert "secret-token" not in done.stderr + done.stdout
