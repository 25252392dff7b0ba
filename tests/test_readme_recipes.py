"""README's CI recipes, taken from README.md itself (each is the YAML block after its `<!-- recipe: NAME -->`
marker), so README cannot drift from what is checked here: the GitHub workflow against the GitHub Workflows schema
and with actionlint (the action it uses swapped for this checkout's action.yml, so its inputs are checked too); the
GitLab job against the GitLab CI schema; both for what they promise (the JUnit report written and published
however the run ends, the binary verified before it is installed); and the GitLab job's download, checksum and
install lines run against a fake release served from this machine."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ci_lint import ACTIONLINT, NO_ACTIONLINT, actionlint, check_jsonschema
from tests.release_support import publish

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = re.compile(r"^<!-- recipe: ([\w-]+) -->\n```yaml\n(.*?)^```$", re.M | re.S)
RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+$")


def recipes() -> dict[str, str]:
    found = MARKER.findall(README.read_text())
    names = [name for name, _ in found]
    assert len(names) == len(set(names)), f"a recipe marker repeats: {names}"
    return dict(found)


def recipe(name: str) -> str:
    text = recipes().get(name)
    assert text, f"README.md has no YAML block after <!-- recipe: {name} -->"
    return text


def load(text: str) -> dict[str, Any]:
    document = yaml.safe_load(text)
    if True in document:  # YAML 1.1 reads the key `on` as true
        document["on"] = document.pop(True)
    return document


def test_readme_has_both_recipes_near_the_top() -> None:
    text = README.read_text()
    assert set(recipes()) == {"github-workflow", "gitlab-ci"}
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[:4] == ["Two commands", "CI recipes", "Reference", "Install"], headings
    assert text.index("<!-- test-command -->") < text.index("<!-- recipe: github-workflow -->")
    assert "being built" not in text


# --- GitHub -----------------------------------------------------------------------------------------------------


def test_the_github_workflow_is_valid_against_the_github_workflows_schema(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yml"
    path.write_text(recipe("github-workflow"))
    done = check_jsonschema("vendor.github-workflows", path)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(ACTIONLINT is None, reason=NO_ACTIONLINT)
def test_actionlint_passes_on_the_github_workflow_with_this_action(tmp_path: Path) -> None:
    """In a checkout of its own with this repository's action.yml at its root, `uses: OWNER/kubedog-ci@…` made
    `uses: ./`: actionlint then checks the recipe's inputs against action.yml, and its scripts with shellcheck."""
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)  # how actionlint finds the project, and its local actions
    (project / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", project / "action.yml")
    workflow = re.sub(r"uses: OWNER/kubedog-ci@\S+", "uses: ./", recipe("github-workflow"))
    assert "uses: ./" in workflow
    path = project / ".github" / "workflows" / "deploy.yml"
    path.write_text(workflow)
    done = actionlint(path, cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    path.write_text(workflow.replace("junit:", "junit-report:"))
    assert 'input "junit-report" is not defined' in actionlint(path, cwd=project).stdout, "the action was checked"


def test_the_github_workflow_uses_the_action_and_publishes_the_report_however_the_run_ends() -> None:
    workflow = load(recipe("github-workflow"))
    assert workflow["permissions"] == {"contents": "read", "checks": "write"}
    (job,) = workflow["jobs"].values()
    assert job.get("timeout-minutes")
    steps = job["steps"]
    (action,) = [step for step in steps if str(step.get("uses", "")).startswith("OWNER/kubedog-ci@")]
    assert RELEASE_TAG.match(action["uses"].split("@", 1)[1]), "pinned to a release, which is what it installs"
    assert set(action["with"]) <= set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])
    assert action["with"]["args"].startswith("apply-and-track ")
    report = action["with"]["junit"]
    (publisher,) = [step for step in steps if str(step.get("uses", "")).startswith("mikepenz/action-junit-report@")]
    assert publisher["with"]["report_paths"] == report
    assert publisher["if"].replace(" ", "") in ("${{!cancelled()}}", "${{always()}}", "always()", "!cancelled()"), (
        "the report is published when kubedog fails too")
    assert steps.index(action) < steps.index(publisher)
    for step in steps:
        assert "${{" not in step.get("run", ""), "secrets reach scripts through env:"


