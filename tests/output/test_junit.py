"""The JUnit sink (kubedog_ci.output.junit): records and an Outcome in, a report every file of which the Jenkins
xUnit schema (tests/schemas/junit-10.xsd) accepts."""

from __future__ import annotations

import argparse
import io
import signal
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from kubedog_ci.cli.report_flags import add_report_flags, build_sink
from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, StatusChange
from kubedog_ci.engine.target import Target
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.output.junit import EVENT_LINES, JUnitSink
from kubedog_ci.rules import State
from tests import junit_schema

DEPLOYMENTS = Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",))
JOBS = Resource("batch", "v1", "jobs", "job", "Job", True)
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
                "CustomResourceDefinition", False, ("crd",))

DIAGNOSIS = Diagnosis(
    "deploy/api", "deploy/api FAILED: po/api-1 [app] CrashLoopBackOff: exit code 1", "CrashLoopBackOff",
    "back-off restarting failed container",
    details=(("pod", "api-1"), ("container", "app"), ("exit code", "1"), ("restarts", "3")),
    log_title="last 2 log lines of po/api-1 [app]", log_tail=("connecting to db", "fatal: no db"),
    warnings=("po/api-1 BackOff: Back-off restarting failed container",))


def result(target: Target, state: State, reason: str = "", message: str = "", duration: float = 1.5,
           **fields: object) -> TargetResult:
    return TargetResult(target, target.label, state, reason, message, duration, **fields)  # type: ignore[arg-type]


WEB = Target(DEPLOYMENTS, "prod", "web")
API = Target(DEPLOYMENTS, "prod", "api")
MIGRATE = Target(JOBS, "prod", "migrate")
GEAR = Target(CRDS, "", "gears.example.com")
READY_WEB = result(WEB, State.READY, "NewReplicaSetAvailable", "successfully rolled out", 12.3456)
SLOW_WEB = result(WEB, State.PROGRESSING, "LessAvailable", "timed out: 0 of 1 updated replicas are available")


def write(path: Path, outcome: Outcome, *records: object, log_lines: int = 200,
          sources: dict[str, str] | None = None, file_attribute: bool = True) -> ET.Element:
    """Feed the records and the outcome to a sink, check the file against the schema, and parse it."""
    sink = JUnitSink(path, log_lines=log_lines, sources=sources, file_attribute=file_attribute)
    for record in records:
        match record:
            case Applied():
                sink.applied(record)
            case StatusChange():
                sink.status(record)
            case EventNotice():
                sink.event(record)
            case LogRecord():
                sink.log(record)
            case Diagnosis():
                sink.failed(record)
            case [Progress(), *_]:
                sink.progress(record)  # type: ignore[arg-type]
            case str():
                sink.notice(record)
                sink.detail(record)
    sink.summary(outcome)
    junit_schema.validate(str(path))
    return ET.parse(path).getroot()


def verdicts(root: ET.Element) -> dict[str, tuple[str, str | None, str | None]]:
    """testcase name -> (the child telling its verdict or "passed", that child's type, its message)."""
    rows = {}
    for case in root.iter("testcase"):
        verdict = next((el for el in case if el.tag in ("failure", "error", "skipped")), None)
        rows[case.get("name")] = ("passed", None, None) if verdict is None else (
            verdict.tag, verdict.get("type"), verdict.get("message"))
    return rows


def totals(root: ET.Element) -> tuple[str | None, ...]:
    suite = root.find("testsuite")
    assert suite is not None
    return tuple(suite.get(name) for name in ("tests", "failures", "errors", "skipped"))


