"""ReplicaSet: readiness-rules.md ("ReplicaSet", Recommended)."""

from __future__ import annotations

import pytest

from kubedog_ci.rules.verdict import State
from tests.rules.builders import FAILED, PROGRESSING, READY, check, cond, resource


def replicaset(*, replicas: int = 3, total: int | None = None, ready: int | None = None,
               available: int | None = None, generation: int = 1, observed: int | None = 1, deleting: bool = False,
               conditions: tuple[dict, ...] = ()) -> dict:
    """A standalone ReplicaSet; by default with all 3 replicas ready and available."""
    status = {"observedGeneration": observed, "replicas": replicas if total is None else total,
              "fullyLabeledReplicas": replicas, "readyReplicas": replicas if ready is None else ready,
              "availableReplicas": replicas if available is None else available}
    return resource("apps/v1", "ReplicaSet", "web-7c9f", spec={"replicas": replicas}, status=status,
                    generation=generation, deleting=deleting, conditions=list(conditions))


QUOTA = cond("ReplicaFailure", "True", "FailedCreate",
             'pods "web-7c9f-x2k" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2')

CASES = [
    pytest.param(replicaset(), READY, "ReplicasReady", 'replicaset "web-7c9f" has 3 of 3 replicas available',
                 id="all-available"),
    pytest.param(replicaset(observed=None), PROGRESSING, "NotObserved",
                 "Waiting for replicaset spec update to be observed...", id="not-observed"),
    pytest.param(replicaset(generation=2), PROGRESSING, "NotObserved", "spec update", id="stale-observed-generation"),
    pytest.param(replicaset(ready=1, available=1), PROGRESSING, "LessReady", "1 of 3 replicas are ready",
                 id="pods-not-ready"),
    # minReadySeconds: ready Pods are not yet available.
    pytest.param(replicaset(available=2), PROGRESSING, "LessAvailable", "2 of 3 replicas are available",
                 id="ready-not-available"),
    pytest.param(replicaset(total=5), PROGRESSING, "ExtraPods", "2 extra replicas are pending termination",
                 id="scale-down-in-progress"),
    # Argo says Degraded; kstatus keeps waiting. A quota can be raised, so progressing, with the root cause shown.
    pytest.param(replicaset(total=2, ready=2, available=2, conditions=(QUOTA,)), PROGRESSING, "FailedCreate",
                 "exceeded quota", id="replica-failure-quota"),
    pytest.param(replicaset(replicas=0), READY, "ReplicasReady", "0 of 0", id="scaled-to-zero"),
    pytest.param(replicaset(deleting=True), PROGRESSING, "Terminating", "is being deleted", id="deletion-timestamp"),
    pytest.param(replicaset(conditions=(cond("Stalled", "True"),)), FAILED, "Stalled", "is stalled", id="stalled"),
    pytest.param(replicaset(conditions=(cond("Reconciling", "True"),)), PROGRESSING, "Reconciling", "reconcile",
                 id="reconciling"),
    pytest.param({**replicaset(ready=2), "apiVersion": "extensions/v1beta1"}, PROGRESSING, "LessReady", "2 of 3",
                 id="extensions-v1beta1"),
]


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_replicaset_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)
