"""The four PATCH flavours the API server accepts, and the field ownership that server-side apply needs.

- JSON merge patch (RFC 7386) and JSON patch (RFC 6902), exactly.
- Strategic merge patch as far as kubectl uses it: lists of objects with a merge key are merged by that key,
  `$patch: delete|replace` directives, `$setElementOrder`/`$retainKeys` hints ignored.
- Server-side apply: field paths (fieldsV1) per manager, conflicts with other managers unless forced, and removal
  of fields a manager stops applying, so re-applying a manifest behaves like it does against a real cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from kubedog_ci.sim.store import clone

# Lists whose items are merged by a key field (the Kubernetes types' patchMergeKey), by field name.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
    "volumeClaimTemplates": "metadata",
}
# Lists of scalars that strategic merge unions instead of replacing.
MERGED_SCALAR_LISTS = {"finalizers"}


class PatchError(ValueError):
    """A patch that cannot be applied (the API's 422 or 400)."""


def merge_key(field: str, items: list) -> str | None:
    """The merge key of a list field; `ports` depends on whether it is a container's or a Service's."""
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), None)
        if sample is None:
            return None
        return "containerPort" if "containerPort" in sample else "port"
    key = MERGE_KEYS.get(field)
    return None if key == "metadata" else key


def json_merge_patch(target: object, patch: object) -> object:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: object, parts: list[str]) -> object:
    node = doc
    for part in parts:
        if isinstance(node, dict):
            if part not in node:
                raise PatchError(f"doc is missing path: /{'/'.join(parts)}")
            node = node[part]
        elif isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError) as err:
                raise PatchError(f"doc is missing path: /{'/'.join(parts)}") from err
        else:
            raise PatchError(f"doc is missing path: /{'/'.join(parts)}")
    return node


def json_patch(target: dict, operations: list) -> dict:
    """RFC 6902: add, remove, replace, move, copy, test."""
    doc = clone(target)
    if not isinstance(operations, list):
        raise PatchError("json patch must be a list of operations")
    for op in operations:
        kind, parts = op.get("op"), _pointer(op.get("path", ""))
        if kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = clone(_walk(doc, src))
            if kind == "move":
                _remove(doc, src)
            _add(doc, parts, value)
        elif kind == "add":
            _add(doc, parts, clone(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _remove(doc, parts)
            _add(doc, parts, clone(op.get("value")))
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise PatchError(f"testing value /{'/'.join(parts)} failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc


def _add(doc: dict, parts: list[str], value: object) -> None:
    if not parts:
        raise PatchError("cannot replace the whole document")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if index > len(parent):
            raise PatchError(f"add operation does not apply: index {index} out of bounds")
        parent.insert(index, value)
    else:
        raise PatchError(f"add operation does not apply: doc is missing path: /{'/'.join(parts)}")


def _remove(doc: dict, parts: list[str]) -> None:
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    try:
        if isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent, list):
            del parent[int(last)]
        else:
            raise KeyError(last)
    except (KeyError, IndexError, ValueError) as err:
        raise PatchError(f"remove operation does not apply: doc is missing path: /{'/'.join(parts)}") from err


def strategic_merge_patch(target: object, patch: object) -> object:
    """Strategic merge of `patch` into `target` (kubectl's default for `kubectl patch`, `set`, `rollout`)."""
    if not isinstance(patch, dict):
        return clone(patch)
    if patch.get("$patch") == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name) or [] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, key)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = value
    return result


