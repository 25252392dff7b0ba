"""Which CI system runs us, from the variables each one sets in every job."""

from __future__ import annotations

from collections.abc import Mapping


def detect_ci(environ: Mapping[str, str]) -> str:
    """`github` (GITHUB_ACTIONS=true), `gitlab` (GITLAB_CI=true), else `none`."""
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    if environ.get("GITLAB_CI") == "true":
        return "gitlab"
    return "none"
