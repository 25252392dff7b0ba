"""Whether a pod's volumes can be set up, with the volume plugins' error messages.

A configMap or secret volume whose object (or listed key) is missing fails MountVolume.SetUp; a PVC that is
missing or not Bound is simply waited for, as the kubelet's volume manager does without an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubedog_ci.sim.errors import aggregate
from kubedog_ci.sim.store import Store

_KINDS = {
    "configMap": ("/configmaps", "name", 'configmap "{}" not found',
                  "configmap references non-existent config key: {}"),
    "secret": ("/secrets", "secretName", 'secret "{}" not found', "references non-existent secret key: {}"),
}


@dataclass
class MountCheck:
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(volume name, error) for each volume whose SetUp fails."""
    waiting: bool = False
    """Some PersistentVolumeClaim is missing or not yet Bound."""

    @property
    def ready(self) -> bool:
        return not self.failures and not self.waiting


def _source_error(store: Store, namespace: str, kind: str, source: dict, name_field: str) -> str | None:
    key, _, missing, missing_key = _KINDS[kind]
    name = source.get(name_field) or source.get("name", "")
    obj = store.get(key, namespace, name)
    optional = bool(source.get("optional"))
    if obj is None:
        return None if optional else missing.format(name)
    data = {**(obj.get("data") or {}), **(obj.get("binaryData") or {})}
    for item in source.get("items") or []:
        if item.get("key") not in data and not optional:
            return missing_key.format(item.get("key"))
    return None


def _volume_error(store: Store, namespace: str, volume: dict) -> str | None:
    for kind, (_, name_field, _, _) in _KINDS.items():
        if kind in volume:
            return _source_error(store, namespace, kind, volume[kind], name_field)
    errors = []
    for source in (volume.get("projected") or {}).get("sources") or []:
        for kind in _KINDS:
            if kind in source:
                error = _source_error(store, namespace, kind, source[kind], "name")
                if error:
                    errors.append(error)
    return aggregate(errors) if errors else None


def check(store: Store, pod: dict) -> MountCheck:
    namespace = pod["metadata"]["namespace"]
    result = MountCheck()
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        claim = volume.get("persistentVolumeClaim")
        if claim is not None:
            pvc = store.get("/persistentvolumeclaims", namespace, claim.get("claimName", ""))
            result.waiting |= pvc is None or (pvc.get("status") or {}).get("phase") != "Bound"
            continue
        error = _volume_error(store, namespace, volume)
        if error:
            result.failures.append((volume.get("name", ""), error))
    return result
