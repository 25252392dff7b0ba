"""The JSON-lines sink (`--output json`): every record as one JSON object on its own line, and nothing else on
the stream, so a script can read a run as it happens (`jq`, a line-by-line reader) without parsing the human
output.

Every object has `schema` (1; raised only for a change that breaks readers), `type` and `time` (RFC 3339,
UTC, milliseconds); the other fields by type:

    type      fields besides schema, type and time
    --------  ----------------------------------------------------------------------------------------------
    applied   kind, namespace, name, action (created, configured, unchanged), line (kubectl's), source
              (the manifest's FILE:LINE)
    status    target (e.g. deploy/web), state (ready, progressing, failed), reason, message, warnings (list)
    event     target, subject (the target, po/NAME or rs/NAME), event_type (Warning), reason, message, count
    log       target, pod, container, text
    failure   target, headline (names the root cause), reason, message, details (object: pod, container,
              exit code, ...), log_title, log_tail (list of lines), warnings (list of recent Warning events)
    notice    message: the tool's own remark (a watch it could not open, a log that ended early)
    detail    message: API-level detail (what is watched, reconnects, relists)
    progress  rows: list of {target, state, ready, desired, restarts, age, reason}; ready/desired null for
              kinds without replicas, age in seconds
    summary   results: list of {target, namespace, kind, name, verdict, reason, message, duration}; timed_out,
              stopped_by (signal name or null), cluster_error (message or null), duration (seconds)

A result's `verdict` is ready, progressing (no verdict by the end), failed, ignored (a failure under fail-mode
ignore) or left-behind (a non-blocking target the run did not wait for). Text is passed as the cluster sent it:
JSON escapes control characters, so nothing in it can act on a terminal.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from kubedog_ci.engine.outcome import Diagnosis, Outcome
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, Seen, StatusChange

SCHEMA = 1


class JsonLinesSink:
    """One JSON object per record on `stream`; `wall` (seconds since the epoch) dates them."""

    def __init__(self, stream: TextIO, *, wall: Callable[[], float] = time.time) -> None:
        self.stream = stream
        self.wall = wall

    def _emit(self, record_type: str, /, **fields: Any) -> None:
        stamp = datetime.fromtimestamp(self.wall(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.stream.write(json.dumps({"schema": SCHEMA, "type": record_type, "time": stamp, **fields}) + "\n")
        self.stream.flush()

    def seen(self, record: Seen) -> None:
        """The first sight of an object is not in the JSON schema (version 1)."""

    def applied(self, record: Applied) -> None:
        self._emit("applied", kind=record.kind, namespace=record.namespace, name=record.name, action=record.action,
                   line=record.line, source=record.source)

    def status(self, change: StatusChange) -> None:
        self._emit("status", target=change.target, state=str(change.state), reason=change.reason,
                   message=change.message, warnings=list(change.warnings))

    def event(self, notice: EventNotice) -> None:
        self._emit("event", target=notice.target, subject=notice.subject, event_type=notice.type,
                   reason=notice.reason, message=notice.message, count=notice.count)

    def log(self, record: LogRecord) -> None:
        for text in record.lines:  # one JSON object per line (schema 1)
            self._emit("log", target=record.target, pod=record.pod, container=record.container, text=text)

    def failed(self, diagnosis: Diagnosis) -> None:
        self._emit("failure", target=diagnosis.target, headline=diagnosis.headline, reason=diagnosis.reason,
                   message=diagnosis.message, details=dict(diagnosis.details), log_title=diagnosis.log_title,
                   log_tail=list(diagnosis.log_tail), warnings=list(diagnosis.warnings))

    def notice(self, message: str) -> None:
        self._emit("notice", message=message)

    def flush(self) -> None:
        """Every record is written and flushed as it comes."""

    def detail(self, message: str) -> None:
        self._emit("detail", message=message)

    def progress(self, rows: list[Progress]) -> None:
        self._emit("progress", rows=[
            {"target": row.target, "state": str(row.state), "ready": row.ready, "desired": row.desired,
             "restarts": row.restarts, "age": round(row.age, 3), "reason": row.reason} for row in rows])

    def summary(self, outcome: Outcome) -> None:
        self._emit("summary", results=[
            {"target": result.label, "namespace": result.target.namespace, "kind": result.target.kind,
             "name": result.target.name, "verdict": result.verdict, "reason": result.reason,
             "message": result.message, "duration": round(result.duration, 3)} for result in outcome.results],
            timed_out=outcome.timed_out,
            stopped_by=None if outcome.stopped_by is None else signal.Signals(outcome.stopped_by).name,
            cluster_error=outcome.cluster_error, duration=round(outcome.duration, 3))