def _merge_list(current: object, patch: list, field: str) -> list:
    current = current if isinstance(current, list) else []
    if field in MERGED_SCALAR_LISTS:
        return [*current, *(v for v in patch if v not in current)]
    key = merge_key(field, patch) or merge_key(field, current)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return [clone(v) for v in patch if not (isinstance(v, dict) and v.get("$patch"))]
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [clone(i) for i in patch if i.get("$patch") != "replace"]
    result = [clone(i) for i in current]
    for item in patch:
        index = next((n for n, old in enumerate(result) if isinstance(old, dict) and old.get(key) == item.get(key)),
                     None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(clone(item))
        else:
            result[index] = strategic_merge_patch(result[index], item)  # type: ignore[assignment]
    return result


# --- server-side apply -------------------------------------------------------------------------------------

Path = tuple[str, ...]


def _item_segment(item: dict, key: str) -> str:
    return "k:" + json.dumps({key: item.get(key)}, separators=(",", ":"))


def field_paths(obj: object, prefix: Path = (), field: str = "") -> set[Path]:
    """The set of field paths an object sets: leaves, plus one path per keyed list item."""
    paths: set[Path] = set()
    if isinstance(obj, dict):
        if not obj and prefix:
            paths.add(prefix)
        for key, value in obj.items():
            if not prefix and key in ("apiVersion", "kind", "status"):
                continue
            if prefix == ("f:metadata",) and key not in ("labels", "annotations", "finalizers", "ownerReferences"):
                continue
            paths |= field_paths(value, (*prefix, f"f:{key}"), key)
    elif isinstance(obj, list) and obj and all(isinstance(i, dict) for i in obj) and merge_key(field, obj):
        key = merge_key(field, obj)
        for item in obj:
            item_path = (*prefix, _item_segment(item, key))  # type: ignore[arg-type]
            paths.add(item_path)
            paths |= field_paths(item, item_path, field)
    elif isinstance(obj, list) and field in MERGED_SCALAR_LISTS:
        paths |= {(*prefix, "v:" + json.dumps(v)) for v in obj}
    else:
        paths.add(prefix)
    return paths


def _lookup(obj: object, path: Path) -> tuple[bool, object]:
    node = obj
    for seg in path:
        kind, _, name = seg.partition(":")
        if kind == "f" and isinstance(node, dict) and name in node:
            node = node[name]
        elif kind == "k" and isinstance(node, list):
            want = json.loads(name)
            ((key, value),) = want.items()
            match = next((i for i in node if isinstance(i, dict) and i.get(key) == value), None)
            if match is None:
                return False, None
            node = match
        elif kind == "v" and isinstance(node, list):
            value = json.loads(name)
            if value not in node:
                return False, None
            node = value
        else:
            return False, None
    return True, node


def _remove_path(obj: dict, path: Path) -> None:
    found, parent = _lookup(obj, path[:-1])
    if not found:
        return
    kind, _, name = path[-1].partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(name, None)
    elif kind == "k" and isinstance(parent, list):
        ((key, value),) = json.loads(name).items()
        parent[:] = [i for i in parent if not (isinstance(i, dict) and i.get(key) == value)]
    elif kind == "v" and isinstance(parent, list):
        value = json.loads(name)
        parent[:] = [i for i in parent if i != value]


def render_path(path: Path) -> str:
    """`.spec.template.spec.containers[name="app"].image`, the form conflict messages use."""
    out = []
    for seg in path:
        kind, _, name = seg.partition(":")
        if kind == "f":
            out.append("." + name)
        elif kind == "k":
            ((key, value),) = json.loads(name).items()
            out.append(f"[{key}={json.dumps(value)}]")
        else:
            out.append(f"[={name}]")
    return "".join(out)


def paths_to_fields_v1(paths: Iterable[Path]) -> dict:
    """The managedFields fieldsV1 tree of a path set."""
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for seg in path:
            node = node.setdefault(seg, {})
        if path and path[-1].startswith("k:"):
            node.setdefault(".", {})
    return tree


def fields_v1_to_paths(tree: dict, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for seg, sub in tree.items():
        if seg == ".":
            continue
        path = (*prefix, seg)
        if not sub or "." in sub:
            paths.add(path)
        paths |= fields_v1_to_paths(sub, path)
    return paths


def changed_paths(old: dict, new: dict) -> set[Path]:
    """Leaf paths whose value differs between two objects (what an Update-operation manager takes over)."""
    new_paths = field_paths(new)
    return {p for p in new_paths if _lookup(old, p) != _lookup(new, p)
            and not (p[-1].startswith("k:") and _lookup(old, p)[0])}  # an item that was there stays its owner's


def apply_merge(live: object, config: object, field: str = "") -> object:
    """Merge an applied configuration into the live object: maps recursively, keyed lists by key."""
    if isinstance(config, dict) and isinstance(live, dict):
        result = clone(live)
        for key, value in config.items():
            result[key] = apply_merge(live.get(key), value, key)
        return result
    if isinstance(config, list) and isinstance(live, list):
        key = merge_key(field, config) if all(isinstance(i, dict) for i in config) else None
        if field in MERGED_SCALAR_LISTS:
            return [*live, *(v for v in config if v not in live)]
        if key:
            result = [clone(i) for i in live]
            for item in config:
                index = next((n for n, old in enumerate(result)
                              if isinstance(old, dict) and old.get(key) == item.get(key)), None)
                if index is None:
                    result.append(clone(item))
                else:
                    result[index] = apply_merge(result[index], item, field)
            return result
    return clone(config)


def apply_conflicts(live: dict, config: dict, manager: str, owners: dict[str, set[Path]]) -> dict[str, list[Path]]:
    """Paths the config would change that another manager owns, by manager."""
    conflicts: dict[str, list[Path]] = {}
    for path in sorted(field_paths(config)):
        if path[-1].startswith("k:"):
            continue  # a list item's key is shared by whoever applies the item; its fields may conflict
        found, value = _lookup(live, path)
        if not found or value == _lookup(config, path)[1]:
            continue
        for other, owned in owners.items():
            if other != manager and path in owned:
                conflicts.setdefault(other, []).append(path)
    return conflicts


def remove_unapplied(obj: dict, previously: set[Path], now: set[Path], others: set[Path]) -> None:
    """Remove what a manager applied before, applies no longer, and nobody else owns."""
    for path in sorted(previously - now - others, key=len):
        if not any(other[:len(path)] == path for other in others):  # nobody keeps a field inside it
            _remove_path(obj, path)
        for depth in range(len(path) - 1, 1, -1):
            found, parent = _lookup(obj, path[:depth])
            if not (found and parent in ({}, [])) or (*path[:depth],) in now | others:
                break
            _remove_path(obj, path[:depth])
