"""The simulated cluster's resource registry: which kinds exist, how they are named, and their discovery documents.

Built-in kinds are declared once in a table; CustomResourceDefinitions add entries at run time once they are
Established. Discovery answers (/api, /apis, /apis/GROUP/VERSION) are generated from the same entries so that
kubectl's and the Python client's name resolution (plurals, short names, categories) match what is served.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource (group/version/plural) and what discovery says about it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ("status",)
    storage_group: str | None = None
    verbs: tuple[str, ...] = ALL_VERBS
    printer_columns: tuple[dict, ...] = ()
    """A CRD version's additionalPrinterColumns, for `kubectl get` tables."""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Storage key: one store bucket per group and plural (events of both API groups share one)."""
        group = self.group if self.storage_group is None else self.storage_group
        return f"{group}/{self.plural}"

    @property
    def builtin(self) -> bool:
        """A compiled-in (typed) kind, as opposed to a CRD's: its list items are encoded without apiVersion/kind."""
        return (self.group, self.version, self.plural) in _BUILTIN_IDS

    @property
    def qualified(self) -> str:
        """`deployments.apps` / `pods`: how the API server names the resource in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_NO_STATUS: tuple[str, ...] = ()
_ALL = ("all",)
_CREATE_ONLY = ("create",)

BUILTIN: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",)),
    ResourceType("", "v1", "Node", "nodes", namespaced=False, short_names=("no",)),
    ResourceType("", "v1", "Pod", "pods", short_names=("po",), categories=_ALL,
                 subresources=("status", "log", "binding", "eviction")),
    ResourceType("", "v1", "Event", "events", short_names=("ev",), subresources=_NO_STATUS),
    ResourceType("", "v1", "Service", "services", short_names=("svc",), categories=_ALL),
    ResourceType("", "v1", "Endpoints", "endpoints", short_names=("ep",), subresources=_NO_STATUS),
    ResourceType("", "v1", "ConfigMap", "configmaps", short_names=("cm",), subresources=_NO_STATUS),
    ResourceType("", "v1", "Secret", "secrets", subresources=_NO_STATUS),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",), subresources=("token",)),
    ResourceType("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",)),
    ResourceType("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False, short_names=("pv",)),
    ResourceType("", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",)),
    ResourceType("", "v1", "LimitRange", "limitranges", short_names=("limits",), subresources=_NO_STATUS),
    ResourceType("", "v1", "PodTemplate", "podtemplates", subresources=_NO_STATUS),
    ResourceType("", "v1", "ReplicationController", "replicationcontrollers", short_names=("rc",), categories=_ALL,
                 subresources=("status", "scale")),
    ResourceType("apiregistration.k8s.io", "v1", "APIService", "apiservices", namespaced=False,
                 categories=("api-extensions",)),
    ResourceType("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=_ALL,
                 subresources=("status", "scale")),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=_ALL,
                 subresources=("status", "scale")),
    ResourceType("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), categories=_ALL,
                 subresources=("status", "scale")),
    ResourceType("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), categories=_ALL),
    ResourceType("apps", "v1", "ControllerRevision", "controllerrevisions", subresources=_NO_STATUS),
    ResourceType("batch", "v1", "Job", "jobs", categories=_ALL),
    ResourceType("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=_ALL),
    ResourceType("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short_names=("hpa",),
                 categories=_ALL),
    ResourceType("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",)),
    ResourceType("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",)),
    ResourceType("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False,
                 subresources=_NO_STATUS),
    ResourceType("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=("netpol",),
                 subresources=_NO_STATUS),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", subresources=_NO_STATUS),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", subresources=_NO_STATUS),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", subresources=_NO_STATUS),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False,
                 subresources=_NO_STATUS),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False,
                 subresources=_NO_STATUS),
    ResourceType("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short_names=("sc",),
                 subresources=_NO_STATUS),
    ResourceType("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", namespaced=False, short_names=("pc",),
                 subresources=_NO_STATUS),
    ResourceType("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", namespaced=False, subresources=_NO_STATUS),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", subresources=_NO_STATUS),
    ResourceType("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
                 namespaced=False, subresources=_NO_STATUS),
    ResourceType("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
                 "validatingwebhookconfigurations", namespaced=False, subresources=_NO_STATUS),
    ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
                 namespaced=False, short_names=("crd", "crds")),
    ResourceType("events.k8s.io", "v1", "Event", "events", short_names=("ev",), subresources=_NO_STATUS,
                 storage_group=""),
    ResourceType("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
                 namespaced=False, subresources=_NO_STATUS, verbs=_CREATE_ONLY),
    ResourceType("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews",
                 namespaced=False, subresources=_NO_STATUS, verbs=_CREATE_ONLY),
    ResourceType("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", namespaced=False,
                 subresources=_NO_STATUS, verbs=_CREATE_ONLY),
)
REVIEWS = {"authorization.k8s.io/selfsubjectaccessreviews", "authorization.k8s.io/selfsubjectrulesreviews",
           "authentication.k8s.io/selfsubjectreviews"}
"""Storage keys of the kinds that are never stored: a create answers a question about the requester."""

_BUILTIN_IDS = frozenset((rt.group, rt.version, rt.plural) for rt in BUILTIN)


@dataclass
class Registry:
    """All served resource types, built-in plus those of Established CRDs; safe to read from any thread."""

    _types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def builtin(cls) -> Registry:
        registry = cls()
        for rt in BUILTIN:
            registry.add(rt)
        return registry

    def add(self, rt: ResourceType) -> None:
        with self._lock:
            self._types[(rt.group, rt.version, rt.plural)] = rt

    def remove_group_resource(self, group: str, plural: str) -> None:
        with self._lock:
            for key in [k for k in self._types if k[0] == group and k[2] == plural]:
                del self._types[key]

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rt in self._types.values():
                if rt.group == group and rt.version == version and rt.kind == kind:
                    return rt
        return None

    def for_key(self, key: str) -> ResourceType:
        """The primary (first registered) type stored under a storage key."""
        with self._lock:
            for rt in self._types.values():
                if rt.key == key and rt.storage_group is None:
                    return rt
        raise KeyError(key)

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    def groups(self) -> dict[str, list[str]]:
        """Group name -> its versions, in registration order (core group under "")."""
        out: dict[str, list[str]] = {}
        for rt in self.all():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out

    def resource_list(self, group: str, version: str) -> dict | None:
        """The APIResourceList served at /api/v1 or /apis/GROUP/VERSION."""
        types = [rt for rt in self.all() if rt.group == group and rt.version == version]
        if not types:
            return None
        resources: list[dict] = []
        for rt in sorted(types, key=lambda t: t.plural):
            entry: dict = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            for sub in rt.subresources:
                resources.append(_subresource_entry(rt, sub))
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": types[0].api_version,
                "resources": resources}

    def group_list(self) -> dict:
        """The APIGroupList served at /apis."""
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [self.group_doc(g) for g in self.groups() if g]}

    def group_doc(self, group: str) -> dict | None:
        versions = self.groups().get(group)
        if not versions:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries,
                "preferredVersion": entries[0]}


def _subresource_entry(rt: ResourceType, sub: str) -> dict:
    verbs = {
        "status": ["get", "patch", "update"],
        "scale": ["get", "patch", "update"],
        "log": ["get"],
        "binding": ["create"],
        "eviction": ["create"],
        "token": ["create"],
    }[sub]
    kind = {"scale": "Scale", "binding": "Binding", "eviction": "Eviction", "token": "TokenRequest"}.get(sub, rt.kind)
    entry: dict = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                   "kind": kind, "verbs": verbs}
    if sub == "scale":
        entry["group"] = "autoscaling"
        entry["version"] = "v1"
    if sub == "eviction":
        entry["group"] = "policy"
        entry["version"] = "v1"
    if sub == "token":
        entry["group"] = "authentication.k8s.io"
        entry["version"] = "v1"
    return entry