CASES = {
    "zero targets": (Outcome([], duration=0.5), {}, ("0", "0", "0", "0")),
    "all ready": (
        Outcome([READY_WEB, result(MIGRATE, State.READY, "Complete", "job completed"),
                 result(GEAR, State.READY, "Established", "established")], duration=13.0),
        {"prod/Deployment/web": ("passed", None, None), "prod/Job/migrate": ("passed", None, None),
         "CustomResourceDefinition/gears.example.com": ("passed", None, None)},
        ("3", "0", "0", "0")),
    "one failed": (
        Outcome([READY_WEB, result(API, State.FAILED, "CrashLoopBackOff", "back-off", diagnosis=DIAGNOSIS)]),
        {"prod/Deployment/web": ("passed", None, None),
         "prod/Deployment/api": ("failure", "CrashLoopBackOff", DIAGNOSIS.headline)},
        ("2", "1", "0", "0")),
    "failed without a diagnosis yet": (
        Outcome([result(API, State.FAILED, "NoActivity", "no activity for 30s")]),
        {"prod/Deployment/api": ("failure", "NoActivity", "NoActivity: no activity for 30s")},
        ("1", "1", "0", "0")),
    "timed out": (
        Outcome([result(API, State.READY), SLOW_WEB], timed_out=True),
        {"prod/Deployment/api": ("passed", None, None),
         "prod/Deployment/web": ("error", "Timeout", "not ready when the run ended; last status: LessAvailable: "
                                               "timed out: 0 of 1 updated replicas are available")},
        ("2", "0", "1", "0")),
    "unfinished beside a failure": (
        Outcome([result(API, State.FAILED, "CrashLoopBackOff", "back-off", diagnosis=DIAGNOSIS),
                 result(WEB, State.PROGRESSING, "LessAvailable", "0 of 1 available")]),
        {"prod/Deployment/api": ("failure", "CrashLoopBackOff", DIAGNOSIS.headline),
         "prod/Deployment/web": ("error", "Timeout", "not ready when the run ended; last status: LessAvailable: "
                                               "0 of 1 available")},
        ("2", "1", "1", "0")),
    "cancelled": (
        Outcome([SLOW_WEB], stopped_by=signal.SIGTERM),
        {"prod/Deployment/web": ("error", "Cancelled", "the run was stopped by a signal before it was ready; last "
                                                 "status: LessAvailable: timed out: 0 of 1 updated replicas are "
                                                 "available")},
        ("1", "0", "1", "0")),
    "cluster error": (
        Outcome([result(WEB, State.PROGRESSING)], cluster_error="watch deployments: 403 Forbidden"),
        {"prod/Deployment/web": ("error", "ClusterError", "the cluster could not be watched: watch deployments: 403 "
                                                    "Forbidden; last status: progressing")},
        ("1", "0", "1", "0")),
    "ignored and left behind": (
        Outcome([READY_WEB, result(API, State.FAILED, "CrashLoopBackOff", "back-off", diagnosis=DIAGNOSIS,
                                   ignored=True),
                 result(MIGRATE, State.PROGRESSING, "Running", "not waited for: 0 of 1 completions",
                        left_behind=True)]),
        {"prod/Deployment/web": ("passed", None, None),
         "prod/Deployment/api": ("skipped", None, f"failure ignored (fail-mode ignore): {DIAGNOSIS.headline}"),
         "prod/Job/migrate": ("skipped", None, "non-blocking, the run did not wait for it (Running: not waited for: "
                                          "0 of 1 completions)")},
        ("3", "0", "0", "2")),
}


@pytest.mark.parametrize(("outcome", "expected", "counts"), CASES.values(), ids=CASES.keys())
def test_one_testcase_per_resource_with_its_verdict(tmp_path: Path, outcome: Outcome, expected: dict,
                                                    counts: tuple[str, ...]) -> None:
    root = write(tmp_path / "report.xml", outcome)
    assert root.tag == "testsuites" and [suite.get("name") for suite in root] == ["kubedog"]
    assert verdicts(root) == expected
    assert totals(root) == counts
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == counts[:3]


def test_names_times_and_the_failure_body(tmp_path: Path) -> None:
    outcome = Outcome([READY_WEB, result(API, State.FAILED, "CrashLoopBackOff", "back-off", 3.0004,
                                         diagnosis=DIAGNOSIS), result(GEAR, State.READY, duration=0.2)],
                      duration=61.25)
    root = write(tmp_path / "report.xml", outcome)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("time") == root.get("time") == "61.250"
    assert suite.get("timestamp") and suite.get("hostname") is not None
    cases = [(case.get("classname"), case.get("name"), case.get("time")) for case in root.iter("testcase")]
    assert cases == [("prod.Deployment", "prod/Deployment/web", "12.346"),
                     ("prod.Deployment", "prod/Deployment/api", "3.000"),
                     ("CustomResourceDefinition", "CustomResourceDefinition/gears.example.com", "0.200")]
    failure = root.find(".//failure")
    assert failure is not None and failure.text is not None
    body = failure.text.splitlines()
    assert body == DIAGNOSIS.lines()
    assert "  exit code: 1" in body and "    | fatal: no db" in body
    assert "    po/api-1 BackOff: Back-off restarting failed container" in body


