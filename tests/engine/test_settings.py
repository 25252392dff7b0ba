"""Per-target settings (kubedog_ci.engine.settings) as the tracker honours them: budget, no-activity timeout,
log following and filtering, fail modes, blocking. Driven through the Tracker with the fake producers of
test_tracker: the test puts on the queue what watchers and log followers would."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest

from kubedog_ci.engine.outcome import Outcome, TargetResult
from kubedog_ci.engine.settings import DEFAULT, FailMode, TargetSettings
from kubedog_ci.engine.state import EVENTS, RELATED_TYPES
from kubedog_ci.engine.target import Target
from kubedog_ci.kube.messages import LogLines, Message, ObjectEvent, Synced
from kubedog_ci.output.terminal import TerminalSink
from kubedog_ci.rules import State, Stream
from tests.engine.builders import NS, event, exited, obj, pod, running, terminated, waiting
from tests.engine.test_tracker import (
    DEPLOYMENTS,
    JOBS,
    NEW_RS,
    NOT_FOUND,
    OLD_RS,
    WEB,
    Harness,
    _already_stopped,
    deployment,
    web_pod,
)

PODS, REPLICASETS = RELATED_TYPES[Stream.PODS], RELATED_TYPES[Stream.REPLICASETS]

API = Target(DEPLOYMENTS, NS, "api")
HOPE = TargetSettings(fail_mode=FailMode.HOPE)
SYNCS = [Synced(resource, NS) for resource in (DEPLOYMENTS, PODS, EVENTS, REPLICASETS)]


def synced(settings: TargetSettings = DEFAULT, **options: object) -> Harness:
    """deploy/web with `settings`, its revision-2 ReplicaSet current, every watch listed."""
    harness = Harness(WEB, settings={WEB.key: settings}, **options)
    harness.put(REPLICASETS, OLD_RS)
    harness.put(REPLICASETS, NEW_RS)
    harness.put(DEPLOYMENTS, deployment())
    harness.sync(DEPLOYMENTS, PODS, EVENTS, REPLICASETS)
    return harness


def crash(number: int) -> dict:
    """web-bbb-1 running again after its run `number` exited with code 3."""
    return web_pod("web-bbb-1", "rs-2", running(cid=f"run-{number + 1}", restarts=number + 1,
                                                last=exited(3, cid=f"run-{number}")))


def api(stuck: bool = False) -> dict:
    conditions = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                   "message": "stuck"}] if stuck else []
    return obj("apps/v1", "Deployment", "api", "d-2", generation=1, spec={"replicas": 1},
               status={"observedGeneration": 1, "conditions": conditions})


def run(harness: Harness, *items: Message) -> Outcome:
    """A whole run over `items`; the clock moves at every reading, or the final log drain would wait forever."""
    harness.clock.step = harness.clock.step or 0.05
    for item in items:
        harness.producers.queue.put(item)
    return harness.tracker.run()


def result(outcome: Outcome, label: str) -> TargetResult:
    return next(r for r in outcome.results if r.label == label)


# --- failures allowed per replica ---------------------------------------------------------------------------


@pytest.mark.parametrize(("option", "setting", "per_replica"), [(1, None, 1), (1, 3, 3), (3, 0, 0)])
def test_failures_allowed_per_replica_is_the_targets_own(option: int, setting: int | None, per_replica: int) -> None:
    harness = synced(TargetSettings(failures_allowed_per_replica=setting), failures_allowed_per_replica=option)
    for number in range(per_replica):
        harness.put(PODS, crash(number), "MODIFIED")
        assert harness.state() is State.PROGRESSING
    harness.put(PODS, crash(per_replica), "MODIFIED")
    assert harness.state() is State.FAILED
    (diagnosis,) = harness.sink.diagnoses
    budget = f"{per_replica + 1} failures counted, {per_replica} allowed ({per_replica} per replica x 1 replica)"
    assert ("budget", budget) in diagnosis.details


def test_a_whole_budget_replaces_the_per_replica_one() -> None:
    harness = synced(TargetSettings(failures_allowed=2, failures_allowed_per_replica=0))
    for number in range(2):
        harness.put(PODS, crash(number), "MODIFIED")
        assert harness.state() is State.PROGRESSING
    harness.put(PODS, crash(2), "MODIFIED")
    assert harness.state() is State.FAILED
    (diagnosis,) = harness.sink.diagnoses
    assert ("budget", "3 failures counted, 2 allowed (for the whole resource)") in diagnosis.details


# --- its own timeout ----------------------------------------------------------------------------------------


def test_its_timeout_fails_it_with_its_last_status() -> None:
    harness = synced(TargetSettings(timeout=30))
    last = harness.sink.statuses[-1].message
    harness.clock.now += 29.9
    harness.tracker.tick()
    assert harness.state() is State.PROGRESSING
    harness.clock.now += 0.1
    harness.tracker.tick()
    assert harness.state() is State.FAILED
    (diagnosis,) = harness.sink.diagnoses
    assert diagnosis.headline == f"deploy/web FAILED: Timeout: no verdict after 30s: {last}"
    assert harness.sink.statuses[-1].reason == "Timeout"


def test_activity_does_not_put_its_timeout_off() -> None:
    harness = synced(TargetSettings(timeout=30, no_activity_timeout=20))
    for _ in range(3):
        harness.clock.now += 10
        ACTIVITY["its object"](harness)
        harness.tracker.tick()
    assert [d.reason for d in harness.sink.diagnoses] == ["Timeout"]


def test_its_timeout_does_not_touch_a_target_with_a_verdict() -> None:
    harness = Harness(WEB, settings={WEB.key: TargetSettings(timeout=30)})
    harness.put(DEPLOYMENTS, deployment(ready=True))
    harness.sync(DEPLOYMENTS, PODS, EVENTS, REPLICASETS)
    harness.clock.now += 3600
    harness.tracker.tick()
    assert harness.state() is State.READY and harness.sink.diagnoses == []


def test_its_timeout_ends_a_run_whose_timeout_is_later() -> None:
    harness = Harness(WEB, API, settings={API.key: TargetSettings(timeout=2)}, timeout=60)
    harness.clock.step = 0.5
    outcome = run(harness, ObjectEvent(DEPLOYMENTS, "ADDED", api()), *SYNCS,
                  ObjectEvent(DEPLOYMENTS, "ADDED", deployment(ready=True)))
    assert result(outcome, "deploy/api").reason == "Timeout"
    assert result(outcome, "deploy/web").state is State.READY
    assert [r.label for r in outcome.failed] == ["deploy/api"] and not outcome.timed_out
    assert outcome.duration < 10


def test_its_timeout_ends_the_wait_for_a_hoping_target_which_stays_failed() -> None:
    harness = synced(TargetSettings(fail_mode=FailMode.HOPE, timeout=30))
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting(reason="ImagePullBackOff", message=NOT_FOUND)))
    assert harness.state() is State.FAILED and not harness.tracker.states[WEB.key].final
    harness.clock.now += 30
    harness.tracker.tick()
    state = harness.tracker.states[WEB.key]
    assert state.final and state.reason == "ImagePullBackOff"
    assert [d.reason for d in harness.sink.diagnoses] == ["ImagePullBackOff"]
    assert harness.sink.notices == ["deploy/web: still failed after its timeout of 30s (ImagePullBackOff): no longer "
                                    "waited for"]


# --- no activity --------------------------------------------------------------------------------------------


def test_no_activity_fails_the_target_with_its_last_status() -> None:
    harness = synced(TargetSettings(no_activity_timeout=30))
    last = harness.sink.statuses[-1].message
    harness.clock.now += 29.9
    harness.tracker.tick()
    assert harness.state() is State.PROGRESSING
    harness.clock.now += 0.1
    harness.tracker.tick()
    assert harness.state() is State.FAILED
    (diagnosis,) = harness.sink.diagnoses
    assert diagnosis.headline == f"deploy/web FAILED: NoActivity: no activity for 30s: {last}"


def test_no_activity_does_not_touch_a_target_with_a_verdict() -> None:
    harness = Harness(WEB, settings={WEB.key: TargetSettings(no_activity_timeout=30)})
    harness.put(DEPLOYMENTS, deployment(ready=True))
    harness.sync(DEPLOYMENTS, PODS, EVENTS, REPLICASETS)
    harness.clock.now += 3600
    harness.tracker.tick()
    assert harness.state() is State.READY and harness.sink.diagnoses == []


ACTIVITY: dict[str, Callable[[Harness], None]] = {
    "its object": lambda h: h.put(DEPLOYMENTS, deployment(), "MODIFIED"),
    "its current Pod": lambda h: h.put(PODS, web_pod("web-bbb-1", "rs-2", running(ready=False, cid="c2")),
                                       "MODIFIED"),
    "its current ReplicaSet": lambda h: h.put(REPLICASETS, {**NEW_RS, "status": {"replicas": 1}}, "MODIFIED"),
    "an Event about it": lambda h: h.tracker.handle(ObjectEvent(EVENTS, "ADDED", event(
        "ScalingReplicaSet", "Scaled up", kind="Deployment", name="web", uid="d-1", type_="Normal"))),
    "an Event about its Pod": lambda h: h.tracker.handle(ObjectEvent(EVENTS, "ADDED", event(
        "Pulled", "pulled", name="web-bbb-1", uid="uid-web-bbb-1", type_="Normal"))),
    "a log line, even one not shown": lambda h: h.tracker.handle(LogLines(NS, "web-bbb-1", "app", ("t",), ("tick",))),
}
NO_ACTIVITY: dict[str, Callable[[Harness], None]] = {
    "an old revision's Pod": lambda h: h.put(PODS, web_pod("web-aaa-1", "rs-1", running())),
    "an old ReplicaSet": lambda h: h.put(REPLICASETS, {**OLD_RS, "status": {"replicas": 0}}, "MODIFIED"),
    "another Pod's log": lambda h: h.tracker.handle(LogLines(NS, "web-aaa-1", "app", ("t",), ("tick",))),
    "an Event about another Pod": lambda h: h.tracker.handle(ObjectEvent(EVENTS, "ADDED", event(
        "Pulled", "pulled", name="other", uid="uid-other", type_="Normal"))),
}


@pytest.mark.parametrize(("what", "counts"), [*((name, True) for name in ACTIVITY),
                                              *((name, False) for name in NO_ACTIVITY)])
def test_what_counts_as_activity(what: str, counts: bool) -> None:
    harness = synced(TargetSettings(no_activity_timeout=30, log_regex=re.compile("never")))
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running(ready=False)))
    harness.clock.now += 20
    {**ACTIVITY, **NO_ACTIVITY}[what](harness)
    harness.clock.now += 15
    harness.tracker.tick()
    assert harness.state() is (State.PROGRESSING if counts else State.FAILED)
    harness.clock.now += 15
    harness.tracker.tick()
    assert harness.state() is State.FAILED
    assert harness.sink.logs == []


# --- logs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "followed"), [
    (DEFAULT, {"migrate", "app", "sidecar"}),
    (TargetSettings(skip_logs=True), set()),
    (TargetSettings(log_containers=frozenset({"app"})), {"app"}),
    (TargetSettings(skip_log_containers=frozenset({"sidecar"})), {"migrate", "app"}),
    (TargetSettings(log_containers=frozenset({"app", "sidecar"}), skip_log_containers=frozenset({"app"})),
     {"sidecar"}),
])
def test_containers_not_shown_are_not_followed(settings: TargetSettings, followed: set[str]) -> None:
    harness = synced(settings)
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running("app"), running("sidecar", cid="c2"),
                              init=(terminated("migrate", code=0, reason="Completed"),)))
    assert {container for _, _, container in harness.producers.followed} == followed


@pytest.mark.parametrize(("deploy_shows", "pod_shows", "label"), [
    (False, True, "po/web-bbb-1"), (True, False, "deploy/web"), (True, True, "deploy/web"), (False, False, None)])
def test_a_pod_of_two_targets_is_followed_if_either_shows_it(deploy_shows: bool, pod_shows: bool,
                                                             label: str | None) -> None:
    pod_target = Target(PODS, NS, "web-bbb-1")
    harness = Harness(WEB, pod_target, settings={WEB.key: TargetSettings(skip_logs=not deploy_shows),
                                                 pod_target.key: TargetSettings(skip_logs=not pod_shows)})
    harness.put(REPLICASETS, NEW_RS)
    harness.put(DEPLOYMENTS, deployment())
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running()))
    harness.sync(DEPLOYMENTS, PODS, EVENTS, REPLICASETS)
    assert bool(harness.producers.followed) is (label is not None)
    harness.tracker.handle(LogLines(NS, "web-bbb-1", "app", ("t",), ("hello",)))
    assert [r.target for r in harness.sink.logs] == ([label] if label else [])


LINES = [("app", "error: disk full"), ("app", "ok"), ("sidecar", "ready now"), ("sidecar", "error: proxy")]


@pytest.mark.parametrize(("settings", "shown"), [
    (DEFAULT, LINES),
    (TargetSettings(log_regex=re.compile("error")), [LINES[0], LINES[3]]),
    (TargetSettings(log_regex=re.compile("error"), log_regex_for=(("sidecar", re.compile("^ready")),)),
     [LINES[0], LINES[2]]),
    (TargetSettings(log_regex_for=(("sidecar", re.compile("ready")),)), LINES[:3]),
    (TargetSettings(log_containers=frozenset({"app"}), log_regex=re.compile("o")), [LINES[0], LINES[1]]),
])
def test_log_lines_not_matching_are_not_shown(settings: TargetSettings, shown: list[tuple[str, str]]) -> None:
    harness = synced(settings)
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running("app"), running("sidecar", cid="c2")))
    for container, text in LINES:
        harness.tracker.handle(LogLines(NS, "web-bbb-1", container, ("t",), (text,)))
    assert [(r.container, r.text) for r in harness.sink.logs] == shown


# --- fail modes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "web", "failed", "all_ready"), [
    (FailMode.FAIL, State.PROGRESSING, ["deploy/api"], False),
    (FailMode.IGNORE, State.READY, [], True),
])
def test_an_ignored_failure_is_shown_but_neither_stops_nor_fails_the_run(mode: FailMode, web: State,
                                                                         failed: list[str], all_ready: bool) -> None:
    harness = Harness(WEB, API, settings={API.key: TargetSettings(fail_mode=mode)})
    outcome = run(harness, ObjectEvent(DEPLOYMENTS, "ADDED", api(stuck=True)), *SYNCS,
                  ObjectEvent(DEPLOYMENTS, "ADDED", deployment(ready=True)))
    assert [d.headline for d in harness.sink.diagnoses] == [
        'deploy/api FAILED: ProgressDeadlineExceeded: deployment "api" exceeded its progress deadline: stuck']
    assert result(outcome, "deploy/web").state is web
    assert result(outcome, "deploy/api").state is State.FAILED
    assert result(outcome, "deploy/api").ignored is (mode is FailMode.IGNORE)
    assert [r.label for r in outcome.failed] == failed
    assert outcome.all_ready is all_ready and not outcome.timed_out


def test_hope_shows_the_failure_once_and_may_still_become_ready() -> None:
    harness = synced(HOPE)
    pulling = web_pod("web-bbb-1", "rs-2", waiting(reason="ImagePullBackOff", message=NOT_FOUND))
    outcome = run(harness, ObjectEvent(PODS, "ADDED", pulling), ObjectEvent(PODS, "MODIFIED", pulling),
                  ObjectEvent(PODS, "MODIFIED", web_pod("web-bbb-1", "rs-2", running(), ready=True)),
                  ObjectEvent(DEPLOYMENTS, "MODIFIED", deployment(ready=True)))
    assert [d.headline for d in harness.sink.diagnoses] == [
        f"deploy/web FAILED: po/web-bbb-1 [app] ImagePullBackOff: {NOT_FOUND}"]
    assert [str(s.state) for s in harness.sink.statuses] == ["progressing", "failed", "progressing", "ready"]
    (web,) = outcome.results
    assert web.state is State.READY and web.diagnosis is None
    assert outcome.all_ready and not outcome.failed


def test_hope_judges_on_with_a_fresh_budget_and_diagnoses_only_a_new_failure() -> None:
    harness = synced(HOPE)
    harness.put(PODS, crash(0), "MODIFIED")
    harness.put(PODS, crash(1), "MODIFIED")
    assert harness.state() is State.FAILED and len(harness.sink.diagnoses) == 1
    harness.put(PODS, crash(2), "MODIFIED")  # one failure counted in the fresh budget: judged on
    assert harness.state() is State.PROGRESSING
    harness.put(PODS, crash(3), "MODIFIED")  # the budget spent again, the same way: not diagnosed again
    assert harness.state() is State.FAILED and len(harness.sink.diagnoses) == 1
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting(reason="ImagePullBackOff", message=NOT_FOUND)),
                "MODIFIED")
    assert [d.reason for d in harness.sink.diagnoses] == ["Error", "ImagePullBackOff"]
    assert not any(s.final for s in harness.tracker.states.values())


def test_hope_still_failed_at_the_timeout_is_a_failure_diagnosed_once() -> None:
    job = Target(JOBS, NS, "migrate")
    harness = Harness(job, settings={job.key: HOPE}, timeout=5)
    failed = obj("batch/v1", "Job", "migrate", "j-1", status={"conditions": [
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "too many retries"}]})
    job_pod = pod("migrate-x", "uid-x", terminated("main", code=2), phase="Failed", restart_policy="Never",
                  labels={"batch.kubernetes.io/controller-uid": "j-1"})
    harness.clock.step = 0.5
    outcome = run(harness, ObjectEvent(JOBS, "ADDED", failed), ObjectEvent(PODS, "ADDED", job_pod),
                  *(Synced(r, NS) for r in (JOBS, PODS, EVENTS)),
                  *(ObjectEvent(PODS, "MODIFIED", job_pod) for _ in range(3)),
                  ObjectEvent(JOBS, "MODIFIED", failed))
    assert len(harness.sink.diagnoses) == 1
    (migrate,) = outcome.results
    assert migrate.state is State.FAILED and migrate.reason == "BackoffLimitExceeded"
    assert migrate.diagnosis == harness.sink.diagnoses[0]
    assert outcome.duration >= 5, "fail-fast must not end the run at a hoping target's failure"
    assert not outcome.timed_out and [r.label for r in outcome.failed] == ["job/migrate"]


def test_hope_failing_when_stopped_is_a_failure() -> None:
    harness = synced(HOPE)
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting(reason="ImagePullBackOff", message=NOT_FOUND)))
    outcome = harness.tracker.run(_already_stopped())
    (web,) = outcome.results
    assert web.state is State.FAILED and web.reason == "ImagePullBackOff" and web.diagnosis is not None
    assert outcome.stopped_by == 2 and outcome.failed == [web]


def test_no_activity_under_hope_is_diagnosed_once() -> None:
    harness = synced(TargetSettings(fail_mode=FailMode.HOPE, no_activity_timeout=10))
    for _ in range(3):
        harness.clock.now += 10
        harness.tracker.tick()
    assert [d.reason for d in harness.sink.diagnoses] == ["NoActivity"]
    assert harness.state() is State.FAILED


# --- blocking -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("api_settings", "stuck", "web_blocking", "expected"), [
    pytest.param(TargetSettings(blocking=False), False, True,
                 (State.PROGRESSING, True, State.READY, False, True), id="left-behind"),
    pytest.param(TargetSettings(blocking=False), True, True,
                 (State.FAILED, False, State.PROGRESSING, False, False), id="its-failure-still-fails-fast"),
    pytest.param(TargetSettings(blocking=False, fail_mode=FailMode.HOPE), True, True,
                 (State.FAILED, False, State.READY, False, False), id="hoping-at-the-end-is-failed"),
    pytest.param(TargetSettings(blocking=False), False, False,
                 (State.PROGRESSING, False, State.READY, True, False), id="all-non-blocking-are-waited-for"),
])
def test_non_blocking_targets_are_not_waited_for(api_settings: TargetSettings, stuck: bool, web_blocking: bool,
                                                 expected: tuple[State, bool, State, bool, bool]) -> None:
    settings = {API.key: api_settings}
    if not web_blocking:
        settings[WEB.key] = TargetSettings(blocking=False)
    harness = Harness(WEB, API, settings=settings, timeout=5)
    harness.clock.step = 0.5
    web_status = deployment(ready=True) if expected[2] is State.READY else deployment()
    outcome = run(harness, ObjectEvent(DEPLOYMENTS, "ADDED", api(stuck)), *SYNCS,
                  ObjectEvent(DEPLOYMENTS, "ADDED", web_status))
    api_result, web_result = result(outcome, "deploy/api"), result(outcome, "deploy/web")
    assert (api_result.state, api_result.left_behind, web_result.state, outcome.timed_out,
            outcome.all_ready) == expected
    assert outcome.duration < 5 or outcome.timed_out
    if api_result.left_behind:
        assert api_result.message.startswith("not waited for: Waiting for deployment")


def test_a_target_missing_from_the_settings_gets_the_defaults() -> None:
    harness = Harness(WEB, API, settings={API.key: HOPE})
    assert {s.label: s.settings for s in harness.tracker.states.values()} == {"deploy/web": DEFAULT,
                                                                            "deploy/api": HOPE}


# --- outcome and summary ------------------------------------------------------------------------------------


def _result(label: str, state: State, reason: str = "", **flags: bool) -> TargetResult:
    return TargetResult(WEB, label, state, reason, "", 1.0, **flags)


@pytest.mark.parametrize(("results", "failed", "all_ready"), [
    ([_result("a", State.READY)], [], True),
    ([_result("a", State.READY), _result("b", State.FAILED)], ["b"], False),
    ([_result("a", State.READY), _result("b", State.FAILED, ignored=True)], [], True),
    ([_result("a", State.READY), _result("b", State.PROGRESSING, left_behind=True)], [], True),
    ([_result("a", State.PROGRESSING), _result("b", State.FAILED, ignored=True)], [], False),
])
def test_outcome_counts_neither_ignored_nor_left_behind(results: list[TargetResult], failed: list[str],
                                                        all_ready: bool) -> None:
    outcome = Outcome(results)
    assert [r.label for r in outcome.failed] == failed and outcome.all_ready is all_ready


def test_summary_names_ignored_and_left_behind_in_one_word() -> None:
    stream = io.StringIO()
    TerminalSink(stream).summary(Outcome([
        _result("deploy/web", State.READY, "RolloutComplete"),
        _result("deploy/api", State.FAILED, "ProgressDeadlineExceeded", ignored=True),
        _result("deploy/x", State.PROGRESSING, left_behind=True),
        _result("deploy/y", State.FAILED, "Error")]))
    assert stream.getvalue().splitlines() == [
        "",
        "RESOURCE    VERDICT      DURATION  REASON",
        "deploy/web  ready        1.0s      RolloutComplete",
        "deploy/api  ignored      1.0s      ProgressDeadlineExceeded (fail-mode ignore)",
        "deploy/x    left-behind  1.0s      -",
        "deploy/y    FAILED       1.0s      Error",
    ]


@pytest.mark.parametrize(("settings", "container", "text", "shown"), [
    (DEFAULT, "app", "x", True),
    (TargetSettings(skip_logs=True), "app", "x", False),
    (TargetSettings(log_containers=frozenset({"app"})), "sidecar", "x", False),
    (TargetSettings(log_regex=re.compile(r"\d")), "app", "port 80", True),
    (TargetSettings(log_regex=re.compile(r"^\d")), "app", "port 80", False),
    (TargetSettings(log_regex=re.compile("x"), log_regex_for=(("app", re.compile("y")),)), "app", "x", False),
])
def test_shows_line(settings: TargetSettings, container: str, text: str, shown: bool) -> None:
    assert settings.shows_line(container, text) is shown
