"""The public library API (re-exported by `kubedog_ci`): track resources from your own program, with callbacks.

A program hands `track` the resources (as `KIND/NAME` strings, the CLI's words, or `(kind, name, namespace)`
tuples) and a Feed; the call blocks until every resource is ready, one has failed (fail_fast), or the timeout,
and returns an Outcome. The Feed is told what happens as it happens: a thin adapter over the engine's Sink
interface, the same records the CLI's outputs print. `apply_and_track` applies manifests first (server-side
apply), `watch` yields the same records as an iterator. The CLI is one user of `run_tracking` below.

Callbacks run on one thread (the engine's loop), in the order things happened, so a Feed needs no locking.
Raising StopTracking from a callback ends tracking cleanly (threads stopped, streams closed) and `track` returns
the outcome so far; any other exception ends tracking and is re-raised from `track`. Nothing is printed, and no
signal handler or sys.exit is touched. Secret values are redacted from what a Feed is given, as from the CLI's
output.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubedog_ci.errors import ApplyError, ClusterError, InputError

if TYPE_CHECKING:
    from kubedog_ci.engine import outcome as engine_outcome
    from kubedog_ci.engine.outcome import Options
    from kubedog_ci.engine.settings import TargetSettings
    from kubedog_ci.engine.sink import Applied, EventNotice, LogRecord, Progress, Seen, Sink, StatusChange
    from kubedog_ci.engine.target import Target, TargetKey
    from kubedog_ci.engine.tracker import Interrupt
    from kubedog_ci.kube.connect import Cluster
    from kubedog_ci.manifests.reader import Manifest
    from kubedog_ci.manifests.validate import Planned

__all__ = ["ApplyError", "ClusterError", "Diagnosis", "Event", "Feed", "InputError", "Outcome", "Record", "Result",
           "StopTracking", "apply_and_track", "track", "watch"]

Resource = str | tuple[str, str, str | None]
"""`"deploy/web"` (or `"Deployment.apps/web"`, as the CLI takes them), or `(kind, name, namespace)`."""


class StopTracking(Exception):
    """Raise it from any Feed callback to end tracking now; `track` returns the outcome so far."""


@dataclass(frozen=True)
class Event:
    """A Warning Event about a resource, one of its Pods or its current ReplicaSet. `subject` names the object it
    is about (`po/web-7c9f-x2k`); `count` how often it happened."""

    type: str
    reason: str
    message: str
    subject: str
    count: int
    namespace: str


@dataclass(frozen=True)
class Diagnosis:
    """Why a resource failed. `headline` is the CLI's first line (`deploy/web FAILED: po/… [app] …`); `pod` and
    `container` are set when a container is the root cause; `log_tail` holds its last log lines; `lines` the whole
    block as the CLI prints it."""

    headline: str
    reason: str
    message: str
    namespace: str
    pod: str | None = None
    container: str | None = None
    log_tail: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    """One resource at the end: `verdict` is ready, failed, progressing (no verdict yet: timed out or stopped),
    ignored or left-behind."""

    resource: str
    namespace: str
    verdict: str
    reason: str
    message: str
    duration: float


@dataclass(frozen=True)
class Outcome:
    """What `track` found. `ok`: every resource is ready."""

    results: tuple[Result, ...]
    timed_out: bool = False
    stopped: bool = False
    """Tracking was ended by StopTracking (or the iterator was closed) before every verdict."""

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(result.verdict in ("ready", "ignored", "left-behind")
                                          for result in self.results)


@dataclass(frozen=True)
class Record:
    """One Feed callback as `watch` yields it: `name` is the Feed method (`added`, `pod_log`, `ready`, …), `args`
    its other arguments by name."""

    name: str
    resource: str
    namespace: str
    args: Mapping[str, Any] = field(default_factory=dict)


class Feed:
    """Callbacks of a tracking run; every method is optional (the base class does nothing). `resource` is the
    resource's label, `deploy/web` (with its namespace in front, `prod/deploy/web`, when the run spans several)."""

    def added(self, resource: str, ready: bool) -> None:
        """The resource's object is seen for the first time (`ready`: already ready then)."""

    def ready(self, resource: str) -> None:
        """The resource is ready (final)."""

    def failed(self, resource: str, diagnosis: Diagnosis) -> None:
        """The resource failed (final, unless its fail mode is hope)."""

    def event(self, resource: str, event: Event) -> None:
        """A Warning Event about it, its current ReplicaSet or one of its current Pods."""

    def added_replicaset(self, resource: str, name: str) -> None:
        """A Deployment's ReplicaSet of its current revision is seen."""

    def added_pod(self, resource: str, name: str) -> None:
        """A Pod of its current revision is seen."""

    def pod_log(self, resource: str, pod: str, container: str, lines: list[str]) -> None:
        """Log lines of a container of one of its current Pods, a chunk as it arrived."""

    def pod_error(self, resource: str, pod: str, container: str, reason: str, message: str) -> None:
        """The container failure behind a failed resource (called just before `failed`)."""

    def status(self, resource: str, state: str, reason: str, message: str) -> None:
        """Every change of its state (ready, progressing, failed), reason or message."""


