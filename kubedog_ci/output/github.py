"""GitHub Actions output: annotations on the manifests, a log group per resource that did not end ready, and a
Markdown table in the job's step summary.

Everything is written at `summary()`, after the human stream, so each annotation comes once, with the final
diagnosis. Text from the cluster goes into workflow commands escaped, and into group bodies between
`::stop-commands::` and its token: the runner strips leading whitespace before it looks for `::` and finds the
legacy `##[` form anywhere in a line, so an indent alone would not keep a log line from issuing commands.

The human stream is guarded the same way: this sink comes first in the fanout, and its first record turns
commands off (`::stop-commands::TOKEN`) before any other sink prints a line; the summary, which it hears last,
turns them back on (`::TOKEN::`) before its own annotations. No log line, not even with `--raw-logs`, can issue a
command: only this process knows the token.
"""

from __future__ import annotations

import atexit
import contextlib
import secrets
from collections.abc import Mapping
from typing import TextIO

from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, StatusChange
from kubedog_ci.output.terminal import format_duration
from kubedog_ci.output.text import Evidence, clean, one_line, root_reason, verdict
from kubedog_ci.rules import State

VERDICT_ICONS = {"ready": "✅", "FAILED": "❌", "ignored": "⚠️", "left-behind": "⏭️", "timed out": "⏱️",
                 "progressing": "⏳"}
_MARKDOWN = str.maketrans({char: "\\" + char for char in "\\`*_[]<>|#"})


def escape_data(text: str) -> str:
    """A workflow command's message: the runner reads %0D and %0A back as line breaks."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value, where `:` and `,` would end it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: str) -> str:
    """`::name key=value,...::message`, empty properties left out."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items() if value)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def markdown(text: str) -> str:
    """One table cell or line of cluster text that renders as plain text."""
    return " ".join(clean(text).split()).translate(_MARKDOWN)


class GitHubSink(Evidence):
    """Workflow commands on `stream`; `sources` maps a label to its manifest's FILE:LINE; `step_summary` is the
    file named by $GITHUB_STEP_SUMMARY, appended to."""

    def __init__(self, stream: TextIO, *, sources: Mapping[str, str], step_summary: str | None = None) -> None:
        super().__init__()
        self.stream = stream
        self.sources = sources
        self.step_summary = step_summary
        self._token = ""
        """The token of the `::stop-commands::` in force; empty while commands are on."""

    def _write(self, lines: list[str]) -> None:
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()

    def _stop_commands(self) -> None:
        """Commands off, before the first line of the run's stream (see the module docstring)."""
        if not self._token:
            self._token = secrets.token_hex(16)
            self._write([f"::stop-commands::{self._token}"])
            atexit.register(self._resume_commands)

    def _resume_commands(self) -> None:
        """Commands back on: at the summary, or at exit for a run that ended without one (an apply rejected, a
        server dry run), so the job's later steps and lines are not left without them."""
        if self._token:
            token, self._token = self._token, ""
            atexit.unregister(self._resume_commands)
            with contextlib.suppress(OSError, ValueError):  # at exit, the stream may be closed already
                self._write([f"::{token}::"])

    def applied(self, record: Applied) -> None:
        self._stop_commands()

    def detail(self, message: str) -> None:
        self._stop_commands()

    def progress(self, rows: list[Progress]) -> None:
        self._stop_commands()

    def status(self, change: StatusChange) -> None:
        self._stop_commands()

    def notice(self, message: str) -> None:
        self._stop_commands()

    def log(self, record: LogRecord) -> None:
        self._stop_commands()
        super().log(record)

    def event(self, notice: EventNotice) -> None:
        self._stop_commands()
        super().event(notice)

    def failed(self, diagnosis: Diagnosis) -> None:
        self._stop_commands()
        super().failed(diagnosis)

    def _location(self, label: str) -> dict[str, str]:
        """`file` and `line` properties from `path:line`; a bare path gives the file only."""
        source = self.sources.get(label, "")
        path, _, line = source.rpartition(":")
        if path and line.isdigit():
            return {"file": path, "line": line}
        return {"file": source} if source else {}

    def _annotation(self, result: TargetResult, outcome: Outcome) -> str | None:
        diagnosis = self.diagnosis(result)
        if result.state is State.FAILED:
            title = f"{result.label} failed{' (ignored)' if result.ignored else ''}: {root_reason(result, diagnosis)}"
            lines = diagnosis.lines() if diagnosis else [f"{result.reason}: {result.message}"]
            name = "warning" if result.ignored else "error"
        elif verdict(result, outcome) == "timed out":
            name, title, lines = "error", f"{result.label} timed out", [result.message or result.reason]
        else:
            return None
        # one line of cluster text per line of ours: only our line breaks reach the message (escaped)
        message = "\n".join(one_line(line) for line in lines)
        return command(name, message, **self._location(result.label), title=one_line(title))

    def _group(self, result: TargetResult, outcome: Outcome) -> list[str]:
        token = secrets.token_hex(16)
        return [command("group", f"{result.label} — {verdict(result, outcome)}"), f"::stop-commands::{token}",
                *(f"  {line}" for line in self.lines(result, outcome)), f"::{token}::", "::endgroup::"]

    def summary(self, outcome: Outcome) -> None:
        self._resume_commands()
        open_ = [result for result in outcome.results if result.state is not State.READY]
        lines = [line for result in outcome.results if (line := self._annotation(result, outcome))]
        lines += [line for result in open_ for line in self._group(result, outcome)]
        if self.step_summary:
            try:
                with open(self.step_summary, "a", encoding="utf-8") as summary:
                    summary.write(self._markdown(outcome))
            except OSError as err:
                lines.append(command("warning", f"cannot write the step summary {self.step_summary}: {err}"))
        if lines:
            self._write(lines)

    def _markdown(self, outcome: Outcome) -> str:
        """The step summary section: a heading, one table row per resource, then the failures' headlines."""
        if outcome.cluster_error:
            status = f"cluster error: {outcome.cluster_error}"
        elif outcome.stopped_by is not None:
            status = "interrupted"
        elif outcome.failed:
            status = f"{len(outcome.failed)} failed"
        elif outcome.timed_out:
            status = "timed out"
        else:
            status = "all ready" if outcome.all_ready else "not ready"
        lines = [f"### kubedog: {markdown(status)} ({format_duration(outcome.duration)})", "",
                 "| Resource | Verdict | Duration | Reason |", "|---|---|---|---|"]
        for result in outcome.results:
            word = verdict(result, outcome)
            reason = root_reason(result, self.diagnosis(result)) or "-"
            lines.append(f"| {markdown(result.label)} | {VERDICT_ICONS[word]} {word} | "
                         f"{format_duration(result.duration)} | {markdown(reason)} |")
        headlines = [diagnosis.headline for result in outcome.results
                     if result.state is State.FAILED and (diagnosis := self.diagnosis(result))]
        if headlines:
            lines += ["", *(f"- {markdown(headline)}" for headline in headlines)]
        return "\n".join(lines) + "\n\n"
