"""StatefulSet: readiness-rules.md ("StatefulSet", Recommended): readiness, scale-down, partition, revisions and
OnDelete."""

from __future__ import annotations

import pytest

from kubedog_ci.rules import evaluate
from kubedog_ci.rules.verdict import State
from tests.rules.builders import FAILED, PROGRESSING, READY, check, cond, resource


def statefulset(*, replicas: int = 3, generation: int = 2, observed: int = 2, ready: int = 3, total: int | None = None,
                updated: int | None = None, current: int | None = None, current_revision: str | None = "db-5d8f",
                update_revision: str | None = "db-5d8f", partition: int = 0, on_delete: bool = False,
                deleting: bool = False, conditions: tuple[dict, ...] = ()) -> dict:
    """A StatefulSet as the API serves it (rollingUpdate.partition defaulted to 0); by default fully rolled out."""
    strategy = {"type": "OnDelete"} if on_delete else {"type": "RollingUpdate",
                                                         "rollingUpdate": {"partition": partition}}
    status = {"observedGeneration": observed, "replicas": replicas if total is None else total,
              "readyReplicas": ready, "availableReplicas": ready,
              "updatedReplicas": replicas if updated is None else updated,
              "currentReplicas": replicas if current is None else current,
              "currentRevision": current_revision, "updateRevision": update_revision}
    return resource("apps/v1", "StatefulSet", "db", spec={"replicas": replicas, "updateStrategy": strategy},
                    status=status, generation=generation, deleting=deleting, conditions=list(conditions))


CASES = [
    pytest.param(statefulset(), READY, "RolloutComplete", "statefulset rolling update complete 3 pods at revision "
                 "db-5d8f...", id="complete"),
    # kubectl treats observedGeneration 0 (or absent) as "not observed yet".
    pytest.param(statefulset(observed=0), PROGRESSING, "NotObserved",
                 "Waiting for statefulset spec update to be observed...", id="observed-generation-zero"),
    pytest.param(statefulset(generation=3), PROGRESSING, "NotObserved", "spec update to be observed",
                 id="stale-observed-generation"),
    pytest.param(statefulset(ready=1), PROGRESSING, "LessReady", "Waiting for 2 pods to be ready...", id="not-ready"),
    pytest.param(statefulset(updated=1, current=2, update_revision="db-6c9a"), PROGRESSING,
                 "RevisionMismatch", "waiting for statefulset rolling update to complete 1 pods at revision db-6c9a",
                 id="rolling-update-in-progress"),
    # §4 revision check: kubectl, kstatus and Argo rely on updatedReplicas and would say ready; only Helm compares
    # revisions. We side with Helm: the controller flips currentRevision only once the rollout is complete.
    pytest.param(statefulset(updated=3, current=0, update_revision="db-6c9a"), PROGRESSING, "RevisionMismatch",
                 "3 pods at revision db-6c9a", id="all-updated-but-revision-not-flipped"),
    pytest.param(statefulset(replicas=5, ready=5, partition=2, updated=3, current=2, update_revision="db-6c9a"),
                 READY, "PartitionRolledOut", "partitioned roll out complete: 3 new pods have been updated...",
                 id="partition-rolled-out"),
    pytest.param(statefulset(replicas=5, ready=5, partition=2, updated=1, current=4, update_revision="db-6c9a"),
                 PROGRESSING, "PartitionRollout",
                 "Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated...",
                 id="partition-rolling"),
    # Helm's test: a partition above replicas leaves nothing to update.
    pytest.param(statefulset(partition=5, updated=0, current=3, update_revision="db-6c9a"), READY,
                 "PartitionRolledOut", "0 new pods", id="partition-above-replicas"),
    # §4 OnDelete, five answers: kubectl errors, kstatus and Helm skip readiness, kapp hangs, Argo waits for ready
    # replicas. We follow Argo, and warn that the old Pods stay until deleted.
    pytest.param(statefulset(on_delete=True, updated=0, current=3, update_revision="db-6c9a"), READY, "OnDelete",
                 'statefulset "db" (OnDelete): 3 of 3 pods are ready', id="on-delete-old-pods-remain"),
    pytest.param(statefulset(on_delete=True, ready=2, updated=0, update_revision="db-6c9a"), PROGRESSING,
                 "LessReady", "Waiting for 1 pods to be ready", id="on-delete-still-waits-for-readiness"),
    # Only kstatus and kapp wait for a scale-down; Helm's `ready == replicas` would count surplus Pods as unready.
    pytest.param(statefulset(total=5), PROGRESSING, "ExtraPods", "Waiting for 2 pods to be deleted",
                 id="scale-down-in-progress"),
    # A snapshot without revision fields (older servers, hand-written): either counter may carry the count.
    pytest.param(statefulset(current=0, current_revision=None, update_revision=None), READY, "RolloutComplete",
                 "complete 3 pods", id="no-revisions-updated-counter"),
    pytest.param(statefulset(deleting=True), PROGRESSING, "Terminating", 'statefulset "db" is being deleted',
                 id="deletion-timestamp"),
    pytest.param(statefulset(conditions=(cond("Stalled", "True", "PVCProvisioningFailed"),)), FAILED,
                 "PVCProvisioningFailed", "is stalled", id="stalled"),
    pytest.param(statefulset(conditions=(cond("Reconciling", "True"),)), PROGRESSING, "Reconciling", "reconcile",
                 id="reconciling"),
]


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_statefulset_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)


def test_on_delete_warns_only_while_pods_run_an_old_revision() -> None:
    behind = evaluate(statefulset(on_delete=True, updated=1, current=2, update_revision="db-6c9a"))
    assert behind.warnings == ("2 of 3 pods run an old revision: with the OnDelete strategy they are replaced only "
                               "when deleted",)
    # With OnDelete the controller never flips currentRevision, so the updated count decides.
    assert evaluate(statefulset(on_delete=True, updated=3, current=0, update_revision="db-6c9a")).warnings == ()
    assert evaluate(statefulset(on_delete=True)).warnings == ()
