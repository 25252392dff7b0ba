"""The DaemonSet controller, after pkg/controller/daemon/{daemon_controller.go,update.go,util}.

One pod per node whose labels match the template's nodeSelector and required node affinity and whose
NoSchedule/NoExecute taints the pod tolerates (with the default DaemonSet tolerations added). Pods are
created with `generateName: <ds>-`, the `controller-revision-hash` and `pod-template-generation` labels and a
required node affinity on `metadata.name`, which the scheduler honours. Each template version is a
ControllerRevision `<ds>-<hash>`. RollingUpdate replaces old pods within maxUnavailable, or surges new ones
within maxSurge; OnDelete leaves old pods alone. Node label and taint changes re-evaluate every DaemonSet.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from kubedog_ci.sim import errors
from kubedog_ci.sim.controllers.base import Context, Key
from kubedog_ci.sim.controllers.workload import (
    PODS,
    REVISION_LABEL,
    REVISIONS,
    SyncError,
    WorkloadController,
    compute_hash,
    is_terminating,
    pod_from_template,
    revision_data,
    slow_start,
)
from kubedog_ci.sim.errors import ApiError, aggregate, is_namespace_terminating
from kubedog_ci.sim.kubelet import backoff
from kubedog_ci.sim.placement import (
    NODE_NAME_FIELD,
    node_affinity_matches,
    required_affinity,
    untolerated_taint,
)
from kubedog_ci.sim.pods import is_pod_ready, is_terminal, pod_phase
from kubedog_ci.sim.store import Change, clone

COMPONENT = "daemonset-controller"
DAEMONSETS = "apps/daemonsets"
NODES = "/nodes"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
BURST_REPLICAS = 250
"""The DaemonSet controller's burstReplicas: at most this many creations and deletions per sync."""

DEFAULT_TOLERATIONS: tuple[tuple[str, str], ...] = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
"""util.AddOrUpdateDaemonPodTolerations: DaemonSet pods survive node problems (key, effect; operator Exists)."""
HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")

_OMITTED_WHEN_ZERO = ("observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable")
"""DaemonSetStatus fields tagged omitempty."""


# --- placement (pure) ------------------------------------------------------------------------------------

def with_daemon_tolerations(spec: dict) -> dict:
    """AddOrUpdateDaemonPodTolerations on a copy of a pod spec."""
    spec = clone(spec)
    tolerations = spec.setdefault("tolerations", [])
    wanted = DEFAULT_TOLERATIONS + ((HOST_NETWORK_TOLERATION,) if spec.get("hostNetwork") else ())
    for key, effect in wanted:
        toleration = {"key": key, "operator": "Exists", "effect": effect}
        same = [i for i, t in enumerate(tolerations)
                if (t.get("key"), t.get("operator", "Equal"), t.get("value", ""), t.get("effect")) ==
                (key, "Exists", "", effect)]
        if not same:
            tolerations.append(toleration)
        elif tolerations[same[0]] != toleration:
            tolerations[same[0]] = toleration
    return spec