class _FeedSink:
    """The engine's Sink interface, told to a Feed: one mechanism for the CLI's outputs and a program's feed. Log
    lines are handed over in chunks (whatever the engine's loop had at once), and before any other callback, so
    the order is kept. A callback's StopTracking or error stops the run; the error is kept for `track` to raise."""

    def __init__(self, feed: Feed, targets: list[Target], labels: Mapping[TargetKey, str],
                 interrupt: Interrupt) -> None:
        self.feed = feed
        self.interrupt = interrupt
        self.namespaces = {labels[target.key]: target.namespace for target in targets}
        self.own = {labels[target.key]: (target.kind, target.name) for target in targets}
        self.error: BaseException | None = None
        self._lines: dict[tuple[str, str, str], list[str]] = {}

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        if self.interrupt.event.is_set():
            return
        try:
            callback(*args)
        except StopTracking:
            self.interrupt.request(None)
        except Exception as err:  # re-raised by track, with its traceback
            self.error = err
            self.interrupt.request(None)

    def _tell(self, callback: Callable[..., None], *args: Any) -> None:
        self.flush()
        self._call(callback, *args)

    def seen(self, record: Seen) -> None:
        if self.own.get(record.target) == (record.kind, record.name):
            self._tell(self.feed.added, record.target, record.ready)
        elif record.kind == "ReplicaSet":
            self._tell(self.feed.added_replicaset, record.target, record.name)
        elif record.kind == "Pod":
            self._tell(self.feed.added_pod, record.target, record.name)

    def status(self, change: StatusChange) -> None:
        self._tell(self.feed.status, change.target, str(change.state), change.reason, change.message)
        if str(change.state) == "ready":
            self._call(self.feed.ready, change.target)

    def event(self, notice: EventNotice) -> None:
        self._tell(self.feed.event, notice.target, Event(notice.type, notice.reason, notice.message, notice.subject,
                                                         notice.count, self.namespaces.get(notice.target, "")))

    def log(self, record: LogRecord) -> None:
        self._lines.setdefault((record.target, record.pod, record.container), []).extend(record.lines)

    def flush(self) -> None:
        chunks, self._lines = self._lines, {}
        for (target, pod, container), lines in chunks.items():
            self._call(self.feed.pod_log, target, pod, container, lines)

    def failed(self, diagnosis: engine_outcome.Diagnosis) -> None:
        namespace = self.namespaces.get(diagnosis.target, "")
        if diagnosis.pod and diagnosis.container:
            self._tell(self.feed.pod_error, diagnosis.target, diagnosis.pod, diagnosis.container, diagnosis.reason,
                       diagnosis.message)
        self._tell(self.feed.failed, diagnosis.target, Diagnosis(
            diagnosis.headline, diagnosis.reason, diagnosis.message, namespace, diagnosis.pod, diagnosis.container,
            diagnosis.log_tail, tuple(diagnosis.lines())))

    def applied(self, record: Applied) -> None:
        """Applied objects are not resources being tracked."""

    def detail(self, message: str) -> None:
        """API-level remarks are for the CLI's -v."""

    def notice(self, message: str) -> None:
        """The engine's remarks (a stream it may not read) are for the CLI's output."""

    def progress(self, rows: list[Progress]) -> None:
        """The live status table is the CLI's."""

    def summary(self, outcome: engine_outcome.Outcome) -> None:
        self.flush()


