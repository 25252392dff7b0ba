"""Which applied objects have something to wait for, and so are handed to the engine.

Workloads, Pods, PersistentVolumeClaims and LoadBalancer Services change state after they are applied; so may any
object that reports status conditions, and any custom resource (its controller may add a Ready condition).
ConfigMaps, Secrets, RBAC and the like are done once the API server has accepted them.
"""

from __future__ import annotations

TRACKED_KINDS = frozenset({
    ("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet"),
    ("batch", "Job"), ("", "Pod"), ("", "PersistentVolumeClaim"),
})
"""(API group, kind) always tracked."""
BUILTIN_GROUP_SUFFIX = ".k8s.io"
BUILTIN_GROUPS = frozenset({"", "apps", "batch", "autoscaling", "policy", "extensions"})
"""Groups Kubernetes itself serves; any other group is a custom resource."""


def is_trackable(group: str, kind: str, obj: dict) -> bool:
    """Whether the object may still change from progressing to ready or failed after its apply."""
    if (group, kind) in TRACKED_KINDS:
        return True
    if (group, kind) == ("", "Service"):
        return (obj.get("spec") or {}).get("type") == "LoadBalancer"
    if (obj.get("status") or {}).get("conditions"):
        return True
    return group not in BUILTIN_GROUPS and not group.endswith(BUILTIN_GROUP_SUFFIX)
