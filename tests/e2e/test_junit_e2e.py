"""`--junit` end to end: `rollout track` as a process against the simulated cluster (time scale 0.02) writes a
report the Jenkins xUnit schema accepts however the run ends: ready, failed, timed out, stopped by SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from kubedog_ci.sim.cluster import SimCluster
from tests import junit_schema
from tests.support import KUBEDOG, Kube

FOREVER = "while true; do sleep 5; done"
SLOW_PULL = {"sim.kubedog-ci.io/pull-seconds": "1000"}
"""A pull that takes 20s at this time scale: the rollout stays progressing, with no failure sign."""
LATE_READY = {"readinessProbe": {"exec": {"command": ["sh", "-c", "exit 0"]}, "initialDelaySeconds": 60}}
"""Ready 1.2s after the start at this time scale: time for the first log lines to reach the report."""


def deployment(name: str, *, image: str = "busybox:1.36", script: str = FOREVER, annotations: dict | None = None,
               **container: object) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                                  "spec": {"containers": [{"name": "app", "image": image,
                                                           "command": ["sh", "-c", script], **container}]}}}}


def command(cluster: SimCluster, ns: str, report: Path, *what: str, timeout: str = "30s") -> list[str]:
    return [*KUBEDOG, "rollout", "track", *what, "-n", ns, "--kubeconfig",
            cluster.kubeconfig, "--junit", str(report), "--grace-scale", "0.02", "--color", "never", "--timeout",
            timeout]


def only_case(report: Path) -> ET.Element:
    """The one test case of a valid report."""
    junit_schema.validate(str(report))
    (case,) = ET.parse(report).getroot().iter("testcase")
    return case


def test_ready_rollout_from_a_manifest(shared_cluster: SimCluster, kc: Kube, ns: str, tmp_path: Path) -> None:
    manifest = deployment("web", script=f"echo serving; {FOREVER}", **LATE_READY)
    (tmp_path / "web.yaml").write_text(yaml.safe_dump(manifest))
    kc.apps.create_namespaced_deployment(ns, manifest)
    report = tmp_path / "out" / "junit.xml"
    done = subprocess.run([*command(shared_cluster, ns, report, "-f", str(tmp_path / "web.yaml")),
                           "--logs-since", "all", "--ci", "gitlab"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    case = only_case(report)
    assert (case.get("classname"), case.get("name"), list(case)) == (f"{ns}.Deployment", f"{ns}/Deployment/web",
                                                                     [case.find("system-out")])
    assert case.get("file") == str(tmp_path / "web.yaml")  # in GitLab; outside the working directory: as given
    out = case.findtext("system-out", "").splitlines()
    assert out[0] == f"manifest: {tmp_path / 'web.yaml'}:1", out
    assert any(line.startswith("po/web-") and line.endswith("[app] | serving") for line in out), out


def test_failed_rollout(shared_cluster: SimCluster, kc: Kube, ns: str, tmp_path: Path) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("bad", image="does-not-exist:1"))
    report = tmp_path / "junit.xml"
    done = subprocess.run(command(shared_cluster, ns, report, "deploy/bad"), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1, done
    failure = only_case(report).find("failure")
    assert failure is not None, done
    assert failure.get("type") in ("ErrImagePull", "ImagePullBackOff")
    assert failure.get("message", "").startswith("deploy/bad FAILED: po/bad-")
    assert "does-not-exist:1" in (failure.text or "")


def test_timed_out_rollout(shared_cluster: SimCluster, kc: Kube, ns: str, tmp_path: Path) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("slow", image=f"registry.example/{ns}/slow:1",
                                                        annotations=SLOW_PULL))
    report = tmp_path / "junit.xml"
    done = subprocess.run(command(shared_cluster, ns, report, "deploy/slow", timeout="1s"), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 3, done
    error = only_case(report).find("error")
    assert error is not None and error.get("type") == "Timeout", done
    assert "last status: " in error.get("message", "")


def test_sigterm_cancelled_rollout(shared_cluster: SimCluster, kc: Kube, ns: str, tmp_path: Path) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("slow", image=f"registry.example/{ns}/slow:1",
                                                        annotations=SLOW_PULL))
    report = tmp_path / "junit.xml"
    process = subprocess.Popen(command(shared_cluster, ns, report, "deploy/slow"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("deploy/slow progressing"), first
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 143, first + out + err
    error = only_case(report).find("error")
    assert error is not None and error.get("type") == "Cancelled", first + out + err
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"]
