"""kube-scheduler: places pending pods on nodes, or says exactly why it cannot.

Filters run per node in the default plugin order (NodeUnschedulable, TaintToleration, NodeAffinity,
NodeResourcesFit, VolumeBinding) and the first rejection is that node's status; the FailedScheduling message
is FitError.Error() (pkg/scheduler/framework/types.go) followed by the PostFilter messages of DynamicResources
and DefaultPreemption, as a 1.34 scheduler prints them. Nodes are scored by least-allocated non-zero requests
and ties rotate, so replicas spread. An unschedulable pod is retried, after its back-off (1s doubling to 10s),
only on cluster events the plugins that rejected it register for (a node added or its labels, taints,
unschedulable flag or allocatable changed, a pod leaving a node, PVCs/PVs/StorageClasses changing), when its
own spec changes, and at the latest after five minutes. WaitForFirstConsumer claims get the
volume.kubernetes.io/selected-node annotation and the pod is bound only once they are bound.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from kubedog_ci.sim.controllers.base import Context, Controller, Key
from kubedog_ci.sim.controllers.storage import (
    claim_class,
    claim_ref,
    fully_bound,
    pod_claims,
    volume_matches_claim,
)
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.placement import (
    affinity_node_names,
    node_affinity_matches,
    selector_matches,
    tolerates,
    untolerated_taint,
)
from kubedog_ci.sim.pods import is_terminal, pod_condition
from kubedog_ci.sim.quantity import ResourceList, container_resources, pod_resources, quantity
from kubedog_ci.sim.store import Change, Expired, Store, clone

SCHEDULER_NAME = "default-scheduler"
INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_UNSCHEDULABLE_SECONDS = 300.0
"""podMaxInUnschedulablePodsDuration: an unschedulable pod is retried at least this often."""
MAX_MESSAGE = 1024
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024
"""schedutil.DefaultMilliCPURequest / DefaultMemoryRequest: what a container without requests weighs in scoring."""

# Filter reasons, from pkg/scheduler/framework/plugins/*.
UNSCHEDULABLE_NODE = "node(s) were unschedulable"
UNTOLERATED_TAINT = "node(s) had untolerated taint(s)"
AFFINITY_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
VOLUME_NODE_CONFLICT = "node(s) had volume node affinity conflict"
NO_VOLUME_TO_BIND = "node(s) didn't find available persistent volumes to bind"
PV_MISSING = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
NO_NODES = "no nodes available to schedule pods"
# PostFilter messages: DynamicResources (first) and DefaultPreemption.
NO_CLAIMS = "no new claims to deallocate"
NO_DRA_STATE = "not found"
"""DynamicResources.PostFilter cannot read its cycle state when PreFilter stopped before it ran."""
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_ELIGIBLE = "not eligible due to preemptionPolicy=Never."

# Plugins, for the queueing hints: a rejected pod is retried only on events its rejecting plugins care about.
UNSCHEDULABLE_PLUGIN, TAINT_PLUGIN, AFFINITY_PLUGIN, FIT_PLUGIN, VOLUME_PLUGIN = (
    "NodeUnschedulable", "TaintToleration", "NodeAffinity", "NodeResourcesFit", "VolumeBinding")
ALL_PLUGINS = frozenset({UNSCHEDULABLE_PLUGIN, TAINT_PLUGIN, AFFINITY_PLUGIN, FIT_PLUGIN, VOLUME_PLUGIN})

_UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_NO_PROVISIONER = "kubernetes.io/no-provisioner"


@dataclass(frozen=True)
class Rejection:
    """A plugin's non-success status: its reasons and whether preemption could help (Unschedulable)."""

    reasons: tuple[str, ...]
    unresolvable: bool = True
    plugin: str = ""


@dataclass
class NodeUsage:
    """What the pods assigned to one node take of it."""

    node: dict
    pods: list[dict] = field(default_factory=list)
    requested: ResourceList = field(default_factory=dict)
    nonzero_cpu: int = 0
    nonzero_memory: int = 0


