"""DaemonSet: readiness-rules.md ("DaemonSet", Recommended): kubectl's counters, readiness, and OnDelete."""

from __future__ import annotations

import pytest

from kubedog_ci.rules import evaluate
from kubedog_ci.rules.verdict import State
from tests.rules.builders import FAILED, PROGRESSING, READY, check, cond, resource

ABSENT = object()
"""Leave a counter out of the status altogether."""


def daemonset(*, desired: object = 3, updated: int = 3, ready: int = 3, available: object = 3,
              unavailable: int = 0, generation: int = 2, observed: int | None = 2, on_delete: bool = False,
              deleting: bool = False, conditions: tuple[dict, ...] = ()) -> dict:
    """A DaemonSet; by default rolled out on 3 nodes. Zero counters are omitted, as the API server does."""
    strategy = {"type": "OnDelete"} if on_delete else {"type": "RollingUpdate",
                                                         "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    status = {"observedGeneration": observed, "currentNumberScheduled": updated, "numberMisscheduled": 0,
              "updatedNumberScheduled": updated, "numberReady": ready, "numberUnavailable": unavailable}
    if desired is not ABSENT:
        status["desiredNumberScheduled"] = desired
    if available is not ABSENT:
        status["numberAvailable"] = available
    obj = resource("apps/v1", "DaemonSet", "agent", spec={"updateStrategy": strategy}, status=status,
                   generation=generation, deleting=deleting, conditions=list(conditions))
    if desired == 0:
        obj["status"]["desiredNumberScheduled"] = 0  # numberReady and desiredNumberScheduled are always serialized
    return obj


def with_status(obj: dict, **fields: object) -> dict:
    obj["status"].update(fields)
    return obj


def without(obj: dict, key: str) -> dict:
    del obj["status"][key]
    return obj


CASES = [
    pytest.param(daemonset(), READY, "RolloutComplete", 'daemon set "agent" successfully rolled out', id="complete"),
    # Peers' cases: numberReady absent, but available Pods are ready Pods.
    pytest.param(without(daemonset(), "numberReady"), READY, "RolloutComplete", "successfully rolled out",
                 id="available-implies-ready"),
    pytest.param(without(with_status(daemonset(available=ABSENT), numberUnavailable=0), "numberReady"), READY,
                 "RolloutComplete", "successfully rolled out", id="no-unavailable-implies-ready"),
    pytest.param(without(daemonset(available=1, unavailable=2), "numberReady"), PROGRESSING, "LessReady",
                 "1 of 3 pods are ready", id="some-available-without-ready-count"),
    pytest.param(daemonset(observed=None), PROGRESSING, "NotObserved",
                 "Waiting for daemon set spec update to be observed...", id="not-observed"),
    pytest.param(daemonset(generation=3), PROGRESSING, "NotObserved", "spec update to be observed",
                 id="stale-observed-generation"),
    pytest.param(daemonset(desired=ABSENT, updated=0, ready=0, available=ABSENT), PROGRESSING, "NoDesiredNumber",
                 'Waiting for daemon set "agent" to count the nodes', id="desired-not-yet-computed"),
    pytest.param(daemonset(updated=1, available=2, unavailable=1), PROGRESSING, "LessUpdated",
                 'Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated...',
                 id="rolling-update-in-progress"),
    pytest.param(daemonset(ready=2, available=2, unavailable=1), PROGRESSING, "LessReady", "2 of 3 pods are ready",
                 id="updated-not-ready"),
    # minReadySeconds: ready but not yet available.
    pytest.param(daemonset(available=2, unavailable=1), PROGRESSING, "LessAvailable",
                 "2 of 3 updated pods are available...", id="ready-not-available"),
    # numberAvailable is omitempty: without it, available = desired - numberUnavailable.
    pytest.param(daemonset(ready=3, available=ABSENT, unavailable=1), PROGRESSING, "LessAvailable",
                 "2 of 3 updated pods are available", id="available-from-unavailable"),
    pytest.param(daemonset(available=ABSENT, unavailable=0), READY, "RolloutComplete", "successfully rolled out",
                 id="both-availability-counters-omitted"),
    # §4.5: Helm tolerates maxUnavailable (here 1) unready Pods; we require all.
    pytest.param(daemonset(ready=2, available=2, unavailable=1), PROGRESSING, "LessReady", "2 of 3",
                 id="maxunavailable-tolerance-not-applied"),
    # §4 OnDelete: kubectl errors, kstatus and kapp hang, Helm and Argo say ready at once. We skip only the
    # updated check: old Pods are replaced when someone deletes them, but every Pod must be available.
    pytest.param(daemonset(on_delete=True, updated=0), READY, "OnDelete",
                 'daemon set "agent" (OnDelete): 3 of 3 pods are available', id="on-delete-old-pods-remain"),
    pytest.param(daemonset(on_delete=True, updated=0, ready=1, available=1, unavailable=2), PROGRESSING, "LessReady",
                 "1 of 3 pods are ready", id="on-delete-not-ready-at-once"),
    pytest.param(daemonset(desired=0, updated=0, ready=0, available=0), READY, "RolloutComplete",
                 "successfully rolled out", id="no-matching-nodes"),
    pytest.param(daemonset(deleting=True), PROGRESSING, "Terminating", 'daemon set "agent" is being deleted',
                 id="deletion-timestamp"),
    pytest.param(daemonset(conditions=(cond("Stalled", "True", "Stuck", "no progress"),)), FAILED, "Stuck",
                 "Stuck: no progress", id="stalled"),
    pytest.param(daemonset(conditions=(cond("Reconciling", "True", "Rolling"),)), PROGRESSING, "Rolling",
                 "reconcile", id="reconciling"),
]


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_daemonset_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)


def test_on_delete_warns_while_pods_run_an_old_template() -> None:
    assert evaluate(daemonset(on_delete=True, updated=1)).warnings == (
        "2 of 3 pods run an old template: with the OnDelete strategy they are replaced only when deleted",)
    assert evaluate(daemonset(on_delete=True)).warnings == ()
    assert evaluate(daemonset()).warnings == ()
