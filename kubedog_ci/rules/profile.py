"""A kind profile: everything the engine knows about one kind, so the engine never compares a kind's name.

Each `rules/<kind>.py` exports `PROFILE`; `rules.PROFILES` maps (API group, kind) to it, and a kind without one
gets the generic profile (custom resources). The functions are pure: the engine hands them the object and, for
what a kind judges from related objects, a `Related` lookup over what its watchers reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from kubedog_ci.rules.problems import Problem, pod_problems
from kubedog_ci.rules.selectors import EVERYTHING, Selector
from kubedog_ci.rules.verdict import Verdict


class Stream(StrEnum):
    """What the engine reads beside a target, each one permission a CI account may lack: the related types a
    profile asks to be watched, Events (watched for every namespaced target) and container logs (followed for
    every kind with Pods)."""

    PODS = "pods"
    REPLICASETS = "replicasets"
    CONTROLLER_REVISIONS = "controllerrevisions"
    ENDPOINT_SLICES = "endpointslices"
    EVENTS = "events"
    LOGS = "pods/log"


AWAITING_STATUS = "AwaitingStatus"
"""The reason of a rule that waits for a controller's first status report (see KindProfile.status_grace)."""
WITHOUT_EVENTS = ("failures are named from status only (no Warning events: quota and admission refusals, failed "
                  "mounts and probes are not seen)")
WITHOUT_LOGS = "no container logs, and no last log lines in a diagnosis"
WITHOUT_PODS = "no container failure is seen: the verdict comes from its own status"


class Related(Protocol):
    """The objects of the related types, as last reported, looked up by owner."""

    def owned(self, stream: Stream, namespace: str, owner_uid: str) -> list[dict]:
        """The objects of `stream` in `namespace` whose controlling owner (or, for Pods, whose Job uid label) is
        `owner_uid`."""
        ...

    def in_namespace(self, stream: Stream, namespace: str) -> list[dict]:
        """Every object of `stream` in `namespace`."""
        ...


def _nothing(obj: dict, related: Related) -> list:
    return []


def _zero(obj: dict) -> int:
    return 0


def _no_counts(obj: dict) -> tuple[int | None, int | None]:
    return None, None


def _everything(stream: Stream, name: str, obj: dict | None) -> Selector | None:
    return EVERYTHING


@dataclass(frozen=True)
class KindProfile:
    """What the engine asks about a kind. The defaults describe a kind with no Pods and no related objects."""

    evaluate: Callable[[dict], Verdict]
    """The pure readiness rule on one snapshot (`status --offline` uses it as it is)."""
    evaluate_live: Callable[[dict, Related], Verdict] | None = None
    """The rule as the live engine applies it, when it differs (None: `evaluate`): a live view has the failure
    budget and grace periods to weigh what one snapshot must decide at once, and the related objects (a
    Service's endpoints)."""
    streams: tuple[Stream, ...] = ()
    """The related types it is judged from, each watched in the target's namespace."""
    selects: Callable[[Stream, str, dict | None], Selector | None] = _everything
    """Which objects of each of its streams can be its own, as a selector to watch just those with
    (rules.selectors), given its name and its object (None before it is seen): from its name alone (a Pod's own
    name, a Service's EndpointSlices' label) or from its object (a workload's spec.selector). None: not known
    before its object is seen (or, with its object, not sayable in a query: every object of the namespace);
    NOTHING: it needs none (a Service without a selector has no Pods)."""
    current_pods: Callable[[dict, Related], list[dict]] = _nothing
    """The Pods of its current revision, oldest first: the only ones judged and whose logs are followed."""
    current_related: Callable[[dict, Related], list[dict]] = _nothing
    """Other related objects of its current revision whose changes and Events concern it (a Deployment's
    current ReplicaSet)."""
    replicas: Callable[[dict], int] = _zero
    """How many Pods it runs at once: the multiplier of its failure budget."""
    progress: Callable[[dict], tuple[int | None, int | None]] = _no_counts
    """(ready, desired) for the live status row; (None, None) for a kind without replicas."""
    object_problems: Callable[[dict, Related], list[Problem]] = _nothing
    """Live failure signs on the object itself or its current related objects (conditions that come and go)."""
    controller_counts_pod_failures: bool = False
    """Its controller counts failed Pods itself (a Job's backoffLimit): Pod exits are left to its conditions, and
    only what the controller never counts (image pulls, configuration, scheduling) is a sign."""
    own_events_are_signs: bool = False
    """Its controller reports a Pod it cannot create (quota, admission) only as a FailedCreate Event on the
    object itself; other kinds' own Events repeat what their conditions say."""
    pods_end_with_verdict: bool = False
    """Its Pods have run to their end once it has a verdict (a Job): the last lines of their logs are waited for."""
    tracked: Callable[[dict], bool] | None = None
    """Whether an applied object of this kind has a state to reach; None: the generic rule (it reports conditions,
    or it is a custom resource)."""
    settles: bool = False
    """Its readiness is Pods staying up: once its rule says ready, the verdict waits until each current Pod has
    outlived the window in which its own probes can still have it killed (at least Options.settle)."""
    status_grace: float | None = None
    """Seconds the live engine waits for a controller's first status report (AWAITING_STATUS verdicts) before it
    judges the object ready with a warning; None: the rule's word is final."""
    without: Mapping[Stream, str] = field(default_factory=dict)
    """What it is still judged by without each of its streams (forbidden to a CI account): every verdict still
    comes, some later or with less evidence. Events and logs have common answers (`lost_without`)."""

    def lost_without(self, stream: Stream, kind: str) -> str:
        """What tracking an object of this kind (named `kind` in the text when the loss is its own) loses without
        `stream`."""
        if stream in self.without:
            return f"{kind}: {self.without[stream]}"
        return {Stream.EVENTS: WITHOUT_EVENTS, Stream.LOGS: WITHOUT_LOGS}.get(stream, f"{kind}: {WITHOUT_PODS}")

    @property
    def has_pods(self) -> bool:
        """Whether it runs Pods of its own, whose logs are followed."""
        return self.current_pods is not _nothing

    def live(self, obj: dict, related: Related) -> Verdict:
        return self.evaluate_live(obj, related) if self.evaluate_live else self.evaluate(obj)

    def pod_problems(self, pod: dict) -> list[Problem]:
        return pod_problems(pod, job_pod=self.controller_counts_pod_failures)


def always(obj: dict) -> bool:
    return True
