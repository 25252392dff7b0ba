"""Secret values kept out of every output: each is replaced with "[redacted]" wherever it shows up.

Whoever controls a container or a controller decides what the cluster sends back: a log line echoing an env value
taken from a Secret, an Event or a server error quoting it. So the values themselves are hidden, not the fields
known to hold them. `SECRETS` is one Redactor for the whole process: apply-and-track adds the Secrets of its
input, connect() the kubeconfig's credentials, and `RedactingSink` applies it to every record before any sink sees
it, as `main` does to the error paragraph it prints.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import re
import threading
from collections.abc import Iterable, Mapping

from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, Sink, StatusChange

REDACTED = "[redacted]"
MIN_LENGTH = 4
"""Shorter values ("1", "yes") would blank out ordinary words and hide nothing worth hiding."""


class Redactor:
    """Secret strings, and the text with each of them replaced; safe to add to while another thread redacts."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Hide `value`, and each line of a multi-line one (a PEM key): logs arrive a line at a time."""
        candidates = {value, *(line.strip() for line in value.splitlines())}
        with self._lock:
            new = {text for text in candidates if len(text) >= MIN_LENGTH} - self._values
            if new:
                self._values |= new
                # longest first, so a value containing another is hidden whole
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def add_secret(self, obj: Mapping) -> None:
        """A Secret manifest's values: stringData as written and base64-encoded (as the server stores and may
        quote it), data as written (base64) and decoded (as a container sees it). Other kinds add nothing."""
        if obj.get("kind") != "Secret":
            return
        for value in (obj.get("stringData") or {}).values():
            self.add(str(value))
            self.add(base64.b64encode(str(value).encode()).decode())
        for value in (obj.get("data") or {}).values():
            self.add(str(value))
            with contextlib.suppress(ValueError):  # not base64, or binary data, which no one prints as text
                self.add(base64.b64decode(str(value), validate=True).decode())

    def redact(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(REDACTED, text) if pattern is not None and text else text

    def many(self, texts: Iterable[str]) -> tuple[str, ...]:
        return tuple(self.redact(text) for text in texts)

    def diagnosis(self, diagnosis: Diagnosis) -> Diagnosis:
        return dataclasses.replace(
            diagnosis, headline=self.redact(diagnosis.headline), reason=self.redact(diagnosis.reason),
            message=self.redact(diagnosis.message),
            details=tuple((label, self.redact(value)) for label, value in diagnosis.details),
            log_title=self.redact(diagnosis.log_title), log_tail=self.many(diagnosis.log_tail),
            warnings=self.many(diagnosis.warnings))

    def result(self, result: TargetResult) -> TargetResult:
        return dataclasses.replace(
            result, reason=self.redact(result.reason), message=self.redact(result.message),
            diagnosis=result.diagnosis and self.diagnosis(result.diagnosis), warnings=self.many(result.warnings))


SECRETS = Redactor()
"""The process's secrets: a value seen anywhere is hidden everywhere."""


class RedactingSink:
    """Passes each record on with every secret value replaced (the records are frozen: rebuilt, not changed)."""

    def __init__(self, sink: Sink, redactor: Redactor = SECRETS) -> None:
        self.sink = sink
        self.redactor = redactor

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
        self.sink.failed(self.redactor.diagnosis(diagnosis))

    def notice(self, message: str) -> None:
        self.sink.notice(self.redactor.redact(message))

    def summary(self, outcome: Outcome) -> None:
        error = outcome.cluster_error
        self.sink.summary(dataclasses.replace(
            outcome, results=[self.redactor.result(result) for result in outcome.results],
            cluster_error=None if error is None else self.redactor.redact(error)))
