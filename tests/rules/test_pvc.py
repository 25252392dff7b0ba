"""PersistentVolumeClaim: readiness-rules.md ("PersistentVolumeClaim", Recommended)."""

from __future__ import annotations

import pytest

from kubedog_ci.rules.verdict import State
from tests.rules.builders import FAILED, PROGRESSING, READY, check, resource


def pvc(phase: str | None, volume: str | None = "pvc-1f3c", deleting: bool = False) -> dict:
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": volume}
    return resource("v1", "PersistentVolumeClaim", "data", spec=spec, status={"phase": phase}, generation=None,
                    deleting=deleting)


CASES = [
    pytest.param(pvc("Bound"), READY, "Bound", 'persistentvolumeclaim "data" is bound to volume pvc-1f3c', id="bound"),
    pytest.param(pvc("Pending", volume=None), PROGRESSING, "Pending", "to be bound (phase Pending)", id="pending"),
    pytest.param(pvc(None, volume=None), PROGRESSING, "Pending", "to be bound", id="no-status-yet"),
    # kstatus waits forever on Lost; Argo says Degraded. The volume is gone: failed.
    pytest.param(pvc("Lost"), FAILED, "ClaimLost", "lost its volume pvc-1f3c", id="lost"),
    # The pvc-protection finalizer holds a claim in use: it is being deleted, not bound for good.
    pytest.param(pvc("Bound", deleting=True), PROGRESSING, "Terminating", "is being deleted", id="deletion-timestamp"),
]


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_pvc_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)