def test_system_out_holds_the_manifest_a_bounded_log_tail_and_warning_events(tmp_path: Path) -> None:
    records: list[object] = [LogRecord("deploy/web", "web-1", "app", f"line {n}") for n in range(10)]
    records.insert(8, EventNotice("deploy/web", "po/web-1", "Warning", "Unhealthy", "probe failed", 4))
    records += [EventNotice("deploy/web", "deploy/web", "Normal", "ScalingReplicaSet", "scaled up"),
                EventNotice("deploy/web", "deploy/web", "Warning", "ProgressDeadline", "stuck"),
                LogRecord("deploy/api", "api-1", "app", "someone else's line"),
                StatusChange("deploy/web", State.PROGRESSING, "LessAvailable", "0 of 1"), "a notice",
                Applied("Deployment", "prod", "web", "created", "deployment.apps/web created", "k8s/web.yaml:3"),
                [Progress("deploy/web", State.PROGRESSING, 0, 1, 0, 1.0, "LessAvailable")]]
    root = write(tmp_path / "report.xml", Outcome([READY_WEB]), *records, log_lines=3,
                 sources={"deploy/web": "k8s/web.yaml:3"})
    out = root.find(".//testcase/system-out")
    assert out is not None and out.text is not None
    assert out.text.splitlines() == [
        "manifest: k8s/web.yaml:3",
        "po/web-1[app] | line 7",
        "po/web-1 Warning Unhealthy (x4): probe failed",
        "po/web-1[app] | line 8",
        "po/web-1[app] | line 9",
        "Warning ProgressDeadline: stuck",
    ]


def test_warning_events_are_bounded_too_and_no_logs_means_no_system_out(tmp_path: Path) -> None:
    events = [EventNotice("deploy/web", "deploy/web", "Warning", "Flapping", f"event {n}")
              for n in range(EVENT_LINES + 5)]
    root = write(tmp_path / "report.xml", Outcome([READY_WEB, result(API, State.READY)]), *events,
                 LogRecord("deploy/web", "web-1", "app", "dropped"), log_lines=0)
    web, api = root.iter("testcase")
    out = web.find("system-out")
    assert out is not None and out.text is not None
    lines = out.text.splitlines()
    assert len(lines) == EVENT_LINES and lines[-1] == f"Warning Flapping: event {EVENT_LINES + 4}"
    assert "dropped" not in out.text
    assert api.find("system-out") is None


HOSTILE = "\x1b[31mred\x1b[0m \x1b]0;owned\x07title \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ nul\x00 ff\x0c " \
          "sur\ud800 nonchar\ufffe\uffff c1\x9b bell\x07 tab\tok"


def test_escape_sequences_and_characters_xml_cannot_carry_are_removed(tmp_path: Path) -> None:
    hostile = Diagnosis("deploy/api", f"deploy/api FAILED: {HOSTILE}", f"Crash\x1b[1m{HOSTILE}", HOSTILE,
                        details=(("message", HOSTILE),), log_title="log", log_tail=(HOSTILE,), warnings=(HOSTILE,))
    outcome = Outcome([result(API, State.FAILED, "Crash", HOSTILE, diagnosis=hostile),
                       result(Target(DEPLOYMENTS, "prod", f"web{HOSTILE}"), State.PROGRESSING, HOSTILE, HOSTILE),
                       result(MIGRATE, State.FAILED, HOSTILE, HOSTILE, diagnosis=hostile, ignored=True)],
                      timed_out=True, cluster_error=None)
    path = tmp_path / "report.xml"
    root = write(path, outcome, LogRecord("deploy/api", "api-1", "app", HOSTILE),
                 EventNotice("deploy/api", "po/api-1", "Warning", HOSTILE, HOSTILE), sources={"deploy/api": HOSTILE})
    raw = path.read_bytes().decode("utf-8")
    cleaned = "red title link nul ff sur nonchar c1 bell tab\tok"
    for junk in ("\x1b", "\x00", "\x0c", "\x07", "\ufffe", "\uffff", "\x9b", "owned", "http://x"):
        assert junk not in raw, repr(junk)
    texts = [text for el in root.iter() for text in (el.text or "", *el.attrib.values())]
    assert any(cleaned in text for text in texts)
    failure = root.find(".//failure")
    assert failure is not None and failure.get("type") == f"Crash{cleaned}"
    out = root.find(".//system-out")
    assert out is not None and out.text is not None and out.text.splitlines()[0] == f"manifest: {cleaned}"


def test_the_report_is_replaced_atomically_in_directories_it_creates(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "nested" / "junit.xml"
    write(path, Outcome([SLOW_WEB], timed_out=True))
    write(path, Outcome([READY_WEB]))
    assert [p.name for p in path.parent.iterdir()] == ["junit.xml"]
    assert verdicts(ET.parse(path).getroot()) == {"prod/Deployment/web": ("passed", None, None)}
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("where", ["under a file", "a directory"])
def test_a_report_that_cannot_be_written_is_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               where: str) -> None:
    blocker = tmp_path / "blocker"
    if where == "a directory":
        blocker.mkdir()
        path = blocker
    else:
        blocker.write_text("not a directory")
        path = blocker / "junit.xml"
    JUnitSink(path).summary(Outcome([READY_WEB]))
    err = capsys.readouterr().err
    assert err.startswith(f"kubedog: cannot write JUnit report {path}: ") and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["blocker"]


