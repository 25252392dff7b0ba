"""Several sinks as one: the engine talks to one Sink, and each output (terminal, JUnit, CI annotations, JSON
lines) hears every record in the same order.

The summary, which ends the run, goes to them in reverse order, as nested blocks close: a sink that opens the
run's stream before the others write (GitHub's `::stop-commands::`) closes it after their summaries are written.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubedog_ci.engine.outcome import Diagnosis, Outcome
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, Seen, Sink, StatusChange


class Fanout:
    """Passes each record to every sink, in the order given; the summary in reverse order."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    def applied(self, record: Applied) -> None:
        for sink in self.sinks:
            sink.applied(record)

    def seen(self, record: Seen) -> None:
        for sink in self.sinks:
            sink.seen(record)

    def status(self, change: StatusChange) -> None:
        for sink in self.sinks:
            sink.status(change)

    def event(self, notice: EventNotice) -> None:
        for sink in self.sinks:
            sink.event(notice)

    def log(self, record: LogRecord) -> None:
        for sink in self.sinks:
            sink.log(record)

    def failed(self, diagnosis: Diagnosis) -> None:
        for sink in self.sinks:
            sink.failed(diagnosis)

    def notice(self, message: str) -> None:
        for sink in self.sinks:
            sink.notice(message)

    def detail(self, message: str) -> None:
        for sink in self.sinks:
            sink.detail(message)

    def progress(self, rows: list[Progress]) -> None:
        for sink in self.sinks:
            sink.progress(rows)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def summary(self, outcome: Outcome) -> None:
        for sink in reversed(self.sinks):
            sink.summary(outcome)