# --- pure predicates (table-tested) ------------------------------------------------------------------------

def fit_error(num_nodes: int, statuses: dict[str, Rejection], absent: Rejection | None = None,
              prefilter: str = "", postfilter: str = "") -> str:
    """FitError.Error(): "0/N nodes are available: <PreFilterMsg or sorted reason histogram>. <PostFilterMsg>"."""
    message = f"0/{num_nodes} nodes are available:"
    if prefilter:
        message += f" {prefilter}."
    else:
        counts: Counter[str] = Counter()
        for status in statuses.values():
            counts.update(status.reasons)
        if absent and len(statuses) < num_nodes:
            for reason in absent.reasons:
                counts[reason] += num_nodes - len(statuses)
        histogram = sorted(f"{count} {reason}" for reason, count in counts.items())
        if histogram:
            message += f" {', '.join(histogram)}."
    if postfilter:
        message += f" {postfilter}"
    return message


def preemption_message(pod: dict, num_nodes: int, statuses: dict[str, Rejection]) -> str:
    """DefaultPreemption.PostFilter's message. Preemption itself is not simulated: where it could help (the
    node rejected the pod as Unschedulable, not UnschedulableAndUnresolvable) it finds no victims."""
    if pod["spec"].get("preemptionPolicy") == "Never":
        return "preemption: " + NOT_ELIGIBLE
    outcome = {name: Rejection((NOT_HELPFUL if status.unresolvable else NO_VICTIMS,))
               for name, status in statuses.items()}
    return "preemption: " + fit_error(num_nodes, outcome, Rejection((NOT_HELPFUL,)))


def truncate(message: str) -> str:
    """truncateMessage: events and conditions carry at most 1024 characters."""
    suffix = " ..."
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - len(suffix)] + suffix


def nonzero_requests(spec: dict) -> tuple[int, int]:
    """GetNonzeroRequests summed over the pod: (milli-cpu, memory bytes), defaults for what is unset."""
    def weigh(containers: list[dict]) -> list[tuple[int, int]]:
        out = []
        for container in containers:
            req = container_resources(container, "requests")
            out.append((req["cpu"].milli if "cpu" in req else DEFAULT_MILLI_CPU,
                        req["memory"].whole if "memory" in req else DEFAULT_MEMORY))
        return out

    app = weigh(spec.get("containers") or [])
    init = weigh(spec.get("initContainers") or [])
    cpu, memory = sum(c for c, _ in app), sum(m for _, m in app)
    return max([cpu, *(c for c, _ in init)]), max([memory, *(m for _, m in init)])


def resource_rejection(requests: ResourceList, usage: NodeUsage) -> Rejection | None:
    """NodeResourcesFit.Filter: "Too many pods" / "Insufficient <resource>"; unresolvable when the request
    exceeds the node's whole allocatable, so preemption could never make room."""
    allocatable = {k: quantity(v) for k, v in ((usage.node.get("status") or {}).get("allocatable") or {}).items()}
    reasons: list[str] = []
    unresolvable = False
    if len(usage.pods) + 1 > allocatable.get("pods", quantity("0")).whole:
        reasons.append("Too many pods")
    for name in ("cpu", "memory", "ephemeral-storage", *sorted(set(requests) - {"cpu", "memory",
                                                                                  "ephemeral-storage"})):
        wanted = requests.get(name)
        if wanted is None or wanted.value <= 0:
            continue
        capacity = allocatable.get(name, quantity("0"))
        used = usage.requested.get(name, quantity("0"))
        if wanted.value > capacity.value - used.value:
            reasons.append(f"Insufficient {name}")
            unresolvable = unresolvable or wanted.value > capacity.value
    if not reasons:
        return None
    return Rejection(tuple(reasons), unresolvable, FIT_PLUGIN)


