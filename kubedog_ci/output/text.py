"""What the CI sinks share: text from the cluster made harmless, and the evidence kept for each resource.

Log lines, Event messages and diagnoses are written by whoever controls a container or a controller, so before a
sink prints them into a CI log they lose every terminal escape sequence and control character: a log line must
not be able to move the cursor, rewrite an earlier line, or forge a CI section marker.
"""

from __future__ import annotations

import re
from collections import deque

from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, Seen, StatusChange
from kubedog_ci.rules import State

LOG_LINES = 50
"""Streamed log lines kept per resource for its CI detail."""
WARNINGS = 10
"""Recent Warning events kept per resource."""

_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colors, cursor moves, erase
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, DCS, SOS, PM, APC strings up to BEL or ST
    r"|\x1b[ -/]*[0-~]"  # the other escape sequences (charset selection, ESC c, ...)
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """`text` without ANSI escape sequences and without C0/C1 control characters other than tab and newline
    (newlines are kept so a caller can split a multi-line message into lines of its own)."""
    return _CONTROL.sub("", _SEQUENCE.sub("", text))


def one_line(text: str) -> str:
    """Text from the cluster, cleaned, on one line: each printed line is whole and of a sink's own making, so
    cluster text never starts one (where `::` or `##[` would be read as a CI workflow command)."""
    return " ".join(clean(text).splitlines())


def raw_line(text: str) -> str:
    """A log line as the container wrote it, escape sequences and all (`--raw-logs`), but on one line: what a
    reader takes for a line break (a CI runner splits at `\\r` too) becomes a space, so the line stays behind the
    sink's prefix."""
    return " ".join(text.splitlines())


def verdict(result: TargetResult, outcome: Outcome) -> str:
    """One word (or two) for how a resource ended, as the terminal's summary says it: TargetResult.verdict, with a
    failure shouted and a target still progressing at the timeout said to have timed out."""
    word = result.verdict
    if word == State.FAILED:
        return "FAILED"
    return "timed out" if word == State.PROGRESSING and outcome.timed_out else word


def root_reason(result: TargetResult, diagnosis: Diagnosis | None) -> str:
    """The root cause's reason: the failing container's (`ImagePullBackOff`) before the controller's
    (`ProgressDeadlineExceeded`), which only says that it gave up."""
    if diagnosis is not None:
        return next((value for label, value in diagnosis.details if label == "reason"), diagnosis.reason)
    return result.reason


class Evidence:
    """A Sink base that keeps, per resource, what explains a bad ending: its latest diagnosis, its last streamed
    log lines and its recent Warning events; records that explain nothing are dropped. Subclasses write
    `summary`."""

    def __init__(self) -> None:
        self.diagnoses: dict[str, Diagnosis] = {}
        self.logs: dict[str, deque[str]] = {}
        self.warnings: dict[str, dict[tuple[str, str], str]] = {}

    def seen(self, record: Seen) -> None:
        """The evidence is about verdicts, not the objects seen on the way."""

    def applied(self, record: Applied) -> None:
        pass

    def detail(self, message: str) -> None:
        pass

    def progress(self, rows: list[Progress]) -> None:
        pass

    def status(self, change: StatusChange) -> None:
        pass

    def notice(self, message: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def log(self, record: LogRecord) -> None:
        lines = self.logs.setdefault(record.target, deque(maxlen=LOG_LINES))
        lines.extend(record.prefixed)

    def event(self, notice: EventNotice) -> None:
        if notice.type != "Warning":
            return
        recent = self.warnings.setdefault(notice.target, {})
        key = (notice.subject, notice.reason)
        recent.pop(key, None)  # a repeat moves to the end with its new count
        recent[key] = f"{notice.subject} {notice.reason}{notice.repeated}: {notice.message}"
        while len(recent) > WARNINGS:
            del recent[next(iter(recent))]

    def failed(self, diagnosis: Diagnosis) -> None:
        self.diagnoses[diagnosis.target] = diagnosis

    def diagnosis(self, result: TargetResult) -> Diagnosis | None:
        """The diagnosis of a failed result: the outcome's, else the last one reported."""
        if result.state is not State.FAILED:
            return None
        return result.diagnosis or self.diagnoses.get(result.label)

    def lines(self, result: TargetResult, outcome: Outcome) -> list[str]:
        """The detail of one resource that did not end ready, cleaned, one printable line each."""
        diagnosis = self.diagnosis(result)
        if diagnosis is not None:
            out = diagnosis.lines()
        else:
            out = [f"{result.label} {verdict(result, outcome)}"]
            out += [f"  {label}: {value}" for label, value in (("reason", result.reason), ("message", result.message))
                    if value]
        warnings = self.warnings.get(result.label)
        if warnings and not (diagnosis and diagnosis.warnings):
            out.append("  recent Warning events:")
            out += [f"    {line}" for line in warnings.values()]
        logs = self.logs.get(result.label)
        if logs:
            out.append("  last log line:" if len(logs) == 1 else f"  last {len(logs)} log lines:")
            out += [f"    {line}" for line in logs]
        return [one_line(line) for line in out]
