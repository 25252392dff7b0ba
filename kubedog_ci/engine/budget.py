"""One resource's failure budget: which failure signs fail it, and when.

* fatal: fails the resource now (after its grace period, if the reason has one and is still showing then);
* failure: counts once per key (one container run, one object condition) against the budget,
  failures-allowed-per-replica x replicas; the first count beyond it fails the resource. A failure with a grace
  period counts only while it persists, once per grace period, so a readiness probe that never passes ends up
  failing the resource instead of waiting for the progress deadline;
* capacity: fails the resource once it has lasted its grace period, unless the cluster autoscaler reported a
  scale-up for that object (TriggeredScaleUp), which restarts the wait: nodes are on their way.

Time comes from the caller (a monotonic clock reading), so tests can step it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubedog_ci.reasons import ReasonClass
from kubedog_ci.rules.problems import EVENT, STATUS, Problem, ProblemKey

PendingKey = tuple[ProblemKey, str]
"""A problem key and its reason: one sign that is waiting out its grace period."""


@dataclass
class _Pending:
    problem: Problem
    since: float
    periods: int = 0


class Budget:
    """Failure accounting for one tracked resource. `grace_scale` multiplies every grace period (tests and demos
    against a time-scaled simulator shrink them with the cluster)."""

    def __init__(self, allowed: int, grace_scale: float = 1.0) -> None:
        self.allowed = allowed
        self.grace_scale = grace_scale
        self._counted: dict[tuple, Problem] = {}
        self._pending: dict[PendingKey, _Pending] = {}
        self._scale_up: dict[str, float] = {}

    @property
    def failures(self) -> int:
        return len(self._counted)

    def counted(self) -> list[Problem]:
        """The counted failures, oldest first."""
        return list(self._counted.values())

    def pending(self) -> list[Problem]:
        """The signs still waiting out a grace period."""
        return [entry.problem for entry in self._pending.values()]

    def observe(self, problem: Problem, now: float) -> Problem | None:
        """Take in one sign; returns it when it fails the resource now."""
        cls = problem.classification.cls
        if cls is ReasonClass.INFO:
            return None
        if problem.classification.grace_seconds:
            key = (problem.key, problem.reason)
            entry = self._pending.get(key)
            if entry is None:
                self._pending[key] = _Pending(problem, now)
            else:
                entry.problem = problem  # the latest message, same first sighting
            return None
        if cls is ReasonClass.FAILURE:
            return self._count(problem.key, problem)
        return problem

    def known(self, problem: Problem) -> bool:
        """Whether the sign was taken in before (counted, or waiting out its grace period)."""
        return problem.key in self._counted or (problem.key, problem.reason) in self._pending

    def showing(self, owner_uid: str, source: str, present: set[PendingKey]) -> None:
        """The object `owner_uid` now shows exactly `present` among its signs from `source`: the others have
        gone, so their grace periods stop (a status that clears is the proof that the sign went away)."""
        for key in [key for key, entry in self._pending.items()
                    if key[0][0] == owner_uid and entry.problem.source == source and key not in present]:
            del self._pending[key]

    def forget(self, owner_uid: str) -> None:
        """The object is gone, or no longer of the current revision: drop its pending signs, keep its counts."""
        self.showing(owner_uid, STATUS, set())
        self.showing(owner_uid, EVENT, set())

    def scaled_up(self, owner_uid: str, now: float) -> None:
        """The cluster autoscaler is adding nodes for this object: its capacity signs wait a full grace again."""
        self._scale_up[owner_uid] = now

    def tick(self, now: float) -> Problem | None:
        """Signs whose grace period is over and that are still showing: the first that fails the resource."""
        if not self._pending:  # the common case, checked for every target several times a second
            return None
        for key, entry in list(self._pending.items()):
            problem, grace = entry.problem, (entry.problem.classification.grace_seconds or 0) * self.grace_scale
            since = entry.since
            if problem.classification.cls is ReasonClass.CAPACITY:
                since = max(since, self._scale_up.get(problem.key[0], since))
            if now - since < grace:
                continue
            if problem.classification.cls is not ReasonClass.FAILURE:
                del self._pending[key]
                return problem
            entry.periods += 1
            entry.since = now
            decided = self._count((*problem.key, problem.reason, entry.periods), problem)
            if decided is not None:
                return decided
        return None

    def _count(self, key: tuple, problem: Problem) -> Problem | None:
        if key in self._counted:
            return None
        self._counted[key] = problem
        return problem if len(self._counted) > self.allowed else None
