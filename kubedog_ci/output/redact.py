"""The sink wrapper that applies the secrets registry (kubedog_ci.secrets) to every record before any output sees
it: a Secret's value echoed by a container, quoted by an Event or a server error, becomes "[redacted]"."""

from __future__ import annotations

import dataclasses

from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, Seen, Sink, StatusChange
from kubedog_ci.secrets import SECRETS, Redactor


class RedactingSink:
    """Passes each record on with every secret value replaced (the records are frozen: rebuilt, not changed)."""

    def __init__(self, sink: Sink, redactor: Redactor = SECRETS) -> None:
        self.sink = sink
        self.redactor = redactor

    def seen(self, record: Seen) -> None:
        self.sink.seen(record)  # kinds and names: nothing secret

    def applied(self, record: Applied) -> None:
        self.sink.applied(dataclasses.replace(record, line=self.redactor.redact(record.line)))

    def detail(self, message: str) -> None:
        self.sink.detail(self.redactor.redact(message))

    def progress(self, rows: list[Progress]) -> None:
        self.sink.progress([dataclasses.replace(row, reason=self.redactor.redact(row.reason)) for row in rows])

    def status(self, change: StatusChange) -> None:
        redact = self.redactor.redact
        self.sink.status(dataclasses.replace(change, reason=redact(change.reason), message=redact(change.message),
                                             warnings=self.redactor.many(change.warnings)))

    def event(self, notice: EventNotice) -> None:
        redact = self.redactor.redact
        self.sink.event(dataclasses.replace(notice, reason=redact(notice.reason), message=redact(notice.message)))

    def log(self, record: LogRecord) -> None:
        text = self.redactor.redact(record.text)  # rebuilt only when changed: a burst of lines passes here
        self.sink.log(record if text is record.text else dataclasses.replace(record, text=text))

    def flush(self) -> None:
        self.sink.flush()

    def failed(self, diagnosis: Diagnosis) -> None:
        self.sink.failed(self._diagnosis(diagnosis))

    def notice(self, message: str) -> None:
        self.sink.notice(self.redactor.redact(message))

    def summary(self, outcome: Outcome) -> None:
        error = outcome.cluster_error
        self.sink.summary(dataclasses.replace(
            outcome, results=[self._result(result) for result in outcome.results],
            cluster_error=None if error is None else self.redactor.redact(error)))

    def _diagnosis(self, diagnosis: Diagnosis) -> Diagnosis:
        redact, many = self.redactor.redact, self.redactor.many
        return dataclasses.replace(
            diagnosis, headline=redact(diagnosis.headline), reason=redact(diagnosis.reason),
            message=redact(diagnosis.message),
            details=tuple((label, redact(value)) for label, value in diagnosis.details),
            log_title=redact(diagnosis.log_title), log_tail=many(diagnosis.log_tail), warnings=many(diagnosis.warnings))

    def _result(self, result: TargetResult) -> TargetResult:
        redact = self.redactor.redact
        return dataclasses.replace(
            result, reason=redact(result.reason), message=redact(result.message),
            diagnosis=result.diagnosis and self._diagnosis(result.diagnosis),
            warnings=self.redactor.many(result.warnings))
