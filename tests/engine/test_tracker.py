"""The tracker, driven by hand: the test puts on the queue what watchers and log followers would, and reads
what the tracker asked for (watches, followers, log tails) and told its sink. No cluster, no threads."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

import pytest

from kubedog_ci.engine.outcome import Diagnosis, Options, Outcome
from kubedog_ci.engine.settings import TargetSettings
from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, Seen, StatusChange
from kubedog_ci.engine.state import EVENTS, RELATED_TYPES
from kubedog_ci.engine.target import Target, TargetKey
from kubedog_ci.engine.tracker import Interrupt, Tracker
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.kube.messages import (
    LogAttached,
    LogEnded,
    LogInstanceRead,
    LogLines,
    Message,
    ObjectEvent,
    Synced,
    WatchFailed,
)
from kubedog_ci.rules import State, Stream
from kubedog_ci.rules.profile import WITHOUT_EVENTS
from kubedog_ci.rules.selectors import EVERYTHING, Selector
from tests.engine.builders import NS, event, exited, obj, owner_ref, pod, running, terminated, waiting

PODS, REPLICASETS = RELATED_TYPES[Stream.PODS], RELATED_TYPES[Stream.REPLICASETS]

DEPLOYMENTS = Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",))
JOBS = Resource("batch", "v1", "jobs", "job", "Job", True)
REVISION = "deployment.kubernetes.io/revision"
NOT_FOUND = 'Back-off pulling image "r/api:v2": not found'


class FakeProducers:
    """Records what the tracker starts; the test feeds the queue."""

    def __init__(self, tail: list[str] | None = None) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.watched: list[tuple[str, str | None]] = []
        self.selected: list[tuple[str, str | None, str, str | None]] = []
        """(plural, namespace, selector, since) of each watch, in the order started."""
        self.followed: dict[tuple[str, str, str], tuple[threading.Event, str | None]] = {}
        self.tails: list[tuple[str, str, bool]] = []
        self.tail = tail or []
        self.closed = False
        self.secrets: list[tuple[str, str]] = []
        self.secret_answers: dict[str, str] = {}
        """Secret name -> why it cannot be read; the others are read."""

    def watch(self, resource: Resource, namespace: str | None, selector: Selector = EVERYTHING, *,
              since: str | None = None, trim: Callable[[dict], dict] | None = None) -> None:
        self.watched.append((resource.plural, namespace))
        self.selected.append((resource.plural, namespace, str(selector), since))

    def follow(self, namespace: str, pod: str, container: str, since: str | None) -> threading.Event:
        stop = threading.Event()
        self.followed[(namespace, pod, container)] = (stop, since)
        self.queue.put(LogAttached(namespace, pod, container))  # as a follower does once its stream is open
        return stop

    def log_tail(self, namespace: str, pod: str, container: str, previous: bool, lines: int) -> Future[list[str]]:
        self.tails.append((pod, container, previous))
        future: Future[list[str]] = Future()
        future.set_result(self.tail)
        return future

    def read_secret(self, namespace: str, name: str) -> str | None:
        self.secrets.append((namespace, name))
        return self.secret_answers.get(name)

    def close(self) -> None:
        self.closed = True


class Recorder:
    def __init__(self) -> None:
        self.statuses: list[StatusChange] = []
        self.events: list[EventNotice] = []
        self.logs: list[LogRecord] = []
        self.diagnoses: list[Diagnosis] = []
        self.notices: list[str] = []
        self.details: list[str] = []
        self.outcomes: list[Outcome] = []
        self.seen_records: list[Seen] = []

    def status(self, change: StatusChange) -> None:
        self.statuses.append(change)

    def event(self, notice: EventNotice) -> None:
        self.events.append(notice)

    def log(self, record: LogRecord) -> None:
        self.logs.append(record)

    def failed(self, diagnosis: Diagnosis) -> None:
        self.diagnoses.append(diagnosis)

    def notice(self, message: str) -> None:
        self.notices.append(message)

    def summary(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def applied(self, record: Applied) -> None:
        pass  # apply-and-track's, before the engine starts

    def seen(self, record: Seen) -> None:
        self.seen_records.append(record)

    def detail(self, message: str) -> None:
        self.details.append(message)

    def progress(self, rows: list[Progress]) -> None:
        pass  # the sinks' live status, not what these tests judge

    def flush(self) -> None:
        pass  # records are kept as they come


class Clock:
    """A monotonic clock the test moves: by hand, or by `step` at every reading."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.step = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


