"""The GitHub Actions sink (kubedog_ci.output.github): annotations, groups, the step summary, and text from the
cluster that must not issue workflow commands."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import EventNotice, LogRecord
from kubedog_ci.engine.target import Target
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.output.github import GitHubSink, escape_data, escape_property
from kubedog_ci.output.text import LOG_LINES
from kubedog_ci.rules import State

DEPLOYMENTS = Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",))
HEADLINE = 'deploy/web FAILED: po/web-1 [app] ImagePullBackOff: Back-off pulling image "does-not-exist:1"'
PULL = Diagnosis("deploy/web", HEADLINE, "ProgressDeadlineExceeded", "gave up",
                 details=(("pod", "po/web-1"), ("reason", "ImagePullBackOff"), ("message", "Back-off: 50%, again")))
PULL_MESSAGE = ("deploy/web FAILED: po/web-1 [app] ImagePullBackOff: Back-off pulling image \"does-not-exist:1\"%0A"
                "  pod:     po/web-1%0A  reason:  ImagePullBackOff%0A  message: Back-off: 50%25, again")
HOSTILE = ["::error::pwned", "::set-env name=X::y", "  ::add-mask::x", "##[error]legacy", "\x1b[31m::error::red\x1b[0m",
           "\x1b]0;::error::title\x07", "ok\r::error::carriage"]


def result(name: str, state: State, *, diagnosis: Diagnosis | None = None, reason: str = "", message: str = "",
           duration: float = 2.5, ignored: bool = False, left_behind: bool = False) -> TargetResult:
    target = Target(DEPLOYMENTS, "default", name)
    return TargetResult(target, target.label, state, reason, message, duration, diagnosis, ignored=ignored,
                        left_behind=left_behind)


FAILED = result("web", State.FAILED, diagnosis=PULL, reason="ProgressDeadlineExceeded", message="gave up")
READY = result("api", State.READY, reason="NewReplicaSetAvailable", message="rolled out", duration=0.4)
WAITING = result("slow", State.PROGRESSING, reason="ReplicaSetUpdated", message="timed out: 0 of 1 updated")


def run(*results: TargetResult, records: tuple[object, ...] = (), sources: dict[str, str] | None = None,
        timed_out: bool = False, step_summary: str | None = None) -> list[str]:
    stream = io.StringIO()
    sink = GitHubSink(stream, sources=sources or {}, step_summary=step_summary)
    for record in records:
        if isinstance(record, LogRecord):
            sink.log(record)
        elif isinstance(record, EventNotice):
            sink.event(record)
        else:
            assert isinstance(record, Diagnosis)
            sink.failed(record)
    sink.summary(Outcome(list(results), timed_out=timed_out, duration=3.0))
    return stream.getvalue().splitlines()


def annotations(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("::error", "::warning"))]


@pytest.mark.parametrize(("results", "sources", "timed_out", "expected"), [
    pytest.param([FAILED, READY], {"deploy/web": "k8s/app.yaml:12"}, False,
                 [f"::error file=k8s/app.yaml,line=12,title=deploy/web failed%3A ImagePullBackOff::{PULL_MESSAGE}"],
                 id="failed-with-its-manifest-line"),
    pytest.param([FAILED], {}, False, [f"::error title=deploy/web failed%3A ImagePullBackOff::{PULL_MESSAGE}"],
                 id="failed-from-the-cluster-no-file"),
    pytest.param([FAILED], {"deploy/web": "-"}, False,
                 [f"::error file=-,title=deploy/web failed%3A ImagePullBackOff::{PULL_MESSAGE}"],
                 id="source-without-a-line"),
    pytest.param([FAILED], {"deploy/web": "C:\\a b,c%d.yaml:7"}, False,
                 [f"::error file=C%3A\\a b%2Cc%25d.yaml,line=7,title=deploy/web failed%3A ImagePullBackOff::"
                  f"{PULL_MESSAGE}"], id="properties-escaped"),
    pytest.param([result("web", State.FAILED, diagnosis=PULL, ignored=True)], {}, False,
                 [f"::warning title=deploy/web failed (ignored)%3A ImagePullBackOff::{PULL_MESSAGE}"],
                 id="ignored-failure-is-a-warning"),
    pytest.param([result("web", State.FAILED, reason="NoActivity", message="no activity for 60s")], {}, False,
                 ["::error title=deploy/web failed%3A NoActivity::NoActivity: no activity for 60s"],
                 id="failed-without-diagnosis"),
    pytest.param([WAITING], {"deploy/slow": "app.yaml:30"}, True,
                 ["::error file=app.yaml,line=30,title=deploy/slow timed out::timed out: 0 of 1 updated"],
                 id="timed-out"),
    pytest.param([result("slow", State.PROGRESSING, message="0 of 1 updated")], {}, False, [],
                 id="progressing-when-interrupted"),
    pytest.param([result("slow", State.PROGRESSING, message="not waited for", left_behind=True)], {}, True, [],
                 id="left-behind"),
    pytest.param([READY], {"deploy/api": "app.yaml:1"}, False, [], id="ready"),
])
def test_annotations(results: list[TargetResult], sources: dict[str, str], timed_out: bool,
                     expected: list[str]) -> None:
    assert annotations(run(*results, sources=sources, timed_out=timed_out)) == expected


@pytest.mark.parametrize(("text", "data", "prop"), [
    ("plain", "plain", "plain"),
    ("100%", "100%25", "100%25"),
    ("a\nb\r\nc", "a%0Ab%0D%0Ac", "a%0Ab%0D%0Ac"),
    ("k8s/a.yaml:3, b", "k8s/a.yaml:3, b", "k8s/a.yaml%3A3%2C b"),
    ("%0A", "%250A", "%250A"),
])
def test_escaping(text: str, data: str, prop: str) -> None:
    assert escape_data(text) == data
    assert escape_property(text) == prop


def test_the_last_reported_diagnosis_is_used_when_the_outcome_has_none() -> None:
    later = Diagnosis("deploy/web", "deploy/web FAILED: Error: boom", "Error", "boom")
    lines = run(result("web", State.FAILED, reason="Error"), records=(PULL, later))
    assert annotations(lines) == ["::error title=deploy/web failed%3A Error::deploy/web FAILED: Error: boom"]


def test_a_group_per_resource_that_did_not_end_ready() -> None:
    records = (LogRecord("deploy/web", "web-1", "app", "starting"),
               EventNotice("deploy/web", "po/web-1", "Normal", "Pulling", "pulling image"),
               EventNotice("deploy/slow", "po/slow-1", "Warning", "FailedMount", "no volume"),
               EventNotice("deploy/slow", "po/slow-1", "Warning", "FailedMount", "no volume", 3))
    lines = run(FAILED, READY, WAITING, records=records, timed_out=True)
    starts = [line for line in lines if line.startswith("::group::")]
    assert starts == ["::group::deploy/web — FAILED", "::group::deploy/slow — timed out"]
    assert lines.count("::endgroup::") == len(starts)
    depth = 0
    for line in lines:
        depth += line.startswith("::group::") - (line == "::endgroup::")
        assert depth in (0, 1), lines
    web = lines[lines.index(starts[0]) + 2:lines.index("::endgroup::") - 1]
    assert web == [f"  {line}" for line in PULL.lines()] + ["    last log line:", "      po/web-1[app] | starting"]
    slow = lines[lines.index(starts[1]) + 2:]
    assert slow[:6] == ["  deploy/slow timed out", "    reason: ReplicaSetUpdated",
                        "    message: timed out: 0 of 1 updated", "    recent Warning events:",
                        "      po/slow-1 FailedMount (x3): no volume", slow[5]]
    assert slow[5].startswith("::") and slow[6] == "::endgroup::"


def test_logs_kept_per_resource_are_bounded() -> None:
    records = tuple(LogRecord("deploy/web", "web-1", "app", f"line {n}") for n in range(LOG_LINES + 30))
    lines = run(FAILED, records=records)
    logs = [line for line in lines if "po/web-1[app] | line " in line]
    assert len(logs) == LOG_LINES and logs[-1].endswith(f"line {LOG_LINES + 29}")
    assert f"    last {LOG_LINES} log lines:" in lines


def test_text_from_the_cluster_cannot_issue_workflow_commands() -> None:
    hostile = Diagnosis("deploy/web", "deploy/web FAILED: Error:\n::error::headline", "Error", "::error::m",
                        details=(("message", "::set-output name=a::b"),), log_title="last log lines",
                        log_tail=tuple(HOSTILE))
    records = (*(LogRecord("deploy/web", "web-1", "app", text) for text in HOSTILE),
               EventNotice("deploy/web", "po/web-1", "Warning", "BackOff", "x\n::error::event\x1b[2J"))
    lines = run(result("web", State.FAILED, diagnosis=hostile), result("slow", State.FAILED, diagnosis=hostile),
                records=records, sources={"deploy/web": "a.yaml:1\n::error::file"})
    assert not any("\x1b" in line or "\x07" in line for line in lines)
    ours = re.compile(r"::(error|warning|group|endgroup|stop-commands)[ :]")
    stopped = None
    for line in lines:
        if stopped:  # commands are off: only our token turns them back on
            assert line.startswith("  ") or line == f"::{stopped}::", line
            stopped = None if line == f"::{stopped}::" else stopped
        elif line.startswith("::stop-commands::"):
            stopped = line.removeprefix("::stop-commands::")
            assert re.fullmatch(r"[0-9a-f]{32}", stopped)
        else:
            assert ours.match(line), line
            assert "##[" not in line.split("::", 2)[1], line  # properties hold no legacy command
    assert stopped is None
    assert not any(line.startswith(text) for line in lines for text in ("::error::", "::set-env", "::set-output"))
    tokens = [line for line in lines if line.startswith("::stop-commands::")]
    assert len(tokens) == len(set(tokens)) == 3  # the run's stream (from the first record), and each group


def test_commands_stop_at_the_first_record_and_resume_at_the_summary() -> None:
    stream = io.StringIO()
    sink = GitHubSink(stream, sources={})
    sink.notice("watching")
    first = stream.getvalue().splitlines()
    assert len(first) == 1 and re.fullmatch(r"::stop-commands::[0-9a-f]{32}", first[0])
    sink.log(LogRecord("deploy/web", "web-1", "app", "starting"))
    assert stream.getvalue().splitlines() == first  # once
    sink.summary(Outcome([FAILED], duration=3.0))
    lines = stream.getvalue().splitlines()
    assert lines[1] == f"::{first[0].removeprefix('::stop-commands::')}::" and lines[2].startswith("::error ")


def test_step_summary_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("earlier step\n")
    lines = run(FAILED, READY, result("gone", State.PROGRESSING, message="not waited for", left_behind=True),
                result("opt", State.FAILED, reason="Error", message="x|y", ignored=True), step_summary=str(path))
    expected = "\n".join([
        "earlier step",
        "### kubedog: 1 failed (3.0s)",
        "",
        "| Resource | Verdict | Duration | Reason |",
        "|---|---|---|---|",
        "| deploy/web | ❌ FAILED | 2.5s | ImagePullBackOff |",
        "| deploy/api | ✅ ready | 400ms | NewReplicaSetAvailable |",
        "| deploy/gone | ⏭️ left-behind | 2.5s | - |",
        "| deploy/opt | ⚠️ ignored | 2.5s | Error |",
        "",
        '- deploy/web FAILED: po/web-1 \\[app\\] ImagePullBackOff: Back-off pulling image "does-not-exist:1"',
        "",
        "",
    ])
    assert path.read_text() == expected, path.read_text()
    assert not any("summary" in line for line in lines)


@pytest.mark.parametrize(("outcome", "heading"), [
    (Outcome([READY], duration=1.0), "### kubedog: all ready (1.0s)"),
    (Outcome([WAITING], timed_out=True, duration=30.0), "### kubedog: timed out (30.0s)"),
    (Outcome([WAITING], stopped_by=2, duration=5.0), "### kubedog: interrupted (5.0s)"),
    (Outcome([WAITING], cluster_error="connection refused", duration=5.0),
     "### kubedog: cluster error: connection refused (5.0s)"),
])
def test_step_summary_heading(tmp_path: Path, outcome: Outcome, heading: str) -> None:
    path = tmp_path / "summary.md"
    GitHubSink(io.StringIO(), sources={}, step_summary=str(path)).summary(outcome)
    assert path.read_text().splitlines()[0] == heading


def test_a_step_summary_that_cannot_be_written_is_a_warning(tmp_path: Path) -> None:
    lines = run(READY, step_summary=str(tmp_path / "missing" / "summary.md"))
    assert len(lines) == 1 and lines[0].startswith("::warning::cannot write the step summary ")


def test_all_ready_prints_nothing() -> None:
    assert run(READY) == []
