"""The API server's semantics, independent of HTTP: CRUD, patch, apply, delete with finalizers and grace.

Both the HTTP layer and the controllers go through this class, so a ReplicaSet's pod creation meets the same
namespace lifecycle, quota and validation as a user's `kubectl apply`. Every failure is an `ApiError`
carrying the exact Status body the real server sends.
"""

from __future__ import annotations

import base64
import bisect
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from kubedog_ci.sim import errors, patch
from kubedog_ci.sim.defaults import apply_defaults
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.loop import SimLoop
from kubedog_ci.sim.resources import Registry, ResourceType
from kubedog_ci.sim.selectors import (
    Predicate,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
    selector_to_string,
)
from kubedog_ci.sim.store import Expired, Store, clone
from kubedog_ci.sim.validation import validate

Admission = Callable[[str, ResourceType, dict, dict | None], None]
"""(operation "CREATE"|"UPDATE", type, new object, old object) -> None, or raises ApiError."""

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_DEFAULT_ORPHAN = {"batch/jobs", "batch/cronjobs", "/replicationcontrollers"}


def random_suffix(length: int = 5) -> str:
    """The 5-character suffix the API server appends to generateName."""
    return "".join(random.choice(_NAME_ALPHABET) for _ in range(length))


def _spec_part(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _namespace_finalizers(rt: ResourceType, obj: dict) -> list:
    """A Namespace's spec.finalizers hold it, once deleted, like metadata.finalizers until emptied."""
    return ((obj.get("spec") or {}).get("finalizers") or []) if rt.key == "/namespaces" else []


CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list.")
"""The API server's 410 (reason Expired) for a continue token whose snapshot etcd has compacted away."""


@dataclass
class ListResult:
    items: list[dict]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None


class Api:
    """CRUD and its rules over the store; see the module docstring."""

    def __init__(self, store: Store, registry: Registry, loop: SimLoop) -> None:
        self.store = store
        self.registry = registry
        self.loop = loop
        self.admission: list[Admission] = []
        self.delete_hooks: dict[str, Callable[[dict, int | None], bool]] = {}
        """Storage key -> hook(object, grace) that returns True when it took over a graceful deletion."""

    def rt(self, key: str) -> ResourceType:
        return self.registry.for_key(key)

    # --- reads ------------------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict:
        obj = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt, name)
        return obj

    def list(self, rt: ResourceType, namespace: str | None, label_selector: str | None = None,
             field_selector: str | Predicate | None = None, limit: int = 0, continue_token: str = "") -> ListResult:
        """`field_selector` is a string of any field paths, or a predicate (the HTTP layer's per-kind one)."""
        try:
            labels_ok = parse_label_selector(label_selector)
            fields_ok = field_selector if callable(field_selector) else parse_field_selector(field_selector)
        except SelectorError as err:
            raise errors.bad_request(str(err)) from err
        scope = namespace if rt.namespaced else None
        if continue_token:  # the page starts after the token's object: found in the sorted list, not filtered for
            after, rv = _decode_continue(continue_token)
            try:  # every page is read from the snapshot of the first, as etcd serves it
                items = self.store.list_at(rt.key, scope, rv)
            except Expired as err:
                raise errors.gone(CONTINUE_EXPIRED) from err
            items = items[bisect.bisect_right(items, after, key=_ident):]
        else:
            items, rv = self.store.list(rt.key, scope)
        items = [o for o in items if labels_ok(o["metadata"].get("labels") or {}) and fields_ok(o)]
        if limit and limit < len(items):
            token = _encode_continue(_storage_key(items[limit - 1]), rv)
            return ListResult(items[:limit], rv, token, len(items) - limit)
        return ListResult(items, rv)

    # --- writes -----------------------------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str | None, body: dict, *, dry_run: bool = False,
               field_manager: str | None = None, operation: str = "Update") -> dict:
        obj = clone(body)
        obj.setdefault("apiVersion", rt.api_version)
        obj.setdefault("kind", rt.kind)
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        for transient in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "managedFields",
                          "selfLink", "deletionGracePeriodSeconds"):
            meta.pop(transient, None)
        with self.store.lock:
            self._check_namespace(rt, obj)
            meta["uid"] = str(uuid.uuid4())
            apply_defaults(rt, obj, None, self.loop.clock.stamp())
            causes = validate(rt, obj, None)
            if causes:
                raise errors.invalid(rt, meta.get("name", ""), causes)
            if self.store.get(rt.key, meta.get("namespace", ""), meta["name"]) is not None:
                raise errors.already_exists(rt, meta["name"])
            for plugin in self.admission:
                plugin("CREATE", rt, obj, None)
            meta["creationTimestamp"] = self.loop.clock.stamp()
            if _spec_part(obj).keys() - {"apiVersion", "kind"}:
                meta["generation"] = 1
            if field_manager:
                self._record_manager(obj, field_manager, operation,
                                     patch.field_paths(body) if operation == "Apply" else patch.field_paths(obj))
            if dry_run:
                return obj
            return self.store.create(rt.key, obj)

    def update(self, rt: ResourceType, namespace: str, name: str, body: dict, *, subresource: str = "",
               dry_run: bool = False, field_manager: str | None = None) -> dict:
        with self.store.lock:
            old = self.get(rt, namespace, name)
            expected = (body.get("metadata") or {}).get("resourceVersion")
            if expected and expected != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt, name)
            return self._write(rt, old, body, subresource=subresource, dry_run=dry_run,
                               field_manager=field_manager)

    def patch(self, rt: ResourceType, namespace: str, name: str, patch_type: str, body: object, *,
              subresource: str = "", dry_run: bool = False, field_manager: str | None = None,
              force: bool = False) -> dict:
        with self.store.lock:
            current = self.store.get(rt.key, namespace if rt.namespaced else "", name)
            if patch_type == "apply":
                return self._apply(rt, namespace, name, current, body, subresource=subresource, dry_run=dry_run,
                                   field_manager=field_manager or "", force=force)
            if current is None:
                raise errors.not_found(rt, name)
            base = current if subresource != "scale" else self.scale_of(current)
            try:
                if patch_type == "json":
                    new = patch.json_patch(base, body)  # type: ignore[arg-type]
                elif patch_type == "merge":
                    new = patch.json_merge_patch(base, body)
                else:
                    new = patch.strategic_merge_patch(base, body)
            except (patch.PatchError, TypeError, ValueError, AttributeError) as err:
                raise ApiError(422, "Invalid", str(err)) from err
            if not isinstance(new, dict):
                raise errors.bad_request("patch did not produce an object")
            expected = (new.get("metadata") or {}).get("resourceVersion")
            if expected and expected != current["metadata"]["resourceVersion"]:
                raise errors.conflict(rt, name)
            return self._write(rt, current, new, subresource=subresource, dry_run=dry_run,
                               field_manager=field_manager)

    def _apply(self, rt: ResourceType, namespace: str, name: str, current: dict | None, config: object, *,
               subresource: str, dry_run: bool, field_manager: str, force: bool) -> dict:
        if not isinstance(config, dict):
            raise errors.bad_request("apply patch must be an object")
        if not field_manager:
            cause = {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
                     "field": "fieldManager"}
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                           "is required for apply patch",
                           {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [cause]})
        meta = config.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL "
                                     f"({name})")
        if current is None:
            body = clone(config)
            body.setdefault("metadata", {})["name"] = name
            return self.create(rt, namespace, body, dry_run=dry_run, field_manager=field_manager,
                               operation="Apply")
        owners = self._owners(current)
        applied = patch.field_paths(config)
        conflicts = patch.apply_conflicts(current, config, field_manager, owners)
        if conflicts and not force:
            raise _apply_conflict(current, conflicts)
        new = clone(current)
        patch.remove_unapplied(new, owners.get(field_manager, set()), applied,
                               set().union(*(p for m, p in owners.items() if m != field_manager)))
        merged = patch.apply_merge(new, config)
        assert isinstance(merged, dict)
        for other, paths in conflicts.items():
            owners[other] -= set(paths)
        owners[field_manager] = applied
        merged["metadata"]["managedFields"] = self._render_managers(current, owners, field_manager, "Apply")
        return self._write(rt, current, merged, subresource=subresource, dry_run=dry_run, field_manager=None)

    def _write(self, rt: ResourceType, old: dict, body: dict, *, subresource: str, dry_run: bool,
               field_manager: str | None) -> dict:
        if subresource == "scale":
            replicas = (body.get("spec") or {}).get("replicas")
            body = clone(old)
            body.setdefault("spec", {})["replicas"] = replicas
            subresource = ""
        new = clone(body)
        if subresource == "status":
            new = clone(old)
            new["status"] = clone(body.get("status") or {})
        elif "status" in rt.subresources:
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        for fixed in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation"):
            if fixed in old_meta:
                meta[fixed] = old_meta[fixed]
            else:
                meta.pop(fixed, None)
        if field_manager is None and "managedFields" in old_meta and "managedFields" not in meta:
            meta["managedFields"] = old_meta["managedFields"]
        new.setdefault("apiVersion", old["apiVersion"])
        new.setdefault("kind", old["kind"])
        if subresource != "status":
            apply_defaults(rt, new, old, self.loop.clock.stamp())
            causes = validate(rt, new, old)
            if causes:
                raise errors.invalid(rt, meta["name"], causes)
            if _spec_part(new) != _spec_part(old) and "generation" in old_meta:
                meta["generation"] = old_meta["generation"] + 1
            for plugin in self.admission:
                plugin("UPDATE", rt, new, old)
            if field_manager:
                owners = self._owners(old)
                taken = patch.changed_paths(old, new)
                for other in owners:
                    owners[other] -= taken
                owners[field_manager] = owners.get(field_manager, set()) | taken
                meta["managedFields"] = self._render_managers(old, owners, field_manager, "Update")
        if _unchanged(old, new):
            return old
        if (old_meta.get("deletionTimestamp") and not meta.get("finalizers") and not _namespace_finalizers(rt, new)
                and not old_meta.get("deletionGracePeriodSeconds")):
            if dry_run:
                return new
            self.store.replace(rt.key, new)
            return self.store.delete(rt.key, meta.get("namespace", ""), meta["name"])
        if dry_run:
            return new
        return self.store.replace(rt.key, new)

    def delete(self, rt: ResourceType, namespace: str, name: str, *, propagation: str | None = None,
               grace_seconds: int | None = None, dry_run: bool = False,
               preconditions: dict | None = None) -> dict:
        with self.store.lock:
            obj = self.get(rt, namespace, name)
            meta = obj["metadata"]
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != meta["uid"]:
                raise ApiError(409, "Conflict", f"Precondition failed: UID in precondition: {pre['uid']}, "
                               f"UID in object meta: {meta['uid']}", {"name": name, "kind": rt.plural})
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
                raise errors.conflict(rt, name)
            if dry_run:
                return obj
            policy = propagation or ("Orphan" if rt.key in _DEFAULT_ORPHAN else "Background")
            finalizers = list(meta.get("finalizers") or [])
            if policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            hook = self.delete_hooks.get(rt.key)
            if hook and not meta.get("deletionTimestamp") and hook(obj, grace_seconds):
                return self.store.get(rt.key, meta.get("namespace", ""), name) or obj
            if finalizers or meta.get("deletionTimestamp"):
                if meta.get("deletionTimestamp") and not finalizers:
                    if _namespace_finalizers(rt, obj):
                        return obj
                    return self.store.delete(rt.key, meta.get("namespace", ""), name)
                updated = clone(obj)
                updated["metadata"]["finalizers"] = finalizers
                updated["metadata"].setdefault("deletionTimestamp", self.loop.clock.stamp())
                if grace_seconds == 0 or "deletionGracePeriodSeconds" not in updated["metadata"]:
                    updated["metadata"]["deletionGracePeriodSeconds"] = 0
                return self.store.replace(rt.key, updated)
            return self.store.delete(rt.key, meta.get("namespace", ""), name)

    # --- the scale subresource --------------------------------------------------------------------------

    @staticmethod
    def scale_of(obj: dict) -> dict:
        """The autoscaling/v1 Scale view of a Deployment, ReplicaSet or StatefulSet."""
        meta = obj["metadata"]
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": selector_to_string((obj.get("spec") or {}).get("selector"))},
        }

    # --- helpers ----------------------------------------------------------------------------------------

    def _check_namespace(self, rt: ResourceType, obj: dict) -> None:
        if not rt.namespaced:
            return
        namespace = obj["metadata"]["namespace"]
        ns = self.store.get("/namespaces", "", namespace)
        if ns is None:
            raise errors.namespace_not_found(namespace)
        if ns["metadata"].get("deletionTimestamp") and rt.key != "/events":
            raise errors.namespace_terminating(rt, obj["metadata"].get("name", ""), namespace)

    @staticmethod
    def _owners(obj: dict) -> dict[str, set[patch.Path]]:
        owners: dict[str, set[patch.Path]] = {}
        for entry in obj["metadata"].get("managedFields") or []:
            if entry.get("subresource"):
                continue
            owners.setdefault(entry["manager"], set()).update(patch.fields_v1_to_paths(entry.get("fieldsV1") or {}))
        return owners

    def _render_managers(self, old: dict, owners: dict[str, set[patch.Path]], manager: str, operation: str) -> list:
        entries = []
        previous = {e["manager"]: e for e in old["metadata"].get("managedFields") or [] if not e.get("subresource")}
        for name, paths in owners.items():
            if not paths and name != manager:
                continue
            entry = clone(previous.get(name) or {"manager": name, "operation": "Update"})
            entry["apiVersion"] = old["apiVersion"]
            entry["fieldsType"] = "FieldsV1"
            entry["fieldsV1"] = patch.paths_to_fields_v1(paths)
            if name == manager:
                entry["operation"] = operation
                entry["time"] = self.loop.clock.stamp()
            entries.append(entry)
        return entries

    def _record_manager(self, obj: dict, manager: str, operation: str, paths: set[patch.Path]) -> None:
        obj["metadata"]["managedFields"] = [{
            "manager": manager, "operation": operation, "apiVersion": obj["apiVersion"],
            "time": self.loop.clock.stamp(), "fieldsType": "FieldsV1", "fieldsV1": patch.paths_to_fields_v1(paths)}]


