"""CI output end to end: `kubedog apply-and-track` as a process in a simulated GitHub Actions or GitLab CI job,
against the simulated cluster (time scale 0.02), with a Deployment whose image cannot be pulled."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from tests import support

KUBEDOG = [*support.KUBEDOG, "apply-and-track"]
CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITLAB_CI")


def manifests(path: Path, ns: str) -> int:
    """A ConfigMap then a Deployment that fails to pull, in one file; returns the Deployment's first line."""
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns},
              "data": {"mode": "test"}}
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "app", "image": "does-not-exist:1"}]}}}}
    head = yaml.safe_dump(config, sort_keys=False)
    path.write_text(f"# CI output test\n{head}---\n{yaml.safe_dump(web, sort_keys=False)}")
    return head.count("\n") + 3


def apply(cluster: SimCluster, file: Path, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The run in a job with only these CI variables; stdout is decoded as is (text mode would turn the `\r` of
    GitLab's section markers into line breaks)."""
    environ = {key: value for key, value in os.environ.items() if key not in CI_VARIABLES}
    done = subprocess.run([*KUBEDOG, "-f", str(file), "--kubeconfig", cluster.kubeconfig, "--grace-scale", "0.02",
                           "--color", "never", "--timeout", "30s", *extra], capture_output=True, timeout=60,
                          env={**environ, **env})
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def test_github_actions(shared_cluster: SimCluster, ns: str, tmp_path: Path) -> None:
    file, summary = tmp_path / "app.yaml", tmp_path / "step-summary.md"
    line = manifests(file, ns)
    done = apply(shared_cluster, file, GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    assert done.returncode == 1, done
    lines = done.stdout.splitlines()
    errors = [text for text in lines if text.startswith("::error ")]
    assert len(errors) == 1, done.stdout
    assert errors[0].startswith(f"::error file={str(file).replace(':', '%3A')},line={line},title=deploy/web failed%3A ")
    assert re.search(r"title=deploy/web failed%3A (ErrImagePull|ImagePullBackOff)::deploy/web FAILED: ", errors[0])
    assert "does-not-exist:1" in errors[0]
    assert lines.count("::group::deploy/web — FAILED") == 1
    assert lines.count("::endgroup::") == 1
    assert lines.index(errors[0]) > max(i for i, text in enumerate(lines) if text.startswith("RESOURCE "))
    report = summary.read_text()
    assert report.startswith("### kubedog: 1 failed ")
    assert re.search(r"^\| deploy/web \| ❌ FAILED \| [^|]+ \| (ErrImagePull|ImagePullBackOff) \|$", report, re.M)
    assert "- deploy/web FAILED: " in report


def test_gitlab_ci(shared_cluster: SimCluster, ns: str, tmp_path: Path) -> None:
    file = tmp_path / "app.yaml"
    manifests(file, ns)
    done = apply(shared_cluster, file, GITLAB_CI="true")
    assert done.returncode == 1, done
    starts = re.findall(r"\x1b\[0Ksection_start:\d+:(\S+)\[collapsed=true\]\r\x1b\[0K(deploy/web FAILED: \w+)",
                        done.stdout)
    ends = re.findall(r"\x1b\[0Ksection_end:\d+:(\S+)\r\x1b\[0K", done.stdout)
    assert [name for name, _ in starts] == ends == ["kubedog_deploy_web"], done.stdout
    assert "::error" not in done.stdout


@pytest.mark.parametrize("ci", ["none", "gitlab"])
def test_ci_flag_overrides_detection(shared_cluster: SimCluster, ns: str, tmp_path: Path, ci: str) -> None:
    file, summary = tmp_path / "app.yaml", tmp_path / "step-summary.md"
    manifests(file, ns)
    done = apply(shared_cluster, file, "--ci", ci, GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    assert done.returncode == 1, done
    assert not any(line.startswith("::") for line in done.stdout.splitlines()), done.stdout
    assert not summary.exists()
    assert ("section_start:" in done.stdout) == (ci == "gitlab")
