"""The terminal sink: the one writer of stdout during a run.

Every record becomes whole lines written in one call and flushed, so log lines of many containers never
interleave mid-line and a CI log shows them as they happen:

    deploy/web po/web-7c9f-x2k[app] | listening on :8080
    deploy/web progressing: Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...
    deploy/web po/web-7c9f-x2k Warning BackOff: Back-off restarting failed container app in pod ...

With colors on, each resource keeps one color for the whole run (chosen from its name, so it is the same from
run to run), Warning events are yellow and failures red. Colors are on with `--color always`, or with `auto`
when stdout is a terminal and NO_COLOR is not set (https://no-color.org).
"""

from __future__ import annotations

import os
import signal
import sys
import zlib
from typing import TextIO

import colorama
from colorama import Fore, Style

from kubedog_ci.engine.outcome import Diagnosis, Outcome
from kubedog_ci.engine.sink import EventNotice, LogRecord, StatusChange
from kubedog_ci.rules import State

PALETTE = (Fore.CYAN, Fore.GREEN, Fore.MAGENTA, Fore.BLUE, Fore.LIGHTCYAN_EX, Fore.LIGHTGREEN_EX,
           Fore.LIGHTMAGENTA_EX, Fore.LIGHTBLUE_EX)
"""Resource colors; red and yellow are kept for failures and warnings."""


def use_color(mode: str, stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """`always`, `never`, or `auto`: a terminal, and NO_COLOR unset or empty."""
    if mode != "auto":
        return mode == "always"
    env = os.environ if environ is None else environ
    return not env.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def format_duration(seconds: float) -> str:
    """`850ms`, `12.3s`, `4m05s`, `1h02m`: short, and exact enough for a CI summary."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


class TerminalSink:
    """Human-readable output on one stream (stdout by default)."""

    def __init__(self, stream: TextIO | None = None, *, color: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.color = color
        if color:
            colorama.just_fix_windows_console()

    def _paint(self, text: str, *styles: str) -> str:
        return "".join(styles) + text + Style.RESET_ALL if self.color and styles else text

    def _resource(self, label: str, text: str | None = None) -> str:
        """`text` (default: the label) in the resource's own color, chosen from its label."""
        return self._paint(label if text is None else text, PALETTE[zlib.crc32(label.encode()) % len(PALETTE)])

    def _write(self, *lines: str) -> None:
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()

    def status(self, change: StatusChange) -> None:
        if change.state is State.FAILED:
            return  # the diagnosis block announces a failure, with its cause
        word = self._paint("ready", Style.BRIGHT) if change.state is State.READY else str(change.state)
        lines = [f"{self._resource(change.target)} {word}: {change.message}"]
        lines += [f"{self._resource(change.target)} {self._paint('warning', Fore.YELLOW)}: {w}"
                  for w in change.warnings]
        self._write(*lines)

    def event(self, notice: EventNotice) -> None:
        count = f" (x{notice.count})" if notice.count > 1 else ""
        tag = self._paint(f"{notice.type} {notice.reason}{count}", Fore.YELLOW, Style.BRIGHT)
        subject = "" if notice.subject == notice.target else f" {notice.subject}"
        self._write(f"{self._resource(notice.target)}{subject} {tag}: {notice.message}")

    def log(self, record: LogRecord) -> None:
        prefix = self._resource(record.target, f"{record.target} po/{record.pod}[{record.container}]")
        self._write(f"{prefix} | {record.text}")

    def failed(self, diagnosis: Diagnosis) -> None:
        headline, *rest = diagnosis.lines()
        self._write("", self._paint(headline, Fore.RED, Style.BRIGHT), *rest)

    def notice(self, message: str) -> None:
        self._write(self._paint(f"kubedog: {message}", Style.DIM))

    def summary(self, outcome: Outcome) -> None:
        """One row per target. VERDICT is one word (ready, progressing, FAILED, ignored, left-behind), so a CI
        script can parse the table."""
        rows = [("RESOURCE", "VERDICT", "DURATION", "REASON")]
        for result in outcome.results:
            verdict, reason = "FAILED" if result.state is State.FAILED else str(result.state), result.reason or "-"
            if result.ignored:
                verdict, reason = "ignored", f"{reason} (fail-mode ignore)"
            elif result.left_behind:
                verdict = "left-behind"
            rows.append((result.label, verdict, format_duration(result.duration), reason))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [""]
        for index, row in enumerate(rows):
            cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
            line = "  ".join([*cells, row[3]])
            if index and row[1] == "FAILED":
                line = self._paint(line, Fore.RED)
            lines.append(line)
        if outcome.stopped_by is not None:
            lines.append(f"interrupted by {signal.Signals(outcome.stopped_by).name} after "
                         f"{format_duration(outcome.duration)}")
        elif outcome.timed_out:
            lines.append(f"timed out after {format_duration(outcome.duration)}")
        self._write(*lines)
