"""CustomResourceDefinition: readiness-rules.md ("CustomResourceDefinition", Recommended), kstatus's rule: a name
conflict fails (Helm lets it pass, kapp waits forever on it), Established is ready."""

from __future__ import annotations

from kubedog_ci.rules import common
from kubedog_ci.rules.profile import KindProfile
from kubedog_ci.rules.verdict import Verdict, failed, progressing, ready


def evaluate(obj: dict) -> Verdict:
    return common.precheck(obj) or _established(obj)


def _established(obj: dict) -> Verdict:
    subject = common.subject(obj)
    names = common.condition(obj, "NamesAccepted")
    if names is not None and names.get("status") == "False":
        return failed(names.get("reason") or "NamesNotAccepted",
                      f"{subject}: names not accepted: {common.explain(names)}")
    established = common.condition(obj, "Established")
    if established is not None and established.get("status") == "False" \
            and established.get("reason") == "NotAccepted":
        return failed("NotAccepted", f"{subject} not established: {common.explain(established)}")
    if established is not None and established.get("status") == "True":
        return ready("Established", f"{subject} is established")
    reason = (established or {}).get("reason") or "NotEstablished"
    return progressing(reason, f"Waiting for {subject} to be established...")


PROFILE = KindProfile(evaluate)