WALL = 1_893_456_000.0  # 2030-01-01T00:00:00Z


def deployment(revision: str = "2", ready: bool = False, replicas: int = 1, **status: object) -> dict:
    counters = {"replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
                "availableReplicas": replicas} if ready else {"replicas": replicas, "updatedReplicas": replicas}
    return obj("apps/v1", "Deployment", "web", "d-1", generation=2, annotations={REVISION: revision},
               spec={"replicas": replicas}, status={"observedGeneration": 2, **counters, **status})


def replicaset(name: str, uid: str, revision: str) -> dict:
    return obj("apps/v1", "ReplicaSet", name, uid, owner=owner_ref("Deployment", "web", "d-1"),
               annotations={REVISION: revision}, labels={"pod-template-hash": name[-3:]})


def web_pod(name: str, rs_uid: str, *containers: dict, **fields: object) -> dict:
    return pod(name, f"uid-{name}", *containers, owner=owner_ref("ReplicaSet", "x", rs_uid),
               labels={"pod-template-hash": name.split("-")[1]}, **fields)


OLD_RS, NEW_RS = replicaset("web-aaa", "rs-1", "1"), replicaset("web-bbb", "rs-2", "2")


class Harness:
    def __init__(self, *targets: Target, tail: list[str] | None = None,
                 settings: dict[TargetKey, TargetSettings] | None = None, **options: object) -> None:
        self.clock = Clock()
        self.producers = FakeProducers(tail)
        self.sink = Recorder()
        # settle windows have tests of their own (test_settle), selective watches below
        options = {"settle": 0.0, "selective_watches": 0, **options}
        self.tracker = Tracker(list(targets), Options(**options), self.sink, self.producers,  # type: ignore[arg-type]
                               settings=settings, clock=self.clock, wall=lambda: WALL)

    def put(self, resource: Resource, obj: dict, change: str = "ADDED") -> None:
        self.tracker.handle(ObjectEvent(resource, change, obj))

    def sync(self, *resources: Resource) -> None:
        for resource in resources:
            self.tracker.handle(Synced(resource, NS))

    def state(self, name: str = "web") -> State:
        return next(s.state for s in self.tracker.states.values() if s.target.name == name)


WEB = Target(DEPLOYMENTS, NS, "web")


def synced_web(**options: object) -> Harness:
    harness = Harness(WEB, **options)
    harness.put(REPLICASETS, OLD_RS)
    harness.put(REPLICASETS, NEW_RS)
    harness.put(DEPLOYMENTS, deployment())
    harness.sync(DEPLOYMENTS, PODS, EVENTS, REPLICASETS)
    return harness


def test_one_shared_watch_per_type_and_namespace() -> None:
    other = Target(DEPLOYMENTS, NS, "api")
    job = Target(JOBS, "batch-ns", "migrate")
    harness = Harness(WEB, other, job)
    assert harness.tracker.watches() and not harness.producers.watched
    harness.tracker.run(_already_stopped())
    assert sorted(harness.producers.watched) == sorted([
        ("deployments", NS), ("events", NS), ("pods", NS), ("replicasets", NS),
        ("jobs", "batch-ns"), ("events", "batch-ns"), ("pods", "batch-ns")])
    assert harness.producers.closed


def _already_stopped() -> Interrupt:
    interrupt = Interrupt()
    interrupt.request(2)
    return interrupt


def test_nothing_is_judged_before_every_watch_has_listed() -> None:
    harness = Harness(WEB)
    harness.put(DEPLOYMENTS, deployment(ready=True))
    harness.sync(DEPLOYMENTS, PODS, EVENTS)
    assert harness.sink.statuses == []
    harness.sync(REPLICASETS)
    assert harness.state() is State.READY
    assert [s.reason for s in harness.sink.statuses] == ["RolloutComplete"]


def test_a_missing_target_is_waited_for() -> None:
    harness = Harness(WEB)
    harness.sync(DEPLOYMENTS, PODS, EVENTS, REPLICASETS)
    assert harness.sink.statuses[-1].reason == "NotFound"
    assert harness.state() is State.PROGRESSING