WIDGETS = Resource("example.com", "v1", "widgets", "widget", "Widget", True)
OTHER_WIDGETS = Resource("other.example.org", "v1", "widgets", "widget", "Widget", True)


def gitlab_view(root: ET.Element) -> list[dict[str, str | None]]:
    """The test cases as GitLab's JUnit parser (lib/gitlab/ci/parsers/test/junit.rb) keeps and shows them: suite =
    classname, the name, file, a status from the failure/error/skipped element, the details from that element's
    text (never its message attribute), system-out for failed ones only; a name seen before is dropped."""
    kept: dict[str, dict[str, str | None]] = {}
    for case in root.iter("testcase"):
        verdict = next((el for el in case if el.tag in ("failure", "error", "skipped")), None)
        status = {"failure": "failed", "error": "error", "skipped": "skipped", None: "success"}[
            None if verdict is None else verdict.tag]
        name = case.get("name") or ""
        if name in kept:
            continue
        kept[name] = {"suite": case.get("classname"), "name": name, "file": case.get("file"), "status": status,
                      "details": None if verdict is None else verdict.text,
                      "system_output": case.findtext("system-out") if status in ("failed", "error") else None}
    return list(kept.values())


def test_gitlab_shaped_failure_bodies_unique_names_and_the_manifest_file(tmp_path: Path) -> None:
    """The same Deployment name in two namespaces, two kinds of one name, and what GitLab shows of each."""
    staging_web, staging_api = Target(DEPLOYMENTS, "staging", "web"), Target(DEPLOYMENTS, "staging", "api")
    gear, other_gear = Target(WIDGETS, "prod", "gear"), Target(OTHER_WIDGETS, "prod", "gear")
    web_diagnosis = Diagnosis(
        "prod/deploy/web", "prod/deploy/web FAILED: po/web-1 [app] CrashLoopBackOff: exit code 1", "CrashLoopBackOff",
        "back-off", details=(("pod", "web-1"), ("exit code", "1")), log_title="last 2 log lines of po/web-1 [app]",
        log_tail=("connecting to db", "fatal: no db"), warnings=("po/web-1 BackOff: Back-off restarting",))
    results = [
        TargetResult(WEB, "prod/deploy/web", State.FAILED, "CrashLoopBackOff", "back-off", 4.0,
                     diagnosis=web_diagnosis),
        TargetResult(staging_web, "staging/deploy/web", State.READY, "NewReplicaSetAvailable", "rolled out", 2.0),
        TargetResult(staging_api, "staging/deploy/api", State.PROGRESSING, "LessAvailable", "0 of 1 available", 9.0),
        TargetResult(MIGRATE, "prod/job/migrate", State.FAILED, "BackoffLimitExceeded", "failed", 3.0,
                     diagnosis=DIAGNOSIS, ignored=True),
        TargetResult(gear, "prod/widget/gear", State.READY, "Ready", "", 1.0),
        TargetResult(other_gear, "prod/widget/gear", State.READY, "Ready", "", 1.0),
        TargetResult(GEAR, "crd/gears.example.com", State.READY, "Established", "", 0.5),
    ]
    sources = {"prod/deploy/web": "k8s/prod/web.yaml:12", "staging/deploy/web": "k8s/staging/web.yaml:3",
               "staging/deploy/api": "<stdin>:5", "prod/job/migrate": "https://example.com/migrate.yaml:1",
               "crd/gears.example.com": "crds/gears.yaml:1"}
    logs = [LogRecord("prod/deploy/web", "web-1", "app", "fatal: no db"),
            LogRecord("staging/deploy/web", "web-2", "app", "serving")]
    root = write(tmp_path / "report.xml", Outcome(results, timed_out=True), *logs, sources=sources)
    shown = gitlab_view(root)
    assert [(case["suite"], case["name"], case["status"], case["file"]) for case in shown] == [
        ("prod.Deployment", "prod/Deployment/web", "failed", "k8s/prod/web.yaml"),
        ("staging.Deployment", "staging/Deployment/web", "success", "k8s/staging/web.yaml"),
        ("staging.Deployment", "staging/Deployment/api", "error", None),  # stdin is no file of the repository
        ("prod.Job", "prod/Job/migrate", "skipped", None),  # nor a URL
        ("prod.Widget", "prod/Widget.example.com/gear", "success", None),
        ("prod.Widget", "prod/Widget.other.example.org/gear", "success", None),
        ("CustomResourceDefinition", "CustomResourceDefinition/gears.example.com", "success", "crds/gears.yaml"),
    ], "every test case kept: no name repeats"
    failed, _, timed_out, ignored, *_ = shown
    assert failed["details"] == "\n".join(web_diagnosis.lines()), "the whole diagnosis block, in the body"
    assert "    | fatal: no db" in (failed["details"] or "") and "Back-off restarting" in (failed["details"] or "")
    assert (failed["system_output"] or "").splitlines() == ["manifest: k8s/prod/web.yaml:12",
                                                           "po/web-1[app] | fatal: no db"]
    assert (timed_out["details"] or "").splitlines() == [
        "not ready when the run ended; last status: LessAvailable: 0 of 1 available"]
    assert (ignored["details"] or "").splitlines() == [
        f"failure ignored (fail-mode ignore): {DIAGNOSIS.headline}", *DIAGNOSIS.lines()[1:]]
    for element in root.iter():
        if element.tag in ("failure", "error", "skipped"):
            assert (element.text or "").startswith(element.get("message") or "<none>"), (
                "GitLab shows the body, not the message attribute: the body starts with the message")


