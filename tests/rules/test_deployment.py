"""Deployment: kubectl's counters plus the guards of readiness-rules.md ("Deployment", Recommended)."""

from __future__ import annotations

import pytest

from kubedog_ci.rules import evaluate
from kubedog_ci.rules.verdict import State
from tests.rules.builders import FAILED, PROGRESSING, READY, check, cond, resource

AVAILABLE = cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
COMPLETE = cond("Progressing", "True", "NewReplicaSetAvailable", 'ReplicaSet "web-7c9f" has successfully progressed.')
UPDATING = cond("Progressing", "True", "ReplicaSetUpdated", 'ReplicaSet "web-8d4b" is progressing.')
DEADLINE = cond("Progressing", "False", "ProgressDeadlineExceeded", 'ReplicaSet "web-8d4b" has timed out progressing.')


def deployment(*, replicas: int | None = 3, generation: int = 2, observed: int | None = 2, total: int = 3,
               updated: int = 3, ready: int | None = None, available: int | None = None,
               conditions: tuple[dict, ...] = (AVAILABLE, COMPLETE), paused: bool = False,
               deleting: bool = False) -> dict:
    """A Deployment; by default one whose rollout of 3 replicas is complete."""
    spec: dict = {"selector": {"matchLabels": {"app": "web"}}, "strategy": {"type": "RollingUpdate"}}
    if replicas is not None:
        spec["replicas"] = replicas
    if paused:
        spec["paused"] = True
    status = {"observedGeneration": observed, "replicas": total, "updatedReplicas": updated,
              "readyReplicas": updated if ready is None else ready,
              "availableReplicas": updated if available is None else available}
    return resource("apps/v1", "Deployment", "web", spec=spec, status=status, generation=generation,
                    deleting=deleting, conditions=list(conditions))


CASES = [
    pytest.param(deployment(), READY, "RolloutComplete", 'deployment "web" successfully rolled out', id="complete"),
    pytest.param(resource("apps/v1", "Deployment", "web", spec={"replicas": 3}), PROGRESSING, "NotObserved",
                 "Waiting for deployment spec update to be observed...", id="just-created-no-status"),
    pytest.param(deployment(generation=3), PROGRESSING, "NotObserved", "spec update to be observed",
                 id="stale-observed-generation"),
    pytest.param(deployment(total=4, updated=1, available=3, conditions=(AVAILABLE, UPDATING)), PROGRESSING,
                 "LessUpdated", 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been '
                 "updated...", id="new-replica-set-scaling-up"),
    # Surge leftovers: every replica is updated, but the old ReplicaSet's Pods are still counted.
    pytest.param(deployment(total=4, updated=3, conditions=(AVAILABLE, UPDATING)), PROGRESSING, "OldReplicasPending",
                 "1 old replicas are pending termination...", id="surge-leftovers"),
    pytest.param(deployment(available=1, conditions=(AVAILABLE, UPDATING)), PROGRESSING, "LessAvailable",
                 "1 of 3 updated replicas are available...", id="updated-not-yet-available"),
    # §4.5: Helm counts 3 of 4 as ready (maxUnavailable 25%); we require every replica, like everyone else.
    pytest.param(deployment(replicas=4, total=4, updated=4, available=3), PROGRESSING, "LessAvailable",
                 "3 of 4 updated replicas are available", id="maxunavailable-tolerance-not-applied"),
    pytest.param(deployment(updated=1, available=2, total=3, conditions=(AVAILABLE, DEADLINE)), FAILED,
                 "ProgressDeadlineExceeded", 'deployment "web" exceeded its progress deadline: ReplicaSet',
                 id="progress-deadline-exceeded"),
    # kubectl looks at the deadline only once the spec is observed: the condition may belong to the old spec.
    pytest.param(deployment(generation=3, updated=1, conditions=(AVAILABLE, DEADLINE)), PROGRESSING, "NotObserved",
                 "spec update to be observed", id="deadline-of-an-older-generation"),
    # §4.7: kapp fails any Progressing=False; only the deadline is terminal (quota errors clear).
    pytest.param(deployment(updated=0, total=3, conditions=(AVAILABLE, cond(
        "Progressing", "False", "ReplicaSetCreateError", 'exceeded quota: compute'))), PROGRESSING,
                 "ReplicaSetCreateError", "ReplicaSetCreateError: exceeded quota", id="replica-set-create-error"),
    # §3 "Paused": Helm says ready, Argo Suspended; kubectl and kstatus would wait forever. Ready, with a warning.
    pytest.param(deployment(paused=True, total=4, updated=1, available=3,
                            conditions=(AVAILABLE, cond("Progressing", "Unknown", "DeploymentPaused"))),
                 READY, "Paused", 'deployment "web" is paused', id="paused-mid-rollout"),
    pytest.param(deployment(paused=True, generation=5), READY, "Paused", "is paused",
                 id="paused-judged-before-the-generation-rule"),
    pytest.param(deployment(paused=True, deleting=True), PROGRESSING, "Terminating",
                 'deployment "web" is being deleted', id="deleting-beats-paused"),
    pytest.param(deployment(deleting=True), PROGRESSING, "Terminating", "is being deleted", id="deletion-timestamp"),
    pytest.param(deployment(conditions=(AVAILABLE, COMPLETE, cond("Stalled", "True", "Blocked", "admission denied"))),
                 FAILED, "Blocked", 'deployment "web" is stalled: Blocked: admission denied', id="stalled"),
    pytest.param(deployment(conditions=(cond("Reconciling", "True", "Waiting"), AVAILABLE, COMPLETE)), PROGRESSING,
                 "Waiting", 'Waiting for deployment "web" to reconcile', id="reconciling"),
    pytest.param(deployment(conditions=(cond("Available", "False", "MinimumReplicasUnavailable",
                                             "Deployment does not have minimum availability."), COMPLETE)),
                 PROGRESSING, "MinimumReplicasUnavailable", "does not have minimum availability",
                 id="available-false-guard"),
    # §3: kstatus alone insists on Available=True / NewReplicaSetAvailable; the counters are the rule here.
    pytest.param(deployment(conditions=()), READY, "RolloutComplete", "successfully rolled out",
                 id="counters-without-conditions"),
    pytest.param(deployment(replicas=None, total=0, updated=0), PROGRESSING, "LessUpdated",
                 "0 out of 1 new replicas", id="replicas-default-to-one"),
    pytest.param(deployment(replicas=0, total=0, updated=0), READY, "RolloutComplete", "successfully rolled out",
                 id="scaled-to-zero"),
    # §2 rule 6: a condition stamped with an older generation is ignored (a synthetic snapshot).
    pytest.param(deployment(conditions=(AVAILABLE, {**DEADLINE, "observedGeneration": 1})), READY,
                 "RolloutComplete", "successfully rolled out", id="stale-condition-ignored"),
    pytest.param({**deployment(total=4), "apiVersion": "extensions/v1beta1"}, PROGRESSING, "OldReplicasPending",
                 "1 old replicas", id="extensions-v1beta1"),
]


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_deployment_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_only_a_paused_deployment_warns(obj: dict, state: State, reason: str, fragment: str) -> None:
    verdict = evaluate(obj)
    assert bool(verdict.warnings) == (reason == "Paused")
    assert all("until it is resumed" in warning for warning in verdict.warnings)
