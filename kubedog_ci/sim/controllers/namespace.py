"""Namespace lifecycle, after pkg/controller/namespace and pkg/controller/serviceaccount.

- Deleting a namespace makes it Terminating (as the API server's namespace registry does: deletionTimestamp
  and status.phase, held by spec.finalizers ["kubernetes"]); the namespace controller then deletes every
  namespaced object in it, reports progress in the five NamespaceDeletion… conditions with the real reasons
  and messages, and once nothing is left removes its "kubernetes" finalizer so the namespace goes away.
- The service account controller gives every active namespace its `default` ServiceAccount, and recreates
  it when deleted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kubedog_ci.sim.controllers.base import Context, Controller, Key
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.pods import is_terminal
from kubedog_ci.sim.resources import ResourceType
from kubedog_ci.sim.store import Change, clone

FINALIZER = "kubernetes"
DELETION_GRACE_SECONDS = 5.0
"""namespaceDeletionGracePeriod: a namespace event is processed five seconds later."""
FINALIZER_ESTIMATE_SECONDS = 15
"""finalizerEstimateSeconds: how long content held by finalizers is assumed to need."""
RETRY_SECONDS = 1.0

_OK = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions",
                                                    "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted",
                                        "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}
"""status_condition_utils.go: each condition type, in order, with its reason and message when all is well."""


def _gvr(group: str, version: str, plural: str) -> str:
    """schema.GroupVersionResource's String(), as it appears in deletion error messages."""
    return f"{group}/{version}, Resource={plural}"


def deletion_conditions(remaining: dict[str, int], finalizers: dict[str, int], errors: list[str],
                        now: str) -> list[dict]:
    """The conditions of a Terminating namespace at `now`: remaining resources (`pods.` for the core group, as the
    real controller prints it) and finalizers, and the content deletion errors; the rest in their "ok" form."""
    failing: dict[str, tuple[str, str]] = {}
    if remaining:
        parts = sorted(f"{resource} has {count} resource instances" for resource, count in remaining.items())
        failing["NamespaceContentRemaining"] = ("SomeResourcesRemain",
                                                "Some resources are remaining: " + ", ".join(parts))
    if finalizers:
        parts = sorted(f"{name} in {count} resource instances" for name, count in finalizers.items())
        failing["NamespaceFinalizersRemaining"] = (
            "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: " + ", ".join(parts))
    if errors:
        failing["NamespaceDeletionContentFailure"] = (
            "ContentDeletionFailed",
            f"Failed to delete all resource types, {len(errors)} remaining: {', '.join(sorted(errors))}")
    return [{"type": ctype, "status": "True" if ctype in failing else "False", "lastTransitionTime": now,
             "reason": failing.get(ctype, ok)[0], "message": failing.get(ctype, ok)[1]}
            for ctype, ok in _OK.items()]


def merge_conditions(current: list[dict], wanted: list[dict]) -> tuple[list[dict], bool]:
    """updateConditions: keep a condition's lastTransitionTime unless its status flips."""
    merged = [clone(c) for c in current]
    changed = False
    for cond in wanted:
        old = next((c for c in merged if c.get("type") == cond["type"]), None)
        if old is None:
            merged.append(cond)
            changed = True
        elif any(old.get(k) != cond[k] for k in ("status", "reason", "message")):
            if old.get("status") != cond["status"]:
                old["lastTransitionTime"] = cond["lastTransitionTime"]
            old.update({k: cond[k] for k in ("status", "reason", "message")})
            changed = True
    return merged, changed


@dataclass
class _Leftovers:
    """What one deletion pass left behind: per resource, per finalizer, errors, and the wait estimate."""

    remaining: dict[str, int] = field(default_factory=dict)
    finalizers: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    estimate: int = 0