def should_run(ds: dict, node: dict) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (should run a new pod here, should keep an existing one running)."""
    spec = with_daemon_tolerations(ds["spec"]["template"].get("spec") or {})
    if spec.get("nodeName") and spec["nodeName"] != node["metadata"]["name"]:
        return False, False
    if not node_affinity_matches(spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    if untolerated_taint(taints, spec["tolerations"]) is not None:
        return False, untolerated_taint(taints, spec["tolerations"], ("NoExecute",)) is None
    return True, True


def node_name_affinity(affinity: dict | None, node_name: str) -> dict:
    """util.ReplaceDaemonSetPodNodeNameNodeAffinity: pin the pod to one node for the default scheduler."""
    affinity = clone(affinity or {})
    terms = [{"matchFields": [{"key": NODE_NAME_FIELD, "operator": "In", "values": [node_name]}]}]
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})["nodeSelectorTerms"] = terms
    return affinity


def target_node(pod: dict) -> str | None:
    """util.GetTargetNodeName: spec.nodeName, or the node the affinity pins an unscheduled pod to."""
    if pod["spec"].get("nodeName"):
        return pod["spec"]["nodeName"]
    for term in (required_affinity(pod["spec"]) or {}).get("nodeSelectorTerms") or []:
        for requirement in term.get("matchFields") or []:
            if requirement.get("key") == NODE_NAME_FIELD and requirement.get("operator") == "In" \
                    and len(requirement.get("values") or []) == 1:
                return requirement["values"][0]
    return None


def scaled_value(value: object, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent rounding up (SurgeCount, UnavailableCount)."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value or 0)


def template_generation(ds: dict) -> str | None:
    return (ds["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)


def is_updated(pod: dict, hash_: str, generation: str | None) -> bool:
    """util.IsPodUpdated: the pod carries the current hash, or the current template generation."""
    labels = pod["metadata"].get("labels") or {}
    return (bool(hash_) and labels.get(REVISION_LABEL) == hash_) or (
        generation is not None and labels.get(TEMPLATE_GENERATION_LABEL) == generation)


def oldest_first(pod: dict) -> tuple:
    """podByCreationTimestampAndPhase: scheduled pods first, then by creation time and name."""
    return not pod["spec"].get("nodeName"), pod["metadata"].get("creationTimestamp", ""), pod["metadata"]["name"]


class Backoff:
    """flowcontrol.Backoff(1s, 15m) per key, for deleting failed daemon pods, in simulated seconds."""

    def __init__(self, time_scale: float) -> None:
        self._scale = time_scale if time_scale > 0 else 1.0
        self._entries: dict[str, backoff.Backoff] = {}

    def _now(self) -> float:
        return time.monotonic() / self._scale

    def remaining(self, key: str) -> float:
        """Simulated seconds left in the key's back-off; 0 when not backing off."""
        entry, now = self._entries.get(key), self._now()
        if entry is None or entry.last_update is None or not entry.in_backoff_since_update(now):
            return 0.0
        return entry.delay - (now - entry.last_update)

    def next(self, key: str) -> None:
        now = self._now()
        self._entries.setdefault(key, backoff.Backoff(initial=1.0, maximum=900.0)).next(now, now)


