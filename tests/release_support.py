"""Fake releases for the install script's and the GitHub Action's tests (served by tests/conftest.py's http_root)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def publish(directory: Path, assets: dict[str, str]) -> None:
    """Write a fake release into `directory`: the assets, and a SHA256SUMS with their correct checksums (one line
    for an asset this release lacks first, as a real release lists every target)."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"{'0' * 64}  kubedog-freebsd-amd64"]
    for name, content in assets.items():
        (directory / name).write_text(content)
        lines.append(f"{hashlib.sha256(content.encode()).hexdigest()}  {name}")
    (directory / "SHA256SUMS").write_text("\n".join(lines) + "\n")