# --- GitLab -----------------------------------------------------------------------------------------------------


def gitlab_job() -> dict[str, Any]:
    document = load(recipe("gitlab-ci"))
    (job,) = [value for key, value in document.items() if isinstance(value, dict) and "script" in value]
    return job


def test_the_gitlab_job_is_valid_against_the_gitlab_ci_schema(tmp_path: Path) -> None:
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(recipe("gitlab-ci"))
    done = check_jsonschema("vendor.gitlab-ci", path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_gitlab_job_verifies_the_binary_and_uploads_the_report_however_the_job_ends() -> None:
    document = load(recipe("gitlab-ci"))
    job = gitlab_job()
    assert job["stage"] in document.get("stages", ["build", "test", "deploy"])
    assert RELEASE_TAG.match(job["variables"]["KUBEDOG_VERSION"])
    assert job["variables"]["KUBEDOG_RELEASE"] == \
        "https://github.com/OWNER/kubedog-ci/releases/download/${KUBEDOG_VERSION}"
    script = job["script"]
    download, verify, install, run = script
    assert '"$KUBEDOG_RELEASE/SHA256SUMS"' in download and '"$KUBEDOG_RELEASE/kubedog-linux-amd64"' in download
    assert "sha256sum -c" in verify
    assert install.startswith("install ") and run.startswith("kubedog apply-and-track ")
    report = run.split("--junit ", 1)[1].split()[0]
    assert job["artifacts"] == {"when": "always", "reports": {"junit": report}}


SH256 = shutil.which("sha256sum")


@pytest.mark.skipif(sys.platform == "win32" or SH256 is None or shutil.which("curl") is None
                    or shutil.which("bash") is None, reason="runs the job's lines with bash, curl and sha256sum")
@pytest.mark.parametrize("case", ["good", "wrong checksum", "not listed", "missing asset"])
def test_the_gitlab_job_installs_only_a_verified_binary(http_root: tuple[Path, str], tmp_path: Path,
                                                        case: str) -> None:
    """The job's lines up to the install, as a runner would run them (bash, -e, pipefail), against a fake release:
    only the install target is moved from /usr/local/bin to a temporary directory."""
    www, url = http_root
    job = gitlab_job()
    version = job["variables"]["KUBEDOG_VERSION"]
    release = www / "OWNER" / "kubedog-ci" / "releases" / "download" / version
    binary = '#!/bin/sh\necho "kubedog 0.1.0 (commit fake)"\n'
    publish(release, {"kubedog-linux-amd64": binary})
    if case == "wrong checksum":
        (release / "SHA256SUMS").write_text(f"{'ab' * 32}  kubedog-linux-amd64\n")
    elif case == "not listed":
        (release / "SHA256SUMS").write_text(f"{'ab' * 32}  kubedog-linux-arm64\n")
    elif case == "missing asset":
        (release / "kubedog-linux-amd64").unlink()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lines = job["script"][:3]
    assert sum(line.count("/usr/local/bin/kubedog") for line in lines) == 1
    script = "\n".join(line.replace("/usr/local/bin/kubedog", str(bin_dir / "kubedog")) for line in lines)
    work = tmp_path / "job"
    work.mkdir()
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path), "NO_PROXY": "127.0.0.1",
           "no_proxy": "127.0.0.1", "KUBEDOG_VERSION": version,
           "KUBEDOG_RELEASE": job["variables"]["KUBEDOG_RELEASE"].replace("https://github.com", url).replace(
               "${KUBEDOG_VERSION}", version)}
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work, env=env, capture_output=True,
                          text=True, timeout=60)
    if case == "good":
        assert done.returncode == 0, done.stderr
        assert "kubedog-linux-amd64: OK" in done.stdout
        assert (bin_dir / "kubedog").read_text() == binary
        assert subprocess.run([str(bin_dir / "kubedog"), "--version"], capture_output=True).returncode == 0
    else:
        assert done.returncode != 0, done.stdout + done.stderr
        assert list(bin_dir.iterdir()) == [], "nothing installed"
