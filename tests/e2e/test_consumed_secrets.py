"""The Secrets the tracked Pods consume are redacted in every command, not only in apply-and-track: objects
applied with kubectl, then `rollout track`, `follow` and `status`. The containers print a value from each kind of
reference: an env key (secretKeyRef), envFrom, a mounted Secret file they `cat`, a projected volume's file; and an
image pull secret is read too. None may reach the terminal, `-o json`, JUnit, the GitHub step summary or the
diagnosis; each shows as [redacted]."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from kubedog_ci.sim.cluster import SimCluster
from tests import support
from tests.e2e.test_follow import Reader
from tests.support import CliRun as Run
from tests.support import Kube

SECRETS = {"db": {"password": "hunter2-db-password"}, "env-all": {"API_TOKEN": "tok-from-envfrom-0042"},
           "certs": {"key.pem": "mounted-file-secret-77"}, "bundle": {"token": "projected-secret-value-99"},
           "later": {"value": "second-revision-secret-31"}}
VALUES = [value for data in SECRETS.values() for value in data.values()]
SCRIPT = ('echo "env $DB_PASSWORD"; echo "envFrom $API_TOKEN"; echo "file $(cat /etc/certs/key.pem)"; '
          'echo "projected $(cat /etc/bundle/token)"')


def pod_spec(script: str, restart: str | None = None, extra_env: list[dict] | None = None) -> dict:
    container = {
        "name": "app", "image": "busybox:1.36", "command": ["sh", "-c", script],
        "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                *(extra_env or [])],
        "envFrom": [{"secretRef": {"name": "env-all"}}],
        "volumeMounts": [{"name": "certs", "mountPath": "/etc/certs"}, {"name": "bundle", "mountPath": "/etc/bundle"}],
        "terminationMessagePolicy": "FallbackToLogsOnError"}
    return {**({"restartPolicy": restart} if restart else {}), "containers": [container],
            "imagePullSecrets": [{"name": "registry"}],
            "volumes": [{"name": "certs", "secret": {"secretName": "certs"}},
                        {"name": "bundle", "projected": {"sources": [{"secret": {"name": "bundle"}}]}}]}


def objects(namespace: str) -> list[dict]:
    secrets = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
                "stringData": data} for name, data in SECRETS.items()]
    secrets.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "registry", "namespace": namespace},
                    "type": "kubernetes.io/dockerconfigjson",
                    "stringData": {".dockerconfigjson": '{"auths": {"r.example": {"auth": "cHVsbC1zZWNyZXQ="}}}'}})
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": pod_spec(SCRIPT + "; while true; do sleep 5; done")}}}
    leak = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "leak", "namespace": namespace},
            "spec": {"backoffLimit": 0, "template": {"spec": pod_spec(SCRIPT + "; exit 3", restart="Never")}}}
    return [*secrets, web, leak]


def kubectl_apply(cluster: SimCluster, tmp_path: Path, *docs: dict) -> None:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    done = subprocess.run([support.KUBECTL, "--kubeconfig", cluster.kubeconfig, "apply", "-f", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def no_value_in(*texts: str) -> None:
    for text in texts:
        for value in VALUES:
            assert value not in text, f"{value} leaked:\n{text}"


def test_rollout_track_redacts_every_output(shared_cluster: SimCluster, kc: Kube, ns: str, tmp_path: Path) -> None:
    kubectl_apply(shared_cluster, tmp_path, *objects(ns))
    junit, summary = tmp_path / "report.xml", tmp_path / "summary.md"
    summary.write_text("")
    env = {**support.os.environ, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    done = subprocess.run([*support.KUBEDOG, "rollout", "track", "deploy/web", "job/leak", "-n", ns, "--kubeconfig",
                           shared_cluster.kubeconfig, "--timeout", "30s", "--no-fail-fast", "--logs-since", "all",
                           "--grace-scale", "0.02", "--color", "never", "--ci", "github", "--junit", str(junit)],
                          capture_output=True, text=True, timeout=60, env=env)
    run = Run.of(done)
    assert run.code == 1, run
    no_value_in(run.out, run.err, junit.read_text(), summary.read_text())
    for pod in ("po/web-", "po/leak-"):
        printed = {line.split("| ", 1)[1] for line in run.lines if pod in line and "[app] | " in line}
        assert {"env [redacted]", "envFrom [redacted]", "file [redacted]", "projected [redacted]"} <= printed, run
    diagnosis = run.out[run.out.index("job/leak FAILED: "):]
    assert "| env [redacted]" in diagnosis and "| projected [redacted]" in diagnosis, run  # its last log lines
    assert "[redacted]" in junit.read_text() and r"\[redacted\]" in summary.read_text(), summary.read_text()
    assert "cannot read Secret" not in run.out + run.err, run

    as_json = subprocess.run([*support.KUBEDOG, "rollout", "track", "deploy/web", "job/leak", "-n", ns,
                              "--kubeconfig", shared_cluster.kubeconfig, "--timeout", "30s", "--no-fail-fast",
                              "--logs-since", "all", "--grace-scale", "0.02", "-o", "json"],
                             capture_output=True, text=True, timeout=60)
    no_value_in(as_json.stdout, as_json.stderr)
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert any(record.get("text") == "env [redacted]" for record in records), as_json.stdout


def test_status_redacts_a_termination_message(shared_cluster: SimCluster, kc: Kube, ns: str,
                                              tmp_path: Path) -> None:
    """A failed Pod's termination message falls back to its last log lines (FallbackToLogsOnError)."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "once", "namespace": ns},
           "spec": pod_spec(SCRIPT + "; exit 3", restart="Never")}
    kubectl_apply(shared_cluster, tmp_path, *objects(ns)[:5], pod)
    support.wait_until(lambda: (kc.core.read_namespaced_pod("once", ns).status.phase == "Failed"), timeout=20)
    for output in ("text", "json"):
        done = subprocess.run([*support.KUBEDOG, "status", "po/once", "-n", ns, "--kubeconfig",
                               shared_cluster.kubeconfig, "-o", output], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done
        no_value_in(done.stdout, done.stderr)
        assert "[redacted]" in done.stdout, done.stdout


def test_a_secret_that_cannot_be_read_is_a_notice(shared_cluster: SimCluster, kc: Kube, ns: str,
                                                   tmp_path: Path) -> None:
    kubectl_apply(shared_cluster, tmp_path, *objects(ns))
    kubeconfig = shared_cluster.service_account_kubeconfig(ns, "viewer", role="view")  # view may not read Secrets
    done = subprocess.run([*support.KUBEDOG, "rollout", "track", "deploy/web", "-n", ns, "--kubeconfig", kubeconfig,
                           "--timeout", "30s", "--grace-scale", "0.02", "--color", "never"],
                          capture_output=True, text=True, timeout=60)
    run = Run.of(done)
    assert run.code == 0, run
    assert f'cannot read Secret "db" in namespace "{ns}" (forbidden): its values cannot be redacted from logs' \
        in run.out, run
    quiet = subprocess.run([*support.KUBEDOG, "rollout", "track", "deploy/web", "-n", ns, "--kubeconfig", kubeconfig,
                            "--timeout", "30s", "--grace-scale", "0.02", "--color", "never", "--no-secret-redaction"],
                           capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 0 and "cannot read Secret" not in quiet.stdout, quiet


def test_follow_redacts_a_secret_a_second_revision_adds(shared_cluster: SimCluster, kc: Kube, ns: str,
                                                        tmp_path: Path) -> None:
    docs = objects(ns)
    kubectl_apply(shared_cluster, tmp_path, *docs)
    process = subprocess.Popen([*support.KUBEDOG, "follow", "deploy/web", "-n", ns, "--kubeconfig",
                                shared_cluster.kubeconfig, "--grace-scale", "0.02", "--color", "never",
                                "--logs-since", "all"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader = Reader(process)
    try:
        reader.wait_for(lambda line: line.endswith("| projected [redacted]"), "the first revision's lines")
        reader.wait_for(lambda line: line.startswith("deploy/web ready:"), "the ready status")
        later = {"name": "LATER", "valueFrom": {"secretKeyRef": {"name": "later", "key": "value"}}}
        web = next(doc for doc in docs if doc["kind"] == "Deployment")
        web["spec"]["template"]["spec"] = pod_spec('echo "later $LATER"; ' + SCRIPT + "; while true; do sleep 5; done",
                                                   extra_env=[later])
        kubectl_apply(shared_cluster, tmp_path, web)
        reader.wait_for(lambda line: line.endswith("| later [redacted]"), "the second revision's line")
        err = reader.interrupt()
    finally:
        reader.close()
    out = "\n".join(reader.snapshot())
    assert process.returncode == 0, f"{out}\n--- stderr\n{err}"
    no_value_in(out, err)
