"""The terminal sink: the one writer of stdout during a run.

Every record becomes whole lines written in one call and flushed, so log lines of many containers never
interleave mid-line and a CI log shows them as they happen (log lines that arrive in a burst are held until the
engine's queue runs dry, then written together):

    deploy/web po/web-7c9f-x2k[app] | listening on :8080
    deploy/web progressing: Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...
    deploy/web po/web-7c9f-x2k Warning BackOff: Back-off restarting failed container app in pod ...

On a terminal (live mode) a status block of every resource (state, ready replicas, restarts, age) stays at the
bottom of the screen: before any other line is written it is erased, and it is redrawn below, in the same
write, so log lines scroll above it and are never torn. Off a terminal (a CI log) a compact status table is
printed every `status_interval` seconds instead, while something is still progressing. `quiet` keeps only the
diagnoses and the summary; `verbose` adds API-level detail (what is watched, reconnects, relists).

Text from the cluster (logs, Event and status messages, diagnoses) passes through `one_line`, so a container
cannot clear the screen, move the cursor or retitle the window, and every line starts with the sink's own prefix
(a resource, `kubedog:`), never with cluster text a CI runner could read as a command. `raw_logs` keeps the
escape sequences of log lines, not their line breaks. With colors on, each resource keeps one color
for the whole run (chosen from its name, so it is the same from run to run), Warning events are yellow and
failures red. Colors are on with `--color always`, or with `auto` when FORCE_COLOR is set and not empty
(https://force-color.org), or else on a terminal when NO_COLOR is unset or empty (https://no-color.org).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
import zlib
from collections.abc import Callable, Mapping
from typing import TextIO

import colorama
from colorama import Fore, Style

from kubedog_ci.engine.outcome import Diagnosis, Outcome
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, Seen, StatusChange
from kubedog_ci.output.text import one_line, raw_line
from kubedog_ci.rules import State

PALETTE = (Fore.CYAN, Fore.GREEN, Fore.MAGENTA, Fore.BLUE, Fore.LIGHTCYAN_EX, Fore.LIGHTGREEN_EX,
           Fore.LIGHTMAGENTA_EX, Fore.LIGHTBLUE_EX)
"""Resource colors; red and yellow are kept for failures and warnings."""
STATUS_HEADER = ("RESOURCE", "STATE", "READY", "RESTARTS", "AGE", "REASON")
REDRAW_INTERVAL = 0.5
"""Seconds the live block is left as drawn: progress comes about once a second, and jitter must not double it."""
ERASE_BELOW = "\x1b[J"
HOLD_LINES = 1000
"""Log lines held back at most, off a terminal: the engine flushes whenever its queue runs dry, so lines wait
only while more are already queued behind them, and a burst costs one write instead of one per line."""


def use_color(mode: str, stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """`always`, `never`, or `auto`: FORCE_COLOR non-empty forces it, else a terminal with NO_COLOR unset or
    empty."""
    if mode != "auto":
        return mode == "always"
    env = os.environ if environ is None else environ
    if env.get("FORCE_COLOR"):
        return True
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


def format_age(seconds: float) -> str:
    """`7s`, `4m05s`, `1h02m`: whole seconds, as kubectl shows an AGE."""
    return f"{int(seconds)}s" if seconds < 60 else format_duration(seconds)


def status_rows(rows: list[Progress]) -> list[tuple[str, ...]]:
    """The status table's cells, header first, padded to aligned columns but the last."""
    cells = [STATUS_HEADER] + [
        (row.target, str(row.state), "-" if row.ready is None else f"{row.ready}/{row.desired}", str(row.restarts),
         format_age(row.age), one_line(row.reason) or "-") for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(STATUS_HEADER) - 1)]
    return [(*(cell.ljust(width) for cell, width in zip(line, widths, strict=False)), line[-1]) for line in cells]