def test_every_skipped_and_error_element_has_a_body(tmp_path: Path) -> None:
    outcome = Outcome([result(MIGRATE, State.PROGRESSING, "Running", "0 of 1", left_behind=True),
                       result(WEB, State.PROGRESSING, "", "")], stopped_by=signal.SIGINT)
    root = write(tmp_path / "report.xml", outcome)
    texts = {el.tag: el.text for el in root.iter() if el.tag in ("skipped", "error")}
    assert texts == {"skipped": "non-blocking, the run did not wait for it (Running: 0 of 1)",
                     "error": "the run was stopped by a signal before it was ready; last status: progressing"}


def test_the_manifest_file_is_relative_to_the_working_directory(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "k8s").mkdir(parents=True)
    monkeypatch.chdir(repo)
    outside = tmp_path / "elsewhere" / "api.yaml"
    root = write(tmp_path / "report.xml", Outcome([READY_WEB, result(API, State.READY)]),
                 sources={"deploy/web": f"{repo / 'k8s' / 'web.yaml'}:7", "deploy/api": f"{outside}:1"})
    assert [case.get("file") for case in root.iter("testcase")] == ["k8s/web.yaml", str(outside)]


def test_file_is_the_one_attribute_the_published_schema_lacks_so_it_is_written_only_when_asked(
        tmp_path: Path) -> None:
    """With `file`, the report is valid against junit-10.xsd plus that attribute (which `write` checks), and
    against junit-10.xsd as published only without it; so without `file_attribute` (outside GitLab and GitHub: a
    Jenkins xUnit plugin skips a report it finds invalid) there is none."""
    path = tmp_path / "report.xml"
    sources = {"deploy/web": "k8s/web.yaml:3"}
    write(path, Outcome([READY_WEB]), sources=sources)
    with pytest.raises(xmlschema.XMLSchemaValidationError, match="file"):
        junit_schema.STRICT.validate(str(path))
    root = write(path, Outcome([READY_WEB]), sources=sources, file_attribute=False)
    junit_schema.STRICT.validate(str(path))
    (case,) = root.iter("testcase")
    assert "file" not in case.attrib and case.findtext("system-out", "").startswith("manifest: k8s/web.yaml:3")


@pytest.mark.parametrize(("environ", "ci", "file"), [
    ({"GITLAB_CI": "true"}, "auto", "k8s/web.yaml"),
    ({"GITHUB_ACTIONS": "true"}, "auto", "k8s/web.yaml"),
    ({}, "auto", None),
    ({"JENKINS_URL": "https://ci.example/"}, "auto", None),
    ({}, "gitlab", "k8s/web.yaml"),
    ({"GITLAB_CI": "true"}, "none", None),
])
def test_the_cli_writes_file_in_gitlab_and_github(tmp_path: Path, environ: dict[str, str], ci: str,
                                                  file: str | None) -> None:
    parser = argparse.ArgumentParser()
    add_report_flags(parser)
    path = tmp_path / "report.xml"
    args = parser.parse_args(["--junit", str(path), "--ci", ci, "-q"])
    sink = build_sink(args, {"deploy/web": "k8s/web.yaml:3"}, stream=io.StringIO(), environ=environ)
    sink.summary(Outcome([READY_WEB]))
    junit_schema.validate(path)
    (case,) = ET.parse(path).getroot().iter("testcase")
    assert case.get("file") == file