class NamespaceController(Controller):
    """Empties Terminating namespaces, then releases them; see the module docstring."""

    name = "namespace-controller"
    watches = ("/namespaces",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._ns_rt = self.api.rt("/namespaces")
        self._deleted_at: dict[str, float] = {}
        self.api.delete_hooks["/namespaces"] = self._begin_termination

    def _begin_termination(self, namespace: dict, grace: int | None) -> bool:
        """The namespace registry's Delete: the first request only marks the namespace Terminating. Called by
        Api.delete on the request's thread under the store lock, so it writes the store and nothing else."""
        if not (namespace.get("spec") or {}).get("finalizers"):
            return False
        updated = clone(namespace)
        updated["metadata"]["deletionTimestamp"] = self.loop.clock.stamp()
        updated.setdefault("status", {})["phase"] = "Terminating"
        self.store.replace("/namespaces", updated)
        return True

    def on_change(self, change: Change) -> None:
        name = change.obj["metadata"]["name"]
        if change.type == "DELETED":
            self._deleted_at.pop(name, None)
        elif change.obj["metadata"].get("deletionTimestamp"):
            self._deleted_at.setdefault(name, time.monotonic())
            self.enqueue(("", name), after=DELETION_GRACE_SECONDS)

    def sync(self, namespace: str, name: str) -> None:
        ns = self.store.get("/namespaces", "", name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        try:
            ns = self._ensure_terminating(ns)
            if FINALIZER not in (ns.get("spec") or {}).get("finalizers") or []:
                return
            estimate, remaining = self._delete_all_content(ns)
            if remaining:
                self.enqueue(("", name), after=estimate // 2 + 1 if estimate else RETRY_SECONDS)
                return
            self._finalize(ns)
        except ApiError:
            self.enqueue(("", name), after=RETRY_SECONDS)

    def _ensure_terminating(self, ns: dict) -> dict:
        if (ns.get("status") or {}).get("phase") == "Terminating":
            return ns
        updated = clone(ns)
        updated.setdefault("status", {})["phase"] = "Terminating"
        return self.api.update(self._ns_rt, "", ns["metadata"]["name"], updated, subresource="status")

    def _delete_all_content(self, ns: dict) -> tuple[int, bool]:
        """deleteAllContent: delete every namespaced object (Background), then report what is left."""
        name = ns["metadata"]["name"]
        left = _Leftovers()
        for rt in self._deletable_types():
            self._delete_content(rt, name, left)
        self._update_conditions(ns, deletion_conditions(left.remaining, left.finalizers, left.errors,
                                                        self.loop.clock.stamp()))
        return left.estimate, bool(left.remaining)

    def _deletable_types(self) -> list[ResourceType]:
        """The namespaced types that have objects stored (discovery filtered to the `delete` verb)."""
        types = []
        for key in list(self.store.keys()):
            try:
                rt = self.api.rt(key)
            except KeyError:
                continue
            if rt.namespaced and "delete" in rt.verbs:
                types.append(rt)
        return types

    def _delete_content(self, rt: ResourceType, namespace: str, left: _Leftovers) -> None:
        """deleteAllContentForGroupVersionResource: delete, list again, and account for what remains."""
        estimate = self._pod_estimate(namespace) if rt.key == "/pods" else 0
        items, _ = self.store.list(rt.key, namespace)
        for item in items:
            if item["metadata"].get("deletionTimestamp"):
                continue
            try:
                self.api.delete(rt, namespace, item["metadata"]["name"], propagation="Background")
            except ApiError as err:
                if err.code != 404:
                    raise
        remaining, _ = self.store.list(rt.key, namespace)
        if not remaining:
            return
        left.remaining[f"{rt.plural}.{rt.group}"] = len(remaining)
        held = [f for item in remaining for f in item["metadata"].get("finalizers") or []]
        for finalizer in held:
            left.finalizers[finalizer] = left.finalizers.get(finalizer, 0) + 1
        if not estimate and held:
            estimate = FINALIZER_ESTIMATE_SECONDS
        if not estimate and not held:
            left.errors.append(f"unexpected items still remain in namespace: {namespace} for gvr: "
                               f"{_gvr(rt.group, rt.version, rt.plural)}")
        left.estimate = max(left.estimate, estimate)

    def _pod_estimate(self, namespace: str) -> int:
        """estimateGracefulTerminationForPods: the longest grace period of unfinished pods, if not yet over."""
        pods, _ = self.store.list("/pods", namespace)
        estimate = max((int(p["spec"].get("terminationGracePeriodSeconds") or 0) for p in pods
                        if not is_terminal(p)), default=0)
        elapsed = self.loop.elapsed(self._deleted_at.setdefault(namespace, time.monotonic()))
        return 0 if elapsed >= estimate else estimate

    def _update_conditions(self, ns: dict, wanted: list[dict]) -> None:
        current = self.store.get("/namespaces", "", ns["metadata"]["name"]) or ns
        merged, changed = merge_conditions((current.get("status") or {}).get("conditions") or [], wanted)
        if changed:
            updated = clone(current)
            updated.setdefault("status", {})["conditions"] = merged
            self.api.update(self._ns_rt, "", ns["metadata"]["name"], updated, subresource="status")

    def _finalize(self, ns: dict) -> None:
        """finalizeNamespace: drop our spec finalizer; the namespace is removed once none is left."""
        current = self.store.get("/namespaces", "", ns["metadata"]["name"])
        if current is None:
            return
        updated = clone(current)
        updated["spec"]["finalizers"] = sorted(set(updated["spec"].get("finalizers") or []) - {FINALIZER})
        self.api.update(self._ns_rt, "", ns["metadata"]["name"], updated)


class ServiceAccountController(Controller):
    """serviceaccounts-controller: every active namespace has a `default` ServiceAccount."""

    name = "serviceaccounts-controller"
    watches = ("/namespaces", "/serviceaccounts")

    def keys_for(self, change: Change) -> list[Key]:
        meta = change.obj["metadata"]
        if change.key == "/namespaces":
            return [] if change.type == "DELETED" else [("", meta["name"])]
        if change.type == "DELETED" and meta["name"] == "default":
            return [("", meta["namespace"])]
        return []

    def sync(self, namespace: str, name: str) -> None:
        ns = self.store.get("/namespaces", "", name)
        if ns is None or ns["metadata"].get("deletionTimestamp") or \
                (ns.get("status") or {}).get("phase") != "Active":
            return
        if self.store.get("/serviceaccounts", name, "default") is not None:
            return
        try:
            self.api.create(self.api.rt("/serviceaccounts"), name, {"metadata": {"name": "default"}})
        except ApiError:
            return


CONTROLLERS = (NamespaceController, ServiceAccountController)
