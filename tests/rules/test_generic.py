"""Any other kind: readiness-rules.md §2, the shared checks and the `Ready` condition (kstatus's generic path)."""

from __future__ import annotations

import pytest

from kubedog_ci.rules.verdict import State
from tests.rules.builders import FAILED, PROGRESSING, READY, check, cond, resource


def widget(*conditions: dict, generation: int = 2, observed: int | None = 2, deleting: bool = False) -> dict:
    return resource("example.com/v1", "Widget", "blue", spec={"size": 3}, status={"observedGeneration": observed},
                    generation=generation, deleting=deleting, conditions=list(conditions))


CASES = [
    pytest.param(widget(cond("Ready", "True", "Reconciled")), READY, "Ready", 'widget "blue" is ready', id="ready"),
    pytest.param(widget(cond("Ready", "False", "DependencyMissing", "secret db not found")), PROGRESSING,
                 "DependencyMissing", 'Waiting for widget "blue" to be ready: DependencyMissing: secret db not found',
                 id="ready-false"),
    pytest.param(widget(cond("Ready", "Unknown")), PROGRESSING, "NotReady", "to be ready...", id="ready-unknown"),
    pytest.param(widget(), READY, "NoReadyCondition", "reports no Ready condition", id="no-conditions"),
    pytest.param(widget(cond("Synced", "False")), READY, "NoReadyCondition", "no Ready condition",
                 id="only-unknown-conditions"),
    pytest.param(resource("v1", "ConfigMap", "settings", generation=None), READY, "NoReadyCondition",
                 'configmap "settings" exists', id="configmap-without-status"),
    pytest.param(widget(cond("Ready", "True"), generation=3), PROGRESSING, "NotObserved",
                 "Waiting for widget spec update to be observed...", id="stale-observed-generation"),
    # Without status.observedGeneration, nothing to compare: not required outside the workload kinds.
    pytest.param(widget(cond("Ready", "True"), observed=None), READY, "Ready", "is ready",
                 id="observed-generation-absent"),
    pytest.param(widget(cond("Ready", "True"), deleting=True), PROGRESSING, "Terminating",
                 'widget "blue" is being deleted', id="deletion-timestamp"),
    pytest.param(widget(cond("Ready", "False"), cond("Stalled", "True", "InvalidSpec", "size must be odd")), FAILED,
                 "InvalidSpec", 'widget "blue" is stalled: InvalidSpec: size must be odd', id="stalled"),
    pytest.param(widget(cond("Reconciling", "True", "Provisioning"), cond("Ready", "True")), PROGRESSING,
                 "Provisioning", "to reconcile: Provisioning", id="reconciling-beats-ready"),
    pytest.param(widget(cond("Stalled", "False"), cond("Reconciling", "False"), cond("Ready", "True")), READY,
                 "Ready", "is ready", id="standard-conditions-false"),
    # Both set: the first in list order wins, as in kstatus's checkGenericProperties.
    pytest.param(widget(cond("Reconciling", "True", "Retrying"), cond("Stalled", "True", "Failing")), PROGRESSING,
                 "Retrying", "reconcile", id="reconciling-listed-first"),
    pytest.param(widget(cond("Stalled", "True", "Failing"), cond("Reconciling", "True", "Retrying")), FAILED,
                 "Failing", "stalled", id="stalled-listed-first"),
    # §2 rule 6: a condition stamped with an older generation is stale. A stale Stalled no longer fails...
    pytest.param(widget(cond("Stalled", "True", "Failing", observedGeneration=1), cond("Ready", "True")), READY,
                 "Ready", "is ready", id="stale-stalled-ignored"),
    # ...and a stale Ready is not "no Ready condition": it has yet to be reported for this generation.
    pytest.param(widget(cond("Ready", "True", observedGeneration=1), observed=None), PROGRESSING, "NotObserved",
                 "to report Ready for generation 2", id="stale-ready-waits"),
    pytest.param(widget(cond("Ready", "True", observedGeneration=2)), READY, "Ready", "is ready",
                 id="current-ready-condition"),
]


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_generic_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)