def _comparable(obj: dict) -> dict:
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    managers = [{k: v for k, v in e.items() if k != "time"} for e in obj["metadata"].get("managedFields") or []]
    return {**obj, "metadata": meta, "managedFields": managers}


def _unchanged(old: dict, new: dict) -> bool:
    """A write that changes nothing but timestamps of field managers is skipped, as etcd3's GuaranteedUpdate does
    (no new resourceVersion, no watch event): re-applying an unchanged manifest must not look like a change."""
    return _comparable(old) == _comparable(new)


def _ident(obj: dict) -> tuple[str, str]:
    """(namespace, name): the order of the store's lists."""
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _storage_key(obj: dict) -> str:
    """The object's etcd key below the resource prefix, as continue tokens carry it."""
    namespace, name = _ident(obj)
    return f"{namespace}/{name}" if namespace else name


def _encode_continue(last_key: str, rv: int) -> str:
    """The real token's shape: base64 of {"v","rv","start"}, start being the key after which the next page begins."""
    state = {"v": "meta.k8s.io/v1", "rv": rv, "start": last_key + "\x00"}
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[tuple[str, str], int]:
    """(namespace, name) after which the page starts, and the list's resourceVersion."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        if state.get("v") != "meta.k8s.io/v1":
            raise ValueError(state.get("v"))
        namespace, _, name = str(state["start"]).rstrip("\x00").rpartition("/")
        return (namespace, name), int(state["rv"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                 "(version meta.k8s.io/v1)") from err


def _manager_label(entry: dict) -> str:
    """printManager (managedfields/internal/conflict.go): an Update manager is named with its apiVersion."""
    label = json.dumps(entry["manager"])
    if entry.get("subresource"):
        label += f" with subresource {json.dumps(entry['subresource'])}"
    if entry.get("operation") == "Update":
        label += f" using {entry.get('apiVersion', '')}"
    return label


def _apply_conflict(live: dict, conflicts: dict[str, list[patch.Path]]) -> ApiError:
    """NewConflictError's 409 (details hold only the causes), the message grouped by manager in sorted order."""
    entries = {e["manager"]: e for e in live["metadata"].get("managedFields") or [] if not e.get("subresource")}
    labels = {m: _manager_label(entries.get(m) or {"manager": m, "operation": "Apply"}) for m in conflicts}
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {labels[m]}",
               "field": patch.render_path(p)} for m, paths in conflicts.items() for p in paths]
    if len(causes) == 1:
        message = f"Apply failed with 1 conflict: {causes[0]['message']}: {causes[0]['field']}"
    else:
        lines = []
        for manager in sorted(conflicts):
            lines.append(f"conflicts with {labels[manager]}:")
            lines += [f"- {patch.render_path(p)}" for p in conflicts[manager]]
        message = f"Apply failed with {len(causes)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})
