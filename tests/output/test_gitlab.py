"""The GitLab CI sink (kubedog_ci.output.gitlab): one collapsed section per resource that did not end ready, with
markers cluster text cannot forge."""

from __future__ import annotations

import io
import re

import pytest

from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import EventNotice, LogRecord
from kubedog_ci.engine.target import Target
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.output.gitlab import GitLabSink, section_name
from kubedog_ci.rules import State

DEPLOYMENTS = Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",))
PULL = Diagnosis("deploy/web", "deploy/web FAILED: po/web-1 [app] ImagePullBackOff: Back-off pulling image",
                 "ProgressDeadlineExceeded", "gave up", details=(("pod", "po/web-1"), ("reason", "ImagePullBackOff")))
START = re.compile(r"\x1b\[0Ksection_start:(\d+):([A-Za-z0-9_.-]+)\[collapsed=true\]\r\x1b\[0K(.*)")
END = re.compile(r"\x1b\[0Ksection_end:(\d+):([A-Za-z0-9_.-]+)\r\x1b\[0K")


def result(label: str, state: State, *, diagnosis: Diagnosis | None = None, reason: str = "", message: str = "",
           ignored: bool = False, left_behind: bool = False) -> TargetResult:
    target = Target(DEPLOYMENTS, "default", label.rpartition("/")[2])
    return TargetResult(target, label, state, reason, message, 2.0, diagnosis, ignored=ignored,
                        left_behind=left_behind)


def run(*results: TargetResult, records: tuple[LogRecord | EventNotice, ...] = (),
        timed_out: bool = False) -> list[str]:
    stream = io.StringIO()
    ticks = iter(range(1700000000, 1700000100))
    sink = GitLabSink(stream, clock=lambda: next(ticks) + 0.5)
    for record in records:
        if isinstance(record, LogRecord):
            sink.log(record)
        else:
            sink.event(record)
    sink.summary(Outcome(list(results), timed_out=timed_out))
    return stream.getvalue().split("\n")[:-1]


def sections(lines: list[str]) -> list[tuple[str, str, list[str]]]:
    """(name, header, body) of each section; asserts the markers are balanced, not nested and match."""
    found: list[tuple[str, str, list[str]]] = []
    current: tuple[str, str, int] | None = None
    for line in lines:
        if start := START.fullmatch(line):
            assert current is None, lines
            current = (start[2], start[3], int(start[1]))
            body: list[str] = []
        elif end := END.fullmatch(line):
            assert current is not None and end[2] == current[0] and int(end[1]) >= current[2], lines
            found.append((current[0], current[1], body))
            current = None
        else:
            assert current is not None and "\x1b" not in line and "\r" not in line, line
            body.append(line)
    assert current is None, lines
    return found


@pytest.mark.parametrize(("results", "timed_out", "expected"), [
    pytest.param([result("deploy/web", State.FAILED, diagnosis=PULL)], False,
                 [("kubedog_deploy_web", "deploy/web FAILED: ImagePullBackOff")], id="failed"),
    pytest.param([result("deploy/web", State.FAILED, diagnosis=PULL, ignored=True)], False,
                 [("kubedog_deploy_web", "deploy/web ignored: ImagePullBackOff")], id="ignored"),
    pytest.param([result("deploy/slow", State.PROGRESSING, reason="ReplicaSetUpdated", message="timed out")], True,
                 [("kubedog_deploy_slow", "deploy/slow timed out: ReplicaSetUpdated")], id="timed-out"),
    pytest.param([result("deploy/later", State.PROGRESSING, message="not waited for", left_behind=True)], True,
                 [("kubedog_deploy_later", "deploy/later left-behind")], id="left-behind"),
    pytest.param([result("deploy/ok", State.READY, reason="NewReplicaSetAvailable")], False, [], id="ready"),
    pytest.param([result("prod/deploy/web", State.FAILED, reason="Error"),
                  result("prod_deploy/web", State.FAILED, reason="Error")], False,
                 [("kubedog_prod_deploy_web", "prod/deploy/web FAILED: Error"),
                  ("kubedog_prod_deploy_web_2", "prod_deploy/web FAILED: Error")], id="unique-names"),
])
def test_sections(results: list[TargetResult], timed_out: bool, expected: list[tuple[str, str]]) -> None:
    assert [(name, header) for name, header, _ in sections(run(*results, timed_out=timed_out))] == expected


def test_markers_carry_the_unix_time() -> None:
    lines = run(result("deploy/web", State.FAILED, diagnosis=PULL))
    assert lines[0].startswith("\x1b[0Ksection_start:1700000000:kubedog_deploy_web[collapsed=true]\r\x1b[0K")
    assert lines[-1] == "\x1b[0Ksection_end:1700000001:kubedog_deploy_web\r\x1b[0K"


def test_body_holds_the_diagnosis_logs_and_warnings() -> None:
    records = (LogRecord("deploy/web", "web-1", "app", "starting"),
               EventNotice("deploy/web", "po/web-1", "Warning", "Failed", "pull failed", 2))
    [(_, _, body)] = sections(run(result("deploy/web", State.FAILED, diagnosis=PULL), records=records))
    assert body == [f"  {line}" for line in PULL.lines()] + [
        "    recent Warning events:", "      po/web-1 Failed (x2): pull failed",
        "    last log line:", "      po/web-1[app] | starting"]


@pytest.mark.parametrize("text", [
    "\x1b[0Ksection_end:1:kubedog_deploy_web\r\x1b[0K",
    "\x1b[0Ksection_start:1:evil[collapsed=true]\r\x1b[0Kfake",
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x1b\\",
    "bell\x07 and \x9b31m C1 and \x00 nul",
])
def test_cluster_text_cannot_forge_markers(text: str) -> None:
    diagnosis = Diagnosis("deploy/web", f"deploy/web FAILED: {text}", "Error", text, log_tail=(text,),
                          log_title="last log line")
    lines = run(result("deploy/web", State.FAILED, diagnosis=diagnosis),
                records=(LogRecord("deploy/web", "web-1", "app", text),))
    [(name, header, body)] = sections(lines)
    assert name == "kubedog_deploy_web" and header == "deploy/web FAILED: Error"
    assert all(line.startswith("  ") for line in body)
    assert not any(re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", line) for line in body)


@pytest.mark.parametrize(("label", "taken", "expected"), [
    ("deploy/web", set(), "kubedog_deploy_web"),
    ("sts/db-0.x", set(), "kubedog_sts_db-0.x"),
    ("widget/gëar", set(), "kubedog_widget_g_ar"),
    ("deploy/web", {"kubedog_deploy_web"}, "kubedog_deploy_web_2"),
    ("deploy/web", {"kubedog_deploy_web", "kubedog_deploy_web_2"}, "kubedog_deploy_web_3"),
])
def test_section_name(label: str, taken: set[str], expected: str) -> None:
    assert section_name(label, taken) == expected
    assert expected in taken
