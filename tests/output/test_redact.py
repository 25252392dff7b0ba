"""Secrets out of every output (kubedog_ci.output.redact, and connect() adding the kubeconfig's credentials), and
no line of any sink that cluster text could turn into a CI workflow command."""

from __future__ import annotations

import argparse
import base64
import io
import re
import time
from pathlib import Path

import pytest
import yaml

from kubedog_ci.cli.report_flags import add_report_flags, build_sink
from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, StatusChange
from kubedog_ci.engine.target import Target
from kubedog_ci.kube.connect import connect
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.output.redact import RedactingSink
from kubedog_ci.output.text import clean
from kubedog_ci.rules import State
from kubedog_ci.secrets import SECRETS, Redactor

DEPLOYMENTS = Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",))
WEB = Target(DEPLOYMENTS, "default", "web")


def test_a_secret_s_values_are_replaced_wherever_they_appear() -> None:
    redactor = Redactor()
    encoded = base64.b64encode(b"b64-value-5678").decode()
    redactor.add_secret({"kind": "Secret", "stringData": {"password": "plain-1234", "short": "abc"},
                         "data": {"key": encoded, "binary": base64.b64encode(b"\xff\xfe\xfd\xfc").decode()}})
    written = base64.b64encode(b"plain-1234").decode()
    text = f"token=plain-1234 {encoded} b64-value-5678 as stored: {written} abc"
    assert redactor.redact(text) == "token=[redacted] [redacted] [redacted] as stored: [redacted] abc"
    redactor.add_secret({"kind": "ConfigMap", "data": {"mode": "not-a-secret"}})
    assert redactor.redact("not-a-secret") == "not-a-secret"


def test_a_multi_line_value_is_hidden_whole_and_line_by_line() -> None:
    redactor = Redactor()
    redactor.add("-----BEGIN KEY-----\nMHcCAQEEIL0ng\n-----END KEY-----\n")
    assert redactor.redact("| MHcCAQEEIL0ng") == "| [redacted]"
    assert redactor.redact("a value containing another: plain-12345") == "a value containing another: plain-12345"
    redactor.add("plain-1234")
    redactor.add("plain-12345")
    assert redactor.redact("x plain-12345 y") == "x [redacted] y"


def test_every_record_is_redacted_before_the_sink_sees_it() -> None:
    redactor = Redactor()
    redactor.add("TOPSECRET")
    seen: list[object] = []

    class Recorder:
        def __getattr__(self, name: str):  # every Sink method records what it is given
            return seen.append

    sink = RedactingSink(Recorder(), redactor)  # type: ignore[arg-type]
    text = "x TOPSECRET y"
    diagnosis = Diagnosis("deploy/web", text, text, text, details=(("message", text),), log_title=text,
                          log_tail=(text,), warnings=(text,))
    sink.applied(Applied("Secret", "default", "s", "created", text))
    sink.status(StatusChange("deploy/web", State.PROGRESSING, text, text, (text,)))
    sink.event(EventNotice("deploy/web", "po/web-1", "Warning", text, text))
    sink.log(LogRecord("deploy/web", "web-1", "app", text))
    sink.failed(diagnosis)
    sink.notice(text)
    sink.detail(text)
    sink.progress([Progress("deploy/web", State.PROGRESSING, 0, 1, 0, 1.0, text)])
    sink.summary(Outcome([TargetResult(WEB, "deploy/web", State.FAILED, text, text, 1.0, diagnosis, (text,))],
                         cluster_error=text))
    assert len(seen) == 9
    assert "TOPSECRET" not in repr(seen) and repr(seen).count("[redacted]") == 28


def write_kubeconfig(path: Path, user: dict) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    return str(path)


def test_connect_hides_the_kubeconfig_credentials(tmp_path: Path) -> None:
    key = "-----BEGIN EC PRIVATE KEY-----\nkdci-KEYDATA-0001\n-----END EC PRIVATE KEY-----\n"
    (tmp_path / "token").write_text("kdci-TOKENFILE-0002\n")
    connect(write_kubeconfig(tmp_path / "a", {"token": "kdci-TOKEN-0003", "client-key-data":
                                              base64.b64encode(key.encode()).decode()}), None)
    connect(write_kubeconfig(tmp_path / "b", {"tokenFile": str(tmp_path / "token")}), None)
    connect(write_kubeconfig(tmp_path / "c", {"username": "admin", "password": "kdci-PASSWORD-0004"}), None)
    for value in ("kdci-KEYDATA-0001", "kdci-TOKENFILE-0002", "kdci-TOKEN-0003", "kdci-PASSWORD-0004"):
        assert SECRETS.redact(f"echo {value}") == "echo [redacted]", value


