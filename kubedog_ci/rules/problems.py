"""Failure signs read from objects and Events, each classified by the reason table and keyed by the container
instance (or object) it belongs to.

A sign says what the cluster reported and where; whether it fails the resource is the budget's decision. Its
`key` is what makes counting honest: a crashed container shows up as state.terminated, then as a
CrashLoopBackOff waiting with the same lastState, then as Warning BackOff Events, on every status update, and all
of those are one failure of one container instance.
"""

from __future__ import annotations

import dataclasses
import re
import signal
from dataclasses import dataclass

from kubedog_ci.reasons import Classification, ReasonClass, classify
from kubedog_ci.rules.common import is_current
from kubedog_ci.rules.objects import container_statuses, meta, probe_window, uid

ProblemKey = tuple[str, str, str]
"""(object uid, container name or "", instance): one container run, or one object-level condition."""

STATUS, EVENT = "status", "event"
"""Where a sign was read: a status field is showing while the status shows it; an Event only says it happened."""

MIRRORED_POD_EVENTS = frozenset({"Failed", "BackOff", "InspectFailed", "ErrImageNeverPull", "FailedScheduling",
                                 "Killing", "Preempted", "Evicted"})
"""Pod Event reasons whose information the Pod's status also carries (waiting and terminated reasons, the
PodScheduled condition, status.reason): the status is the source that can say when the sign has gone, so these
Events are shown but not counted."""
JOB_POD_EVENTS = frozenset({"FailedMount", "FailedAttachVolume"})
"""Event reasons that count for a Job's Pods: configuration the Pod cannot start without, which the Job
controller never counts (it only counts Pods that ran and failed)."""
JOB_WAITING_EXCLUDED = frozenset({"CrashLoopBackOff"})

CUSTOM_FAILURE = Classification(
    ReasonClass.FATAL, 30,
    "The object's controller reports its current generation as not Ready with a failure reason; it may still "
    "retry, hence the grace period.")
"""A live-only rule for kinds without a rule of their own (custom resources): Ready=False with a reason such as
Failed or ReconcileError. The offline rule keeps waiting, since one snapshot cannot tell a retry from a verdict."""
_FAILURE_REASON = re.compile(r"Fail|Error|^Err")
_CONTAINER_PATH = re.compile(r"spec\.(?:initContainers|containers|ephemeralContainers)\{([^}]*)\}")


@dataclass(frozen=True)
class Problem:
    """One classified failure sign. `subject` names the object as the output does (`po/web-7c9f-x2k`)."""

    key: ProblemKey
    subject: str
    reason: str
    message: str
    where: str
    classification: Classification
    source: str = STATUS
    container: str | None = None
    pod: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    restart_count: int | None = None
    crashed_previous: bool | None = None
    """For a crash: True when the crashed run is the container's previous instance (read its log with
    previous=true), False when it is the current, terminated one; None when nothing crashed."""

    @property
    def severity(self) -> int:
        """Lower is worse: the order in which a diagnosis prefers root causes."""
        return {ReasonClass.FATAL: 0, ReasonClass.FAILURE: 1, ReasonClass.CAPACITY: 2}.get(
            self.classification.cls, 3)

    def describe(self) -> str:
        """`po/web-7c9f-x2k [app] ImagePullBackOff: Back-off pulling image "x"`: the root cause on one line."""
        where = f"{self.subject} [{self.container}] " if self.container else f"{self.subject} " if self.subject else ""
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""  # a termination log can be long
        return f"{where}{self.reason}: {first}" if first else f"{where}{self.reason}"


def instance_id(entry: dict) -> str:
    """The container run a status entry describes: the running or terminated instance, else the one that last
    terminated (a waiting container after a crash), else the not-yet-started one."""
    state = entry.get("state") or {}
    for part in (state.get("running"), state.get("terminated"), (entry.get("lastState") or {}).get("terminated")):
        if part:
            return part.get("containerID") or entry.get("containerID") or part.get("startedAt") or ""
    return f"new:{entry.get('restartCount') or 0}"


