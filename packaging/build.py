"""Build the `kubedog` binary with PyInstaller: `python packaging/build.py [--onedir]`.

One file (the default): dist/kubedog (dist/kubedog.exe on Windows). One folder (--onedir):
dist/kubedog-onedir/kubedog[.exe]. The commit the binary is built from (`git rev-parse --short HEAD`, else
"unknown") is written to kubedog_ci/_build.py for the build and removed afterwards, so `kubedog --version`
prints `kubedog X.Y.Z (commit abc1234)`. Needs PyInstaller: pip install '.[package]'.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "kubedog.spec"
BUILD_MODULE = ROOT / "kubedog_ci" / "_build.py"
EXE = ".exe" if sys.platform == "win32" else ""


def commit() -> str:
    """The short commit of the work tree; "unknown" outside a git checkout or without git."""
    if env := os.environ.get("KUBEDOG_COMMIT"):
        return env
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and sha else "unknown"


def output(onedir: bool) -> Path:
    return ROOT / "dist" / "kubedog-onedir" / f"kubedog{EXE}" if onedir else ROOT / "dist" / f"kubedog{EXE}"


def build(onedir: bool) -> Path:
    sha = commit()
    print(f"build.py: commit {sha}", flush=True)
    BUILD_MODULE.write_text(f'"""Written by packaging/build.py for one build; not in git."""\n\nCOMMIT = "{sha}"\n')
    env = {**os.environ, "KUBEDOG_ONEDIR": "1" if onedir else "0"}
    try:
        subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                        "--distpath", str(ROOT / "dist"), "--workpath", str(ROOT / "build" / "pyinstaller"),
                        str(SPEC)], cwd=ROOT, env=env, check=True)
    finally:
        BUILD_MODULE.unlink(missing_ok=True)
        shutil.rmtree(BUILD_MODULE.parent / "__pycache__" / "_build", ignore_errors=True)
        for cached in (BUILD_MODULE.parent / "__pycache__").glob("_build.*.pyc"):
            cached.unlink(missing_ok=True)
    return output(onedir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onedir", action="store_true",
                        help="build one folder (dist/kubedog-onedir/) instead of one file")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        binary = build(args.onedir)
    except subprocess.CalledProcessError as err:
        print(f"build.py: PyInstaller failed (exit {err.returncode})", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in binary.parent.rglob("*") if p.is_file()) if args.onedir \
        else binary.stat().st_size
    print(f"build.py: built {binary.relative_to(ROOT)} ({'folder ' if args.onedir else ''}{size / 2**20:.1f} MiB) "
          f"in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
