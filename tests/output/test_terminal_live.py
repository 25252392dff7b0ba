"""The terminal sink's modes: the live status block (rendered through a terminal emulator, pyte), the periodic
table off a terminal, quiet and verbose, when colors are on, and text from the cluster made harmless."""

from __future__ import annotations

import io

import pyte
import pytest

from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, StatusChange
from kubedog_ci.engine.target import Target
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.output.terminal import TerminalSink, use_color
from kubedog_ci.output.text import one_line
from kubedog_ci.rules import State

DEPLOYMENTS = Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",))
COLUMNS, LINES = 100, 30
HOSTILE = ("\x1b[2J", "\x1b]0;pwned\x07", "\x1b[10A", "\x1b[H", "\x1bc", "\r\x1b[K", "\n\x1b[1A")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """shutil.get_terminal_size reads these first: the size of the emulated screen."""
    monkeypatch.setenv("COLUMNS", str(COLUMNS))
    monkeypatch.setenv("LINES", str(LINES))


def rows(web: State = State.PROGRESSING, age: float = 3.0) -> list[Progress]:
    return [Progress("deploy/web", web, 1, 2, 0, age, "LessAvailable"),
            Progress("job/migrate", State.READY, 1, 1, 2, 65.0, "Complete"),
            Progress("svc/lb", State.PROGRESSING, None, None, 0, 3.0, "")]


def outcome() -> Outcome:
    target = Target(DEPLOYMENTS, "prod", "web")
    return Outcome([TargetResult(target, "deploy/web", State.READY, "RolloutComplete", "", 4.0),
                    TargetResult(target, "job/migrate", State.READY, "Complete", "", 2.0)], duration=4.0)


def terminal() -> tuple[pyte.Screen, pyte.Stream]:
    """A screen that starts a new line at LF, as a terminal behind a tty (onlcr) does."""
    screen = pyte.Screen(COLUMNS, LINES)
    screen.set_mode(pyte.modes.LNM)
    return screen, pyte.Stream(screen)


def screen_of(output: str) -> list[str]:
    screen, stream = terminal()
    stream.feed(output)
    return [line.rstrip() for line in screen.display]


def content(display: list[str]) -> list[str]:
    """The screen's lines up to its last non-blank one."""
    last = max((i for i, line in enumerate(display) if line), default=-1)
    return display[:last + 1]


def live_sink(clock: Clock, **options: object) -> tuple[TerminalSink, io.StringIO]:
    stream = io.StringIO()
    return TerminalSink(stream, live=True, clock=clock, **options), stream  # type: ignore[arg-type]


def log(text: str, pod: str = "web-1") -> LogRecord:
    return LogRecord("deploy/web", pod, "app", text)


# --- live -------------------------------------------------------------------------------------------------------


def test_the_live_block_stays_below_the_log_lines_and_goes_at_the_summary() -> None:
    clock = Clock()
    out, stream = live_sink(clock)
    out.log(log("before the block"))
    out.progress(rows())
    for n in range(5):
        out.log(log(f"line {n}"))
    clock.now += 1
    out.progress(rows(age=4.0))
    out.status(StatusChange("deploy/web", State.READY, "RolloutComplete", "2 of 2 available"))
    shown = content(screen_of(stream.getvalue()))
    assert shown[:7] == ["deploy/web po/web-1[app] | before the block",
                         *(f"deploy/web po/web-1[app] | line {n}" for n in range(5)),
                         "deploy/web ready: 2 of 2 available"]
    block = shown[7:]
    assert [line.split() for line in block] == [
        ["RESOURCE", "STATE", "READY", "RESTARTS", "AGE", "REASON"],
        ["deploy/web", "progressing", "1/2", "0", "4s", "LessAvailable"],
        ["job/migrate", "ready", "1/1", "2", "1m05s", "Complete"],
        ["svc/lb", "progressing", "-", "0", "3s", "-"]]

    out.summary(outcome())
    shown = content(screen_of(stream.getvalue()))
    assert not any(line.startswith("RESOURCE  ") and "STATE" in line for line in shown), shown
    assert shown[7:] == ["", "RESOURCE     VERDICT  DURATION  REASON",
                         "deploy/web   ready    4.0s      RolloutComplete", "job/migrate  ready    2.0s      Complete"]


def test_the_block_is_at_the_bottom_of_a_full_screen_and_lines_scroll_above_it() -> None:
    out, stream = live_sink(Clock())
    out.progress(rows())
    for n in range(60):
        out.log(log(f"line {n}"))
    display = screen_of(stream.getvalue())
    assert display[-1] == ""  # the cursor's line, below the block
    assert display[-5].startswith("RESOURCE") and display[-2].startswith("svc/lb")
    above = display[:-5]
    assert above == [f"deploy/web po/web-1[app] | line {n}" for n in range(60 - len(above), 60)]


