"""The GitHub Action (action.yml at the repository root) and the workflows, as GitHub reads them: action.yml
against the GitHub Actions schema and every workflow against the GitHub Workflows schema (check-jsonschema's
built-in SchemaStore copies, offline), actionlint on a workflow that uses the action from this checkout, and the
action's own rules: a composite action whose inputs reach its scripts through env: only. Its install and run
steps are driven against a local server in tests/packaging/test_action_install.py."""

from __future__ import annotations

import json
import re
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ci_lint import ACTIONLINT, NO_ACTIONLINT, actionlint, check_jsonschema

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
ACTION_SH = ROOT / "packaging" / "action.sh"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    if True in document:  # YAML 1.1 reads the key `on` as true
        document["on"] = document.pop(True)
    return document


def test_action_yml_is_valid_against_the_github_actions_schema() -> None:
    done = check_jsonschema("vendor.github-actions", ACTION)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[path.name for path in WORKFLOWS])
def test_every_workflow_is_valid_against_the_github_workflows_schema(workflow: Path) -> None:
    done = check_jsonschema("vendor.github-workflows", workflow)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_catches_a_broken_action_and_workflow(tmp_path: Path) -> None:
    """The checks can fail: an action without runs, a job without runs-on, a GitLab job with a bad `when`."""
    action = tmp_path / "action.yml"
    action.write_text("name: x\ndescription: y\ninputs:\n  a: {description: z}\n")
    workflow = tmp_path / "workflow.yml"
    workflow.write_text("on: push\njobs:\n  a:\n    steps: [{run: echo}]\n")
    gitlab = tmp_path / ".gitlab-ci.yml"
    gitlab.write_text("job:\n  script: [echo]\n  artifacts: {when: sometimes}\n")
    for schema, path in (("vendor.github-actions", action), ("vendor.github-workflows", workflow),
                         ("vendor.gitlab-ci", gitlab)):
        done = check_jsonschema(schema, path)
        assert done.returncode == 1, (schema, done.stdout + done.stderr)
        assert "Schema validation errors were encountered" in done.stdout + done.stderr


@pytest.mark.parametrize("name", ["github-actions", "github-workflows", "gitlab-ci"])
def test_the_builtin_schemas_are_shipped_files_that_refer_to_nothing_remote(name: str) -> None:
    """So no check needs the network (tests/ci_lint.py also runs every check with a dead proxy)."""
    schema = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath(f"{name}.json")
    document = json.loads(schema.read_text(encoding="utf-8"))
    refs: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            refs.extend(ref for key, ref in value.items() if key == "$ref" and isinstance(ref, str))
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(document)
    assert refs, f"{name}: expected local $refs"
    assert [ref for ref in refs if not ref.startswith("#")] == []


def test_a_composite_action_whose_inputs_reach_its_scripts_through_env_only() -> None:
    action = load(ACTION)
    assert action["name"] and action["description"] and action["branding"]
    assert set(action["inputs"]) == {"version", "args", "junit", "base-url"}
    for name, spec in action["inputs"].items():
        assert spec.get("description"), f"input {name} has no description"
        assert spec.get("required") is False and spec.get("default") == "", f"input {name}: optional, empty default"
    runs = action["runs"]
    assert runs["using"] == "composite"
    steps = {step["id"]: step for step in runs["steps"]}
    assert list(steps) == ["install", "run"]
    for step in runs["steps"]:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "no expression inside run: (script injection); inputs go through env:"
        assert step["run"] == f'bash "$GITHUB_ACTION_PATH/packaging/action.sh" {step["id"]}'
        for name, value in step.get("env", {}).items():
            expressions = re.findall(r"\$\{\{\s*(.*?)\s*\}\}", value)
            assert len(expressions) == 1 and value == f"${{{{ {expressions[0]} }}}}", (name, value)
    assert steps["run"]["if"] == "inputs.args != ''"
    assert steps["run"]["env"]["KUBEDOG"] == "${{ steps.install.outputs.path }}"
    # Every input the script reads is given to the step that runs it, from the input of that name.
    script = ACTION_SH.read_text()
    read = set(re.findall(r"\bINPUT_[A-Z_]+", script))
    assert read == {"INPUT_VERSION", "INPUT_BASE_URL", "INPUT_ARGS", "INPUT_JUNIT"}
    for step in runs["steps"]:
        for name, value in step["env"].items():
            if name.startswith("INPUT_"):
                assert value == f"${{{{ inputs.{name[len('INPUT_'):].lower().replace('_', '-')} }}}}", name
    given = {name for step in runs["steps"] for name in step["env"]}
    assert read <= given
    assert {"ACTION_REF": "${{ github.action_ref }}", "ACTION_REPOSITORY": "${{ github.action_repository }}"}.items() \
        <= steps["install"]["env"].items()
    outputs = action["outputs"]
    assert outputs["version"]["value"] == "${{ steps.install.outputs.version }}"
    assert outputs["path"]["value"] == "${{ steps.install.outputs.path }}"
    assert outputs["exit-code"]["value"] == "${{ steps.run.outputs.exit-code }}"
    for name in ("version", "path", "cache-hit"):
        assert f'echo "{name}=' in script, f"the install step writes its {name} output"
    assert 'echo "exit-code=$code" >>"$GITHUB_OUTPUT"' in script


