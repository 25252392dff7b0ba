"""The JUnit sink: one XML report per run, so a CI system shows every tracked resource as a test case.

The root is `<testsuites>` holding one `<testsuite name="kubedog">`: the shape pytest, Surefire and most tools
emit, which GitLab's `artifacts:reports:junit`, Jenkins, dorny/test-reporter and mikepenz/action-junit-report all
read, and which tests/schemas/junit-10.xsd (the Jenkins xUnit schema) accepts. Each resource is one `<testcase>`:

- ready: passed;
- failed: `<failure type="REASON" message="HEADLINE">` with the diagnosis block as its text;
- no verdict when the run ended: `<error>` of type Timeout, Cancelled (a signal) or ClusterError;
- a failure ignored by fail-mode ignore, or a non-blocking resource not waited for: `<skipped>`.

That schema has no `file`/`line` on a test case, so the manifest's FILE:LINE is the first line of `<system-out>`,
followed by the resource's last log lines and Warning events, in the order they came. The report is written
once, at `summary()`, which the engine calls however the run ends; a report that cannot be written is one line
on stderr, never a reason to change the run's exit code.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict, deque
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, Seen, StatusChange
from kubedog_ci.rules import State

EVENT_LINES = 50
"""Warning events kept per resource: Events repeat (BackOff, FailedScheduling), and their last ones say enough."""

TERMINAL_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?")
"""CSI (colors, cursor moves), OSC (window titles, hyperlinks; to BEL, ST or the end of the line) and the other
ESC sequences: log lines carry them, and a report shows them as garbage."""

NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What XML 1.0 forbids (other control characters, lone surrogates, U+FFFE/U+FFFF) and the C1 controls it
allows but no reader wants: one such character and the whole report fails to parse."""


def clean(text: str) -> str:
    """`text` without terminal escape sequences and characters XML cannot carry."""
    return NOT_XML.sub("", TERMINAL_ESCAPES.sub("", text))


def seconds(value: float) -> str:
    """Seconds with 3 decimals: the schema's SUREFIRE_TIME has no sign and no exponent."""
    return f"{max(value, 0.0):.3f}"


class JUnitSink:
    """Collects each resource's log and Warning event lines during the run; writes the report at `summary()`.
    `sources` maps a target's label to its manifest's FILE:LINE; `log_lines` bounds the log lines kept per
    resource."""

    def __init__(self, path: str | os.PathLike[str], *, log_lines: int = 200, sources: Mapping[str, str] | None = None
                 ) -> None:
        self.path = Path(path)
        self.sources = dict(sources or {})
        self._order = count()
        """One sequence for logs and events, so system-out interleaves them as they happened."""
        self._logs: defaultdict[str, deque[tuple[int, str]]] = defaultdict(lambda: deque(maxlen=log_lines))
        self._events: defaultdict[str, deque[tuple[int, str]]] = defaultdict(lambda: deque(maxlen=EVENT_LINES))

    def seen(self, record: Seen) -> None:
        """The report is about verdicts, not the objects seen on the way."""

    def applied(self, record: Applied) -> None:
        """Apply lines are not test cases: only tracked resources are."""

    def detail(self, message: str) -> None:
        """API-level detail is for `-v` on the terminal, not for a test report."""

    def progress(self, rows: list[Progress]) -> None:
        """The live table is transient; the outcome carries each resource's last status."""

    def status(self, change: StatusChange) -> None:
        """The outcome carries each resource's last status."""

    def notice(self, message: str) -> None:
        """The engine's remarks concern the run, not one test case."""

    def failed(self, diagnosis: Diagnosis) -> None:
        """The outcome carries the diagnosis that stands (a hoping target may have moved past an earlier one)."""

    def event(self, notice: EventNotice) -> None:
        if notice.type == "Warning":
            subject = "" if notice.subject == notice.target else f"{notice.subject} "
            self._events[notice.target].append(
                (next(self._order), f"{subject}Warning {notice.reason}{notice.repeated}: {notice.message}"))

    def flush(self) -> None:
        """The report is written once, at the summary."""

    def log(self, record: LogRecord) -> None:
        self._logs[record.target].extend((next(self._order), line) for line in record.prefixed)

    def summary(self, outcome: Outcome) -> None:
        try:
            self._write(self._report(outcome))
        except OSError as err:
            print(f"kubedog: cannot write JUnit report {self.path}: {err.strerror or err}", file=sys.stderr,
                  flush=True)

    def _report(self, outcome: Outcome) -> ET.Element:
        cases = [self._testcase(result, outcome) for result in outcome.results]
        counts = {kind: sum(1 for case in cases if case.find(kind) is not None)
                  for kind in ("failure", "error", "skipped")}
        totals = {"tests": str(len(cases)), "failures": str(counts["failure"]), "errors": str(counts["error"])}
        root = ET.Element("testsuites", {"name": "kubedog", **totals, "time": seconds(outcome.duration)})
        started = datetime.now(UTC) - timedelta(seconds=outcome.duration)
        suite = ET.SubElement(root, "testsuite", {
            "name": "kubedog", **totals, "skipped": str(counts["skipped"]), "time": seconds(outcome.duration),
            "timestamp": started.isoformat(timespec="seconds"), "hostname": clean(socket.gethostname())})
        suite.extend(cases)
        ET.indent(root)
        return root

    def _testcase(self, result: TargetResult, outcome: Outcome) -> ET.Element:
        target = result.target
        classname = f"{target.namespace}.{target.kind}" if target.namespace else target.kind
        case = ET.Element("testcase", {"classname": clean(classname), "name": clean(f"{target.kind}/{target.name}"),
                                       "time": seconds(result.duration)})
        status = ": ".join(part for part in (result.reason, result.message) if part)
        diagnosis = result.diagnosis
        if result.state is State.FAILED:
            body = "\n".join(diagnosis.lines()) if diagnosis else status
            headline = diagnosis.headline if diagnosis else status
            if result.ignored:
                child("skipped", case, f"failure ignored (fail-mode ignore): {headline}", body)
            else:
                child("failure", case, headline, body, type=diagnosis.reason if diagnosis else result.reason)
        elif result.left_behind:
            child("skipped", case, f"non-blocking, the run did not wait for it ({status})")
        elif result.state is not State.READY:
            if outcome.stopped_by is not None:
                kind, why = "Cancelled", "the run was stopped by a signal before it was ready"
            elif outcome.cluster_error:
                kind, why = "ClusterError", f"the cluster could not be watched: {outcome.cluster_error}"
            else:
                kind, why = "Timeout", "not ready when the run ended"
            child("error", case, f"{why}; last status: {status or result.state}", status, type=kind)
        lines = [f"manifest: {self.sources[result.label]}"] if result.label in self.sources else []
        lines += [line for _, line in sorted([*self._logs[result.label], *self._events[result.label]])]
        if lines:
            child("system-out", case, None, "\n".join(lines))
        return case

    def _write(self, root: ET.Element) -> None:
        """Through a temporary file in the same directory and a rename, so a reader never sees half a report
        and a failed write leaves the previous one in place."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as stream:
                ET.ElementTree(root).write(stream, encoding="utf-8", xml_declaration=True)
                stream.write(b"\n")
            os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the report from a CI uploader of another user
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def child(tag: str, parent: ET.Element, message: str | None, text: str = "", **attributes: str) -> ET.Element:
    """A sub-element with cleaned text and attributes (`message` first, as readers show it)."""
    attrs = {"message": message} if message is not None else {}
    element = ET.SubElement(parent, tag, {key: clean(value) for key, value in {**attrs, **attributes}.items()})
    element.text = clean(text) or None
    return element