def score(usage: NodeUsage, cpu: int, memory: int) -> float:
    """NodeResourcesFit LeastAllocated over cpu and memory, counting the pod's non-zero requests."""
    allocatable = (usage.node.get("status") or {}).get("allocatable") or {}
    total = 0.0
    for capacity, requested in ((quantity(allocatable.get("cpu")).milli, usage.nonzero_cpu + cpu),
                                (quantity(allocatable.get("memory")).whole, usage.nonzero_memory + memory)):
        if capacity > 0 and requested <= capacity:
            total += (capacity - requested) * 100 / capacity
    return total / 2


# --- node usage ---------------------------------------------------------------------------------------------

@dataclass
class _Share:
    """What one pod takes of the node it is assigned to."""

    node: str
    spec: dict
    requested: ResourceList
    nonzero_cpu: int
    nonzero_memory: int


class NodeUsageCache:
    """The non-terminal pods assigned to each node and what they request, kept current by replaying the
    store's pod history (Store.changes_since) before each use, so a scheduling decision costs the pod changes
    since the previous one, not a pass over every pod in the cluster. The totals are the sums a fresh list
    would give (quantities are exact); a fresh list is taken again only when the history window has moved
    past what was seen."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._rv: int | None = None
        self._shares: dict[Key, _Share] = {}
        self._pods: dict[str, dict[Key, dict]] = {}
        self._requested: dict[str, ResourceList] = {}
        self._nonzero: dict[str, tuple[int, int]] = {}

    def usage(self) -> list[NodeUsage]:
        """Every node (by name) with the pods assigned to it and their requests summed."""
        nodes = self._store.list("/nodes")[0]
        self._catch_up()
        usage = []
        for node in nodes:
            name = node["metadata"]["name"]
            cpu, memory = self._nonzero.get(name, (0, 0))
            usage.append(NodeUsage(node, list(self._pods.get(name, {}).values()),
                                   dict(self._requested.get(name, {})), cpu, memory))
        return usage

    def _catch_up(self) -> None:
        """Apply the pod changes since the last call, or start over from a list when they have expired."""
        if self._rv is not None:
            try:
                changes = self._store.changes_since("/pods", self._rv)
            except Expired:
                self._rv = None
            else:
                for change in changes:
                    meta = change.obj["metadata"]
                    self._place((meta["namespace"], meta["name"]), None if change.type == "DELETED" else change.obj)
                    self._rv = change.rv
                return
        pods, rv = self._store.list("/pods")
        self._shares.clear()
        self._pods.clear()
        self._requested.clear()
        self._nonzero.clear()
        for pod in pods:
            self._place((pod["metadata"]["namespace"], pod["metadata"]["name"]), pod)
        self._rv = rv

    def _place(self, key: Key, pod: dict | None) -> None:
        """Account for a pod's new state (None: deleted). A change that leaves its share as it was, such as
        a status update, only swaps in the newer object."""
        current = self._shares.pop(key, None)
        if current is not None:
            del self._pods[current.node][key]
        spec = (pod.get("spec") or {}) if pod is not None else {}
        node = spec.get("nodeName") or ""
        if pod is None or not node or is_terminal(pod):
            if current is not None:
                self._adjust(current, -1)
            return
        if current is not None and current.node == node and current.spec == spec:
            share = current
        else:
            if current is not None:
                self._adjust(current, -1)
            cpu, memory = nonzero_requests(spec)
            share = _Share(node, spec, pod_resources(spec, "requests"), cpu, memory)
            self._adjust(share, 1)
        self._shares[key] = share
        self._pods.setdefault(node, {})[key] = pod

    def _adjust(self, share: _Share, sign: int) -> None:
        """Add (sign 1) or subtract (sign -1) one pod's requests to or from its node's totals."""
        requested = self._requested.setdefault(share.node, {})
        for name, value in share.requested.items():
            if sign < 0:
                requested[name] = requested[name] - value
            else:
                requested[name] = requested[name] + value if name in requested else value
        cpu, memory = self._nonzero.get(share.node, (0, 0))
        self._nonzero[share.node] = (cpu + sign * share.nonzero_cpu, memory + sign * share.nonzero_memory)


# --- the scheduler -----------------------------------------------------------------------------------------

@dataclass
class _Volumes:
    """The pod's claims after VolumeBinding.PreFilter: bound ones and WaitForFirstConsumer ones."""

    bound: list[dict] = field(default_factory=list)
    delayed: list[dict] = field(default_factory=list)


