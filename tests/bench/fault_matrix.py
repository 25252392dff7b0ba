"""The fault matrix: how often each injected fault makes `kubedog apply-and-track` judge wrong or print a log
line wrong (none may).

For each fault of the simulator (`--faults`), and all of them at once, it runs TRIALS times one fixed scenario
against a fresh simulated cluster (time scale 0.02): three Deployments that become ready, one whose image does
not exist, and a Job that prints `line 1` to `line 500`. A trial's wrong verdicts count the targets (and the exit
code) that differ from those expected; lost and duplicate lines compare the Job's printed log with 1..500. The
simulator counts every fault it injected, so the table shows that each one did hit. Prints a Markdown table and
writes JSON (`--json PATH`).

    python tests/bench/fault_matrix.py [--trials 5] [--json fault-matrix.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import Faults, SimConfig
from tests.support import DEFAULT_TIME_SCALE, KUBEDOG

FAULTS = {
    "watch-drop": "watch-drop=300ms",
    "gone": "gone=0.5,watch-drop=500ms",
    "http-error": "http-error=0.2",
    "latency": "latency=50ms",
    "log-cut": "log-cut=200ms",
    "all": "watch-drop=300ms,gone=0.5,http-error=0.2,latency=50ms,log-cut=200ms",
}
LINES = 500
EXPECTED = {"deploy/web0": "ready", "deploy/web1": "ready", "deploy/web2": "ready", "deploy/broken": "FAILED",
            "job/count": "ready"}
EXPECTED_EXIT = 1
LATE_READY = {"readinessProbe": {"exec": {"command": ["sh", "-c", "exit 0"]}, "initialDelaySeconds": 60}}


def _deployment(name: str, image: str) -> dict:
    container = {"name": "app", "image": image, "command": ["sh", "-c", f"echo {name} up; sleep infinity"],
                 **LATE_READY}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def manifests() -> list[dict]:
    """The scenario: three ready Deployments, a failing one, a Job printing LINES numbered lines."""
    script = (f'i=1; while [ $i -le {LINES} ]; do echo "line $i"; if [ $((i % 20)) -eq 0 ]; then sleep 1; fi; '
              "i=$((i+1)); done")
    count = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "count"},
             "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
                 {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script]}]}}}}
    return [*(_deployment(f"web{n}", "busybox:1.36") for n in range(3)),
            _deployment("broken", "registry.example/broken:does-not-exist"), count]


def verdicts(out: str) -> dict[str, str]:
    """RESOURCE -> VERDICT from the summary table that ends the output (empty when there is none)."""
    lines = out.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("RESOURCE ")]
    rows = [line.split() for line in lines[starts[-1] + 1:]] if starts else []
    return {row[0]: row[1] for row in rows if len(row) >= 3 and "/" in row[0]}


def trial(spec: str, workdir: Path) -> dict:
    """One run of the scenario against a fresh cluster injecting `spec`: what went wrong, what was injected."""
    path = workdir / "scenario.yaml"
    path.write_text(yaml.safe_dump_all(manifests()))
    with SimCluster(SimConfig(time_scale=DEFAULT_TIME_SCALE, faults=Faults.parse(spec))) as cluster:
        began = time.monotonic()
        done = subprocess.run([*KUBEDOG, "apply-and-track", "-f", str(path), "--kubeconfig", cluster.kubeconfig,
                               "--no-fail-fast", "--timeout", "60s", "--grace-scale", str(DEFAULT_TIME_SCALE),
                               "--color", "never"], capture_output=True, text=True, timeout=120)
        took = time.monotonic() - began
        assert cluster.server is not None
        injected = cluster.server.stats.snapshot()["faults"]
    found = verdicts(done.stdout)
    wrong = sum(found.get(target) != verdict for target, verdict in EXPECTED.items())
    wrong += done.returncode != EXPECTED_EXIT
    printed = [line.split("[main] | ", 1)[1] for line in done.stdout.splitlines() if "[main] | " in line]
    counts = Counter(printed)
    expected_lines = [f"line {n}" for n in range(1, LINES + 1)]
    return {"exit": done.returncode, "seconds": round(took, 2), "injected": injected, "wrong_verdicts": wrong,
            "lost_lines": sum(1 for line in expected_lines if line not in counts),
            "duplicate_lines": sum(count - 1 for count in counts.values()),
            "in_order": [line for line in printed if line in expected_lines] == expected_lines,
            "stderr": done.stderr[-2000:] if wrong else ""}


def table(results: dict[str, list[dict]]) -> str:
    rows = ["| fault | how often injected (per run) | runs | wrong verdicts | lost lines | duplicate lines |",
            "|---|---|--:|--:|--:|--:|"]
    for fault, trials in results.items():
        injected: Counter = Counter()
        for one in trials:
            injected.update(one["injected"])
        often = ", ".join(f"{name} {count / len(trials):.1f}" for name, count in sorted(injected.items())) or "-"
        rows.append(f"| {fault} (`{FAULTS[fault]}`) | {often} | {len(trials)} | "
                    f"{sum(one['wrong_verdicts'] for one in trials)} | {sum(one['lost_lines'] for one in trials)} | "
                    f"{sum(one['duplicate_lines'] for one in trials)} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5, help="runs per fault (default 5)")
    parser.add_argument("--json", default="fault-matrix.json", metavar="PATH", help="where to write the results")
    parser.add_argument("--faults", nargs="*", choices=sorted(FAULTS), default=list(FAULTS),
                        help="which rows to run (default: all)")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="kubedog-fault-matrix-") as tmp:
        for fault in args.faults:
            results[fault] = [trial(FAULTS[fault], Path(tmp)) for _ in range(args.trials)]
            print(f"{fault}: {[(one['exit'], one['seconds']) for one in results[fault]]}", file=sys.stderr)
    print(table(results))
    Path(args.json).write_text(json.dumps({"time_scale": DEFAULT_TIME_SCALE, "lines": LINES, "faults": FAULTS,
                                           "results": results}, indent=2))
    failures = sum(one["wrong_verdicts"] + one["lost_lines"] + one["duplicate_lines"] + (not one["in_order"])
                   for trials in results.values() for one in trials)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
