"""Ingress: readiness-rules.md ("Ingress", Recommended): ready by default, as kstatus, Helm and kapp do, because many
ingress controllers never publish `status.loadBalancer` (Argo's wait for it would hang on them)."""

from __future__ import annotations

from kubedog_ci.rules import common
from kubedog_ci.rules.profile import KindProfile
from kubedog_ci.rules.verdict import Verdict, ready


def evaluate(obj: dict) -> Verdict:
    return common.precheck(obj) or _published(obj)


def _published(obj: dict) -> Verdict:
    addresses = ", ".join(common.addresses(common.load_balancer_ingress(obj)))
    where = f" at {addresses}" if addresses else " (its address is not waited for)"
    return ready("Ready", f"{common.subject(obj)} is ready{where}")


PROFILE = KindProfile(evaluate)
