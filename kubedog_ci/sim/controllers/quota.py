"""ResourceQuota: the admission plugin that charges and refuses creates, and the controller that recounts.

Admission (staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go) looks at each quota
whose status.hard tracks something the new object uses: pods must name every cpu/memory resource the quota
constrains ("failed quota: NAME: must specify ..."), usage must be known ("status unknown for quota"), and
used + requested may not exceed hard ("exceeded quota: NAME, requested: ..., used: ..., limited: ...").
Admitted usage is written to the quota's status at once, so back-to-back creates see each other. Usage per
object follows pkg/quota/v1/evaluator/core (pods, services, persistentvolumeclaims) and the generic
count/<resource> evaluator; pods in a terminal phase only count in count/pods. The controller recomputes
status (hard, used) from the objects whenever something in a namespace with quotas changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubedog_ci.sim import errors
from kubedog_ci.sim.api import Admission
from kubedog_ci.sim.controllers.base import Context, Controller, Key
from kubedog_ci.sim.controllers.storage import claim_class
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.pods import is_terminal
from kubedog_ci.sim.quantity import Quantity, ResourceList, add_lists, container_resources, pod_resources, quantity
from kubedog_ci.sim.resources import ResourceType
from kubedog_ci.sim.store import Change, clone

QUOTAS = "/resourcequotas"
_ONE = Quantity.parse("1")
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
POD_RESOURCES = frozenset({"count/pods", "pods", *_COMPUTE, *(f"requests.{r}" for r in _COMPUTE),
                           *(f"limits.{r}" for r in _COMPUTE)})
VALIDATION_SET = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})
"""Resources a pod must request explicitly once a quota constrains them (a documented historical mistake)."""
LEGACY_COUNTS = {"/services": "services", "/configmaps": "configmaps", "/secrets": "secrets",
                 "/persistentvolumeclaims": "persistentvolumeclaims", "/resourcequotas": "resourcequotas",
                 "/replicationcontrollers": "replicationcontrollers"}
_IGNORED = ("/events", "/nodes", "/namespaces")


# --- usage (pure) ------------------------------------------------------------------------------------------

def compute_usage(requests: ResourceList, limits: ResourceList) -> ResourceList:
    """podComputeUsageHelper: pods=1 and the requests/limits of cpu, memory and ephemeral-storage."""
    usage: ResourceList = {"pods": _ONE}
    for name in _COMPUTE:
        if name in requests:
            usage[name] = requests[name]
            usage[f"requests.{name}"] = requests[name]
        if name in limits:
            usage[f"limits.{name}"] = limits[name]
    for name, value in requests.items():
        if name.startswith("hugepages-"):
            usage[name] = value
            usage[f"requests.{name}"] = value
        elif "/" in name and not name.startswith("kubernetes.io/"):
            usage[f"requests.{name}"] = value
    return usage


def pod_usage(pod: dict) -> ResourceList:
    """PodUsageFunc: count/pods always; compute resources only while the pod is not terminal."""
    usage: ResourceList = {"count/pods": _ONE}
    if is_terminal(pod):
        return usage
    spec = pod.get("spec") or {}
    return {**usage, **compute_usage(pod_resources(spec, "requests"), pod_resources(spec, "limits"))}


def object_usage(rt: ResourceType, obj: dict) -> ResourceList:
    """What one object counts against quotas (Evaluator.Usage)."""
    if rt.key == "/pods":
        return pod_usage(obj)
    usage: ResourceList = {f"count/{rt.qualified}": _ONE}
    if rt.key in LEGACY_COUNTS:
        usage[LEGACY_COUNTS[rt.key]] = _ONE
    spec = obj.get("spec") or {}
    if rt.key == "/services":
        if spec.get("type") == "LoadBalancer":
            usage["services.loadbalancers"] = _ONE
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            usage["services.nodeports"] = Quantity.parse(str(len(spec.get("ports") or [])))
    if rt.key == "/persistentvolumeclaims":
        storage = quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
        usage["requests.storage"] = storage
        cls = claim_class(obj)
        if cls:
            usage[f"{cls}.storageclass.storage.k8s.io/requests.storage"] = storage
            usage[f"{cls}.storageclass.storage.k8s.io/persistentvolumeclaims"] = _ONE
    return usage


def tracked(rt: ResourceType, names: Iterable[str]) -> list[str]:
    """Evaluator.MatchingResources: the hard resource names this kind of object can consume."""
    if rt.key == "/pods":
        return sorted(n for n in names if n in POD_RESOURCES or n.startswith(("hugepages-", "requests.hugepages-"))
                      or (n.startswith("requests.") and "/" in n))
    own = {f"count/{rt.qualified}", LEGACY_COUNTS.get(rt.key, "")}
    if rt.key == "/services":
        own |= {"services.loadbalancers", "services.nodeports"}
    if rt.key == "/persistentvolumeclaims":
        own.add("requests.storage")
    return sorted(n for n in names if n in own or (rt.key == "/persistentvolumeclaims" and ".storageclass." in n))


def scopes_match(quota: dict, rt: ResourceType, obj: dict) -> bool:
    """spec.scopes and spec.scopeSelector select pods only (other evaluators match no scope)."""
    spec = quota.get("spec") or {}
    selectors = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or []]
    selectors += (spec.get("scopeSelector") or {}).get("matchExpressions") or []
    if not selectors:
        return True
    return rt.key == "/pods" and all(_pod_in_scope(s, obj) for s in selectors)


def _pod_in_scope(selector: dict, pod: dict) -> bool:
    spec = pod.get("spec") or {}
    terminating = isinstance(spec.get("activeDeadlineSeconds"), int) and spec["activeDeadlineSeconds"] >= 0
    best_effort = not any(container_resources(c, kind) for c in spec.get("containers") or []
                          for kind in ("requests", "limits"))
    scope = selector.get("scopeName")
    if scope in ("Terminating", "NotTerminating"):
        return terminating == (scope == "Terminating")
    if scope in ("BestEffort", "NotBestEffort"):
        return best_effort == (scope == "BestEffort")
    if scope == "PriorityClass":
        name, op, values = spec.get("priorityClassName", ""), selector.get("operator"), selector.get("values") or []
        return {"Exists": bool(name), "DoesNotExist": not name, "In": name in values,
                "NotIn": bool(name) and name not in values}.get(op, False)
    return False


def missing_requests(spec: dict, restricted: Iterable[str]) -> str:
    """podEvaluator.Constraints: every container must request what the quota constrains, "" when it does."""
    required = set(restricted) & VALIDATION_SET
    missing: dict[str, set[str]] = {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        usage = compute_usage(container_resources(container, "requests"), container_resources(container, "limits"))
        for name in required - set(usage):
            missing.setdefault(name, set()).add(container.get("name", ""))
    if not missing:
        return ""
    return "must specify " + "; ".join(f"{name} for: {','.join(sorted(containers))}"
                                       for name, containers in sorted(missing.items()))


def pretty(values: ResourceList, names: Iterable[str]) -> str:
    """prettyPrint: name=quantity pairs sorted by name, comma-separated."""
    return ",".join(f"{n}={values[n]}" for n in sorted(names) if n in values)


# --- admission ---------------------------------------------------------------------------------------------

def _resource_list(values: dict | None) -> ResourceList:
    return {name: quantity(value) for name, value in (values or {}).items()}


def _name_in_error(obj: dict) -> str:
    """Admission names the object before name generation, so a generated name shows as its generateName."""
    meta = obj["metadata"]
    generate = meta.get("generateName")
    name = meta.get("name", "")
    if generate and name.startswith(generate) and len(name) == len(generate) + 5:
        return generate
    return name or "Unknown"


def make_admission(ctx: Context) -> Admission:
    """The ResourceQuota validating admission plugin (CREATE)."""
    def admit(operation: str, rt: ResourceType, obj: dict, old: dict | None) -> None:
        if operation != "CREATE" or not rt.namespaced or rt.key in _IGNORED:
            return
        namespace = obj["metadata"].get("namespace", "")
        quotas = ctx.store.list(QUOTAS, namespace)[0]
        if not quotas:
            return
        charged = _check(rt, obj, quotas)
        for quota, used in charged:
            _write_used(ctx, quota, used)
    return admit


def _check(rt: ResourceType, obj: dict, quotas: list[dict]) -> list[tuple[dict, ResourceList]]:
    """The quotas to charge and their new usage; raises 403 Forbidden the way checkRequest does."""
    name = _name_in_error(obj)
    interesting = []
    for quota in quotas:
        hard = _resource_list((quota.get("status") or {}).get("hard"))
        restricted = tracked(rt, hard)
        if not restricted or not scopes_match(quota, rt, obj):
            continue
        quota_name = quota["metadata"]["name"]
        if rt.key == "/pods":
            missing = missing_requests(obj.get("spec") or {}, restricted)
            if missing:
                raise errors.forbidden(rt, name, f"failed quota: {quota_name}: {missing}")
        used = _resource_list((quota.get("status") or {}).get("used"))
        if any(r not in used for r in restricted):
            raise errors.forbidden(rt, name, f"status unknown for quota: {quota_name}, resources: "
                                   f"{','.join(restricted)}")
        interesting.append((quota, hard, used))
    usage = object_usage(rt, obj)
    if not any(v.value for v in usage.values()):
        return []
    charged = []
    for quota, hard, used in interesting:
        requested = {n: v for n, v in usage.items() if n in hard}
        new_used = add_lists(used, requested)
        exceeded = [n for n in requested if new_used[n].value > hard[n].value]
        if exceeded:
            raise errors.forbidden(rt, name, f"exceeded quota: {quota['metadata']['name']}, requested: "
                                   f"{pretty(requested, exceeded)}, used: {pretty(used, exceeded)}, "
                                   f"limited: {pretty(hard, exceeded)}")
        charged.append((quota, new_used))
    return charged


def _write_used(ctx: Context, quota: dict, used: ResourceList) -> None:
    updated = clone(quota)
    hard = (quota.get("status") or {}).get("hard") or {}
    updated["status"]["used"] = {n: str(v) for n, v in used.items() if n in hard}
    try:
        ctx.api.update(ctx.api.rt(QUOTAS), quota["metadata"]["namespace"], quota["metadata"]["name"], updated,
                       subresource="status")
    except ApiError:
        return


# --- the controller ----------------------------------------------------------------------------------------

class ResourceQuotaController(Controller):
    """Keeps status.hard and status.used of every quota true to the objects in its namespace."""

    name = "resourcequota-controller"
    watches = (QUOTAS,)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        ctx.api.admission.append(make_admission(ctx))

    def start(self) -> None:
        self.store.add_listener(self._on_object)

    def _on_object(self, change: Change) -> None:
        """Any object change in a namespace with quotas may change usage (called under the store lock)."""
        namespace = change.obj["metadata"].get("namespace")
        if not namespace or change.key in (QUOTAS, *_IGNORED) or not self.store.count(QUOTAS, namespace):
            return
        if change.key == "/pods" and change.type == "MODIFIED" and not _pod_usage_changed(change.old, change.obj):
            return
        self.loop.call_soon(self._recount, namespace)

    def _recount(self, namespace: str) -> None:
        for quota in self.store.list(QUOTAS, namespace)[0]:
            self.enqueue((namespace, quota["metadata"]["name"]))

    def keys_for(self, change: Change) -> Iterable[Key]:
        return [] if change.type == "DELETED" else super().keys_for(change)

    def sync(self, namespace: str, name: str) -> None:
        quota = self.store.get(QUOTAS, namespace, name)
        if quota is None:
            return
        hard = _resource_list((quota.get("spec") or {}).get("hard"))
        status = {"hard": {n: str(v) for n, v in hard.items()},
                  "used": {n: str(v) for n, v in self._usage(quota, hard).items()}}
        if quota.get("status") == status:
            return
        updated = clone(quota)
        updated["status"] = status
        try:
            self.api.update(self.api.rt(QUOTAS), namespace, name, updated, subresource="status")
        except ApiError:
            return

    def _usage(self, quota: dict, hard: ResourceList) -> ResourceList:
        """Sum of every object's usage in the namespace, masked to the hard names (zero when unused)."""
        namespace = quota["metadata"]["namespace"]
        used: ResourceList = {name: Quantity.zero() for name in hard}
        for rt in self._counted_types(hard):
            for obj in self.store.list(rt.key, namespace)[0]:
                if scopes_match(quota, rt, obj):
                    usage = object_usage(rt, obj)
                    used = add_lists(used, {n: v for n, v in usage.items() if n in hard})
        return used

    def _counted_types(self, hard: ResourceList) -> list[ResourceType]:
        types = {rt.key: rt for rt in self.api.registry.all()
                 if rt.namespaced and rt.storage_group is None and tracked(rt, hard)}
        return list(types.values())


def _pod_usage_changed(old: dict | None, new: dict) -> bool:
    if old is None:
        return True
    return ((old.get("status") or {}).get("phase") != (new.get("status") or {}).get("phase")
            or old.get("spec") != new.get("spec"))


CONTROLLERS = (ResourceQuotaController,)