def test_only_the_current_revisions_pods_are_followed_and_shown() -> None:
    harness = synced_web(logs_since=0.0)
    harness.put(PODS, web_pod("web-aaa-1", "rs-1", running()))
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running()))
    assert list(harness.producers.followed) == [(NS, "web-bbb-1", "app")]
    assert harness.producers.followed[(NS, "web-bbb-1", "app")][1] == "2030-01-01T00:00:00.000000Z"
    for name in ("web-aaa-1", "web-bbb-1"):
        harness.tracker.handle(LogLines(NS, name, "app", ("t",), (f"hello from {name}",)))
    assert [(r.target, r.pod, r.text) for r in harness.sink.logs] == [("deploy/web", "web-bbb-1",
                                                                       "hello from web-bbb-1")]


def test_a_pod_that_leaves_the_current_revision_is_no_longer_followed() -> None:
    harness = synced_web()
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running()))
    stop, _ = harness.producers.followed[(NS, "web-bbb-1", "app")]
    third = replicaset("web-ccc", "rs-3", "3")
    harness.put(REPLICASETS, third)
    harness.put(DEPLOYMENTS, deployment(revision="3"), "MODIFIED")
    assert stop.is_set()


def test_at_most_max_log_streams_are_followed_and_the_others_wait_for_one_to_end() -> None:
    harness = synced_web(max_log_streams=2)
    for name in ("web-bbb-1", "web-bbb-2", "web-bbb-3", "web-bbb-4"):
        harness.put(PODS, web_pod(name, "rs-2", running()))
    assert list(harness.producers.followed) == [(NS, "web-bbb-1", "app"), (NS, "web-bbb-2", "app")]
    assert harness.sink.notices == ["following 2 container logs at once (--max-log-streams); the others wait for "
                                    "one of them to end"]
    harness.tracker.handle(LogEnded(NS, "web-bbb-1", "app", "terminated: Completed (exit code 0)"))
    assert (NS, "web-bbb-3", "app") in harness.producers.followed  # from the start of the run: nothing lost
    assert harness.producers.followed[(NS, "web-bbb-3", "app")][1] == harness.producers.followed[
        (NS, "web-bbb-1", "app")][1]
    harness.put(PODS, web_pod("web-bbb-4", "rs-2", running()), "DELETED")  # leaves while waiting
    harness.put(PODS, web_pod("web-bbb-2", "rs-2", running()), "DELETED")
    assert harness.producers.followed[(NS, "web-bbb-2", "app")][0].is_set()
    assert len(harness.producers.followed) == 3 and len(harness.sink.notices) == 1


def test_init_containers_are_followed_once_started() -> None:
    harness = synced_web()
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting(reason="PodInitializing"),
                              init=(running("migrate"),)))
    assert list(harness.producers.followed) == [(NS, "web-bbb-1", "migrate")]


def test_logs_off_follows_nothing() -> None:
    harness = synced_web(logs=False)
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running()))
    assert harness.producers.followed == {}


def test_a_fatal_sign_fails_at_once_with_the_pod_named() -> None:
    harness = synced_web()
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting(reason="ImagePullBackOff", message=NOT_FOUND)))
    assert harness.state() is State.FAILED
    (diagnosis,) = harness.sink.diagnoses
    assert diagnosis.headline == f"deploy/web FAILED: po/web-bbb-1 [app] ImagePullBackOff: {NOT_FOUND}"


def test_a_crash_loop_fails_on_the_second_run_with_its_log() -> None:
    harness = synced_web(tail=["starting", "boom"])
    crash = exited(3, cid="run-0")
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", terminated(code=3, cid="run-0")))
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting(reason="CrashLoopBackOff", last=crash)), "MODIFIED")
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running(cid="run-1", restarts=1, last=crash)), "MODIFIED")
    assert harness.state() is State.PROGRESSING
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting(reason="CrashLoopBackOff", restarts=1,
                                                           last=exited(3, cid="run-1"))), "MODIFIED")
    assert harness.state() is State.FAILED
    assert harness.producers.tails == [("web-bbb-1", "app", True)]
    (diagnosis,) = harness.sink.diagnoses
    assert diagnosis.headline == "deploy/web FAILED: po/web-bbb-1 [app] Error: exited with code 3"
    assert diagnosis.log_tail == ("starting", "boom")
    assert ("budget", "2 failures counted, 1 allowed (1 per replica x 1 replica)") in diagnosis.details


