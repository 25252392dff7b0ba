"""Custom resources wait for their controller: no Ready condition is not enough, its controller must have
reported on the current generation (status.observedGeneration) or said Ready."""

from __future__ import annotations

import pytest

from kubedog_ci.rules import evaluate, profile_for
from kubedog_ci.rules.custom import CONTROLLER_GRACE
from kubedog_ci.rules.profile import AWAITING_STATUS
from kubedog_ci.rules.verdict import State
from tests.rules.builders import PROGRESSING, READY, check, cond, resource


def gadget(status: dict | None = None, *conditions: dict, generation: int = 2) -> dict:
    return resource("example.com/v1", "Gadget", "g", spec={"size": 1}, status=status, generation=generation,
                    conditions=list(conditions))


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), [
    pytest.param(gadget(), PROGRESSING, AWAITING_STATUS,
                 'Waiting for a controller to report the status of gadget "g" for generation 2', id="no-status"),
    pytest.param(gadget({"phase": "Pending"}), PROGRESSING, AWAITING_STATUS, "no status.observedGeneration yet",
                 id="status-without-generation-or-ready"),
    pytest.param(gadget({"observedGeneration": 1}), PROGRESSING, "NotObserved", "spec update to be observed",
                 id="observed-generation-lagging"),
    pytest.param(gadget({"observedGeneration": 2}), READY, "NoReadyCondition", "reports no Ready condition",
                 id="observed-current-generation"),
    pytest.param(gadget(None, cond("Ready", "True")), READY, "Ready", "is ready", id="ready-condition"),
    pytest.param(gadget(None, cond("Ready", "False", "Failed", "boom")), PROGRESSING, "Failed", "boom",
                 id="ready-false-left-to-the-live-engine"),
    pytest.param(resource("v1", "ConfigMap", "c", generation=None), READY, "NoReadyCondition", "exists",
                 id="built-in-kinds-keep-the-generic-rule"),
])
def test_custom_resource_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)


def test_the_live_engine_waits_a_grace_period_for_the_first_status() -> None:
    assert profile_for("example.com", "Gadget").status_grace == CONTROLLER_GRACE
    assert profile_for("", "ConfigMap").status_grace is None
    assert evaluate(gadget()).state is State.PROGRESSING