def run_tracking(cluster: Cluster, targets: list[Target], options: Options, sink: Sink, *,
                 settings: Mapping[TargetKey, TargetSettings] | None = None, interrupt: Interrupt | None = None,
                 join: bool = True) -> engine_outcome.Outcome:
    """Track `targets` with the real producers (kube.producers) until the run ends; the CLI's entry point too.
    Events and logs are taken from the cluster's clock (Cluster.now) at the start, unless Options.origin says
    when the run began. `join`: return only once every producer thread has ended (a CLI about to exit need
    not wait for them)."""
    from kubedog_ci.engine.follow import Follower
    from kubedog_ci.engine.tracker import Tracker
    from kubedog_ci.kube.producers import ClusterProducers

    if options.origin is None:
        options = dataclasses.replace(options, origin=cluster.now())
    producers = ClusterProducers(cluster.api, api_timeout=options.api_timeout)
    engine = Follower if options.follow else Tracker
    try:
        return engine(targets, options, sink, producers, settings=settings).run(interrupt)
    finally:
        if join:
            producers.wait_closed()


def track(resources: Iterable[Resource], *, namespace: str | None = None, kubeconfig: str | None = None,
          context: str | None = None, api_client: Any = None, feed: Feed | None = None, timeout: float = 600,
          logs: bool = True, logs_since: float | None = 0, fail_fast: bool = True,
          failures_allowed_per_replica: int = 1, settle: float = 5.0, settle_max: float = 120.0,
          grace_scale: float = 1.0, api_timeout: float = 60.0, max_log_streams: int = 50,
          redact_secrets: bool = True) -> Outcome:
    """Track `resources` until each is ready, one has failed (`fail_fast`), or `timeout` seconds (0: none).

    `resources`: `KIND/NAME` strings as the CLI takes them (`deploy/web`, `Deployment.apps/web`), or
    `(kind, name, namespace)` tuples (namespace None: `namespace`). `api_client`: a `kubernetes.client.ApiClient`
    you built, else kubeconfig is found as kubectl finds it (`kubeconfig`, $KUBECONFIG, ~/.kube/config;
    `context`), whose context's namespace is the default. `feed` is told what happens as it happens (see Feed).
    `logs_since`: seconds before the start from which the logs of running containers are shown (None: all).
    `settle`: seconds a ready workload's Pods must have run before it is ready (0: at once). Every duration is in
    seconds; grace periods (and settle windows) are multiplied by `grace_scale`.

    Returns an Outcome (`outcome.ok`, `outcome.results`). Raises InputError (a resource name no served type
    answers to), ClusterError (kubeconfig, unreachable or refusing cluster, a tracked object that cannot be
    watched), or whatever a callback raised other than StopTracking."""
    cluster = _cluster(kubeconfig, context, api_client, namespace, api_timeout)
    targets = _targets(cluster, list(resources), namespace)
    options = _options(timeout=timeout, logs=logs, logs_since=logs_since, fail_fast=fail_fast,
                       failures_allowed_per_replica=failures_allowed_per_replica, settle=settle,
                       settle_max=settle_max, grace_scale=grace_scale, api_timeout=api_timeout,
                       max_log_streams=max_log_streams, redact_secrets=redact_secrets)
    return _run(cluster, targets, options, feed or Feed())


def apply_and_track(manifests: Iterable[str | Mapping], *, namespace: str | None = None,
                    kubeconfig: str | None = None, context: str | None = None, api_client: Any = None,
                    feed: Feed | None = None, field_manager: str = "kubedog", force_conflicts: bool = False,
                    **options: Any) -> Outcome:
    """Apply `manifests` with server-side apply (Namespaces and CRDs first, then what workloads use, Services,
    workloads, the rest), then track every applied object that has a state to reach, as the CLI's
    apply-and-track does (its per-object annotations included). `manifests`: paths of files or directories, YAML
    text, or objects as dicts. The other arguments are `track`'s. Raises ApplyError when the API server rejects
    an object (what was applied before it stays applied), InputError for bad manifests (nothing applied)."""
    from kubedog_ci.apply import Applier
    from kubedog_ci.kube.discovery import discover
    from kubedog_ci.manifests.order import apply_order
    from kubedog_ci.manifests.reader import ManifestError
    from kubedog_ci.manifests.validate import validate
    from kubedog_ci.secrets import SECRETS

    read = _manifests(list(manifests))
    settings = tracking_settings(read)
    for manifest in read:
        SECRETS.add_secret(manifest.obj)
    chosen = _options(**options)
    cluster = _cluster(kubeconfig, context, api_client, namespace, chosen.api_timeout)
    try:
        planned = validate(read, discover(cluster), lambda name: True, cluster.namespace, namespace)
    except ManifestError as err:
        raise InputError(str(err)) from err
    chosen = dataclasses.replace(chosen, origin=cluster.now(),
                                 events_since=event_versions(cluster, (entry.namespace for entry in planned)))
    applied = Applier(cluster, field_manager=field_manager, force_conflicts=force_conflicts,
                      api_timeout=chosen.api_timeout).apply_all(apply_order(planned))
    tracked = tracked_targets([(entry.planned, entry.obj) for entry in applied], settings)
    del applied  # the server's copies of what was applied: tracking reads its own
    return _run(cluster, [target for target, _, _ in tracked], chosen, feed or Feed(),
                {target.key: chosen for target, chosen, _ in tracked})