def test_failures_allowed_per_replica_widens_the_budget() -> None:
    harness = synced_web(failures_allowed_per_replica=3)
    for run in range(3):
        harness.put(PODS, web_pod("web-bbb-1", "rs-2", running(cid=f"run-{run + 1}", restarts=run + 1,
                                                               last=exited(3, cid=f"run-{run}"))), "MODIFIED")
    assert harness.state() is State.PROGRESSING
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", terminated(code=3, cid="run-3")), "MODIFIED")
    assert harness.state() is State.FAILED


def test_grace_periods_run_on_the_clock_given() -> None:
    harness = synced_web(grace_scale=0.5)
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting(reason="CreateContainerConfigError",
                                                           message="couldn't find key x in ConfigMap prod/c")))
    harness.clock.now += 29.9
    harness.tracker.tick()
    assert harness.state() is State.PROGRESSING
    harness.clock.now += 0.1
    harness.tracker.tick()
    assert harness.state() is State.FAILED
    assert "CreateContainerConfigError" in harness.sink.diagnoses[0].headline


def test_a_sign_that_clears_does_not_fail_later() -> None:
    harness = synced_web()
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting(reason="CreateContainerConfigError")))
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running(), ready=True), "MODIFIED")
    harness.clock.now += 3600
    harness.tracker.tick()
    assert harness.state() is State.PROGRESSING


def test_replicaset_quota_failure_fails_after_the_capacity_grace() -> None:
    harness = synced_web(grace_scale=0.01)
    quota = {"conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                             "message": 'pods "web-bbb-x" is forbidden: exceeded quota: pods'}]}
    harness.put(REPLICASETS, {**NEW_RS, "status": quota}, "MODIFIED")
    harness.tracker.handle(ObjectEvent(EVENTS, "ADDED", event(
        "FailedCreate", "Error creating: exceeded quota: pods", kind="ReplicaSet", name="web-bbb", uid="rs-2")))
    assert [(e.subject, e.reason) for e in harness.sink.events] == [("rs/web-bbb", "FailedCreate")]
    harness.clock.now += 1.2
    harness.tracker.tick()
    assert harness.state() is State.FAILED
    assert harness.sink.diagnoses[0].headline.startswith("deploy/web FAILED: rs/web-bbb FailedCreate: ")


def test_progress_deadline_names_the_pod_sign_behind_it() -> None:
    harness = synced_web()
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running(ready=False)))
    harness.tracker.handle(ObjectEvent(EVENTS, "ADDED", event("Unhealthy", "Readiness probe failed: 503",
                                                              name="web-bbb-1", uid="uid-web-bbb-1",
                                                              field_path="spec.containers{app}")))
    stuck = deployment(conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                    "message": 'ReplicaSet "web-bbb" has timed out progressing.'}])
    harness.put(DEPLOYMENTS, stuck, "MODIFIED")
    (diagnosis,) = harness.sink.diagnoses
    assert diagnosis.headline == ("deploy/web FAILED: po/web-bbb-1 [app] Unhealthy: Readiness probe failed: 503 "
                                  "(ProgressDeadlineExceeded)")


def test_events_from_before_the_run_are_ignored_and_repeats_not_reprinted() -> None:
    harness = synced_web()
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running()))
    old = event("BackOff", "Back-off restarting", name="web-bbb-1", uid="uid-web-bbb-1",
                stamp="2029-12-31T23:59:59Z")
    harness.tracker.handle(ObjectEvent(EVENTS, "ADDED", old))
    assert harness.sink.events == []
    for count in (1, 2, 3):
        harness.tracker.handle(ObjectEvent(EVENTS, "MODIFIED", event(
            "BackOff", "Back-off restarting", name="web-bbb-1", uid="uid-web-bbb-1", count=count)))
    assert [e.count for e in harness.sink.events] == [1]


def test_events_about_a_pod_not_seen_yet_are_replayed_when_it_appears() -> None:
    harness = synced_web()
    harness.tracker.handle(ObjectEvent(EVENTS, "ADDED", event("FailedMount", 'configmap "cfg" not found',
                                                              name="web-bbb-1", uid="uid-web-bbb-1")))
    assert harness.sink.events == []
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting(reason="ContainerCreating")))
    assert [e.reason for e in harness.sink.events] == ["FailedMount"]


def test_a_target_deleted_while_tracked_fails() -> None:
    harness = synced_web()
    harness.put(DEPLOYMENTS, deployment(), "DELETED")
    assert harness.state() is State.FAILED
    assert harness.sink.diagnoses[0].headline == \
        'deploy/web FAILED: Deleted: deployment "web" was deleted while tracked'