def test_redraws_at_most_about_once_a_second_in_one_write_each() -> None:
    clock = Clock()
    writes: list[str] = []
    stream = io.StringIO()
    stream.write = writes.append  # type: ignore[method-assign]
    out = TerminalSink(stream, live=True, clock=clock)
    out.progress(rows())
    clock.now += 0.1
    out.progress(rows(age=3.1))  # too soon: kept for the next draw
    clock.now += 1
    out.progress(rows(age=4.1))
    out.log(log("one line"))
    assert len(writes) == 3
    assert writes[1].startswith("\r\x1b[4A\x1b[J") and "4s" in writes[1]
    assert writes[2].startswith("\r\x1b[4A\x1b[J" + "deploy/web po/web-1[app] | one line\n")
    assert writes[2].endswith("svc/lb       progressing  -      0         3s     -\n")


def test_block_lines_are_cut_to_the_width_and_the_rows_to_the_height(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("LINES", "6")
    many = [Progress(f"deploy/n{n}-{'x' * 50}", State.READY if n % 2 else State.PROGRESSING, 0, 1, 0, 1.0, "Why")
            for n in range(10)]
    out, stream = live_sink(Clock())
    out.progress(many)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5 and all(len(line) <= 39 for line in lines), lines
    assert [line[:9] for line in lines[1:4]] == ["deploy/n0", "deploy/n2", "deploy/n4"]  # progressing first
    assert lines[4] == "... 7 more"
    out.log(log("after"))
    assert stream.getvalue().count("\x1b[5A") == 1


def test_the_block_is_never_torn_by_a_failure_and_is_painted_when_colors_are_on() -> None:
    out, stream = live_sink(Clock(), color=True)
    out.progress(rows(web=State.FAILED))
    out.failed(Diagnosis("deploy/web", "deploy/web FAILED: boom", "Error", "boom", (("pod", "web-1"),)))
    shown = content(screen_of(stream.getvalue()))
    assert shown[:3] == ["", "deploy/web FAILED: boom", "  pod: web-1"]
    assert shown[3].startswith("RESOURCE") and len(shown) == 7
    assert "\x1b[31mdeploy/web   failed" in stream.getvalue()


def test_not_live_off_a_terminal_by_default() -> None:
    stream = io.StringIO()
    TerminalSink(stream, status_interval=0).progress(rows())
    assert stream.getvalue() == ""
    assert TerminalSink(Tty()).live and not TerminalSink(Tty(), live=False).live


# --- the periodic table -----------------------------------------------------------------------------------------


def test_a_status_table_every_interval_while_something_progresses() -> None:
    clock = Clock()
    stream = io.StringIO()
    out = TerminalSink(stream, status_interval=15, clock=clock)
    for _ in range(16):  # about once a second, as the consumer calls it
        out.progress(rows())
        clock.now += 1
    table = stream.getvalue().splitlines()
    assert [line.split() for line in table] == [
        ["RESOURCE", "STATE", "READY", "RESTARTS", "AGE", "REASON"],
        ["deploy/web", "progressing", "1/2", "0", "3s", "LessAvailable"],
        ["job/migrate", "ready", "1/1", "2", "1m05s", "Complete"],
        ["svc/lb", "progressing", "-", "0", "3s", "-"]]
    assert "\x1b" not in stream.getvalue() and all(line == line.rstrip() for line in table)
    for _ in range(15):
        out.progress(rows())
        clock.now += 1
    assert len(stream.getvalue().splitlines()) == 8
    done = [Progress(row.target, State.READY, row.ready, row.desired, row.restarts, row.age, "") for row in rows()]
    for _ in range(30):
        out.progress(done)
        clock.now += 1
    assert len(stream.getvalue().splitlines()) == 8  # nothing left to wait for: no table


def test_interval_zero_never_prints_a_table() -> None:
    clock = Clock()
    stream = io.StringIO()
    out = TerminalSink(stream, status_interval=0, clock=clock)
    for _ in range(100):
        out.progress(rows())
        clock.now += 1
    assert stream.getvalue() == ""


# --- quiet and verbose ------------------------------------------------------------------------------------------


def every_record(out: TerminalSink, clock: Clock) -> None:
    out.applied(Applied("Deployment", "prod", "web", "created", "deployment.apps/web created", "k8s/web.yaml:1"))
    out.detail('watching deployments.apps in namespace "prod"')
    out.notice("cannot watch events")
    out.log(log("hello"))
    out.event(EventNotice("deploy/web", "po/web-1", "Warning", "BackOff", "Back-off restarting"))
    out.status(StatusChange("deploy/web", State.PROGRESSING, "LessAvailable", "1 of 2 available"))
    for _ in range(40):
        out.progress(rows())
        clock.now += 1
    out.failed(Diagnosis("deploy/api", "deploy/api FAILED: boom", "Error", "boom"))
    out.summary(outcome())


def test_quiet_prints_only_failures_and_the_summary() -> None:
    clock = Clock()
    stream = Tty()
    every_record(TerminalSink(stream, quiet=True, clock=clock), clock)
    assert stream.getvalue().splitlines() == [
        "", "deploy/api FAILED: boom",
        "", "RESOURCE     VERDICT  DURATION  REASON", "deploy/web   ready    4.0s      RolloutComplete",
        "job/migrate  ready    2.0s      Complete"]


def test_default_and_verbose() -> None:
    clock = Clock()
    stream = io.StringIO()
    every_record(TerminalSink(stream, status_interval=0, clock=clock), clock)
    lines = stream.getvalue().splitlines()
    assert lines[:5] == ["deployment.apps/web created", "kubedog: cannot watch events",
                         "deploy/web po/web-1[app] | hello", "deploy/web po/web-1 Warning BackOff: Back-off restarting",
                         "deploy/web progressing: 1 of 2 available"]
    assert not any("watching" in line for line in lines)

    verbose = io.StringIO()
    every_record(TerminalSink(verbose, verbose=True, status_interval=0, clock=clock), clock)
    assert verbose.getvalue().splitlines()[1] == 'kubedog: watching deployments.apps in namespace "prod"'
    painted = io.StringIO()
    TerminalSink(painted, verbose=True, color=True).detail("relisting")
    assert painted.getvalue() == "\x1b[2mkubedog: relisting\x1b[0m\n"


# --- colors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "tty", "env", "expected"), [
    ("auto", True, {}, True),
    ("auto", False, {}, False),
    ("auto", True, {"NO_COLOR": "1"}, False),
    ("auto", True, {"NO_COLOR": ""}, True),
    ("auto", False, {"FORCE_COLOR": "1"}, True),
    ("auto", False, {"FORCE_COLOR": "0"}, True),  # force-color.org: any non-empty value
    ("auto", False, {"FORCE_COLOR": ""}, False),
    ("auto", True, {"FORCE_COLOR": "", "NO_COLOR": "1"}, False),
    ("auto", False, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, True),
    ("always", False, {"NO_COLOR": "1"}, True),
    ("never", True, {"FORCE_COLOR": "1"}, False),
])
def test_when_colors_are_on(mode: str, tty: bool, env: dict[str, str], expected: bool) -> None:
    assert use_color(mode, Tty() if tty else io.StringIO(), env) is expected


