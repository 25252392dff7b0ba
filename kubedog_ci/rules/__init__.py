"""Per-kind readiness rules: pure functions from one object (a dict as the API serves it) to a Verdict.

They follow the Recommended rules of ../shared/research/readiness-rules.md. No I/O and no clock: the same
functions serve `status --offline` and the live engine, which adds what only a live view has (Events, Pods,
failure budgets, grace periods).
"""

from __future__ import annotations

from collections.abc import Callable

from kubedog_ci.rules import (
    crd,
    daemonset,
    deployment,
    generic,
    ingress,
    job,
    pod,
    pvc,
    replicaset,
    service,
    statefulset,
)
from kubedog_ci.rules.verdict import State, Verdict

__all__ = ["RULES", "State", "Verdict", "evaluate"]

RULES: dict[tuple[str, str], Callable[[dict], Verdict]] = {
    ("apps", "Deployment"): deployment.evaluate,
    ("extensions", "Deployment"): deployment.evaluate,
    ("apps", "StatefulSet"): statefulset.evaluate,
    ("apps", "DaemonSet"): daemonset.evaluate,
    ("extensions", "DaemonSet"): daemonset.evaluate,
    ("apps", "ReplicaSet"): replicaset.evaluate,
    ("extensions", "ReplicaSet"): replicaset.evaluate,
    ("batch", "Job"): job.evaluate,
    ("", "Pod"): pod.evaluate,
    ("", "PersistentVolumeClaim"): pvc.evaluate,
    ("", "Service"): service.evaluate,
    ("networking.k8s.io", "Ingress"): ingress.evaluate,
    ("extensions", "Ingress"): ingress.evaluate,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd.evaluate,
}
"""(API group, kind) → rule; the core group is "". Every version of a group shares its rule (apps/v1beta2,
extensions/v1beta1 and apiextensions.k8s.io/v1beta1 objects carry the same status fields)."""


def evaluate(obj: dict) -> Verdict:
    """The verdict for one object; kinds without a rule of their own get the generic one."""
    api_version = obj.get("apiVersion") or ""
    group = api_version.rpartition("/")[0]
    return RULES.get((group, obj.get("kind") or ""), generic.evaluate)(obj)