def _signal_of(terminated: dict) -> int | None:
    if terminated.get("signal"):
        return int(terminated["signal"])
    code = terminated.get("exitCode")
    return code - 128 if isinstance(code, int) and 128 < code < 128 + 65 else None


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _crash(pod: dict, entry: dict, terminated: dict, *, previous: bool) -> Problem:
    code = terminated.get("exitCode")
    number = _signal_of(terminated)
    reason = terminated.get("reason") or "Error"
    message = terminated.get("message") or f"exited with code {code}" + (
        f" ({signal_name(number)})" if number else "")
    return Problem((uid(pod), entry.get("name", ""), terminated.get("containerID") or terminated.get("finishedAt")
                    or instance_id(entry)), f"po/{meta(pod).get('name')}", reason, message.strip(), "terminated",
                   classify("terminated", reason, message), container=entry.get("name"), pod=meta(pod).get("name"),
                   exit_code=code, signal=number, restart_count=entry.get("restartCount"), crashed_previous=previous)


def _container_problems(pod: dict, entry: dict) -> list[Problem]:
    state, last = entry.get("state") or {}, (entry.get("lastState") or {}).get("terminated")
    waiting, terminated = state.get("waiting"), state.get("terminated")
    found: list[Problem] = []
    if waiting and waiting.get("reason"):
        reason, message = waiting["reason"], waiting.get("message") or ""
        crash = _crash(pod, entry, last, previous=True) if last and reason == "CrashLoopBackOff" else None
        if crash is not None and crash.classification.cls is not ReasonClass.INFO:
            found.append(crash)  # the exit is the root cause; the back-off only says a restart is pending
        else:
            found.append(Problem((uid(pod), entry.get("name", ""), instance_id(entry)), f"po/{meta(pod).get('name')}",
                                 reason, message, "waiting", classify("waiting", reason, message),
                                 container=entry.get("name"), pod=meta(pod).get("name"),
                                 restart_count=entry.get("restartCount"),
                                 exit_code=last.get("exitCode") if crash else None,
                                 crashed_previous=True if crash else None))
    if terminated and terminated.get("exitCode"):
        found.append(_crash(pod, entry, terminated, previous=False))
    elif state.get("running") and last and last.get("exitCode"):
        found.append(_crash(pod, entry, last, previous=True))
    return found


def pod_problems(pod: dict, *, job_pod: bool = False) -> list[Problem]:
    """Every non-info failure sign in a Pod's status. For a Job's Pod only what the Job controller never counts
    (image pulls, configuration, scheduling): its own conditions judge the Pods that ran and failed."""
    status, name = pod.get("status") or {}, meta(pod).get("name")
    subject = f"po/{name}"
    found: list[Problem] = []
    if status.get("reason") and not job_pod:
        found.append(Problem((uid(pod), "", "pod"), subject, status["reason"], status.get("message") or "", "pod",
                             classify("pod", status["reason"], status.get("message") or ""), pod=name))
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False" and condition.get("reason"):
            where = "condition:PodScheduled"
            found.append(Problem((uid(pod), "", "scheduling"), subject, condition["reason"],
                                 condition.get("message") or "", where,
                                 classify(where, condition["reason"], condition.get("message") or ""), pod=name))
    for entry in container_statuses(pod):
        for problem in _container_problems(pod, entry):
            if job_pod and (problem.where != "waiting" or problem.reason in JOB_WAITING_EXCLUDED):
                continue
            found.append(problem)
    return [problem for problem in found if problem.classification.cls is not ReasonClass.INFO]


