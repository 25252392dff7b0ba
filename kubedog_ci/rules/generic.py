"""Any other kind (custom resources included): kstatus's generic path, readiness-rules.md §2 rules 3 and 5.
§2's shared checks, then the `Ready` condition; no `Ready` condition means ready (kstatus, Helm, kapp), since
there is nothing else to wait for (ConfigMap, Secret, CronJob, …)."""

from __future__ import annotations

from kubedog_ci.rules import common
from kubedog_ci.rules.problems import Problem, custom_problems
from kubedog_ci.rules.profile import KindProfile, Related
from kubedog_ci.rules.verdict import Verdict, progressing, ready

NO_READY_CONDITION = "NoReadyCondition"


def evaluate(obj: dict) -> Verdict:
    return common.precheck(obj) or _ready_condition(obj)


def _ready_condition(obj: dict) -> Verdict:
    subject = common.subject(obj)
    entry = next((c for c in common.status(obj).get("conditions") or [] if c.get("type") == "Ready"), None)
    if entry is None:
        return ready(NO_READY_CONDITION, f"{subject} exists and reports no Ready condition")
    if not common.is_current(obj, entry):
        # §2 rule 6 makes a stale condition absent; absent must not mean "nothing to wait for" here, since the
        # controller does report Ready and has yet to report it for this generation (kapp keeps waiting too).
        return progressing("NotObserved", f"Waiting for {subject} to report Ready for generation "
                           f"{obj['metadata']['generation']}...")
    if entry.get("status") == "True":
        return ready("Ready", f"{subject} is ready")
    detail = common.explain(entry)
    return progressing(entry.get("reason") or "NotReady",
                       f"Waiting for {subject} to be ready" + (f": {detail}" if detail else "..."))


def _problems(obj: dict, related: Related) -> list[Problem]:
    """Ready=False with a failure reason: a live-only sign, since one snapshot cannot tell a retry from a verdict."""
    return custom_problems(obj, "")


PROFILE = KindProfile(evaluate, object_problems=_problems)
"""Built-in kinds without a profile of their own (ConfigMap, CronJob, HorizontalPodAutoscaler, ...)."""
