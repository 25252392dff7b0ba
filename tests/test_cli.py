"""The command line's frame: version, help for every command, usage errors, and `kubedog sim serve`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from kubedog_ci import __version__
from kubedog_ci.cli.main import build_parser, main

KUBEDOG = [sys.executable, "-m", "kubedog_ci.cli.main"]


def _subcommand_paths(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _subcommand_paths(sub, (*prefix, name))


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"kubedog {__version__}"


@pytest.mark.parametrize("path", [(), *_subcommand_paths(build_parser())], ids=lambda p: " ".join(p) or "kubedog")
def test_every_command_has_help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*path, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: kubedog")
    assert len(out.splitlines()) > 3


@pytest.mark.parametrize(("argv", "needle"), [
    (["no-such-command"], "invalid choice"),
    (["sim"], "required"),
    (["sim", "serve", "--faults", "bogus=1"], "unknown fault 'bogus=1'"),
    (["sim", "serve", "--time-scale", "0"], "--time-scale must be greater than 0"),
    (["sim", "serve", "--deny", "get"], "must be VERB:RESOURCE[:NAMESPACE]"),
    (["sim", "serve", "--clock-offset", "5x"], "--clock-offset: invalid duration '5x'"),
    (["rollout", "track", "deploy/web", "--max-log-streams", "0"], "--max-log-streams must be at least 1"),
    (["follow", "deploy/web", "--max-log-streams", "-1"], "--max-log-streams must be at least 1"),
])
def test_usage_errors_exit_2_with_one_message(argv: list[str], needle: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: kubedog" in capsys.readouterr().out


def test_sim_serve_writes_kubeconfig_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc" / "config"
    proc = subprocess.Popen([*KUBEDOG, "sim", "serve", "--kubeconfig-out", str(kubeconfig), "--time-scale", "0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("kubedog sim: serving the Kubernetes API at http://127.0.0.1:")
        assert str(kubeconfig) in line
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == url
        api = config.new_client_from_config(config_file=str(kubeconfig))
        names = [n.metadata.name for n in client.CoreV1Api(api).list_node().items]
        assert names == ["sim-worker", "sim-worker2", "sim-worker3"]
        api.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_version_and_help_do_not_import_the_kubernetes_client() -> None:
    """Start-up matters in CI: the client package takes ~0.3 s to import and no command needs it for --help."""
    import subprocess
    import sys

    for flag in ("--version", "--help"):
        code = ("import sys, contextlib, io\nfrom kubedog_ci.cli.main import main\n"
                f"with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()): main([{flag!r}])\n"
                "print(sorted(m for m in sys.modules if m == 'kubernetes' or m.startswith('kubedog_ci.sim')))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == "[]", (flag, done.stdout, done.stderr)