def replicaset_problems(rs: dict) -> list[Problem]:
    """A ReplicaSet's ReplicaFailure condition: the controller cannot create Pods (quota, admission)."""
    where = "condition:ReplicaFailure"
    found = []
    for condition in (rs.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
            reason, message = condition.get("reason") or "ReplicaFailure", condition.get("message") or ""
            found.append(Problem((uid(rs), "", "replica-failure"), f"rs/{meta(rs).get('name')}", reason, message,
                                 where, classify(where, reason, message)))
    return [problem for problem in found if problem.classification.cls is not ReasonClass.INFO]


def custom_problems(obj: dict, subject: str) -> list[Problem]:
    """Ready=False with a failure reason, for the current generation, on a kind without a rule of its own."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") != "Ready" or condition.get("status") != "False":
            continue
        reason = condition.get("reason") or ""
        if _FAILURE_REASON.search(reason) and is_current(obj, condition):
            return [Problem((uid(obj), "", "ready"), subject, reason, condition.get("message") or "",
                            "condition:Ready", CUSTOM_FAILURE)]
    return []


def readiness_grace(pod: dict, container: str) -> int | None:
    """How long the kubelet itself gives a container's readiness probe before calling it not ready:
    initialDelaySeconds + periodSeconds x failureThreshold (the API defaults are 0, 10 and 3)."""
    for spec in (pod.get("spec") or {}).get("containers") or []:
        probe = spec.get("readinessProbe") if spec.get("name") == container else None
        if probe:
            return probe_window(probe)
    return None


SETTLE_KILL = Classification(
    ReasonClass.FAILURE, None,
    "A container of a Pod just judged ready is being killed by its own probes: it would not have stayed ready.")
_KILL_EVENT = re.compile(r"^(?:Liveness|Startup) probe|failed (?:liveness|startup) probe")


def kill_event_problem(event: dict, subject: str) -> Problem | None:
    """A failed liveness or startup probe, or the kill it causes, reported by an Event: shown only otherwise
    (what follows counts), but during a target's settle window it is the sign that it will not stay ready."""
    reason, message = event.get("reason") or "", event.get("message") or ""
    if reason not in ("Unhealthy", "Killing") or not _KILL_EVENT.search(message):
        return None
    regarding = event.get("involvedObject") or {}
    match = _CONTAINER_PATH.fullmatch(regarding.get("fieldPath") or "")
    container = match.group(1) if match else None
    return Problem((regarding.get("uid") or "", container or "", f"event:{reason}"), subject, reason, message,
                   "event", SETTLE_KILL, source=EVENT, container=container, pod=regarding.get("name"))


def event_problem(event: dict, subject: str, involved: dict | None, *, job_pod: bool = False) -> Problem | None:
    """The failure sign in an Event about `involved` (the Pod, ReplicaSet or target it names, when known), or
    None when the Event is information, or something the involved object's status already carries."""
    reason, message = event.get("reason") or "", event.get("message") or ""
    regarding = event.get("involvedObject") or {}
    is_pod = regarding.get("kind") == "Pod"
    if is_pod and (reason in MIRRORED_POD_EVENTS or (job_pod and reason not in JOB_POD_EVENTS)):
        return None
    if regarding.get("kind") == "ReplicaSet" and reason == "FailedCreate":
        return None  # the ReplicaFailure condition carries it and says when it clears
    classification = classify("event", reason, message, event.get("type"))
    if classification.cls is ReasonClass.INFO:
        return None
    container = None
    match = _CONTAINER_PATH.fullmatch(regarding.get("fieldPath") or "")
    if match:
        container = match.group(1)
    instance = f"event:{reason}"
    if is_pod and involved is not None and container:
        entry = next((e for e in container_statuses(involved) if e.get("name") == container), None)
        instance = instance_id(entry) if entry else "new:0"
        if reason == "Unhealthy" and message.startswith("Readiness"):
            grace = readiness_grace(involved, container)
            if grace is not None:
                classification = dataclasses.replace(classification, grace_seconds=grace)
    return Problem((regarding.get("uid") or "", container or "", instance), subject, reason, message, "event",
                   classification, source=EVENT, container=container,
                   pod=regarding.get("name") if is_pod else None)
