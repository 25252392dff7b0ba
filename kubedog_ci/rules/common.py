"""The checks of readiness-rules.md §2 that come before every kind's own rule, and small accessors.

Order (§2 "Recommended"): deletionTimestamp, then the generation rule, then the standard `Stalled`/`Reconciling`
conditions. A Deployment puts its paused rule between the first two, so the steps are also exported one by one.
"""

from __future__ import annotations

from kubedog_ci.rules.verdict import Verdict, failed, progressing

_NOUNS = {"DaemonSet": "daemon set"}
"""kubectl's word for a kind in its rollout messages, where it is not simply the lower-cased kind."""


def name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def noun(obj: dict) -> str:
    kind = obj.get("kind", "")
    return _NOUNS.get(kind, kind.lower())


def subject(obj: dict) -> str:
    """`deployment "web"`: how kubectl names an object in its messages."""
    return f'{noun(obj)} "{name(obj)}"'


def spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def status(obj: dict) -> dict:
    return obj.get("status") or {}


def count(fields: dict, key: str) -> int:
    """A status counter; the API omits zero counters (omitempty), so absent means 0."""
    return int(fields.get(key) or 0)


def desired_replicas(obj: dict) -> int:
    """`spec.replicas`, defaulting to 1 as the API server does (kstatus does the same for manifests)."""
    value = spec(obj).get("replicas")
    return 1 if value is None else int(value)


def ready_replicas(obj: dict) -> tuple[int | None, int | None]:
    """(status.readyReplicas, spec.replicas): the progress of the kinds that count replicas."""
    return count(status(obj), "readyReplicas"), desired_replicas(obj)


def is_current(obj: dict, entry: dict) -> bool:
    """False for a stale condition: one whose own observedGeneration is behind metadata.generation describes
    an older spec (§2 rule 6, kapp's supportsObservedGeneration)."""
    generation, seen = (obj.get("metadata") or {}).get("generation"), entry.get("observedGeneration")
    return generation is None or seen is None or seen >= generation


def conditions(obj: dict) -> list[dict]:
    """The status conditions in list order, leaving out stale ones, which count as absent."""
    return [entry for entry in status(obj).get("conditions") or [] if is_current(obj, entry)]


def condition(obj: dict, kind: str) -> dict | None:
    """The current condition of this type, or None."""
    return next((entry for entry in conditions(obj) if entry.get("type") == kind), None)


def is_true(obj: dict, kind: str) -> bool:
    found = condition(obj, kind)
    return found is not None and found.get("status") == "True"


def explain(entry: dict) -> str:
    """`Reason: message` of a condition (or a container state), whichever parts it has."""
    return ": ".join(part for part in (entry.get("reason"), entry.get("message")) if part)


def terminating(obj: dict) -> Verdict | None:
    """§2.1: an object being deleted is not ready yet, whatever its status says (kstatus Terminating, kapp)."""
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return progressing("Terminating", f"{subject(obj)} is being deleted")
    return None


def unobserved(obj: dict, *, required: bool = False, zero_is_unobserved: bool = False) -> Verdict | None:
    """§2.2: the controller has not seen the latest spec, so the status describes an older one.

    `required`: the workload controllers always write observedGeneration, so its absence means "not yet"
    (kubectl's `generation <= observedGeneration` with 0 for absent). `zero_is_unobserved`: kubectl's extra
    StatefulSet test. Otherwise the field is compared only when present, with `<` as kubectl does (kstatus's
    `!=` differs only on synthetic fixtures)."""
    observed = status(obj).get("observedGeneration")
    generation = (obj.get("metadata") or {}).get("generation")
    missing = observed is None or (zero_is_unobserved and observed == 0)
    if (required and missing) or (not missing and generation is not None and observed < generation):
        return progressing("NotObserved", f"Waiting for {noun(obj)} spec update to be observed...")
    return None


def standard_conditions(obj: dict) -> Verdict | None:
    """§2.3, kstatus's `checkGenericProperties`: `Stalled=True` fails and `Reconciling=True` keeps waiting, for
    every kind; when both are set, the first in list order wins, as in kstatus."""
    for entry in conditions(obj):
        kind = entry.get("type")
        if kind not in ("Stalled", "Reconciling") or entry.get("status") != "True":
            continue
        detail = f": {explain(entry)}" if explain(entry) else ""
        if kind == "Stalled":
            return failed(entry.get("reason") or "Stalled", f"{subject(obj)} is stalled{detail}")
        return progressing(entry.get("reason") or "Reconciling", f"Waiting for {subject(obj)} to reconcile{detail}")
    return None


def precheck(obj: dict, *, required: bool = False, zero_is_unobserved: bool = False) -> Verdict | None:
    """All of §2 before a kind rule: a verdict when one of the shared checks decides, else None."""
    return (terminating(obj) or unobserved(obj, required=required, zero_is_unobserved=zero_is_unobserved)
            or standard_conditions(obj))


def load_balancer_ingress(obj: dict) -> list[dict]:
    """`status.loadBalancer.ingress` of a Service or an Ingress."""
    return (status(obj).get("loadBalancer") or {}).get("ingress") or []


def addresses(entries: list[dict]) -> list[str]:
    """The IPs or host names of load balancer ingress entries that have one."""
    return [entry.get("ip") or entry["hostname"] for entry in entries if entry.get("ip") or entry.get("hostname")]
