"""What a Kubernetes Event about a target (or one of its current Pods, its current ReplicaSet) tells the engine: a
Warning to show, a failure sign to weigh, a scale-up that restarts the wait of capacity signs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from kubedog_ci.engine.sink import EventNotice
from kubedog_ci.engine.state import RELATED_TYPES, STREAM_OF_KIND, TargetState
from kubedog_ci.engine.target import type_label
from kubedog_ci.kube.logs import parse_timestamp_ns
from kubedog_ci.rules import problems
from kubedog_ci.rules.objects import meta
from kubedog_ci.rules.problems import Problem


def before(event: dict, origin: float) -> bool:
    """Whether the Event happened before the run (whole seconds: Events have no finer time): about an earlier
    rollout, or already resolved."""
    stamp = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or \
        meta(event).get("creationTimestamp") or ""
    at = parse_timestamp_ns(stamp)
    return at is not None and at < math.floor(origin) * 1_000_000_000


@dataclass(frozen=True)
class Reading:
    notice: EventNotice | None
    """A Warning to show."""
    problem: Problem | None
    """A failure sign to weigh."""
    scaled_up: str | None
    """The uid of an object the cluster autoscaler is adding nodes for."""


def read(state: TargetState, event: dict, involved: dict) -> Reading:
    """The Event as it concerns `state` (`involved`: the object it is about). Its own Events count as signs only
    for kinds whose controllers report a Pod they cannot create that way; while a workload settles, a failed
    liveness or startup probe counts too."""
    regarding = event.get("involvedObject") or {}
    stream = STREAM_OF_KIND.get(regarding.get("kind") or "")
    about_target = stream is None  # else about one of its Pods or other related objects (a Pod target's too)
    subject = state.label if about_target else f"{type_label(RELATED_TYPES[stream])}/{regarding.get('name') or ''}"
    reason = event.get("reason") or ""
    notice = EventNotice(state.label, subject, "Warning", reason, event.get("message") or "",
                         int(event.get("count") or 1)) if event.get("type") == "Warning" else None
    scaled_up = (regarding.get("uid") or "") if reason == "TriggeredScaleUp" else None
    if about_target and not state.profile.own_events_are_signs:
        return Reading(notice, None, scaled_up)
    shown_as = "" if about_target else subject
    problem = problems.event_problem(event, shown_as, involved, job_pod=state.profile.controller_counts_pod_failures)
    if problem is None and state.settling:
        problem = problems.kill_event_problem(event, shown_as)
    return Reading(notice, problem, scaled_up)