def test_same_name_in_two_namespaces_is_two_targets() -> None:
    staging = Target(DEPLOYMENTS, "staging", "web")
    harness = Harness(WEB, staging)
    other = deployment(ready=True)
    other["metadata"]["namespace"] = "staging"
    harness.put(DEPLOYMENTS, other)
    for namespace in (NS, "staging"):
        for resource in (DEPLOYMENTS, PODS, EVENTS, REPLICASETS):
            harness.tracker.handle(Synced(resource, namespace))
    states = {s.label: s.state for s in harness.tracker.states.values()}
    assert states == {"prod/deploy/web": State.PROGRESSING, "staging/deploy/web": State.READY}


def test_a_failed_watch_of_a_target_is_a_cluster_error_and_of_events_a_notice() -> None:
    harness = synced_web()
    harness.tracker.handle(WatchFailed(EVENTS, NS, "forbidden: cannot watch events", 403))
    assert harness.tracker.cluster_error is None
    assert harness.sink.notices == [f"forbidden: cannot watch events; continuing without events ({WITHOUT_EVENTS})"]
    harness.tracker.handle(WatchFailed(DEPLOYMENTS, NS, "the API server stayed away"))
    assert harness.tracker.cluster_error == "the API server stayed away"


def test_run_ends_at_the_first_failure_with_fail_fast_and_reports_the_summary() -> None:
    harness = Harness(WEB, Target(DEPLOYMENTS, NS, "api"))
    api = obj("apps/v1", "Deployment", "api", "d-2", generation=1, status={
        "observedGeneration": 1, "conditions": [{"type": "Progressing", "status": "False",
                                                 "reason": "ProgressDeadlineExceeded", "message": "stuck"}]})
    for item in (ObjectEvent(DEPLOYMENTS, "ADDED", api), *(Synced(r, NS) for r in (DEPLOYMENTS, PODS, EVENTS,
                                                                                  REPLICASETS))):
        harness.producers.queue.put(item)
    outcome = harness.tracker.run()
    assert [(r.label, r.state) for r in outcome.results] == [("deploy/web", State.PROGRESSING),
                                                             ("deploy/api", State.FAILED)]
    assert harness.sink.outcomes == [outcome] and not outcome.timed_out


@pytest.mark.parametrize(("fail_fast", "states"), [(True, ["progressing", "failed"]), (False, ["ready", "failed"])])
def test_no_fail_fast_waits_for_every_verdict(fail_fast: bool, states: list[str]) -> None:
    harness = Harness(WEB, Target(DEPLOYMENTS, NS, "api"), fail_fast=fail_fast, timeout=0)
    api = obj("apps/v1", "Deployment", "api", "d-2", generation=1, status={
        "observedGeneration": 1, "conditions": [{"type": "Progressing", "status": "False",
                                                 "reason": "ProgressDeadlineExceeded", "message": "stuck"}]})
    items = [ObjectEvent(DEPLOYMENTS, "ADDED", api), *(Synced(r, NS) for r in (DEPLOYMENTS, PODS, EVENTS,
                                                                                REPLICASETS)),
             ObjectEvent(DEPLOYMENTS, "ADDED", deployment(ready=True))]
    for item in items:
        harness.producers.queue.put(item)
    outcome = harness.tracker.run()
    assert [str(r.state) for r in outcome.results] == states


def test_timeout_ends_the_run_without_a_failure() -> None:
    harness = Harness(WEB, timeout=5)
    harness.clock.step = 1.0
    outcome = harness.tracker.run()
    assert outcome.timed_out and outcome.results[0].state is State.PROGRESSING
    assert outcome.results[0].message == "timed out"


def test_an_interrupt_ends_the_run_with_its_signal() -> None:
    outcome = Harness(WEB).tracker.run(_already_stopped())
    assert outcome.stopped_by == 2 and not outcome.timed_out


def later(harness: Harness, *items: Message) -> None:
    """Put `items` on the queue 0.2 s from now, as producers still busy when the verdict comes would."""
    threading.Timer(0.2, lambda: [harness.producers.queue.put(item) for item in items]).start()


