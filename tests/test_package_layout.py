"""pyproject.toml lists the packages by hand (so examples/ can ship as kubedog_ci.examples): a new package
directory that is not listed would be missing from the wheel and the binary."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_directory_and_the_examples_are_in_the_wheel() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "kubedog_ci").rglob("__init__.py")}
    assert on_disk <= listed, sorted(on_disk - listed)
    examples = {"kubedog_ci.examples." + ".".join(d.relative_to(ROOT / "examples").parts)
                for d in (ROOT / "examples").rglob("*") if d.is_dir()}
    assert examples <= listed, sorted(examples - listed)
    assert setuptools["package-dir"] == {"kubedog_ci.examples": "examples"}


def test_the_engine_compares_no_kind_name() -> None:
    """What the engine knows of a kind is its profile's (rules/<kind>.py): no kind's name is written in engine/,
    but as the data of the related types it watches."""
    import ast

    from kubedog_ci.rules import PROFILES

    kinds = {kind for _, kind in PROFILES}
    for path in (ROOT / "kubedog_ci" / "engine").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare | ast.Dict | ast.Set | ast.Tuple | ast.List) and not (
                    path.name == "state.py" and isinstance(node, ast.Dict)):
                literals = {child.value for child in ast.walk(node) if isinstance(child, ast.Constant)}
                assert not literals & kinds, f"{path.name}:{node.lineno} names {sorted(literals & kinds)}"