def watch(resources: Iterable[Resource], **arguments: Any) -> Iterator[Record]:
    """`track`, as an iterator of Records (one per Feed callback, in order), ending at the verdicts. Closing the
    iterator early (a `break`) ends tracking. Takes `track`'s arguments, but `feed`."""
    records: queue.Queue = queue.Queue()
    done = object()
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            track(resources, feed=_QueueFeed(records, stop), **arguments)
        except BaseException as err:  # handed to the caller's thread
            failure.append(err)
        finally:
            records.put(done)

    thread = threading.Thread(target=run, name="kubedog-watch", daemon=True)
    thread.start()
    try:
        while (item := records.get()) is not done:
            yield item
    finally:
        stop.set()
        thread.join()
    if failure:
        raise failure[0]


class _QueueFeed(Feed):
    """Puts each callback on a queue as a Record, for `watch`; ends tracking once `stop` is set."""

    def __init__(self, records: queue.Queue, stop: threading.Event) -> None:
        self.records = records
        self.stop = stop

    def _put(self, callback: str, resource: str, namespace: str = "", **args: Any) -> None:
        if self.stop.is_set():
            raise StopTracking
        self.records.put(Record(callback, resource, namespace, args))

    def added(self, resource: str, ready: bool) -> None:
        self._put("added", resource, ready=ready)

    def ready(self, resource: str) -> None:
        self._put("ready", resource)

    def failed(self, resource: str, diagnosis: Diagnosis) -> None:
        self._put("failed", resource, diagnosis.namespace, diagnosis=diagnosis)

    def event(self, resource: str, event: Event) -> None:
        self._put("event", resource, event.namespace, event=event)

    def added_replicaset(self, resource: str, name: str) -> None:
        self._put("added_replicaset", resource, name=name)

    def added_pod(self, resource: str, name: str) -> None:
        self._put("added_pod", resource, name=name)

    def pod_log(self, resource: str, pod: str, container: str, lines: list[str]) -> None:
        self._put("pod_log", resource, pod=pod, container=container, lines=lines)

    def pod_error(self, resource: str, pod: str, container: str, reason: str, message: str) -> None:
        self._put("pod_error", resource, pod=pod, container=container, reason=reason, message=message)

    def status(self, resource: str, state: str, reason: str, message: str) -> None:
        self._put("status", resource, state=state, reason=reason, message=message)


def tracked_targets(objects: Iterable[tuple[Planned, dict]], settings: Mapping[int, TargetSettings | None]) \
        -> list[tuple[Target, TargetSettings, str]]:
    """Of (planned object, its object as applied or as written), those that have a state to reach and are not
    opted out by annotation, in order: each as a Target with its settings and its manifest's FILE:LINE.
    `settings`: by the manifest's id (tracking_settings)."""
    from kubedog_ci.engine.target import Target
    from kubedog_ci.rules import is_trackable

    found = []
    for planned, obj in objects:
        chosen = settings[id(planned.manifest)]
        if chosen is not None and is_trackable(planned.resource.group, planned.kind, obj):
            found.append((Target(planned.resource, planned.namespace, planned.name), chosen, str(planned.source)))
    return found


