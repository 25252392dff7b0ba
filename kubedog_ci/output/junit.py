"""The JUnit sink: one XML report per run, so a CI system shows every tracked resource as a test case.

The root is `<testsuites>` holding one `<testsuite name="kubedog">`: the shape pytest, Surefire and most tools
emit, which GitLab's `artifacts:reports:junit`, Jenkins, dorny/test-reporter and mikepenz/action-junit-report all
read, and which tests/schemas/junit-10.xsd (the Jenkins xUnit schema) accepts. Each resource is one `<testcase>`:

- ready: passed;
- failed: `<failure type="REASON" message="HEADLINE">` with the diagnosis block as its text;
- no verdict when the run ended: `<error>` of type Timeout, Cancelled (a signal) or ClusterError;
- a failure ignored by fail-mode ignore, or a non-blocking resource not waited for: `<skipped>`.

Shaped for the way GitLab's `artifacts:reports:junit` reads a report (and the GitHub reporters with it):

- GitLab shows `classname` as the suite: the namespace and kind (`prod.Deployment`);
- it drops every test case whose name repeats an earlier one, so each `name` is unique in the report: the
  namespace, kind and object (`prod/Deployment/web`), with the API group too when two kinds share a name;
- it shows the body of `<failure>`, `<error>` and `<skipped>`, not their `message` attribute: every body starts
  with the message and holds the whole diagnosis block (details, last log lines, recent Warning events);
- it shows `<system-out>` for failed test cases only: the manifest's FILE:LINE, then the resource's last log lines
  and Warning events, in the order they came;
- `file` is the manifest the resource came from (relative to the working directory when inside it), for GitLab's
  "copy failed tests" and mikepenz/action-junit-report's annotations; written only when asked (`file_attribute`:
  the CLI asks in GitLab CI and GitHub Actions). The Jenkins xUnit schema has no `file` on a test case, and
  Jenkins' xUnit plugin, which validates against it, skips a report that has one (pytest leaves it out of its
  xunit2 reports for that reason): without `file` the report is valid against the schema as published, with it
  against the schema plus that one attribute (tests/output/test_junit.py checks both).

The report is written once, at `summary()`, which the engine calls however the run ends; a report that cannot be
written is one line on stderr, never a reason to change the run's exit code.
"""

from __future__ import annotations

import contextlib
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
    resource; `file_attribute` writes each test case's manifest file as `testcase@file` (GitLab, GitHub reporters),
    which the Jenkins xUnit schema does not allow."""

    def __init__(self, path: str | os.PathLike[str], *, log_lines: int = 200, sources: Mapping[str, str] | None = None,
                 file_attribute: bool = False) -> None:
        self.path = Path(path)
        self.sources = dict(sources or {})
        self.file_attribute = file_attribute
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
        names = case_names(outcome.results)
        cases = [self._testcase(result, name, outcome) for result, name in zip(outcome.results, names, strict=True)]
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

    def _testcase(self, result: TargetResult, name: str, outcome: Outcome) -> ET.Element:
        target = result.target
        classname = f"{target.namespace}.{target.kind}" if target.namespace else target.kind
        attributes = {"classname": clean(classname), "name": clean(name), "time": seconds(result.duration)}
        file = manifest_file(self.sources.get(result.label, "")) if self.file_attribute else ""
        if file:
            attributes["file"] = clean(file)
        case = ET.Element("testcase", attributes)
        status = ": ".join(part for part in (result.reason, result.message) if part)
        diagnosis = result.diagnosis
        block = diagnosis.lines() if diagnosis else []
        if result.state is State.FAILED:
            headline = diagnosis.headline if diagnosis else status
            if result.ignored:
                message = f"failure ignored (fail-mode ignore): {headline}"
                child("skipped", case, message, body(message, block[1:]))
            else:
                child("failure", case, headline, body(headline, block[1:]),
                      type=diagnosis.reason if diagnosis else result.reason)
        elif result.left_behind:
            message = f"non-blocking, the run did not wait for it ({status or result.state})"
            child("skipped", case, message, body(message, block))
        elif result.state is not State.READY:
            if outcome.stopped_by is not None:
                kind, why = "Cancelled", "the run was stopped by a signal before it was ready"
            elif outcome.cluster_error:
                kind, why = "ClusterError", f"the cluster could not be watched: {outcome.cluster_error}"
            else:
                kind, why = "Timeout", "not ready when the run ended"
            message = f"{why}; last status: {status or result.state}"
            child("error", case, message, body(message, block), type=kind)
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


def case_names(results: list[TargetResult]) -> list[str]:
    """Each result's test case name, unique in the report (GitLab keeps only the first of equal names): namespace,
    kind and name (`prod/Deployment/web`; `Kind/name` when cluster-scoped), the kind qualified by its API group
    (`prod/Widget.example.com/gear`) where two kinds of the report share a name, and a number as the last resort."""

    def name(result: TargetResult, qualified: bool) -> str:
        target = result.target
        kind = f"{target.kind}.{target.resource.group}" if qualified and target.resource.group else target.kind
        return f"{target.namespace}/{kind}/{target.name}" if target.namespace else f"{kind}/{target.name}"

    plain = [name(result, False) for result in results]
    names = [name(result, plain.count(base) > 1) for result, base in zip(results, plain, strict=True)]
    seen: set[str] = set()
    unique = []
    for candidate in names:
        final, number = candidate, 1
        while final in seen:
            number += 1
            final = f"{candidate} ({number})"
        seen.add(final)
        unique.append(final)
    return unique


def manifest_file(source: str) -> str:
    """The file part of a manifest's FILE:LINE, for `testcase@file`: relative to the working directory when inside
    it, with forward slashes (as a repository path); "" for stdin and URLs, which are no file of the repository."""
    path, _, line = source.rpartition(":")
    if not (path and line.isdigit()):
        path = source
    if not path or path == "<stdin>" or "://" in path:
        return ""
    if Path(path).is_absolute():
        with contextlib.suppress(ValueError, OSError):  # outside the working directory: as it is
            path = str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    return path.replace(os.sep, "/")


def body(message: str, lines: list[str]) -> str:
    """A verdict element's text: its message first (GitLab shows the text, not the attribute), then the rest."""
    return "\n".join([message, *lines])


def child(tag: str, parent: ET.Element, message: str | None, text: str = "", **attributes: str) -> ET.Element:
    """A sub-element with cleaned text and attributes (`message` first, as readers show it)."""
    attrs = {"message": message} if message is not None else {}
    element = ET.SubElement(parent, tag, {key: clean(value) for key, value in {**attrs, **attributes}.items()})
    element.text = clean(text) or None
    return element
