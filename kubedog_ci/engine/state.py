"""What the consumer knows about the cluster: the objects its watchers reported, and which Pods belong to the
current revision of each tracked workload.

Only the current revision's Pods are judged and their logs followed: during a rolling update the old revision's
Pods crash-looping or being deleted say nothing about the new one, and their logs would only mislead.
A workload whose controller has not yet observed its latest spec has no current Pods yet: its revision fields
still describe the previous spec.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from kubedog_ci.engine.budget import Budget
from kubedog_ci.engine.objects import controller_uid, is_observed, meta, uid
from kubedog_ci.engine.outcome import Diagnosis
from kubedog_ci.engine.settings import DEFAULT, FailMode, TargetSettings
from kubedog_ci.engine.sink import EventNotice, Progress
from kubedog_ci.engine.target import Target
from kubedog_ci.kube.discovery import Resource
from kubedog_ci.rules import State

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HASH_LABEL = "controller-revision-hash"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
JOB_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
"""The Job controller's label on its Pods; the unprefixed one is what clusters before 1.27 set."""

PODS = Resource("", "v1", "pods", "pod", "Pod", True, ("po",))
EVENTS = Resource("", "v1", "events", "event", "Event", True, ("ev",))
REPLICASETS = Resource("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ("rs",))
CONTROLLER_REVISIONS = Resource("apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision",
                                True)
"""The related types the engine watches beside its targets; stable APIs, so no discovery round trip is needed."""

RECENT_WARNINGS = 10
"""Warning events kept per target for its diagnosis."""

ObjectKey = tuple[str, str]
"""(namespace, name) within one resource type."""


class View:
    """The latest version of every object of the related types, as the watchers reported them, indexed by the
    uid of their controlling owner (and, for Pods, of the Job their labels name): a workload's Pods are looked up,
    not searched for among the thousands of a busy namespace."""

    def __init__(self) -> None:
        self._objects: dict[tuple[str, str], dict[ObjectKey, dict]] = {}
        self._index: dict[tuple[str, str, str, str], dict[str, dict]] = {}
        """(group, plural, namespace, owner uid) -> the objects it owns, by name."""
        self._uids: dict[str, dict] = {}

    def apply(self, resource: Resource, change: str, obj: dict) -> None:
        """Record an ADDED/MODIFIED/DELETED object of a related type."""
        store = self._objects.setdefault((resource.group, resource.plural), {})
        key = (meta(obj).get("namespace") or "", meta(obj).get("name") or "")
        old = store.pop(key, None)
        if old is not None:
            self._uids.pop(uid(old), None)
            for index in _owners(resource, old):
                self._index.get(index, {}).pop(key[1], None)
        if change != "DELETED":
            store[key] = obj
            self._uids[uid(obj)] = obj
            for index in _owners(resource, obj):
                self._index.setdefault(index, {})[key[1]] = obj

    def get(self, resource: Resource, namespace: str, name: str) -> dict | None:
        return self._objects.get((resource.group, resource.plural), {}).get((namespace, name))

    def with_uid(self, object_uid: str) -> dict | None:
        return self._uids.get(object_uid)

    def owned(self, resource: Resource, namespace: str, owner_uid: str) -> list[dict]:
        """The objects of a type in `namespace` whose controlling owner (or, for Pods, whose Job uid label) is
        `owner_uid`."""
        return list(self._index.get((resource.group, resource.plural, namespace, owner_uid), {}).values())


def _owners(resource: Resource, obj: dict) -> set[tuple[str, str, str, str]]:
    """The View's index entries of an object: its controller's uid, and the Job uid its labels carry."""
    namespace = meta(obj).get("namespace") or ""
    uids = {controller_uid(obj), *((meta(obj).get("labels") or {}).get(label) for label in JOB_UID_LABELS)}
    return {(resource.group, resource.plural, namespace, owner) for owner in uids if owner}


def current_pods(obj: dict, view: View) -> list[dict]:
    """The Pods of the object's current revision, by kind; other kinds have none."""
    namespace = meta(obj).get("namespace") or ""
    kind = obj.get("kind")
    if kind == "Pod":
        return [obj]
    owner = uid(obj)
    if kind == "Deployment":
        replicasets = view.owned(REPLICASETS, namespace, owner)
        rs = current_replicaset(obj, replicasets)
        return deployment_pods(obj, replicasets, view.owned(PODS, namespace, uid(rs))) if rs else []
    pods = view.owned(PODS, namespace, owner)
    if kind == "StatefulSet":
        return statefulset_pods(obj, pods)
    if kind == "DaemonSet":
        return daemonset_pods(obj, view.owned(CONTROLLER_REVISIONS, namespace, owner), pods)
    if kind == "Job":
        return job_pods(obj, pods)
    if kind == "ReplicaSet":
        return owned(obj, pods)
    return []


def owned(owner: dict, objects: Iterable[dict]) -> list[dict]:
    """The objects `owner` controls, oldest first (so output and culprit search are stable)."""
    found = [obj for obj in objects if controller_uid(obj) == uid(owner)]
    return sorted(found, key=lambda obj: (meta(obj).get("creationTimestamp") or "", meta(obj).get("name") or ""))


def current_replicaset(deployment: dict, replicasets: Iterable[dict]) -> dict | None:
    """The Deployment's ReplicaSet of its newest revision: the one whose revision annotation equals the
    Deployment's (the controller stamps both with the same number)."""
    if not is_observed(deployment):
        return None
    revision = (meta(deployment).get("annotations") or {}).get(REVISION_ANNOTATION)
    if revision is None:
        return None
    return next((rs for rs in owned(deployment, replicasets)
                 if (meta(rs).get("annotations") or {}).get(REVISION_ANNOTATION) == revision), None)


def deployment_pods(deployment: dict, replicasets: Iterable[dict], pods: Iterable[dict]) -> list[dict]:
    """Deployment → the ReplicaSet of the newest revision → its Pods with that pod-template-hash."""
    rs = current_replicaset(deployment, replicasets)
    if rs is None:
        return []
    template_hash = (meta(rs).get("labels") or {}).get("pod-template-hash")
    return [pod for pod in owned(rs, pods)
            if template_hash is None or (meta(pod).get("labels") or {}).get("pod-template-hash") == template_hash]


def statefulset_pods(sts: dict, pods: Iterable[dict]) -> list[dict]:
    """Pods whose controller-revision-hash is status.updateRevision (with a partition, only those updated)."""
    revision = (sts.get("status") or {}).get("updateRevision")
    if not revision or not is_observed(sts):
        return []
    return [pod for pod in owned(sts, pods) if (meta(pod).get("labels") or {}).get(REVISION_HASH_LABEL) == revision]


def daemonset_pods(ds: dict, revisions: Iterable[dict], pods: Iterable[dict]) -> list[dict]:
    """Pods whose controller-revision-hash is the newest ControllerRevision's, or whose pod-template-generation
    is the DaemonSet's template generation (what the controller itself checks)."""
    if not is_observed(ds):
        return []
    newest = max(owned(ds, revisions), key=lambda rev: int(rev.get("revision") or 0), default=None)
    revision_hash = (meta(newest).get("labels") or {}).get(REVISION_HASH_LABEL) if newest else None
    annotations = meta(ds).get("annotations") or {}
    generation = str(annotations.get(TEMPLATE_GENERATION_ANNOTATION) or meta(ds).get("generation") or "")
    current = []
    for pod in owned(ds, pods):
        labels = meta(pod).get("labels") or {}
        if (revision_hash and labels.get(REVISION_HASH_LABEL) == revision_hash) or (
                generation and labels.get(TEMPLATE_GENERATION_LABEL) == generation):
            current.append(pod)
    return current


def job_pods(job: dict, pods: Iterable[dict]) -> list[dict]:
    """Pods labelled with the Job's uid: the Job controller's own selector, adoption or not."""
    job_uid = uid(job)
    found = [pod for pod in pods
             if any((meta(pod).get("labels") or {}).get(label) == job_uid for label in JOB_UID_LABELS)]
    return sorted(found, key=lambda obj: (meta(obj).get("creationTimestamp") or "", meta(obj).get("name") or ""))


def replicas(obj: dict) -> int:
    """How many Pods the object runs at once: the multiplier of its failure budget."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    kind = obj.get("kind")
    if kind == "Pod":
        return 0 if spec.get("restartPolicy") == "Never" else 1
    if kind == "DaemonSet":
        return int(status.get("desiredNumberScheduled") or 0)
    if kind == "Job":
        return int(1 if spec.get("parallelism") is None else spec["parallelism"])
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        return int(1 if spec.get("replicas") is None else spec["replicas"])
    return 0


@dataclass
class TargetState:
    """Everything the consumer keeps about one target: its object, its current-revision Pods, its budget and
    its verdict. `final` once it is ready or failed: a verdict, once given, is not taken back. A fail-mode-hope
    target is the exception: its failures leave it open (`state` failed, `final` False), judged on."""

    target: Target
    label: str
    budget: Budget
    started: float
    settings: TargetSettings = DEFAULT
    waited_for: bool = True
    """The run waits for its verdict: it is blocking, or every target is non-blocking."""
    obj: dict | None = None
    pods: dict[str, dict] = field(default_factory=dict)
    """Current-revision Pods by uid."""
    state: State = State.PROGRESSING
    reason: str = ""
    message: str = ""
    warnings: tuple[str, ...] = ()
    final: bool = False
    finished: float | None = None
    diagnosis: Diagnosis | None = None
    recent_warnings: OrderedDict[tuple[str, str, str], EventNotice] = field(default_factory=OrderedDict)
    """The latest of each distinct Warning (subject, reason, message), most recent last."""
    reported: tuple[str, str, str] | None = None
    """The (state, reason, message) last reported to the sink, so only changes are reported."""
    diagnosed: tuple[str, str] | None = None
    """The (reason, message) of the last failure diagnosed, so a hoping target that keeps failing the same way
    is not diagnosed again and again."""
    active: float = field(init=False)
    """When something last happened to it (monotonic): its object, its current Pods or ReplicaSet, an Event
    about them, a log line; what the no-activity timeout measures from."""

    def __post_init__(self) -> None:
        self.active = self.started

    @property
    def hoping(self) -> bool:
        """A fail-mode-hope target whose last judgement was a failure: shown, but still open."""
        return not self.final and self.state is State.FAILED and self.settings.fail_mode is FailMode.HOPE

    @property
    def ignored(self) -> bool:
        return self.final and self.state is State.FAILED and self.settings.fail_mode is FailMode.IGNORE

    @property
    def fails_run(self) -> bool:
        """A failure that counts against the run now (what fail-fast stops at)."""
        return self.final and self.state is State.FAILED and self.settings.fail_mode is FailMode.FAIL

    def remember(self, notice: EventNotice) -> bool:
        """Keep a Warning for the diagnosis; True when it is news, False when it only repeats one (an Event's
        count going up), which the output need not print again."""
        key = (notice.subject, notice.reason, notice.message)
        news = key not in self.recent_warnings
        self.recent_warnings[key] = notice
        self.recent_warnings.move_to_end(key)
        while len(self.recent_warnings) > RECENT_WARNINGS:
            self.recent_warnings.popitem(last=False)
        return news


def progress_row(state: TargetState, now: float) -> Progress:
    """The live-status row of a target: replicas ready of desired (by kind), restarts of its current Pods."""
    obj = state.obj or {}
    status = obj.get("status") or {}
    kind = obj.get("kind")
    ready: int | None = None
    desired: int | None = None
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        ready, desired = int(status.get("readyReplicas") or 0), replicas(obj)
    elif kind == "DaemonSet":
        ready, desired = int(status.get("numberReady") or 0), int(status.get("desiredNumberScheduled") or 0)
    elif kind == "Job":
        spec = obj.get("spec") or {}
        ready, desired = int(status.get("succeeded") or 0), int(spec.get("completions") or 1)
    elif kind == "Pod":
        containers = status.get("containerStatuses") or []
        ready, desired = sum(1 for c in containers if c.get("ready")), len((obj.get("spec") or {}).get(
            "containers") or containers)
    restarts = sum(int(entry.get("restartCount") or 0) for pod in state.pods.values()
                   for entry in (pod.get("status") or {}).get("containerStatuses") or [])
    return Progress(state.label, state.state, ready, desired, restarts, (state.finished or now) - state.started,
                    state.reason)