def test_the_release_workflow_proves_the_action_installs_the_release_it_just_published() -> None:
    jobs = load(ROOT / ".github" / "workflows" / "release.yml")["jobs"]
    job = jobs["action"]
    assert job["needs"] == "github-release"
    assert {"ubuntu-latest", "macos-latest", "windows-latest"} <= set(job["strategy"]["matrix"]["os"])
    (step,) = [step for step in job["steps"] if step.get("uses") == "./"]
    assert step["with"]["version"] == "${{ github.ref_name }}"
    assert step["with"]["args"].startswith("demo")


USES_LOCALLY = """\
name: use the action
on: [push]
permissions:
  contents: read
jobs:
  track:
    runs-on: ${{ matrix.os }}
    timeout-minutes: 15
    strategy:
      matrix:
        os: [ubuntu-latest, macos-latest, windows-latest]
    steps:
      - uses: actions/checkout@v5
      - id: kubedog
        uses: ./
        with:
          version: v0.1.0
          args: rollout track deploy/web -n prod
          junit: reports/kubedog.xml
      - if: ${{ !cancelled() }}
        shell: bash
        env:
          INSTALLED: ${{ steps.kubedog.outputs.version }}
          KUBEDOG_PATH: ${{ steps.kubedog.outputs.path }}
          CACHED: ${{ steps.kubedog.outputs.cache-hit }}
          EXIT_CODE: ${{ steps.kubedog.outputs.exit-code }}
        run: echo "kubedog $INSTALLED at $KUBEDOG_PATH (cached $CACHED) exited $EXIT_CODE"
"""


def project_using_the_action(tmp_path: Path, workflow: str) -> Path:
    """A checkout holding this action.yml (and its script) and one workflow; returns the workflow's path."""
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)  # actionlint finds a project, and its local actions, by .git
    (project / ".github" / "workflows").mkdir(parents=True)
    (project / "packaging").mkdir()
    shutil.copy(ACTION, project / "action.yml")
    shutil.copy(ACTION_SH, project / "packaging" / "action.sh")
    path = project / ".github" / "workflows" / "use.yml"
    path.write_text(workflow)
    return path


@pytest.mark.skipif(ACTIONLINT is None, reason=NO_ACTIONLINT)
def test_actionlint_checks_a_workflow_using_the_action_against_its_inputs_and_outputs(tmp_path: Path) -> None:
    path = project_using_the_action(tmp_path, USES_LOCALLY)
    done = actionlint(path, cwd=path.parents[2])
    assert done.returncode == 0, done.stdout + done.stderr
    assert check_jsonschema("vendor.github-workflows", path).returncode == 0
    # The same workflow with an input and an output the action does not have: actionlint read action.yml.
    path.write_text(USES_LOCALLY.replace("junit: reports", "junit-path: reports").replace(
        "outputs.cache-hit", "outputs.cached"))
    done = actionlint(path, cwd=path.parents[2])
    assert done.returncode == 1
    assert 'input "junit-path" is not defined in action' in done.stdout
    assert 'property "cached" is not defined' in done.stdout


@pytest.mark.skipif(ACTIONLINT is None, reason=NO_ACTIONLINT)
def test_actionlint_passes_on_every_workflow_of_the_repository() -> None:
    """release.yml uses the action from the checkout (`uses: ./`): actionlint checks it against action.yml."""
    done = actionlint(*WORKFLOWS, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
