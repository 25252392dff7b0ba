"""CI detection (kubedog_ci.output.ci): which system's output `--ci auto` picks, from the job's environment."""

from __future__ import annotations

import pytest

from kubedog_ci.output.ci import detect_ci


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "none"),
    ({"GITHUB_ACTIONS": "true"}, "github"),
    ({"GITLAB_CI": "true"}, "gitlab"),
    ({"GITHUB_ACTIONS": "true", "GITLAB_CI": "true"}, "github"),
    ({"GITHUB_ACTIONS": "false", "GITLAB_CI": "true"}, "gitlab"),
    ({"GITHUB_ACTIONS": "1"}, "none"),
    ({"GITHUB_ACTIONS": "", "GITLAB_CI": "TRUE"}, "none"),
    ({"CI": "true"}, "none"),
])
def test_detect_ci(environ: dict[str, str], expected: str) -> None:
    assert detect_ci(environ) == expected