class DaemonSetController(WorkloadController):
    name = "daemonset"
    kind = "DaemonSet"
    primary = DAEMONSETS
    watches = (DAEMONSETS, PODS, NODES)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.failed_backoff = Backoff(ctx.config.time_scale)

    def record(self, owner: dict, event_type: str, reason: str, message: str) -> None:
        self.ctx.events.record(owner, event_type, reason, message, COMPONENT)

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.key != NODES:
            return super().keys_for(change)
        old = change.old or {}
        if change.type == "MODIFIED" and change.obj.get("spec") == old.get("spec") \
                and change.obj["metadata"].get("labels") == old.get("metadata", {}).get("labels"):
            return []
        daemonsets, _ = self.store.list(DAEMONSETS)
        return [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in daemonsets]

    def reconcile(self, namespace: str, name: str) -> None:
        ds = self.store.get(DAEMONSETS, namespace, name)
        if ds is None or is_terminating(ds):
            return
        nodes, _ = self.store.list(NODES)
        current, old = self._construct_history(ds)
        hash_ = current["metadata"]["labels"][REVISION_LABEL]
        error: Exception | None = None
        try:
            changed = self._manage(ds, nodes, hash_)
            strategy = ds["spec"].get("updateStrategy") or {}
            if not changed and strategy.get("type", "RollingUpdate") == "RollingUpdate":
                self._rolling_update(ds, nodes, hash_)
            self._cleanup_history(ds, old)
        except (ApiError, SyncError) as err:
            error = err
        self._update_status(ds, nodes, hash_)
        if error is not None:
            raise error

    # --- pods per node ----------------------------------------------------------------------------------

    def _pods_by_node(self, ds: dict) -> dict[str, list[dict]]:
        """getNodesToDaemonPods, leaving out terminal pods already being deleted."""
        by_node: dict[str, list[dict]] = {}
        for pod in self.claim(PODS, ds):
            if is_terminating(pod) and is_terminal(pod):
                continue
            node = target_node(pod)
            if node is not None:
                by_node.setdefault(node, []).append(pod)
        return by_node

    def _manage(self, ds: dict, nodes: list[dict], hash_: str) -> bool:
        """manage: create pods where they should run and are missing, delete them where they should not.
        True when it created or deleted anything (the real controller then waits for expectations)."""
        by_node = self._pods_by_node(ds)
        to_create: list[str] = []
        to_delete: list[str] = []
        failed = 0
        for node in nodes:
            create, delete, failures = self._pods_on_node(ds, node, by_node.get(node["metadata"]["name"]), hash_)
            to_create += create
            to_delete += delete
            failed += failures
        existing = {node["metadata"]["name"] for node in nodes}
        to_delete += [p["metadata"]["name"] for node, pods in by_node.items() if node not in existing
                      for p in pods if not p["spec"].get("nodeName")]
        self._sync_nodes(ds, to_delete, to_create, hash_)
        if failed:
            raise SyncError(f"deleted {failed} failed pods of DaemonSet {ds['metadata']['namespace']}/"
                            f"{ds['metadata']['name']}")
        return bool(to_create or to_delete)

    def _pods_on_node(self, ds: dict, node: dict, pods: list[dict] | None,
                      hash_: str) -> tuple[list[str], list[str], int]:
        """podsShouldBeOnNode: (nodes needing a pod, pods to delete, failed pods seen)."""
        run, keep = should_run(ds, node)
        node_name = node["metadata"]["name"]
        if run and pods is None:
            return [node_name], [], 0
        if not keep:
            return [], [p["metadata"]["name"] for p in pods or [] if not is_terminating(p)], 0
        to_delete, running, failed = [], [], 0
        for pod in pods or []:
            if is_terminating(pod):
                continue
            phase = pod_phase(pod)
            if phase == "Failed":
                failed += 1
                if self._failed_pod(ds, pod, node_name):
                    to_delete.append(pod["metadata"]["name"])
            elif phase == "Succeeded":
                self.record(ds, "Normal", "SucceededDaemonPod", f"Found succeeded daemon pod "
                            f"{pod['metadata']['namespace']}/{pod['metadata']['name']} on node {node_name}, "
                            "will try to delete it")
                to_delete.append(pod["metadata"]["name"])
            else:
                running.append(pod)
        running.sort(key=oldest_first)
        if not self._surging(ds):
            return [], to_delete + [p["metadata"]["name"] for p in running[1:]], failed
        if not running:
            return ([node_name] if run else []), to_delete, failed
        return [], to_delete + self._surge_excess(ds, running, hash_), failed

    def _failed_pod(self, ds: dict, pod: dict, node_name: str) -> bool:
        """A failed pod is deleted (with a warning) unless deletions on this node are backing off."""
        status = ds.get("status") or {}
        key = f"{ds['metadata']['uid']}/{status.get('observedGeneration', 0)}/{node_name}"
        wait = self.failed_backoff.remaining(key)
        if wait > 0:
            self.enqueue((ds["metadata"]["namespace"], ds["metadata"]["name"]), after=wait)
            return False
        self.failed_backoff.next(key)
        self.record(ds, "Warning", "FailedDaemonPod", f"Found failed daemon pod {pod['metadata']['namespace']}/"
                    f"{pod['metadata']['name']} on node {node_name}, will try to kill it")
        return True

    def _surge_excess(self, ds: dict, running: list[dict], hash_: str) -> list[str]:
        """With surge, keep the oldest new and oldest old pod, dropping the old one once the new is available
        (or at once when the old one is not ready)."""
        generation = template_generation(ds)
        newest = [p for p in running if is_updated(p, hash_, generation)]
        oldest = [p for p in running if not is_updated(p, hash_, generation)]
        excess = [p["metadata"]["name"] for p in newest[1:] + oldest[1:]]
        if newest and oldest and (not is_pod_ready(oldest[0]) or self._available(ds, newest[0])):
            excess.append(oldest[0]["metadata"]["name"])
        return excess

    def _surging(self, ds: dict) -> bool:
        """util.AllowsSurge."""
        strategy = ds["spec"].get("updateStrategy") or {}
        surge = (strategy.get("rollingUpdate") or {}).get("maxSurge")
        return strategy.get("type") == "RollingUpdate" and scaled_value(surge, 1) != 0

    def _available(self, ds: dict, pod: dict) -> bool:
        return self.clock.available(pod, int(ds["spec"].get("minReadySeconds") or 0))

    def _sync_nodes(self, ds: dict, to_delete: list[str], to_create: list[str], hash_: str) -> None:
        """syncNodes: create pods (slow start) on nodes and delete pods, at most burstReplicas of each."""
        template = self._pod_template(ds, hash_)
        nodes = to_create[:BURST_REPLICAS]
        errors = slow_start(len(nodes), lambda i: self._create_pod(ds, template, nodes[i]))
        for name in to_delete[:BURST_REPLICAS]:
            try:
                self._delete_pod(ds, name)
            except ApiError as err:
                errors.append(err)
        if errors:
            raise SyncError(aggregate([str(e) for e in errors]))

    @staticmethod
    def _pod_template(ds: dict, hash_: str) -> dict:
        """util.CreatePodTemplate: default tolerations, template generation and revision hash labels."""
        template = clone(ds["spec"]["template"])
        template["spec"] = with_daemon_tolerations(template.get("spec") or {})
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        generation = template_generation(ds)
        if generation is not None:
            labels[TEMPLATE_GENERATION_LABEL] = generation
        labels[REVISION_LABEL] = hash_
        return template

    def _create_pod(self, ds: dict, template: dict, node_name: str) -> None:
        pod = pod_from_template(ds, template)
        pod["spec"]["affinity"] = node_name_affinity(pod["spec"].get("affinity"), node_name)
        try:
            created = self.api.create(self.api.rt(PODS), ds["metadata"]["namespace"], pod)
        except ApiError as err:
            if not is_namespace_terminating(err):
                self.record(ds, "Warning", "FailedCreate", f"Error creating: {err}")
            raise
        self.record(ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    def _delete_pod(self, ds: dict, name: str) -> None:
        try:
            self.api.delete(self.api.rt(PODS), ds["metadata"]["namespace"], name)
        except ApiError as err:
            if err.reason != "NotFound":
                self.record(ds, "Warning", "FailedDelete", f"Error deleting: {err}")
            raise
        self.record(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    # --- rolling update ---------------------------------------------------------------------------------

    def _rolling_update(self, ds: dict, nodes: list[dict], hash_: str) -> None:
        """rollingUpdate: delete old pods within maxUnavailable, or surge new ones within maxSurge."""
        by_node = self._pods_by_node(ds)
        desired = 0
        for node in nodes:
            if should_run(ds, node)[0]:
                desired += 1
                by_node.setdefault(node["metadata"]["name"], [])
        rolling = (ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_unavailable = scaled_value(rolling.get("maxUnavailable"), desired)
        max_surge = scaled_value(rolling.get("maxSurge"), desired)
        if desired > 0 and max_unavailable == 0 and max_surge == 0:
            max_unavailable = 1
        if max_surge == 0:
            self._sync_nodes(ds, self._replace_within_unavailable(ds, by_node, hash_, max_unavailable), [], hash_)
        else:
            self._surge(ds, nodes, by_node, hash_, max_surge, desired)

    def _split(self, ds: dict, pods: list[dict], hash_: str) -> tuple[dict | None, dict | None, bool]:
        """findUpdatedPodsOnNode: (new pod, old pod, at most one of each)."""
        new = old = None
        generation = template_generation(ds)
        for pod in pods:
            if is_terminating(pod):
                continue
            if is_updated(pod, hash_, generation):
                if new is not None:
                    return None, None, False
                new = pod
            else:
                if old is not None:
                    return None, None, False
                old = pod
        return new, old, True

    def _replace_within_unavailable(self, ds: dict, by_node: dict[str, list[dict]], hash_: str,
                                    max_unavailable: int) -> list[str]:
        unavailable = 0
        replacements: list[str] = []
        candidates: list[str] = []
        for node_name in sorted(by_node):
            new, old, ok = self._split(ds, by_node[node_name], hash_)
            if not ok or (new is None) == (old is None):
                unavailable += 1
            elif new is not None:
                unavailable += not self._available(ds, new)
            elif not self._available(ds, old):  # type: ignore[arg-type]
                replacements.append(old["metadata"]["name"])  # type: ignore[index]
                unavailable += 1
            elif unavailable < max_unavailable:
                candidates.append(old["metadata"]["name"])  # type: ignore[index]
        room = min(max(max_unavailable - unavailable, 0), len(candidates))
        return replacements + candidates[:room]

    def _surge(self, ds: dict, nodes: list[dict], by_node: dict[str, list[dict]], hash_: str, max_surge: int,
               desired: int) -> None:
        by_name = {node["metadata"]["name"]: node for node in nodes}
        to_delete: list[str] = []
        should_not_run: list[str] = []
        candidates: list[str] = []
        allowed: list[str] = []
        surge = available = 0
        for node_name in sorted(by_node):
            new, old, ok = self._split(ds, by_node[node_name], hash_)
            if not ok:
                surge += 1
                continue
            counted = old if old is not None else new
            available += counted is not None and self._available(ds, counted)
            node = by_name.get(node_name)
            runs = node is not None and should_run(ds, node)[0]
            if old is None:
                continue
            if new is not None:
                if self._available(ds, new):
                    to_delete.append(old["metadata"]["name"])
                else:
                    surge += 1
            elif not self._available(ds, old):
                if runs:
                    allowed.append(node_name)
                else:
                    to_delete.append(old["metadata"]["name"])
            elif not runs:
                should_not_run.append(old["metadata"]["name"])
            elif surge < max_surge:
                candidates.append(node_name)
        deletable = min(max(available - desired, 0), len(should_not_run))
        to_delete += should_not_run[:deletable]
        room = min(max(max_surge - surge, 0), len(candidates))
        self._sync_nodes(ds, to_delete, allowed + candidates[:room], hash_)

    # --- history ----------------------------------------------------------------------------------------

    def _construct_history(self, ds: dict) -> tuple[dict, list[dict]]:
        """constructHistory: the revision matching the template (created or renumbered) and the others."""
        data = revision_data(ds)
        histories = self.claim(REVISIONS, ds)
        current = [h for h in histories if h.get("data") == data]
        old = [h for h in histories if h.get("data") != data]
        number = max((int(h.get("revision") or 0) for h in old), default=0) + 1
        if not current:
            return self._snapshot(ds, data, number), old
        keep = max(current, key=lambda h: int(h.get("revision") or 0))
        for duplicate in current:
            if duplicate is not keep:
                self.api.delete(self.api.rt(REVISIONS), ds["metadata"]["namespace"], duplicate["metadata"]["name"])
        if int(keep.get("revision") or 0) < number:
            renumbered = clone(keep)
            renumbered["revision"] = number
            keep = self.api.update(self.api.rt(REVISIONS), ds["metadata"]["namespace"], keep["metadata"]["name"],
                                   renumbered)
        return keep, old

    def _snapshot(self, ds: dict, data: dict, number: int) -> dict:
        """snapshot: create `<ds>-<hash>`; on a clash with another template, bump status.collisionCount."""
        collisions = (ds.get("status") or {}).get("collisionCount")
        hash_ = compute_hash(ds["spec"]["template"], collisions)
        name = f"{ds['metadata']['name']}-{hash_}"
        labels = {**((ds["spec"]["template"].get("metadata") or {}).get("labels") or {}), REVISION_LABEL: hash_}
        revision = self.create_revision(ds, name, labels, data, number)
        if revision is not None:
            return revision
        bumped = clone(ds)
        bumped.setdefault("status", {})["collisionCount"] = int(collisions or 0) + 1
        self.write_status(ds, bumped["status"])
        raise errors.already_exists(self.api.rt(REVISIONS), name)

    def _cleanup_history(self, ds: dict, old: list[dict]) -> None:
        """cleanupHistory: delete the oldest revisions no pod uses beyond revisionHistoryLimit."""
        excess = len(old) - int(ds["spec"].get("revisionHistoryLimit", 10))
        if excess <= 0:
            return
        live = {(p["metadata"].get("labels") or {}).get(REVISION_LABEL) for p in self.claim(PODS, ds)}
        for history in sorted(old, key=lambda h: int(h.get("revision") or 0)):
            if excess <= 0:
                break
            if history["metadata"]["labels"].get(REVISION_LABEL) in live:
                continue
            self.api.delete(self.api.rt(REVISIONS), ds["metadata"]["namespace"], history["metadata"]["name"])
            excess -= 1

    # --- status -----------------------------------------------------------------------------------------

    def _update_status(self, ds: dict, nodes: list[dict], hash_: str) -> None:
        """updateDaemonSetStatus: counts over the oldest pod of each node."""
        by_node = self._pods_by_node(ds)
        generation = template_generation(ds)
        counts = dict.fromkeys(("desiredNumberScheduled", "currentNumberScheduled", "numberMisscheduled",
                                "numberReady", "updatedNumberScheduled", "numberAvailable"), 0)
        for node in nodes:
            pods = sorted(by_node.get(node["metadata"]["name"]) or [], key=oldest_first)
            if not should_run(ds, node)[0]:
                counts["numberMisscheduled"] += bool(pods)
                continue
            counts["desiredNumberScheduled"] += 1
            if not pods:
                continue
            counts["currentNumberScheduled"] += 1
            if is_pod_ready(pods[0]):
                counts["numberReady"] += 1
                counts["numberAvailable"] += self._available(ds, pods[0])
            counts["updatedNumberScheduled"] += is_updated(pods[0], hash_, generation)
        counts["numberUnavailable"] = counts["desiredNumberScheduled"] - counts["numberAvailable"]
        counts["observedGeneration"] = ds["metadata"].get("generation", 0)
        status = {k: v for k, v in (ds.get("status") or {}).items() if k not in counts}
        status.update({k: v for k, v in counts.items() if v or k not in _OMITTED_WHEN_ZERO})
        self.write_status(ds, status)
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        if min_ready > 0 and counts["numberReady"] != counts["numberAvailable"]:
            self.enqueue((ds["metadata"]["namespace"], ds["metadata"]["name"]), after=min_ready)


CONTROLLERS = (DaemonSetController,)