# --- no line of ours can be forged into a workflow command -----------------------------------------------------

HOSTILE = " ".join(["::error::forged", "\n::error::newline", "\r::warning::return", "x\r\n##[error]crlf",
                    "\u2028::error::separator", "\x85::error::nel", "\x0b::error::vt", "\x0c##[error]ff",
                    "\x1b[2K\r::error::erased", "\x1b]0;::error::title\x07", "\n  ::add-mask::indented"])
OURS = re.compile(r"::(stop-commands::[0-9a-f]{32}|[0-9a-f]{32}::$|(error|warning) |group::|endgroup::$)")


def feed(*flags: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Every record type, each text field hostile, through the sinks `flags` ask for; stdout and stderr."""
    parser = argparse.ArgumentParser()
    add_report_flags(parser)
    args = parser.parse_args(["--status-interval", "1ms", *flags])
    stream = io.StringIO()
    sink = build_sink(args, {"deploy/web": "app.yaml:3"}, stream=stream, environ={})
    diagnosis = Diagnosis("deploy/web", f"deploy/web FAILED: {HOSTILE}", HOSTILE, HOSTILE,
                          details=(("reason", HOSTILE), ("message", HOSTILE)), log_title="last 2 log lines",
                          log_tail=(HOSTILE, HOSTILE), warnings=(f"po/web-1 BackOff: {HOSTILE}",))
    sink.applied(Applied("Deployment", "default", "web", "created", f"deployment.apps/web {HOSTILE}"))
    sink.notice(HOSTILE)
    sink.detail(HOSTILE)
    for state in State:
        sink.status(StatusChange("deploy/web", state, HOSTILE, HOSTILE, (HOSTILE,)))
    sink.event(EventNotice("deploy/web", "po/web-1", "Warning", HOSTILE, HOSTILE, 2))
    sink.log(LogRecord("deploy/web", "web-1", "app", HOSTILE))
    rows = [Progress("deploy/web", State.PROGRESSING, 0, 1, 3, 5.0, HOSTILE)]
    sink.progress(rows)
    time.sleep(0.01)
    sink.progress(rows)
    sink.failed(diagnosis)
    results = [TargetResult(WEB, "deploy/web", State.FAILED, HOSTILE, HOSTILE, 1.0, diagnosis),
               TargetResult(Target(DEPLOYMENTS, "default", "api"), "deploy/api", State.PROGRESSING, HOSTILE,
                            HOSTILE, 1.0, warnings=(HOSTILE,))]
    sink.summary(Outcome(results, timed_out=True, cluster_error=HOSTILE, duration=2.0))
    return stream.getvalue() + capsys.readouterr().err


@pytest.mark.parametrize("flags", [
    ("--color", "never"), ("--color", "always", "-v"), ("--raw-logs", "-v"), ("-q",), ("--ci", "gitlab", "-v"),
    ("--ci", "github", "-v"), ("--ci", "github", "--raw-logs", "--color", "always"), ("-o", "json", "--ci", "github"),
], ids=" ".join)
def test_no_line_from_cluster_text_can_issue_a_workflow_command(flags: tuple[str, ...],
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    output = feed(*flags, capsys=capsys)
    assert "forged" in output
    stopped = None
    for line in output.splitlines():  # every line break a runner (or anything else) may split at
        visible = clean(line).lstrip()
        if stopped is None and "github" in flags and "json" not in flags:  # JSON lines go to stdout, the rest not
            assert "##[" not in line or visible.startswith("::"), line  # the legacy form counts anywhere
        if visible.startswith(("::", "##[")):
            assert OURS.match(visible) and "github" in flags, line
            if visible.startswith("::stop-commands::"):
                stopped = visible.removeprefix("::stop-commands::")
            elif visible == f"::{stopped}::":
                stopped = None
    if "--raw-logs" in flags:
        assert "\x1b[2K" in output and "\x1b]0;" in output
    elif "gitlab" not in flags:
        assert "\x1b[2K" not in output and "\x1b]" not in output
