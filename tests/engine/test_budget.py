"""The failure budget: fatal now, failures counted once per key against failures-allowed x replicas, grace
periods (scaled) that only run out while a sign is still showing, and capacity held off by a scale-up."""

from __future__ import annotations

import pytest

from kubedog_ci.engine.budget import Budget
from kubedog_ci.rules.problems import EVENT, STATUS
from tests.engine.builders import problem

CRASH = dict(reason="Error", where="terminated", message="exited with code 3")
PULL_GONE = dict(reason="ImagePullBackOff", where="waiting", message='Back-off pulling image "x": not found')


@pytest.mark.parametrize(("allowed", "keys", "fails_at"), [
    pytest.param(1, [("p1", "app", "c1"), ("p1", "app", "c2")], 1, id="second-instance-exceeds-1"),
    pytest.param(1, [("p1", "app", "c1"), ("p1", "app", "c1"), ("p1", "app", "c1")], None,
                 id="same-instance-counted-once"),
    pytest.param(0, [("p1", "app", "c1")], 0, id="restart-policy-never-has-no-budget"),
    pytest.param(2, [("p1", "app", "c1"), ("p2", "app", "c1"), ("p1", "app", "c2")], 2, id="two-replicas"),
    pytest.param(3, [("p1", "app", "c1"), ("p1", "app", "c2"), ("p1", "app", "c3")], None, id="within-budget"),
])
def test_failures_are_counted_once_per_key(allowed: int, keys: list[tuple], fails_at: int | None) -> None:
    budget = Budget(allowed)
    decisions = [budget.observe(problem(**CRASH, key=key), now=0.0) for key in keys]
    failing = [index for index, decided in enumerate(decisions) if decided is not None]
    assert failing[:1] == ([] if fails_at is None else [fails_at])
    assert budget.failures == len(set(keys))


def test_fatal_fails_at_once_and_info_never() -> None:
    budget = Budget(5)
    assert budget.observe(problem(reason="ContainerCreating", where="waiting"), 0.0) is None
    fatal = problem(**PULL_GONE)
    assert budget.observe(fatal, 0.0) is fatal
    assert budget.failures == 0


def test_graced_fatal_fails_only_if_still_showing_after_its_grace() -> None:
    budget = Budget(1)
    config = problem(reason="CreateContainerConfigError", where="waiting", message="couldn't find key x")
    assert config.classification.grace_seconds == 60
    assert budget.observe(config, 100.0) is None
    assert budget.observe(config, 130.0) is None  # seen again: the first sighting still counts
    assert budget.tick(159.0) is None
    assert budget.tick(160.0) is config


def test_a_sign_that_stops_showing_stops_its_grace() -> None:
    budget = Budget(1)
    config = problem(reason="CreateContainerConfigError", where="waiting", message="couldn't find key x")
    budget.observe(config, 0.0)
    budget.showing("p", STATUS, set())
    assert budget.tick(1000.0) is None
    assert budget.pending() == []


def test_showing_only_clears_signs_of_that_object_and_source() -> None:
    budget = Budget(1)
    status = problem(reason="CreateContainerConfigError", where="waiting", key=("p", "app", "c1"))
    other = problem(reason="CreateContainerConfigError", where="waiting", key=("q", "app", "c1"))
    unhealthy = problem(reason="Unhealthy", where="event", message="Readiness probe failed", source=EVENT,
                        key=("p", "app", "c1"))
    for sign in (status, other, unhealthy):
        budget.observe(sign, 0.0)
    budget.showing("p", STATUS, {(status.key, status.reason)})
    assert len(budget.pending()) == 3
    budget.showing("p", EVENT, set())
    assert budget.pending() == [status, other]


def test_a_persisting_graced_failure_counts_once_per_grace_period() -> None:
    budget = Budget(1)
    unhealthy = problem(reason="Unhealthy", where="event", message="Readiness probe failed: 503", source=EVENT,
                        grace=30)
    budget.observe(unhealthy, 0.0)
    assert budget.tick(29.0) is None and budget.failures == 0
    assert budget.tick(30.0) is None and budget.failures == 1
    assert budget.tick(45.0) is None
    assert budget.tick(60.0) is unhealthy and budget.failures == 2


def test_capacity_fails_after_its_grace_unless_a_scale_up_restarts_the_wait() -> None:
    budget = Budget(3)
    unschedulable = problem(reason="Unschedulable", where="condition:PodScheduled",
                            message="0/3 nodes are available: 3 Insufficient cpu.", key=("p", "", "scheduling"))
    assert unschedulable.classification.cls == "capacity"
    budget.observe(unschedulable, 0.0)
    budget.scaled_up("p", 100.0)
    assert budget.tick(150.0) is None
    assert budget.tick(219.0) is None
    assert budget.tick(220.0) is unschedulable


def test_grace_scale_shrinks_every_grace_period() -> None:
    budget = Budget(1, grace_scale=0.02)
    config = problem(reason="CreateContainerConfigError", where="waiting")
    budget.observe(config, 0.0)
    assert budget.tick(1.19) is None
    assert budget.tick(1.2) is config


def test_forget_drops_pending_signs_but_keeps_counts() -> None:
    budget = Budget(5)
    budget.observe(problem(**CRASH, key=("p", "app", "c1")), 0.0)
    budget.observe(problem(reason="CreateContainerConfigError", where="waiting", key=("p", "app", "c2")), 0.0)
    budget.forget("p")
    assert budget.pending() == [] and budget.failures == 1