def tracking_settings(manifests: list[Manifest]) -> dict[int, TargetSettings | None]:
    """Each manifest's tracking settings from its annotations (None: not tracked), keyed by the manifest's id;
    a bad annotation is an InputError naming its file and line."""
    from kubedog_ci.manifests.annotations import settings_for, tracked
    from kubedog_ci.manifests.reader import ManifestError

    try:
        return {id(m): settings_for(m) if tracked(m) else None for m in manifests}
    except ManifestError as err:
        raise InputError(str(err)) from err


def _manifests(inputs: list[str | Mapping]) -> list:
    """Paths, YAML text and dicts as Manifests (a dict's source is `<object N>`)."""
    import os

    import yaml

    from kubedog_ci.manifests.inputs import read_inputs
    from kubedog_ci.manifests.reader import ManifestError, read_text

    found: list = []
    try:
        for index, item in enumerate(inputs):
            if isinstance(item, Mapping):
                found += read_text(yaml.safe_dump(dict(item), sort_keys=False), f"<object {index + 1}>")
            elif "\n" not in item and os.path.exists(item):
                found += read_inputs([item], recursive=True)
            else:
                found += read_text(item, f"<manifests {index + 1}>")
    except ManifestError as err:
        raise InputError(str(err)) from err
    return found


def _cluster(kubeconfig: str | None, context: str | None, api_client: Any, namespace: str | None,
             api_timeout: float) -> Cluster:
    from kubedog_ci.kube.connect import Cluster, connect

    if api_client is None:
        return connect(kubeconfig, context, api_timeout)
    return Cluster(api_client, str(api_client.configuration.host), "", namespace or "default", api_timeout)


def _targets(cluster: Cluster, resources: list[Resource], namespace: str | None) -> list[Target]:
    from kubedog_ci.engine.target import Target
    from kubedog_ci.kube.fetch import Ref, UnknownType, fetch

    refs = []
    for resource in resources:
        if isinstance(resource, str):
            kind, slash, name = resource.partition("/")
            if not (slash and kind and name) or "/" in name:
                raise InputError(f'"{resource}" is not KIND/NAME (e.g. deploy/web)')
            refs.append(Ref(kind, name, namespace))
        else:
            kind, name, where = resource
            refs.append(Ref(kind, name, where or namespace))
    if not refs:
        raise InputError("no resources to track")
    try:
        fetched = fetch(cluster, refs, namespace or cluster.namespace)
    except UnknownType as err:
        raise InputError(str(err)) from err
    return list({(t := Target(f.resource, f.namespace, f.ref.name)).key: t for f in fetched}.values())


def event_versions(cluster: Cluster, namespaces: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(namespace, the resourceVersion of its Events now) for each namespace, by a list of one Event: taken before
    an apply, so the run watches the Events from before it (Options.events_since) and transfers none older. A
    namespace whose Events this account may not list is left out."""
    from kubedog_ci.engine.state import EVENTS

    found = []
    for namespace in sorted({namespace for namespace in namespaces if namespace}):
        version = cluster.collection_version(EVENTS.path(namespace), f'events in namespace "{namespace}"')
        if version is not None:
            found.append((namespace, version))
    return tuple(found)


def _options(**chosen: Any) -> Options:
    from kubedog_ci.engine.outcome import Options

    known = {item.name for item in dataclasses.fields(Options)} - {"origin", "follow", "events_since",
                                                                    "selective_watches"}
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise TypeError(f"unexpected argument{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    return Options(**chosen)


def _run(cluster: Cluster, targets: list[Target], options: Options, feed: Feed,
         settings: Mapping[TargetKey, TargetSettings] | None = None) -> Outcome:
    from kubedog_ci.engine.target import labels
    from kubedog_ci.engine.tracker import Interrupt
    from kubedog_ci.output.redact import RedactingSink

    interrupt = Interrupt()
    names = labels(targets)
    sink = _FeedSink(feed, targets, names, interrupt)
    found = run_tracking(cluster, targets, options, RedactingSink(sink), settings=settings, interrupt=interrupt)
    if sink.error is not None:
        raise sink.error
    if found.cluster_error:
        raise ClusterError(found.cluster_error)
    results = tuple(Result(result.label, result.target.namespace, result.verdict, result.reason, result.message,
                           result.duration) for result in found.results)
    return Outcome(results, found.timed_out, interrupt.event.is_set())
