"""Benchmark: how long `kubedog --version` and `kubedog --help` take to start, per way of installing it.

Start-up matters in CI, where kubedog runs in every job. Measured, when present: the pip-installed entry point
(the `kubedog` script beside this interpreter), the same with the kubernetes package imported eagerly (what the
CLI's lazy imports save), and the PyInstaller binaries in dist/: one file (`python packaging/build.py`,
dist/kubedog) and one folder (`--onedir`, dist/kubedog-onedir/kubedog). Wall time, median of RUNS runs after
one warm-up run (so the page cache is warm, as on a CI runner after the download).

    python tests/bench/bench_startup.py [--runs 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXE = ".exe" if sys.platform == "win32" else ""
FLAGS = ("--version", "--help")
EAGER = ("import sys, kubernetes.client, kubernetes.config\nfrom kubedog_ci.cli.main import main\n"
         "sys.exit(main(sys.argv[1:]))")


def candidates() -> dict[str, list[str]]:
    """Each way of running kubedog that exists here: label -> command."""
    found: dict[str, list[str]] = {}
    script = shutil.which("kubedog", path=str(Path(sys.executable).parent)) or shutil.which("kubedog")
    if script:
        found["pip entry point"] = [script]
        found["pip, kubernetes imported eagerly"] = [sys.executable, "-c", EAGER]
    for label, binary in (("binary, one file", ROOT / "dist" / f"kubedog{EXE}"),
                          ("binary, one folder", ROOT / "dist" / "kubedog-onedir" / f"kubedog{EXE}")):
        if binary.is_file():
            found[label] = [str(binary)]
    return found


def wall_times(command: list[str], runs: int) -> list[float]:
    """Wall time in seconds of each of `runs` runs of `command`, after one warm-up run (so the page cache is
    warm); tests/bench/run.py measures its start-up table with it too."""
    times = []
    for attempt in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=60)
        if attempt:
            times.append(time.perf_counter() - started)
    return times


def measure(command: list[str], runs: int) -> float:
    """Median wall time in seconds of `command` over `runs` runs, after one warm-up run."""
    return statistics.median(wall_times(command, runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    found = candidates()
    if not found:
        print("bench_startup: no kubedog found (pip install . or python packaging/build.py)", file=sys.stderr)
        return 1
    results = {label: {flag: measure([*command, flag], args.runs) for flag in FLAGS}
               for label, command in found.items()}
    width = max(map(len, results))
    print(f"median of {args.runs} runs, {sys.platform}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"| {'kubedog':<{width}} | --version | --help |")
    print(f"|{'-' * (width + 2)}|----------:|-------:|")
    for label, figures in results.items():
        print(f"| {label:<{width}} | {figures['--version'] * 1000:>6.0f} ms | {figures['--help'] * 1000:>3.0f} ms |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
