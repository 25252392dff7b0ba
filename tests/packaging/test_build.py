"""packaging/build.py's pieces that need no PyInstaller run (.ci/run builds and smoke-tests the binary itself):
the commit it stamps, and what `kubedog --version` prints with and without that stamp."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

from kubedog_ci import __version__, version_line
from kubedog_ci.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def load_build_script() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("kubedog_build_script", ROOT / "packaging" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_version_is_plain_outside_a_binary() -> None:
    assert not (ROOT / "kubedog_ci" / "_build.py").exists(), "build.py removes kubedog_ci/_build.py after a build"
    assert version_line() == f"kubedog {__version__}"


def test_version_names_the_commit_a_binary_was_built_from(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "kubedog_ci._build", types.SimpleNamespace(COMMIT="abc1234"))
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"kubedog {__version__} (commit abc1234)"


def test_commit_is_unknown_without_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    build = load_build_script()
    monkeypatch.delenv("KUBEDOG_COMMIT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no git to be found
    assert build.commit() == "unknown"
    monkeypatch.setenv("KUBEDOG_COMMIT", "feedbee")
    assert build.commit() == "feedbee"


def test_the_stamp_stays_out_of_git_and_the_demo_manifests_go_into_the_binary() -> None:
    assert "kubedog_ci/_build.py" in (ROOT / ".gitignore").read_text().splitlines()
    spec = (ROOT / "packaging" / "kubedog.spec").read_text()
    assert '"kubedog_ci/examples/demo"' in spec and 'collect_submodules("kubedog_ci")' in spec
    assert sorted((ROOT / "examples" / "demo").glob("*.yaml")), "the demo's manifests"
