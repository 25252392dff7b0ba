"""`kubedog demo` as a user runs it first: no arguments, no cluster, and it shows a CI run end to end."""

from __future__ import annotations

import re
import subprocess
import time

from tests.support import KUBEDOG

DEMO_LIMIT = 30.0
"""README promises the demo in under 30 seconds; it takes about 3 here."""


def test_demo_applies_tracks_and_explains_the_ci_exit_code() -> None:
    started = time.monotonic()
    done = subprocess.run([*KUBEDOG, "demo", "--color", "never"],
                          capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}"
    assert done.stderr == ""
    assert elapsed < DEMO_LIMIT
    lines = out.splitlines()
    assert lines.index("namespace/demo created") < lines.index("configmap/web-config created") < lines.index(
        "service/web created") < lines.index("deployment.apps/web created")
    assert "job.batch/db-migrate created" in lines
    summary = {parts[0]: parts[1] for parts in (line.split() for line in lines[lines.index(
        next(line for line in lines if line.startswith("RESOURCE "))) + 1:]) if len(parts) >= 3 and "/" in parts[0]}
    assert summary == {"deploy/web": "ready", "svc/web": "ready", "job/db-migrate": "ready", "deploy/api": "FAILED"}
    headline = next(line for line in lines if line.startswith("deploy/api FAILED: "))
    assert re.match(r"deploy/api FAILED: po/api-[a-z0-9]+-[a-z0-9]+ \[app\] (ErrImagePull|ImagePullBackOff): .*"
                    r"registry\.example/api:v2.*not found", headline), headline
    assert any(line.endswith("| schema is up to date") and "job/db-migrate po/db-migrate-" in line for line in lines)
    assert "In CI this run exits 1 (a resource failed)" in out
    assert "kubedog apply-and-track -f k8s/" in out
