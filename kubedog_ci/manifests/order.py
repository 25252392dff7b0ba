"""The order objects are applied in: what others need exists before them.

Namespaces and CustomResourceDefinitions first (everything else may live in or be of them), then what
workloads consume (accounts, secrets, config, storage, RBAC, policies), then Services (so the Pods a workload
starts find their environment variables and DNS names), then workloads, then everything else: Ingresses,
autoscalers, custom resources and webhook configurations, which could otherwise block the applies after them.
Within a rank the input order is kept.
"""

from __future__ import annotations

from kubedog_ci.manifests.validate import Planned

_RBAC = "rbac.authorization.k8s.io"

RANKS: dict[tuple[str, str], int] = {
    ("", "Namespace"): 0,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): 0,
    ("", "ServiceAccount"): 1,
    ("", "Secret"): 1,
    ("", "ConfigMap"): 1,
    ("storage.k8s.io", "StorageClass"): 1,
    ("scheduling.k8s.io", "PriorityClass"): 1,
    ("node.k8s.io", "RuntimeClass"): 1,
    ("", "PersistentVolume"): 1,
    ("", "PersistentVolumeClaim"): 1,
    (_RBAC, "Role"): 1,
    (_RBAC, "ClusterRole"): 1,
    (_RBAC, "RoleBinding"): 1,
    (_RBAC, "ClusterRoleBinding"): 1,
    ("", "LimitRange"): 1,
    ("", "ResourceQuota"): 1,
    ("networking.k8s.io", "NetworkPolicy"): 1,
    ("networking.k8s.io", "IngressClass"): 1,
    ("policy", "PodDisruptionBudget"): 1,
    ("", "Service"): 2,
    ("apps", "Deployment"): 3,
    ("apps", "StatefulSet"): 3,
    ("apps", "DaemonSet"): 3,
    ("apps", "ReplicaSet"): 3,
    ("", "ReplicationController"): 3,
    ("batch", "Job"): 3,
    ("batch", "CronJob"): 3,
    ("", "Pod"): 3,
}
"""(API group, kind) -> rank; lower ranks are applied first."""
OTHER_RANK = 4


def apply_order(planned: list[Planned]) -> list[Planned]:
    """The objects by rank, each rank in input order."""
    return sorted(planned, key=lambda p: RANKS.get((p.resource.group, p.kind), OTHER_RANK))
