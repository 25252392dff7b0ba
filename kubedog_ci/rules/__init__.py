"""Per-kind profiles: the pure readiness rule of each kind and everything else the engine knows about it.

A rule is a pure function from one object (a dict as the API serves it) to a Verdict, following the Recommended
rules of the project's research on readiness (kubectl, kstatus, Helm, Argo, kapp). No I/O and no clock: the same
functions serve `status --offline` and the live engine, which adds what only a live view has (Events, Pods,
failure budgets, grace periods). Adding a kind is one module exporting PROFILE and its row in PROFILES.
"""

from __future__ import annotations

from kubedog_ci.rules import (
    crd,
    custom,
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
from kubedog_ci.rules.profile import KindProfile, Related, Stream
from kubedog_ci.rules.verdict import State, Verdict

__all__ = ["PROFILES", "KindProfile", "Related", "State", "Stream", "Verdict", "evaluate", "is_trackable",
           "profile_for"]

PROFILES: dict[tuple[str, str], KindProfile] = {
    ("apps", "Deployment"): deployment.PROFILE,
    ("extensions", "Deployment"): deployment.PROFILE,
    ("apps", "StatefulSet"): statefulset.PROFILE,
    ("apps", "DaemonSet"): daemonset.PROFILE,
    ("extensions", "DaemonSet"): daemonset.PROFILE,
    ("apps", "ReplicaSet"): replicaset.PROFILE,
    ("extensions", "ReplicaSet"): replicaset.PROFILE,
    ("batch", "Job"): job.PROFILE,
    ("", "Pod"): pod.PROFILE,
    ("", "PersistentVolumeClaim"): pvc.PROFILE,
    ("", "Service"): service.PROFILE,
    ("networking.k8s.io", "Ingress"): ingress.PROFILE,
    ("extensions", "Ingress"): ingress.PROFILE,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd.PROFILE,
}
"""(API group, kind) → profile; the core group is "". Every version of a group shares its profile (apps/v1beta2,
extensions/v1beta1 and apiextensions.k8s.io/v1beta1 objects carry the same status fields)."""
BUILTIN_GROUP_SUFFIX = ".k8s.io"
BUILTIN_GROUPS = frozenset({"", "apps", "batch", "autoscaling", "policy", "extensions"})
"""Groups Kubernetes itself serves; any other group is a custom resource."""


def profile_for(group: str, kind: str) -> KindProfile:
    """The kind's profile; other built-in kinds get the generic one, custom resources the custom one."""
    found = PROFILES.get((group, kind))
    if found is not None:
        return found
    return generic.PROFILE if _built_in(group) else custom.PROFILE


def _built_in(group: str) -> bool:
    return group in BUILTIN_GROUPS or group.endswith(BUILTIN_GROUP_SUFFIX)


def evaluate(obj: dict) -> Verdict:
    """The verdict for one object, by its kind's rule."""
    group = (obj.get("apiVersion") or "").rpartition("/")[0]
    return profile_for(group, obj.get("kind") or "").evaluate(obj)


def is_trackable(group: str, kind: str, obj: dict) -> bool:
    """Whether an applied object may still change from progressing to ready or failed: as its profile says, else
    when it reports status conditions or is a custom resource (its controller may add a Ready condition).
    ConfigMaps, Secrets, RBAC and the like are done once the API server has accepted them."""
    tracked = profile_for(group, kind).tracked
    if tracked is not None:
        return tracked(obj)
    return bool((obj.get("status") or {}).get("conditions")) or not _built_in(group)
