"""The files a container sees through its volumeMounts, read when it starts, from the volumes the kubelet set up.

The kubelet writes Secret, ConfigMap, downwardAPI and projected volumes itself, so their files are known: each
key, or each item's path, with its text. What other volumes hold (emptyDir, a claim, hostPath, ...) is not.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from kubedog_ci.sim import shell
from kubedog_ci.sim.kubelet import env as envmod
from kubedog_ci.sim.store import Store

_OBJECTS = {"secret": "/secrets", "configMap": "/configmaps"}
_OPAQUE_PROJECTIONS = ("serviceAccountToken", "clusterTrustBundle")
"""Projected sources whose one file (at "path") exists with content the simulation does not make."""


def _object_files(store: Store, namespace: str, kind: str, source: dict, name_field: str) -> dict[str, str]:
    """A Secret or ConfigMap as files: every key, or the listed items at their paths.

    A missing object or key was either optional or made the mount check fail, so it adds nothing here.
    """
    obj = store.get(_OBJECTS[kind], namespace, source.get(name_field) or source.get("name", "")) or {}
    plain = {} if kind == "secret" else obj.get("data") or {}
    encoded = obj.get("data" if kind == "secret" else "binaryData") or {}
    data = {**plain, **{key: envmod.decoded(value) for key, value in encoded.items()}}
    items = source.get("items")
    if not items:
        return data
    return {item.get("path", ""): data[item["key"]] for item in items if item.get("key") in data}


def _downward_files(items: list[dict], pod: dict, allocatable: Mapping[str, str]) -> dict[str, str | None]:
    """downwardAPI items: fieldRef and resourceFieldRef values, read once (a real volume follows label changes)."""
    spec = pod.get("spec") or {}
    containers = {c.get("name"): c for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])}
    files: dict[str, str | None] = {}
    for item in items:
        value: str | None = None
        try:
            if "fieldRef" in item:
                value = envmod.field_value(item["fieldRef"].get("fieldPath", ""), pod, "", "")
            elif "resourceFieldRef" in item:
                ref = item["resourceFieldRef"]
                container = containers.get(ref.get("containerName"))
                value = None if container is None else envmod.resource_value(ref, container, allocatable)
        except envmod.ConfigError:
            value = None
        files[item.get("path", "")] = value
    return files


def _volume_files(store: Store, pod: dict, volume: dict, allocatable: Mapping[str, str]) -> shell.Tree | None:
    """A volume's files by path inside it; None when the simulation cannot know them."""
    namespace = pod["metadata"]["namespace"]
    if "secret" in volume:
        return _object_files(store, namespace, "secret", volume["secret"], "secretName")
    if "configMap" in volume:
        return _object_files(store, namespace, "configMap", volume["configMap"], "name")
    if "downwardAPI" in volume:
        return _downward_files(volume["downwardAPI"].get("items") or [], pod, allocatable)
    if "projected" not in volume:
        return None
    files: dict[str, str | None] = {}
    for source in volume["projected"].get("sources") or []:
        for kind in _OBJECTS:
            if kind in source:
                files.update(_object_files(store, namespace, kind, source[kind], "name"))
        if "downwardAPI" in source:
            files.update(_downward_files(source["downwardAPI"].get("items") or [], pod, allocatable))
        for kind in _OPAQUE_PROJECTIONS:
            if kind in source:
                files[source[kind].get("path", "")] = None
        if not {*_OBJECTS, "downwardAPI", *_OPAQUE_PROJECTIONS} & source.keys():
            return None  # a newer kind of projection (podCertificate, ...): its files are unknown
    return files


def _below(files: shell.Tree, sub_path: str) -> shell.Tree | None:
    """What a subPath mount shows: one file (as the tree's "" key), a directory, or None when it names nothing."""
    def normal(path: str) -> str:
        return posixpath.normpath("/" + path).lstrip("/")

    sub_path, files = normal(sub_path), {normal(path): text for path, text in files.items()}
    if sub_path in files:
        return {"": files[sub_path]}
    prefix = sub_path + "/"
    inside = {path[len(prefix):]: text for path, text in files.items() if path.startswith(prefix)}
    return inside or None


def files(store: Store, pod: dict, container: dict, variables: Mapping[str, str],
          allocatable: Mapping[str, str]) -> shell.Files:
    """The container's mounts with their files; ``variables`` (its environment) expand a subPathExpr."""
    volumes = {volume.get("name"): volume for volume in (pod.get("spec") or {}).get("volumes") or []}
    mounts: dict[str, shell.Tree | None] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name"))
        if volume is None:
            continue
        tree = _volume_files(store, pod, volume, allocatable)
        sub_path = mount.get("subPath") or envmod.expand(mount.get("subPathExpr") or "", variables)
        if tree is not None and sub_path:
            tree = _below(tree, sub_path)
        mounts[mount.get("mountPath", "")] = tree
    return shell.Files(mounts)
