"""The terminal sink (kubedog_ci.output.terminal), the engine's first Sink: line formats, colors, summary."""

from __future__ import annotations

import io

import pytest
from colorama import Fore, Style

from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import EventNotice, LogRecord, StatusChange
from kubedog_ci.engine.target import Target
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.output.terminal import PALETTE, TerminalSink, format_duration, use_color
from kubedog_ci.rules import State

DEPLOYMENTS = Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",))


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def sink(color: bool = False) -> tuple[TerminalSink, io.StringIO]:
    stream = io.StringIO()
    return TerminalSink(stream, color=color), stream


def test_plain_lines() -> None:
    out, stream = sink()
    out.log(LogRecord("deploy/web", "web-7c9f-x2k", "app", "listening on :8080"))
    out.status(StatusChange("deploy/web", State.PROGRESSING, "LessAvailable", "1 of 2 available"))
    out.status(StatusChange("deploy/web", State.READY, "Paused", 'deployment "web" is paused',
                            ('deployment "web" is paused: it does not progress',)))
    out.status(StatusChange("deploy/web", State.FAILED, "Error", "left to the diagnosis"))
    out.event(EventNotice("deploy/web", "po/web-7c9f-x2k", "Warning", "BackOff", "Back-off restarting", 3))
    out.event(EventNotice("job/migrate", "job/migrate", "Warning", "BackoffLimitExceeded", "gave up"))
    out.notice("cannot watch events; continuing without events")
    assert stream.getvalue().splitlines() == [
        "deploy/web po/web-7c9f-x2k[app] | listening on :8080",
        "deploy/web progressing: 1 of 2 available",
        'deploy/web ready: deployment "web" is paused',
        'deploy/web warning: deployment "web" is paused: it does not progress',
        "deploy/web po/web-7c9f-x2k Warning BackOff (x3): Back-off restarting",
        "job/migrate Warning BackoffLimitExceeded: gave up",
        "kubedog: cannot watch events; continuing without events",
    ]


def test_log_lines_off_a_terminal_are_held_until_the_engine_flushes_or_another_record_comes() -> None:
    out, stream = sink()
    out.log(LogRecord("deploy/web", "web-1", "app", "one"))
    out.log(LogRecord("deploy/web", "web-1", "app", "two \x1b[31mred\x1b[0m"))
    assert stream.getvalue() == ""
    out.flush()
    assert stream.getvalue() == "deploy/web po/web-1[app] | one\ndeploy/web po/web-1[app] | two red\n"
    out.log(LogRecord("deploy/web", "web-1", "app", "three"))
    out.notice("after the line")
    assert stream.getvalue().splitlines()[-2:] == ["deploy/web po/web-1[app] | three", "kubedog: after the line"]
    out.log(LogRecord("deploy/web", "web-1", "app", "last"))
    out.summary(Outcome([], duration=1.0))
    assert "deploy/web po/web-1[app] | last\n\nRESOURCE" in stream.getvalue()


def test_a_resource_keeps_one_color_and_failures_are_red() -> None:
    out, stream = sink(color=True)
    out.log(LogRecord("deploy/web", "a", "app", "one"))
    out.log(LogRecord("deploy/web", "b", "app", "two"))
    out.failed(Diagnosis("deploy/web", "deploy/web FAILED: boom", "Error", "boom"))
    first, second, _, failed = stream.getvalue().splitlines()
    assert first[:5] == second[:5] and first[:5] in PALETTE
    assert failed == Fore.RED + Style.BRIGHT + "deploy/web FAILED: boom" + Style.RESET_ALL


@pytest.mark.parametrize(("mode", "stream", "env", "expected"), [
    ("auto", Tty(), {}, True),
    ("auto", Tty(), {"NO_COLOR": "1"}, False),
    ("auto", Tty(), {"NO_COLOR": ""}, True),
    ("auto", io.StringIO(), {}, False),
    ("always", io.StringIO(), {"NO_COLOR": "1"}, True),
    ("never", Tty(), {}, False),
])
def test_when_colors_are_on(mode: str, stream: io.StringIO, env: dict, expected: bool) -> None:
    assert use_color(mode, stream, env) is expected


def test_summary_table() -> None:
    out, stream = sink()
    target = Target(DEPLOYMENTS, "prod", "web")
    outcome = Outcome([TargetResult(target, "deploy/web", State.READY, "RolloutComplete", "", 12.34),
                       TargetResult(target, "deploy/api-server", State.FAILED, "ImagePullBackOff", "", 75.0),
                       TargetResult(target, "deploy/x", State.PROGRESSING, "", "timed out", 600.0)],
                      timed_out=False, stopped_by=15, duration=80.0)
    out.summary(outcome)
    assert stream.getvalue().splitlines() == [
        "",
        "RESOURCE           VERDICT      DURATION  REASON",
        "deploy/web         ready        12.3s     RolloutComplete",
        "deploy/api-server  FAILED       1m15s     ImagePullBackOff",
        "deploy/x           progressing  10m00s    -",
        "interrupted by SIGTERM after 1m20s",
    ]


@pytest.mark.parametrize(("seconds", "text"), [(0.25, "250ms"), (9.99, "10.0s"), (61, "1m01s"), (3725, "1h02m")])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
