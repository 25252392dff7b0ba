"""Service: readiness-rules.md ("Service", Recommended): a LoadBalancer waits for its ingress (Helm, Argo, kapp;
kstatus checks only clusterIP, which the API server always allocates); other types are ready at once."""

from __future__ import annotations

from kubedog_ci.rules import common
from kubedog_ci.rules.profile import KindProfile
from kubedog_ci.rules.verdict import Verdict, progressing, ready


def evaluate(obj: dict) -> Verdict:
    return common.precheck(obj) or _load_balancer(obj)


def _load_balancer(obj: dict) -> Verdict:
    spec, subject = common.spec(obj), common.subject(obj)
    kind = spec.get("type") or "ClusterIP"
    if kind != "LoadBalancer":
        return ready("Ready", f"{subject} ({kind}) is ready")
    # An entry of {} still means the provider answered (Argo counts it); externalIPs need no provider (Helm).
    ingress = common.load_balancer_ingress(obj)
    if ingress or spec.get("externalIPs"):
        shown = ", ".join(common.addresses(ingress) or spec.get("externalIPs") or [])
        return ready("LoadBalancerReady", f"{subject} has its load balancer" + (f" at {shown}" if shown else ""))
    return progressing("NoLoadBalancerIngress", f"Waiting for {subject} to be assigned a load balancer ingress...")


def _tracked(obj: dict) -> bool:
    """Only a LoadBalancer has a state to reach (its ingress); other Services are done once applied."""
    return common.spec(obj).get("type") == "LoadBalancer"


PROFILE = KindProfile(evaluate, tracked=_tracked)