# --- text from the cluster --------------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_from_the_cluster_cannot_act_on_the_terminal(hostile: str) -> None:
    clock = Clock()
    out, stream = live_sink(clock)
    out.log(log("first line"))
    out.progress(rows())
    out.log(log(f"evil{hostile}line"))
    out.event(EventNotice("deploy/web", "po/web-1", "Warning", f"Back{hostile}Off", f"msg{hostile}end"))
    out.status(StatusChange("deploy/web", State.PROGRESSING, "X", f"status{hostile}message", (f"w{hostile}arn",)))
    out.notice(f"note{hostile}here")
    out.failed(Diagnosis("deploy/web", f"deploy/web FAILED: bad{hostile}news", "Error", "boom", (
        ("message", f"m{hostile}x"),), "last 1 log line of app", (f"tail{hostile}line",), (f"w{hostile}x",)))
    out.summary(Outcome([TargetResult(Target(DEPLOYMENTS, "prod", "web"), "deploy/web", State.FAILED,
                                      f"Re{hostile}ason", "", 4.0)]))
    screen, feed = terminal()
    feed.feed(stream.getvalue())
    shown = content([line.rstrip() for line in screen.display])
    assert screen.title == ""
    gap = " " if "\n" in hostile else ""  # a line break in a record becomes a space: a record stays its lines
    # ... but a log record's "\n" separates its lines (a read brings many): each is cleaned and prefixed
    evil = [f"deploy/web po/web-1[app] | {one_line(part)}".rstrip() for part in f"evil{hostile}line".split("\n")]
    assert shown == [
        "deploy/web po/web-1[app] | first line", *evil,
        f"deploy/web po/web-1 Warning Back{gap}Off: msg{gap}end", f"deploy/web progressing: status{gap}message",
        f"deploy/web warning: w{gap}arn", f"kubedog: note{gap}here", "", f"deploy/web FAILED: bad{gap}news",
        f"  message: m{gap}x", "  last 1 log line of app:", f"    | tail{gap}line", "  recent Warning events:",
        f"    w{gap}x", "", "RESOURCE    VERDICT  DURATION  REASON",
        f"deploy/web  FAILED   4.0s      Re{gap}ason"]

