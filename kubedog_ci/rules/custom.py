"""Custom resources: the generic rule, except that "no Ready condition" is not enough to be ready.

A custom resource whose controller has not yet written any status for its current generation has not been
reconciled: kstatus, Helm and kapp call it Current at once, and a controller that marks it Failed a moment later
turns a green pipeline red too late. It is ready by a Ready condition, or by `status.observedGeneration` reaching
`metadata.generation` where its controller writes that field; else it waits for a controller, and the live engine
calls it ready after CONTROLLER_GRACE with a warning naming what never came (a resource no controller reconciles,
such as a plain configuration object, still passes).
"""

from __future__ import annotations

import dataclasses

from kubedog_ci.rules import common, generic
from kubedog_ci.rules.profile import AWAITING_STATUS
from kubedog_ci.rules.verdict import Verdict, progressing

CONTROLLER_GRACE = 10.0
"""Seconds the live engine waits for a controller's first status (a reconcile takes well under a second when
the controller runs), scaled by --grace-scale; then ready with a warning."""


def evaluate(obj: dict) -> Verdict:
    verdict = generic.evaluate(obj)
    if verdict.reason != generic.NO_READY_CONDITION or common.status(obj).get("observedGeneration") is not None:
        return verdict  # decided by a condition, or its controller has observed this generation
    generation = (obj.get("metadata") or {}).get("generation")
    return progressing(AWAITING_STATUS, f"Waiting for a controller to report the status of {common.subject(obj)}"
                       + (f" for generation {generation}" if generation else "")
                       + ": no Ready condition and no status.observedGeneration yet")


PROFILE = dataclasses.replace(generic.PROFILE, evaluate=evaluate, status_grace=CONTROLLER_GRACE)
"""Kinds of groups Kubernetes does not serve itself."""