class TerminalSink:
    """Human-readable output on one stream (stdout by default). `live` None: live when the stream is a terminal.
    `clock` (monotonic) paces the live block and the periodic table."""

    def __init__(self, stream: TextIO | None = None, *, color: bool = False, quiet: bool = False,
                 verbose: bool = False, status_interval: float = 15.0, live: bool | None = None,
                 raw_logs: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stdout
        self.color = color
        self.quiet = quiet
        self.verbose = verbose
        self.status_interval = status_interval
        self.raw_logs = raw_logs
        """Log lines keep their escape sequences (`--raw-logs`); they stay one line behind their prefix."""
        self.live = (hasattr(self.stream, "isatty") and self.stream.isatty()) if live is None else live
        self.clock = clock
        self._rows: list[Progress] = []
        """The live block's rows as last reported; empty once the summary ended it."""
        self._drawn = 0
        """Lines of the live block on the screen now: the cursor sits at the start of the line below them."""
        self._drawn_at: float | None = None
        """When progress last redrew the block."""
        self._next_table: float | None = None
        self._held: list[str] = []
        self._held_lines = 0
        """Log lines held back in `_held`."""
        """Log lines not written yet: each other record, `flush` and the summary write them first."""
        self._prefixes: dict[tuple[str, str, str], str] = {}
        """(target, pod, container) -> the colored prefix of its log lines, made once per container."""
        if color or self.live:
            colorama.just_fix_windows_console()  # colors and cursor moves on a Windows console

    def _paint(self, text: str, *styles: str) -> str:
        return "".join(styles) + text + Style.RESET_ALL if self.color and styles else text

    def _resource(self, label: str, text: str | None = None) -> str:
        """`text` (default: the label) in the resource's own color, chosen from its label."""
        return self._paint(label if text is None else text, PALETTE[zlib.crc32(label.encode()) % len(PALETTE)])

    def _write(self, *lines: str) -> None:
        """Whole lines in one write, after the log lines held back; in live mode the block is erased first and
        redrawn after them."""
        text = "".join(self._held) + "".join(line + "\n" for line in lines)
        self._held.clear()
        self._held_lines = 0
        if self._rows:
            text = self._erase() + text + self._block()
        self.stream.write(text)
        self.stream.flush()

    # --- the live block -------------------------------------------------------------------------------------

    def _erase(self) -> str:
        """Back to the block's first line, and clear from there down."""
        erase = f"\r\x1b[{self._drawn}A{ERASE_BELOW}" if self._drawn else ""
        self._drawn = 0
        return erase

    def _block(self) -> str:
        """The block as it is drawn now, each line cut to the terminal's width (a wrapped line would break the
        count of lines to erase) and as many lines as fit its height (lines scrolled off cannot be erased)."""
        size = shutil.get_terminal_size()
        width, height = max(size.columns - 1, 10), max(size.lines - 1, 2)
        rows = self._rows
        if len(rows) + 1 > height:  # what still needs attention first
            rows = sorted(rows, key=lambda row: row.state is State.READY)
        table = status_rows(rows)
        hidden = len(table) - height
        if hidden > 0:
            table = table[:height - 1]
        lines = []
        for index, cells in enumerate(table):
            line = "  ".join(cells)[:width]
            if index == 0:
                line = self._paint(line, Style.DIM)
            elif rows[index - 1].state is State.FAILED:
                line = self._paint(line, Fore.RED)
            lines.append(line)
        if hidden > 0:
            lines.append(f"... {hidden + 1} more"[:width])
        self._drawn = len(lines)
        return "".join(line + "\n" for line in lines)

    # --- records --------------------------------------------------------------------------------------------

    def seen(self, record: Seen) -> None:
        """The status lines say what matters; a Pod's name shows with its log lines."""

    def applied(self, record: Applied) -> None:
        if not self.quiet:
            self._write(one_line(record.line))

    def detail(self, message: str) -> None:
        if self.verbose:
            self._write(self._paint(f"kubedog: {one_line(message)}", Style.DIM))

    def progress(self, rows: list[Progress]) -> None:
        if self.quiet or not rows:
            return
        now = self.clock()
        if self.live:
            self._rows = rows
            if self._drawn_at is None or now - self._drawn_at >= REDRAW_INTERVAL:
                self._drawn_at = now
                self.stream.write(self._erase() + self._block())
                self.stream.flush()
        elif self.status_interval > 0:
            if self._next_table is None:
                self._next_table = now + self.status_interval
            elif now >= self._next_table:
                self._next_table = now + self.status_interval
                if any(row.state is State.PROGRESSING for row in rows):
                    self._write(*("  ".join(cells).rstrip() for cells in status_rows(rows)))

    def status(self, change: StatusChange) -> None:
        if change.state is State.FAILED or self.quiet:
            return  # the diagnosis block announces a failure, with its cause
        word = self._paint("ready", Style.BRIGHT) if change.state is State.READY else str(change.state)
        lines = [f"{self._resource(change.target)} {word}: {one_line(change.message)}"]
        lines += [f"{self._resource(change.target)} {self._paint('warning', Fore.YELLOW)}: {one_line(w)}"
                  for w in change.warnings]
        self._write(*lines)

    def event(self, notice: EventNotice) -> None:
        if self.quiet:
            return
        tag = self._paint(f"{one_line(notice.type)} {one_line(notice.reason)}{notice.repeated}", Fore.YELLOW,
                          Style.BRIGHT)
        subject = "" if notice.subject == notice.target else f" {one_line(notice.subject)}"
        self._write(f"{self._resource(notice.target)}{subject} {tag}: {one_line(notice.message)}")

    def log(self, record: LogRecord) -> None:
        if self.quiet:
            return
        key = (record.target, record.pod, record.container)
        prefix = self._prefixes.get(key)
        if prefix is None:
            if len(self._prefixes) >= 1024:  # Pods come and go in a long `follow`
                self._prefixes.clear()
            prefix = self._prefixes[key] = self._resource(record.target, f"{record.target} po/{record.pod}"
                                                          f"[{record.container}]") + " | "
        text = record.text
        if not text.replace("\n", "").isprintable():  # printable lines have nothing to clean and no line break
            text = "\n".join(map(raw_line if self.raw_logs else one_line, text.split("\n")))
        self._held.append(prefix + text.replace("\n", "\n" + prefix) + "\n")
        self._held_lines += text.count("\n") + 1
        if self.live or self._held_lines >= HOLD_LINES:  # on a terminal each line shows at once, above the block
            self.flush()

    def flush(self) -> None:
        if self._held:
            self._write()

    def failed(self, diagnosis: Diagnosis) -> None:
        headline, *rest = (one_line(line) for line in diagnosis.lines())
        self._write("", self._paint(headline, Fore.RED, Style.BRIGHT), *rest)

    def notice(self, message: str) -> None:
        if not self.quiet:
            self._write(self._paint(f"kubedog: {one_line(message)}", Style.DIM))

    def summary(self, outcome: Outcome) -> None:
        """One row per target. VERDICT is one word (ready, progressing, FAILED, ignored, left-behind), so a CI
        script can parse the table. The live block is erased for good first."""
        self.flush()
        self._rows = []
        rows = [("RESOURCE", "VERDICT", "DURATION", "REASON")]
        for result in outcome.results:
            verdict, reason = "FAILED" if result.state is State.FAILED else str(result.state), result.reason or "-"
            if result.ignored:
                verdict, reason = "ignored", f"{reason} (fail-mode ignore)"
            elif result.left_behind:
                verdict = "left-behind"
            rows.append((result.label, verdict, format_duration(result.duration), one_line(reason)))
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
        self.stream.write(self._erase() + "".join(line + "\n" for line in lines))
        self.stream.flush()