def test_the_end_waits_for_a_follower_still_opening_its_stream() -> None:
    """A follower retrying a failing API has not yet read what the container printed before it turned ready:
    the end of the run waits for its stream to open (within DRAIN_MAX), so those lines are printed."""
    harness = Harness(WEB)

    def attaching_late(namespace: str, pod: str, container: str, since: str | None) -> threading.Event:
        later(harness, LogAttached(namespace, pod, container),
              LogLines(namespace, pod, container, ("t1",), ("listening",)))
        return threading.Event()

    harness.producers.follow = attaching_late  # type: ignore[method-assign]
    items = [ObjectEvent(REPLICASETS, "ADDED", NEW_RS), ObjectEvent(PODS, "ADDED", web_pod("web-bbb-1", "rs-2",
                                                                                           running(), ready=True)),
             ObjectEvent(DEPLOYMENTS, "ADDED", deployment(ready=True)),
             *(Synced(r, NS) for r in (DEPLOYMENTS, PODS, EVENTS, REPLICASETS))]
    for item in items:
        harness.producers.queue.put(item)
    harness.clock.step = 0.01
    outcome = harness.tracker.run()
    assert outcome.results[0].state is State.READY
    assert [record.text for record in harness.sink.logs] == ["listening"]


def test_the_end_waits_for_a_crashed_instance_to_be_read_to_its_end() -> None:
    harness = Harness(WEB, failures_allowed_per_replica=0)
    crashed = web_pod("web-bbb-1", "rs-2", terminated(code=3, cid="run-0"))
    for item in (ObjectEvent(REPLICASETS, "ADDED", NEW_RS), ObjectEvent(PODS, "ADDED", crashed),
                 ObjectEvent(DEPLOYMENTS, "ADDED", deployment()),
                 *(Synced(r, NS) for r in (DEPLOYMENTS, PODS, EVENTS, REPLICASETS))):
        harness.producers.queue.put(item)
    later(harness, LogLines(NS, "web-bbb-1", "app", ("t9",), ("fatal: no database",)),
          LogInstanceRead(NS, "web-bbb-1", "app", "run-0"))
    harness.clock.step = 0.01
    outcome = harness.tracker.run()
    assert outcome.results[0].state is State.FAILED
    assert [record.text for record in harness.sink.logs] == ["fatal: no database"]


def test_the_end_waits_for_a_finished_jobs_pods_before_their_own_update_comes() -> None:
    harness = Harness(Target(JOBS, NS, "migrate"))
    labels = {"batch.kubernetes.io/controller-uid": "j-1"}
    for item in (ObjectEvent(JOBS, "ADDED", obj("batch/v1", "Job", "migrate", "j-1", status={"active": 1})),
                 ObjectEvent(PODS, "ADDED", pod("migrate-x", "uid-x", running("main"), labels=labels)),
                 *(Synced(r, NS) for r in (JOBS, PODS, EVENTS)),
                 ObjectEvent(JOBS, "MODIFIED", obj("batch/v1", "Job", "migrate", "j-1", status={
                     "conditions": [{"type": "Complete", "status": "True"}]}))):
        harness.producers.queue.put(item)
    later(harness, LogLines(NS, "migrate-x", "main", ("t9",), ("migrated",)),
          LogEnded(NS, "migrate-x", "main", "terminated: Completed (exit code 0)"))
    harness.clock.step = 0.01
    outcome = harness.tracker.run()
    assert outcome.results[0].state is State.READY
    assert [record.text for record in harness.sink.logs] == ["migrated"]


def test_a_finished_jobs_last_lines_are_printed_after_its_verdict() -> None:
    harness = Harness(Target(JOBS, NS, "migrate"))
    done = obj("batch/v1", "Job", "migrate", "j-1", status={"conditions": [{"type": "Complete", "status": "True"}]})
    job_pod = pod("migrate-x", "uid-x", terminated("main", code=0, reason="Completed"), phase="Succeeded",
                  labels={"batch.kubernetes.io/controller-uid": "j-1"})
    items = [ObjectEvent(JOBS, "ADDED", done), ObjectEvent(PODS, "ADDED", job_pod),
             *(Synced(r, NS) for r in (JOBS, PODS, EVENTS)),
             LogLines(NS, "migrate-x", "main", ("t1",), ("migrating",)),
             LogLines(NS, "migrate-x", "main", ("t2",), ("done",)),
             LogEnded(NS, "migrate-x", "main", "terminated: Completed (exit code 0)")]
    for item in items:
        harness.producers.queue.put(item)
    harness.clock.step = 0.05
    outcome = harness.tracker.run()
    assert outcome.results[0].state is State.READY
    assert [(r.target, r.container, r.text) for r in harness.sink.logs] == [("job/migrate", "main", "migrating"),
                                                                             ("job/migrate", "main", "done")]
    assert harness.sink.notices == []


