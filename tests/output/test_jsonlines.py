"""The JSON-lines sink: one parseable object per record, with the schema's fields, and nothing else."""

from __future__ import annotations

import io
import json
import signal

from kubedog_ci.engine.outcome import Diagnosis, Outcome, TargetResult
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, StatusChange
from kubedog_ci.engine.target import Target
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.output.jsonlines import JsonLinesSink
from kubedog_ci.rules import State

DEPLOYMENTS = Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",))
JOBS = Resource("batch", "v1", "jobs", "job", "Job", True, ())
WALL = 1_893_456_000.25  # 2030-01-01T00:00:00.250Z


def results() -> list[TargetResult]:
    def result(resource: Resource, name: str, state: State, **flags: bool) -> TargetResult:
        label = f"{'deploy' if resource is DEPLOYMENTS else 'job'}/{name}"
        return TargetResult(Target(resource, "prod", name), label, state, "Why", f"{name} says", 1.5, **flags)

    return [result(DEPLOYMENTS, "web", State.READY), result(DEPLOYMENTS, "slow", State.PROGRESSING),
            result(DEPLOYMENTS, "api", State.FAILED), result(JOBS, "lint", State.FAILED, ignored=True),
            result(JOBS, "report", State.PROGRESSING, left_behind=True)]


def run() -> list[dict]:
    stream = io.StringIO()
    sink = JsonLinesSink(stream, wall=lambda: WALL)
    sink.applied(Applied("Deployment", "prod", "web", "created", "deployment.apps/web created", "k8s/web.yaml:3"))
    sink.detail('watching deployments.apps in namespace "prod"')
    sink.status(StatusChange("deploy/web", State.READY, "Paused", "paused", ("it does not progress",)))
    sink.event(EventNotice("deploy/api", "po/api-1", "Warning", "BackOff", "Back-off", 3))
    sink.log(LogRecord("deploy/web", "web-1", "app", "evil \x1b[2J line"))
    sink.progress([Progress("deploy/web", State.READY, 2, 2, 0, 4.12345, "Complete"),
                   Progress("svc/lb", State.PROGRESSING, None, None, 1, 3.0, "")])
    sink.notice("cannot watch events")
    sink.failed(Diagnosis("deploy/api", "deploy/api FAILED: po/api-1 [app] ImagePullBackOff: nope", "ImagePullBackOff",
                          "nope", (("pod", "api-1"), ("container", "app")), "last 1 log line of app", ("bye",),
                          ("po/api-1 BackOff: Back-off",)))
    sink.summary(Outcome(results(), timed_out=False, stopped_by=signal.SIGTERM, cluster_error=None, duration=9.5))
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_every_line_is_one_object_of_the_schema() -> None:
    records = run()
    assert [r["type"] for r in records] == ["applied", "detail", "status", "event", "log", "progress", "notice",
                                            "failure", "summary"]
    assert all(r["schema"] == 1 and r["time"] == "2030-01-01T00:00:00.250Z" for r in records)
    applied, detail, status, event, log, progress, notice, failure, _ = records
    assert applied == {"schema": 1, "type": "applied", "time": applied["time"], "kind": "Deployment",
                       "namespace": "prod", "name": "web", "action": "created", "line": "deployment.apps/web created",
                       "source": "k8s/web.yaml:3"}
    assert detail["message"] == 'watching deployments.apps in namespace "prod"'
    assert (status["target"], status["state"], status["warnings"]) == ("deploy/web", "ready", ["it does not progress"])
    assert (event["subject"], event["event_type"], event["reason"], event["count"]) == ("po/api-1", "Warning",
                                                                                        "BackOff", 3)
    assert log["text"] == "evil \x1b[2J line"  # as sent: JSON escapes it
    assert progress["rows"] == [
        {"target": "deploy/web", "state": "ready", "ready": 2, "desired": 2, "restarts": 0, "age": 4.123,
         "reason": "Complete"},
        {"target": "svc/lb", "state": "progressing", "ready": None, "desired": None, "restarts": 1, "age": 3.0,
         "reason": ""}]
    assert notice["message"] == "cannot watch events"
    assert {k: failure[k] for k in ("target", "reason", "message", "details", "log_tail", "warnings")} == {
        "target": "deploy/api", "reason": "ImagePullBackOff", "message": "nope",
        "details": {"pod": "api-1", "container": "app"}, "log_tail": ["bye"],
        "warnings": ["po/api-1 BackOff: Back-off"]}
    assert failure["headline"].startswith("deploy/api FAILED: ")


def test_the_summary_carries_every_result_and_how_the_run_ended() -> None:
    summary = run()[-1]
    assert {r["target"]: r["verdict"] for r in summary["results"]} == {
        "deploy/web": "ready", "deploy/slow": "progressing", "deploy/api": "failed", "job/lint": "ignored",
        "job/report": "left-behind"}
    assert summary["results"][0] == {"target": "deploy/web", "namespace": "prod", "kind": "Deployment", "name": "web",
                                     "verdict": "ready", "reason": "Why", "message": "web says", "duration": 1.5}
    assert (summary["timed_out"], summary["stopped_by"], summary["cluster_error"], summary["duration"]) == (
        False, "SIGTERM", None, 9.5)


def test_the_raw_bytes_hold_no_escape_character() -> None:
    stream = io.StringIO()
    JsonLinesSink(stream).log(LogRecord("deploy/web", "web-1", "app", "\x1b]0;pwned\x07 ünï"))
    assert "\x1b" not in stream.getvalue() and "\x07" not in stream.getvalue()
    assert json.loads(stream.getvalue())["text"] == "\x1b]0;pwned\x07 ünï"