class Scheduler(Controller):
    """default-scheduler; see the module docstring."""

    name = SCHEDULER_NAME
    watches = ("/pods", "/nodes", "/persistentvolumeclaims", "/persistentvolumes", "storage.k8s.io/storageclasses")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._attempts: dict[Key, int] = {}
        self._not_before: dict[Key, float] = {}
        self._waiting_volumes: dict[Key, str] = {}
        self._rejected_by: dict[Key, frozenset[str]] = {}
        self._rotation = 0
        self._usage_cache = NodeUsageCache(ctx.store)

    # --- queueing -----------------------------------------------------------------------------------------

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.key == "/pods":
            return self._pod_keys(change)
        if change.key == "/nodes":
            return self._retry_keys(node_event_plugins(change))
        if change.key == "/persistentvolumeclaims" and change.type == "MODIFIED" and not _claim_changed(
                change.old, change.obj):
            return []
        return self._retry_keys(frozenset({VOLUME_PLUGIN}))

    def _pod_keys(self, change: Change) -> list[Key]:
        pod, old = change.obj, change.old
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        if change.type == "DELETED":
            self._forget(key)
            return self._retry_keys(frozenset({FIT_PLUGIN})) if pod["spec"].get("nodeName") else []
        if _needs_scheduling(pod):
            if old is None or old.get("spec") != pod.get("spec") or key not in self._attempts:
                return [key]
            return []
        left = old is not None and not is_terminal(old) and is_terminal(pod)
        return self._retry_keys(frozenset({FIT_PLUGIN})) if left and pod["spec"].get("nodeName") else []

    def _retry_keys(self, plugins: frozenset[str]) -> list[Key]:
        """Pods a cluster event may help: rejected by one of `plugins`, or waiting for their volumes to bind;
        most important first (PrioritySort)."""
        keys = {k for k, rejected in self._rejected_by.items() if rejected & plugins}
        if VOLUME_PLUGIN in plugins:
            keys |= set(self._waiting_volumes)
        pods = [p for k in keys if (p := self.store.get("/pods", *k)) is not None]
        pods.sort(key=lambda p: (-(p["spec"].get("priority") or 0), p["metadata"].get("creationTimestamp", "")))
        return [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods]

    def _forget(self, key: Key) -> None:
        self._attempts.pop(key, None)
        self._rejected_by.pop(key, None)
        self._not_before.pop(key, None)
        self._waiting_volumes.pop(key, None)

    # --- one scheduling cycle -----------------------------------------------------------------------------

    def sync(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        pod = self.store.get("/pods", namespace, name)
        if pod is None or not _needs_scheduling(pod):
            self._forget(key)
            return
        if key in self._waiting_volumes:
            self._finish_volume_binding(pod, key)
            return
        wait = self._not_before.get(key, 0.0) - time.monotonic()
        if wait > 0:
            self.enqueue(key, after=wait / self.loop.time_scale if self.loop.time_scale > 0 else 0.0)
            return
        nodes = self._usage_cache.usage()
        if not nodes:
            self._fail(pod, NO_NODES, ALL_PLUGINS)
            return
        volumes, prefilter = self._volume_prefilter(pod)
        if prefilter:
            self._fail(pod, fit_error(len(nodes), {}, Rejection((prefilter,)), prefilter=prefilter,
                                      postfilter=NO_DRA_STATE), frozenset({VOLUME_PLUGIN}))
            return
        statuses, absent, feasible = self._filter(pod, nodes, volumes)
        if not feasible:
            postfilter = f"{NO_CLAIMS}, {preemption_message(pod, len(nodes), statuses)}"
            rejected_by = frozenset(s.plugin for s in [*statuses.values(), *([absent] if absent else [])])
            self._fail(pod, fit_error(len(nodes), statuses, absent, postfilter=postfilter), rejected_by)
            return
        node_name = self._select(pod, feasible)
        if volumes.delayed:
            self._waiting_volumes[key] = node_name
            self._prebind_volumes(volumes.delayed, node_name)
            self._finish_volume_binding(pod, key)
            return
        self._bind(pod, node_name)

    def _filter(self, pod: dict, nodes: list[NodeUsage], volumes: _Volumes
                ) -> tuple[dict[str, Rejection], Rejection | None, list[NodeUsage]]:
        """Statuses of the filtered nodes, the status of nodes PreFilter left out, and the feasible nodes."""
        spec = pod["spec"]
        pinned = affinity_node_names(spec)
        absent = None if pinned is None else Rejection(("node(s) didn't satisfy plugin(s) [NodeAffinity]",),
                                                       plugin=AFFINITY_PLUGIN)
        requests = pod_resources(spec, "requests")
        statuses: dict[str, Rejection] = {}
        feasible = []
        for usage in nodes:
            name = usage.node["metadata"]["name"]
            if pinned is not None and name not in pinned:
                continue
            rejection = self._node_rejection(spec, usage, requests, volumes)
            if rejection is None:
                feasible.append(usage)
            else:
                statuses[name] = rejection
        return statuses, absent, feasible

    def _node_rejection(self, spec: dict, usage: NodeUsage, requests: ResourceList,
                        volumes: _Volumes) -> Rejection | None:
        node, tolerations = usage.node, spec.get("tolerations") or []
        node_spec = node.get("spec") or {}
        if node_spec.get("unschedulable") and not any(tolerates(t, _UNSCHEDULABLE_TAINT) for t in tolerations):
            return Rejection((UNSCHEDULABLE_NODE,), plugin=UNSCHEDULABLE_PLUGIN)
        if untolerated_taint(node_spec.get("taints") or [], tolerations):
            return Rejection((UNTOLERATED_TAINT,), plugin=TAINT_PLUGIN)
        if not node_affinity_matches(spec, node):
            return Rejection((AFFINITY_MISMATCH,), plugin=AFFINITY_PLUGIN)
        rejection = resource_rejection(requests, usage)
        if rejection:
            return rejection
        reason = self._volume_reason(volumes, node)
        return Rejection((reason,), plugin=VOLUME_PLUGIN) if reason else None

    def _select(self, pod: dict, feasible: list[NodeUsage]) -> str:
        """Highest score; ties go to the node with fewest pods, then round robin."""
        cpu, memory = nonzero_requests(pod["spec"])
        scored = [(score(u, cpu, memory), -len(u.pods), u.node["metadata"]["name"]) for u in feasible]
        best = max(s[:2] for s in scored)
        tied = sorted(s[2] for s in scored if s[:2] == best)
        self._rotation += 1
        return tied[self._rotation % len(tied)]

    # --- volumes ------------------------------------------------------------------------------------------

    def _volume_prefilter(self, pod: dict) -> tuple[_Volumes, str]:
        """VolumeBinding.PreFilter: every claim must exist, not be deleting, and be bound unless it waits for
        its first consumer."""
        volumes = _Volumes()
        immediate = False
        for claim_name, ephemeral in pod_claims(pod):
            claim = self.store.get("/persistentvolumeclaims", pod["metadata"]["namespace"], claim_name)
            if claim is None:
                if ephemeral:
                    return volumes, ("waiting for ephemeral volume controller to create the persistentvolumeclaim "
                                     f'"{claim_name}"')
                return volumes, f'persistentvolumeclaim "{claim_name}" not found'
            if (claim.get("status") or {}).get("phase") == "Lost":
                return volumes, (f'persistentvolumeclaim "{claim_name}" bound to non-existent persistentvolume '
                                 f'"{claim["spec"].get("volumeName", "")}"')
            if claim["metadata"].get("deletionTimestamp"):
                return volumes, f'persistentvolumeclaim "{claim_name}" is being deleted'
            if fully_bound(claim):
                volumes.bound.append(claim)
            elif self._delayed_binding(claim):
                volumes.delayed.append(claim)
            else:
                immediate = True
        return volumes, UNBOUND_IMMEDIATE if immediate else ""

    def _delayed_binding(self, claim: dict) -> bool:
        cls = self.store.get("storage.k8s.io/storageclasses", "", claim_class(claim))
        return bool(cls) and cls.get("volumeBindingMode") == "WaitForFirstConsumer"

    def _volume_reason(self, volumes: _Volumes, node: dict) -> str:
        """VolumeBinding.Filter: bound volumes must be reachable from the node, delayed claims satisfiable."""
        for claim in volumes.bound:
            volume = self.store.get("/persistentvolumes", "", claim["spec"].get("volumeName", ""))
            if volume is None:
                return PV_MISSING
            if not volume_fits_node(volume, node):
                return VOLUME_NODE_CONFLICT
        for claim in volumes.delayed:
            if self._static_match(claim, node) is None and self._provisioner(claim) == _NO_PROVISIONER:
                return NO_VOLUME_TO_BIND
        return ""

    def _provisioner(self, claim: dict) -> str:
        cls = self.store.get("storage.k8s.io/storageclasses", "", claim_class(claim)) or {}
        return cls.get("provisioner", "")

    def _static_match(self, claim: dict, node: dict) -> dict | None:
        candidates = [v for v in self.store.list("/persistentvolumes")[0]
                      if volume_fits_node(v, node) and volume_matches_claim(v, claim)]
        return min(candidates, key=lambda v: quantity((v["spec"].get("capacity") or {}).get("storage")).value,
                   default=None)

    def _prebind_volumes(self, claims: list[dict], node_name: str) -> None:
        """Pre-bind a matching static PV, or ask for provisioning on the chosen node (AnnSelectedNode)."""
        node = self.store.get("/nodes", "", node_name)
        for claim in claims:
            volume = self._static_match(claim, node) if node else None
            try:
                if volume is not None:
                    self._prebind(volume, claim)
                else:
                    annotated = clone(claim)
                    annotated["metadata"].setdefault("annotations", {})[
                        "volume.kubernetes.io/selected-node"] = node_name
                    self.api.update(self.api.rt("/persistentvolumeclaims"), claim["metadata"]["namespace"],
                                    claim["metadata"]["name"], annotated)
            except ApiError:
                continue

    def _prebind(self, volume: dict, claim: dict) -> None:
        bound = clone(volume)
        bound["spec"]["claimRef"] = claim_ref(claim)
        bound["metadata"].setdefault("annotations", {})["pv.kubernetes.io/bound-by-controller"] = "yes"
        self.api.update(self.api.rt("/persistentvolumes"), "", volume["metadata"]["name"], bound)

    def _finish_volume_binding(self, pod: dict, key: Key) -> None:
        """PreBind waits until the PV controller has bound every claim, then the pod is bound."""
        namespace = pod["metadata"]["namespace"]
        for claim_name, _ in pod_claims(pod):
            claim = self.store.get("/persistentvolumeclaims", namespace, claim_name)
            if claim is None or not fully_bound(claim):
                return
        node_name = self._waiting_volumes.pop(key)
        self._bind(pod, node_name)

    # --- outcomes -----------------------------------------------------------------------------------------

    def _bind(self, pod: dict, node_name: str) -> None:
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        rt = self.api.rt("/pods")
        body = clone(pod)
        body["spec"]["nodeName"] = node_name
        try:
            bound = self.api.update(rt, meta["namespace"], meta["name"], body)
        except ApiError:
            self.enqueue(key, after=INITIAL_BACKOFF)
            return
        self._forget(key)
        self._set_scheduled(bound, "True")
        self.ctx.events.record(bound, "Normal", "Scheduled",
                               f"Successfully assigned {meta['namespace']}/{meta['name']} to {node_name}",
                               SCHEDULER_NAME)

    def _fail(self, pod: dict, message: str, rejected_by: frozenset[str]) -> None:
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        self._rejected_by[key] = rejected_by
        message = truncate(message)
        self.ctx.events.record(pod, "Warning", "FailedScheduling", message, SCHEDULER_NAME)
        self._set_scheduled(pod, "False", "Unschedulable", message)
        attempts = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempts
        backoff = min(INITIAL_BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF)
        self._not_before[key] = time.monotonic() + self.loop.scaled(backoff)
        self.enqueue(key, after=MAX_UNSCHEDULABLE_SECONDS)

    def _set_scheduled(self, pod: dict, status: str, reason: str = "", message: str = "") -> None:
        """Write the PodScheduled condition, keeping lastTransitionTime while the status stays the same."""
        meta = pod["metadata"]
        current = self.store.get("/pods", meta["namespace"], meta["name"])
        if current is None:
            return
        updated = clone(current)
        conditions = updated.setdefault("status", {}).setdefault("conditions", [])
        old = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
        entry = pod_condition("PodScheduled", status, reason, message, old, current["metadata"].get("generation"),
                              self.loop.clock.stamp())
        if old == entry:
            return
        updated["status"]["conditions"] = [entry if c is old else c for c in conditions] if old else \
            [*conditions, entry]
        try:
            self.api.update(self.api.rt("/pods"), meta["namespace"], meta["name"], updated, subresource="status")
        except ApiError:
            return


# --- helpers -------------------------------------------------------------------------------------------

def volume_fits_node(volume: dict, node: dict) -> bool:
    """A PV's spec.nodeAffinity.required (terms ORed) admits the node; no affinity admits every node."""
    required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    return not required or selector_matches(required, node)


def _needs_scheduling(pod: dict) -> bool:
    spec, meta = pod.get("spec") or {}, pod["metadata"]
    return (not spec.get("nodeName") and spec.get("schedulerName", SCHEDULER_NAME) == SCHEDULER_NAME
            and not meta.get("deletionTimestamp") and not spec.get("schedulingGates")
            and not is_terminal(pod))


def node_event_plugins(change: Change) -> frozenset[str]:
    """The plugins a node event may change the verdict of (their EventsToRegister and queueing hints)."""
    if change.type == "ADDED":
        return ALL_PLUGINS
    if change.type == "DELETED" or change.old is None:
        return frozenset()
    old, new = change.old, change.obj
    plugins = set()
    if old["metadata"].get("labels") != new["metadata"].get("labels"):
        plugins |= {AFFINITY_PLUGIN, VOLUME_PLUGIN}
    if (old.get("spec") or {}).get("taints") != (new.get("spec") or {}).get("taints"):
        plugins.add(TAINT_PLUGIN)
    if (old.get("spec") or {}).get("unschedulable") != (new.get("spec") or {}).get("unschedulable"):
        plugins.add(UNSCHEDULABLE_PLUGIN)
    if (old.get("status") or {}).get("allocatable") != (new.get("status") or {}).get("allocatable"):
        plugins.add(FIT_PLUGIN)
    return frozenset(plugins)


def _claim_changed(old: dict | None, new: dict) -> bool:
    if old is None:
        return True
    def relevant(claim: dict) -> tuple:
        return ((claim.get("status") or {}).get("phase"), (claim.get("spec") or {}).get("volumeName"),
                (claim.get("spec") or {}).get("storageClassName"),
                (claim["metadata"].get("annotations") or {}).get("pv.kubernetes.io/bind-completed"))
    return relevant(old) != relevant(new)


CONTROLLERS = (Scheduler,)