@pytest.mark.parametrize("forbidden", [(PODS,), (REPLICASETS,), (EVENTS,), (PODS, REPLICASETS, EVENTS)],
                         ids=["pods", "replicasets", "events", "all-three"])
def test_a_forbidden_related_watch_does_not_hold_back_the_verdict(forbidden: tuple[Resource, ...]) -> None:
    """What the account may not read counts as listed: the target is judged from what is left, at once."""
    harness = Harness(WEB)
    harness.put(DEPLOYMENTS, deployment(ready=True))
    harness.sync(*(resource for resource in (DEPLOYMENTS, PODS, EVENTS, REPLICASETS) if resource not in forbidden))
    assert harness.state() is State.PROGRESSING
    for resource in forbidden:
        harness.tracker.handle(WatchFailed(resource, NS, f"refused to list {resource.plural}", 403))
    assert harness.state() is State.READY
    assert [notice.split(";")[0] for notice in harness.sink.notices] == [
        f"refused to list {resource.plural}" for resource in forbidden]
    assert all(f"({WITHOUT_EVENTS})" in notice if "events" in notice else "(Deployment: " in notice
               for notice in harness.sink.notices)


def test_without_pods_a_deployment_still_fails_on_its_progress_deadline() -> None:
    harness = Harness(WEB)
    harness.sync(DEPLOYMENTS, EVENTS, REPLICASETS)
    harness.tracker.handle(WatchFailed(PODS, NS, "refused to list pods", 403))
    deadline = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "web-bbb" has timed out progressing.'}
    harness.put(DEPLOYMENTS, deployment(conditions=[deadline]))
    assert harness.state() is State.FAILED
    assert "continuing without pods (Deployment: ready from its own status" in harness.sink.notices[0]


def test_the_secrets_a_workload_consumes_are_read_once_before_its_logs_are_followed() -> None:
    harness = Harness(WEB)
    harness.producers.secret_answers = {"forbidden": "forbidden", "gone": "not found"}
    template = {"template": {"spec": {"containers": [{"name": "app", "env": [
        {"name": "P", "valueFrom": {"secretKeyRef": {"name": name, "key": "k"}}}
        for name in ("db", "forbidden", "gone")]}]}}}
    harness.put(REPLICASETS, NEW_RS)
    harness.put(DEPLOYMENTS, {**deployment(), "spec": {"replicas": 1, **template}})
    harness.sync(DEPLOYMENTS, PODS, EVENTS, REPLICASETS)
    assert harness.producers.secrets == [(NS, "db"), (NS, "forbidden"), (NS, "gone")]
    assert harness.sink.notices == [f'cannot read Secret "forbidden" in namespace "{NS}" (forbidden): its values '
                                    "cannot be redacted from logs"]
    assert harness.producers.followed == {}
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running()))
    assert harness.producers.secrets == [(NS, "db"), (NS, "forbidden"), (NS, "gone")]  # each once
    assert list(harness.producers.followed) == [(NS, "web-bbb-1", "app")]


def test_no_secret_is_read_when_redaction_is_off() -> None:
    harness = Harness(WEB, redact_secrets=False)
    template = {"template": {"spec": {"imagePullSecrets": [{"name": "registry"}], "containers": [{"name": "a"}]}}}
    harness.put(DEPLOYMENTS, {**deployment(), "spec": {"replicas": 1, **template}})
    harness.sync(DEPLOYMENTS, PODS, EVENTS, REPLICASETS)
    assert harness.producers.secrets == []


def test_the_sink_is_told_of_the_target_its_replicaset_and_pods_once_each() -> None:
    harness = synced_web()
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", waiting()))
    harness.put(PODS, web_pod("web-bbb-1", "rs-2", running(), ready=True), "MODIFIED")
    harness.put(DEPLOYMENTS, deployment(ready=True), "MODIFIED")
    seen = [(record.kind, record.name, record.ready) for record in harness.sink.seen_records]
    assert seen == [("Deployment", "web", False), ("ReplicaSet", "web-bbb", False), ("Pod", "web-bbb-1", False)]
