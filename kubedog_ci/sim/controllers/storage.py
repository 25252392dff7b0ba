"""PersistentVolumeClaims from creation to Bound: admission, the PV controller, an external provisioner.

- DefaultStorageClass admission (plugin/pkg/admission/storage/storageclass/setdefault) gives a PVC created
  without storageClassName (and without the legacy volume.beta.kubernetes.io/storage-class annotation) the
  newest default class; StorageObjectInUseProtection adds the pvc-/pv-protection finalizers.
- The PV controller (pkg/controller/volume/persistentvolume/pv_controller.go) binds claims to matching PVs,
  assigns a default class retroactively, waits for the first consumer, hands dynamic provisioning to the
  external provisioner, and reports with the real events (pkg/controller/volume/events); pending claims are
  resynced every 15 seconds like --pvclaimbinder-sync-period, so repeated events aggregate as they do.
- Every external provisioner is simulated as running (sig-storage-lib-external-provisioner's events): it
  creates `pvc-<uid>` with a hostPath source (and node affinity to the selected node for WaitForFirstConsumer).
- The protection controllers release deleted claims no pod uses and deleted volumes that are not Bound; a
  Released volume with reclaimPolicy Delete is deleted by its provisioner.
- The ephemeral volume controller creates `<pod>-<volume>` claims for generic ephemeral volumes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from kubedog_ci.sim.api import Admission
from kubedog_ci.sim.config import ANNOTATION_PREFIX
from kubedog_ci.sim.controllers.base import Context, Controller, Key
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.owners import new_controller_ref
from kubedog_ci.sim.pods import is_terminal
from kubedog_ci.sim.quantity import quantity
from kubedog_ci.sim.resources import ResourceType
from kubedog_ci.sim.store import Change, clone

PV_CONTROLLER = "persistentvolume-controller"
RESYNC_SECONDS = 15.0
PICKUP_SECONDS = 0.5
PROVISION_SECONDS = 2.0
"""How long the simulated external provisioner takes to notice a claim and to create its volume."""
PROVISIONING_ERROR_ANNOTATION = ANNOTATION_PREFIX + "provisioning-error"
"""On a StorageClass: its provisioner fails every attempt with this text (Warning ProvisioningFailed)."""

LEGACY_CLASS = "volume.beta.kubernetes.io/storage-class"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
DEFAULT_CLASS_BETA = "storageclass.beta.kubernetes.io/is-default-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
STORAGE_PROVISIONER_BETA = "volume.beta.kubernetes.io/storage-provisioner"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"

_CLAIMS, _VOLUMES, _CLASSES, _PODS = ("/persistentvolumeclaims", "/persistentvolumes",
                                      "storage.k8s.io/storageclasses", "/pods")


# --- admission ---------------------------------------------------------------------------------------------

def default_class(classes: Iterable[dict]) -> dict | None:
    """GetDefaultClass: among classes annotated default, the newest, then the first by name."""
    defaults = [c for c in classes if "true" in ((c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS),
                                                 (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_BETA))]
    defaults.sort(key=lambda c: c["metadata"]["name"])
    defaults.sort(key=lambda c: c["metadata"].get("creationTimestamp", ""), reverse=True)
    return defaults[0] if defaults else None


def needs_default_class(claim: dict) -> bool:
    """Neither spec.storageClassName (even "") nor the legacy annotation names a class."""
    return ((claim.get("spec") or {}).get("storageClassName") is None
            and LEGACY_CLASS not in (claim["metadata"].get("annotations") or {}))


def make_admission(ctx: Context) -> Admission:
    """DefaultStorageClass and StorageObjectInUseProtection, on CREATE."""
    def admit(operation: str, rt: ResourceType, obj: dict, old: dict | None) -> None:
        if operation != "CREATE" or rt.key not in (_CLAIMS, _VOLUMES):
            return
        finalizers = obj["metadata"].setdefault("finalizers", [])
        protection = PVC_PROTECTION if rt.key == _CLAIMS else PV_PROTECTION
        if protection not in finalizers:
            finalizers.append(protection)
        if rt.key == _CLAIMS and needs_default_class(obj):
            chosen = default_class(ctx.store.list(_CLASSES)[0])
            if chosen is not None:
                obj.setdefault("spec", {})["storageClassName"] = chosen["metadata"]["name"]
    return admit


# --- the PV controller -------------------------------------------------------------------------------------

class PersistentVolumeController(Controller):
    """Binding, waiting and provisioning for claims (keys (namespace, name)) and volumes (keys ("", name))."""

    name = PV_CONTROLLER
    watches = (_CLAIMS, _VOLUMES, _CLASSES, _PODS)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        ctx.api.admission.append(make_admission(ctx))
        self._resyncs: set[Key] = set()
        self._provisioning: set[str] = set()
        self._identities: dict[str, str] = {}

    def keys_for(self, change: Change) -> Iterable[Key]:
        obj = change.obj
        if change.key == _CLAIMS:
            volume = (obj.get("spec") or {}).get("volumeName")
            return [(obj["metadata"]["namespace"], obj["metadata"]["name"])] + ([("", volume)] if volume else [])
        if change.key == _VOLUMES:
            ref = (obj.get("spec") or {}).get("claimRef") or {}
            return [("", obj["metadata"]["name"])] + ([(ref["namespace"], ref["name"])] if ref.get("name") else [])
        if change.key == _PODS:
            placed = change.old is None or change.type == "DELETED" or (
                change.old["spec"].get("nodeName") != obj["spec"].get("nodeName"))
            return [(obj["metadata"]["namespace"], name) for name in pod_claim_names(obj)] if placed else []
        return [(c["metadata"]["namespace"], c["metadata"]["name"]) for c in self.store.list(_CLAIMS)[0]
                if not fully_bound(c)]

    def sync(self, namespace: str, name: str) -> None:
        if namespace:
            self._sync_claim(namespace, name)
        else:
            self._sync_volume(name)

    def _resync(self, key: Key) -> None:
        """Come back to a pending claim after the sync period, once however often it was synced meanwhile."""
        if key not in self._resyncs:
            self._resyncs.add(key)
            self.loop.call_later(RESYNC_SECONDS, self._resync_due, key)

    def _resync_due(self, key: Key) -> None:
        self._resyncs.discard(key)
        self.enqueue(key)

    # --- claims -------------------------------------------------------------------------------------------

    def _sync_claim(self, namespace: str, name: str) -> None:
        claim = self.store.get(_CLAIMS, namespace, name)
        if claim is None or claim["metadata"].get("deletionTimestamp"):
            return
        if fully_bound(claim):
            self._sync_bound_claim(claim)
            return
        if needs_default_class(claim) and self._assign_default_class(claim):
            return
        if (claim.get("spec") or {}).get("volumeName"):
            self._sync_requested_volume(claim)
            return
        volume = self._best_match(claim)
        if volume is not None:
            self._bind(volume, claim)
            return
        if self._delayed(claim) and SELECTED_NODE not in (claim["metadata"].get("annotations") or {}):
            self._emit_waiting(claim)
        elif claim_class(claim):
            self._provision(claim)
        else:
            self._event(claim, "Normal", "FailedBinding",
                        "no persistent volumes available for this claim and no storage class is set")
        self._set_claim_status(claim, {"phase": "Pending"})
        self._resync((namespace, name))

    def _assign_default_class(self, claim: dict) -> bool:
        """Retroactive default StorageClass assignment for claims created before a default existed."""
        chosen = default_class(self.store.list(_CLASSES)[0])
        if chosen is None:
            return False
        updated = clone(claim)
        updated.setdefault("spec", {})["storageClassName"] = chosen["metadata"]["name"]
        return self._update(_CLAIMS, updated) is not None

    def _sync_requested_volume(self, claim: dict) -> None:
        """The user named spec.volumeName: bind to it if it is free and fits."""
        volume = self.store.get(_VOLUMES, "", claim["spec"]["volumeName"])
        if volume is None:
            self._set_claim_status(claim, {"phase": "Pending"})
            self._resync((claim["metadata"]["namespace"], claim["metadata"]["name"]))
            return
        ref = volume["spec"].get("claimRef")
        if ref and (ref.get("name"), ref.get("namespace")) != (claim["metadata"]["name"],
                                                                 claim["metadata"]["namespace"]):
            self._event(claim, "Warning", "FailedBinding",
                        f'volume "{volume["metadata"]["name"]}" already bound to a different claim.')
        elif _mismatch(volume, claim):
            self._event(claim, "Warning", "VolumeMismatch",
                        f'Cannot bind to requested volume "{volume["metadata"]["name"]}": {_mismatch(volume, claim)}')
        elif volume_matches_claim(volume, claim):
            self._bind(volume, claim)
            return
        self._set_claim_status(claim, {"phase": "Pending"})

    def _sync_bound_claim(self, claim: dict) -> None:
        volume = self.store.get(_VOLUMES, "", claim["spec"]["volumeName"])
        if volume is None:
            if (claim.get("status") or {}).get("phase") != "Lost":
                self._set_claim_status(claim, {"phase": "Lost"})
                self._event(claim, "Warning", "ClaimLost",
                            "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
            return
        if (claim.get("status") or {}).get("phase") != "Bound":
            self._bind(volume, claim)

    def _best_match(self, claim: dict) -> dict | None:
        """findBestMatchForClaim: a volume pre-bound to the claim first, else the smallest that fits; with
        delayed binding only pre-bound volumes (the scheduler picks the others)."""
        volumes = [v for v in self.store.list(_VOLUMES)[0] if volume_matches_claim(v, claim)]
        prebound = [v for v in volumes if (v["spec"].get("claimRef") or {}).get("name")]
        if prebound or self._delayed(claim):
            return prebound[0] if prebound else None
        return min(volumes, key=lambda v: quantity((v["spec"].get("capacity") or {}).get("storage")).value,
                   default=None)

    def _delayed(self, claim: dict) -> bool:
        cls = self.store.get(_CLASSES, "", claim_class(claim)) if claim_class(claim) else None
        return bool(cls) and cls.get("volumeBindingMode") == "WaitForFirstConsumer"

    def _emit_waiting(self, claim: dict) -> None:
        """emitEventForUnboundDelayBindingClaim."""
        names = sorted(p["metadata"]["name"] for p in self.store.list(_PODS, claim["metadata"]["namespace"])[0]
                       if claim["metadata"]["name"] in pod_claim_names(p) and not p["spec"].get("nodeName")
                       and not is_terminal(p))
        if not names:
            self._event(claim, "Normal", "WaitForFirstConsumer",
                        "waiting for first consumer to be created before binding")
        elif len(names) == 1:
            self._event(claim, "Normal", "WaitForPodScheduled", f"waiting for pod {names[0]} to be scheduled")
        else:
            self._event(claim, "Normal", "WaitForPodScheduled",
                        f"waiting for pods {','.join(names)} to be scheduled")

    def _provision(self, claim: dict) -> None:
        """provisionClaim: the class must exist and name an external provisioner (in-tree plugins are gone)."""
        class_name = claim_class(claim)
        cls = self.store.get(_CLASSES, "", class_name)
        if cls is None:
            self._event(claim, "Warning", "ProvisioningFailed",
                        f'storageclass.storage.k8s.io "{class_name}" not found')
            return
        provisioner = cls.get("provisioner", "")
        if provisioner.startswith("kubernetes.io/"):
            self._event(claim, "Warning", "ProvisioningFailed", f"no volume plugin matched name: {provisioner}")
            return
        annotations = claim["metadata"].get("annotations") or {}
        if annotations.get(STORAGE_PROVISIONER) != provisioner:
            updated = clone(claim)
            updated["metadata"].setdefault("annotations", {}).update(
                {STORAGE_PROVISIONER_BETA: provisioner, STORAGE_PROVISIONER: provisioner})
            claim = self._update(_CLAIMS, updated) or claim
        self._event(claim, "Normal", "ExternalProvisioning",
                    f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or "
                    "manually by the system administrator. If volume creation is delayed, please verify that the "
                    "provisioner is running and correctly registered.")
        uid = claim["metadata"]["uid"]
        if uid not in self._provisioning:
            self._provisioning.add(uid)
            self.loop.call_later(PICKUP_SECONDS, self._provisioner_start, claim["metadata"]["namespace"],
                                 claim["metadata"]["name"], uid)

    def _bind(self, volume: dict, claim: dict) -> None:
        """bind(): claimRef and phase on the volume, volumeName, annotations and status on the claim."""
        meta = claim["metadata"]
        if not (volume["spec"].get("claimRef") or {}).get("uid"):
            updated = clone(volume)
            if not (updated["spec"].get("claimRef") or {}).get("name"):
                updated["metadata"].setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
            updated["spec"]["claimRef"] = claim_ref(claim)
            volume = self._update(_VOLUMES, updated) or volume
        self._set_volume_phase(volume, "Bound")
        updated_claim = clone(claim)
        annotations = updated_claim["metadata"].setdefault("annotations", {})
        if not claim["spec"].get("volumeName"):
            annotations[BOUND_BY_CONTROLLER] = "yes"
        annotations[BIND_COMPLETED] = "yes"
        updated_claim["spec"]["volumeName"] = volume["metadata"]["name"]
        stored = self._update(_CLAIMS, updated_claim) if updated_claim != claim else claim
        if stored is None:
            return
        self._set_claim_status(stored, {"phase": "Bound", "accessModes": list(volume["spec"].get("accessModes") or []),
                                        "capacity": dict(volume["spec"].get("capacity") or {})})
        self._provisioning.discard(meta.get("uid", ""))

    # --- the external provisioner --------------------------------------------------------------------------

    def _provisioner_start(self, namespace: str, name: str, uid: str) -> None:
        claim = self._pending_claim(namespace, name, uid)
        if claim is None:
            return
        cls = self.store.get(_CLASSES, "", claim_class(claim)) or {}
        identity = self._identity(cls.get("provisioner", ""))
        self.ctx.events.record(claim, "Normal", "Provisioning",
                               f'External provisioner is provisioning volume for claim "{namespace}/{name}"',
                               identity)
        self.loop.call_later(PROVISION_SECONDS, self._provisioner_finish, namespace, name, uid)

    def _provisioner_finish(self, namespace: str, name: str, uid: str) -> None:
        claim = self._pending_claim(namespace, name, uid)
        if claim is None:
            return
        class_name = claim_class(claim)
        cls = self.store.get(_CLASSES, "", class_name)
        if cls is None:
            self._provisioning.discard(uid)
            return
        identity = self._identity(cls.get("provisioner", ""))
        error = (cls["metadata"].get("annotations") or {}).get(PROVISIONING_ERROR_ANNOTATION)
        if error:
            self.ctx.events.record(claim, "Warning", "ProvisioningFailed",
                                   f'failed to provision volume with StorageClass "{class_name}": {error}', identity)
            self.loop.call_later(RESYNC_SECONDS, self._provisioner_start, namespace, name, uid)
            return
        volume = provisioned_volume(claim, cls)
        try:
            self.api.create(self.api.rt(_VOLUMES), None, volume)
        except ApiError:
            self._provisioning.discard(uid)
            return
        self.ctx.events.record(claim, "Normal", "ProvisioningSucceeded",
                               f"Successfully provisioned volume {volume['metadata']['name']}", identity)
        self.enqueue((namespace, name))

    def _pending_claim(self, namespace: str, name: str, uid: str) -> dict | None:
        claim = self.store.get(_CLAIMS, namespace, name)
        if (claim is None or claim["metadata"].get("uid") != uid or fully_bound(claim)
                or claim["metadata"].get("deletionTimestamp")):
            self._provisioning.discard(uid)
            return None
        return claim

    def _identity(self, provisioner: str) -> str:
        """The provisioner's event source: <name>_<pod or host>_<uuid> as the external-provisioner library sets it."""
        if provisioner not in self._identities:
            host = ("local-path-provisioner-7dc846544d-" + uuid.uuid4().hex[:5]
                    if provisioner == "rancher.io/local-path" else "sim-control-plane")
            self._identities[provisioner] = f"{provisioner}_{host}_{uuid.uuid4()}"
        return self._identities[provisioner]

    # --- volumes ------------------------------------------------------------------------------------------

    def _sync_volume(self, name: str) -> None:
        volume = self.store.get(_VOLUMES, "", name)
        if volume is None or volume["metadata"].get("deletionTimestamp"):
            return
        ref = volume["spec"].get("claimRef") or {}
        if not ref.get("name") or not ref.get("uid"):
            self._set_volume_phase(volume, "Available")
            return
        claim = self.store.get(_CLAIMS, ref.get("namespace", ""), ref["name"])
        if claim is not None and claim["metadata"].get("uid") == ref["uid"]:
            if claim["spec"].get("volumeName") == name:
                self._set_volume_phase(volume, "Bound")
            return
        if (volume.get("status") or {}).get("phase") not in ("Released", "Failed"):
            volume = self._set_volume_phase(volume, "Released") or volume
        if volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete" and PROVISIONED_BY in (
                volume["metadata"].get("annotations") or {}):
            self.loop.call_later(PICKUP_SECONDS, self._reclaim, name, volume["metadata"]["uid"])

    def _reclaim(self, name: str, uid: str) -> None:
        """The provisioner deletes the storage asset and the Released volume object."""
        volume = self.store.get(_VOLUMES, "", name)
        if volume is None or volume["metadata"].get("uid") != uid or volume["metadata"].get("deletionTimestamp"):
            return
        try:
            self.api.delete(self.api.rt(_VOLUMES), "", name)
        except ApiError:
            return

    # --- writes -------------------------------------------------------------------------------------------

    def _event(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        self.ctx.events.record(obj, event_type, reason, message, PV_CONTROLLER)

    def _update(self, key: str, obj: dict) -> dict | None:
        meta = obj["metadata"]
        try:
            return self.api.update(self.api.rt(key), meta.get("namespace", ""), meta["name"], obj)
        except ApiError:
            return None

    def _set_claim_status(self, claim: dict, status: dict) -> None:
        current = self.store.get(_CLAIMS, claim["metadata"]["namespace"], claim["metadata"]["name"])
        if current is None or current.get("status") == status:
            return
        updated = clone(current)
        updated["status"] = status
        try:
            self.api.update(self.api.rt(_CLAIMS), claim["metadata"]["namespace"], claim["metadata"]["name"],
                            updated, subresource="status")
        except ApiError:
            return

    def _set_volume_phase(self, volume: dict, phase: str) -> dict | None:
        current = self.store.get(_VOLUMES, "", volume["metadata"]["name"])
        if current is None or (current.get("status") or {}).get("phase") == phase:
            return current
        updated = clone(current)
        updated["status"] = {"phase": phase, "lastPhaseTransitionTime": self.loop.clock.stamp()}
        try:
            return self.api.update(self.api.rt(_VOLUMES), "", volume["metadata"]["name"], updated,
                                   subresource="status")
        except ApiError:
            return None


def provisioned_volume(claim: dict, cls: dict) -> dict:
    """The PV an external provisioner creates for a claim (local-path's shape: hostPath, node affinity)."""
    meta, spec = claim["metadata"], claim.get("spec") or {}
    name = f"pvc-{meta['uid']}"
    node = (meta.get("annotations") or {}).get(SELECTED_NODE)
    provisioner = cls.get("provisioner", "")
    annotations = {PROVISIONED_BY: provisioner}
    volume_spec: dict = {
        "accessModes": list(spec.get("accessModes") or []),
        "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")},
        "claimRef": claim_ref(claim),
        "hostPath": {"path": f"/var/local-path-provisioner/{name}_{meta['namespace']}_{meta['name']}",
                     "type": "DirectoryOrCreate"},
        "persistentVolumeReclaimPolicy": cls.get("reclaimPolicy") or "Delete",
        "storageClassName": claim_class(claim),
        "volumeMode": spec.get("volumeMode") or "Filesystem",
    }
    if cls.get("mountOptions"):
        volume_spec["mountOptions"] = list(cls["mountOptions"])
    if node:
        annotations["local.path.provisioner/selected-node"] = node
        volume_spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": annotations}, "spec": volume_spec}


def pod_claims(pod: dict) -> list[tuple[str, bool]]:
    """(claim name, from a generic ephemeral volume) for every PVC the pod mounts; an ephemeral volume's claim
    is `<pod>-<volume>`."""
    out = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if "persistentVolumeClaim" in volume:
            out.append((volume["persistentVolumeClaim"].get("claimName", ""), False))
        elif "ephemeral" in volume:
            out.append((f"{pod['metadata']['name']}-{volume.get('name', '')}", True))
    return out


def pod_claim_names(pod: dict) -> list[str]:
    return [name for name, _ in pod_claims(pod)]


def fully_bound(claim: dict) -> bool:
    """isPVCFullyBound: a volume is named and the PV controller marked the binding complete."""
    return bool((claim.get("spec") or {}).get("volumeName")) and BIND_COMPLETED in (
        claim["metadata"].get("annotations") or {})


def claim_class(claim: dict) -> str:
    """GetPersistentVolumeClaimClass: the legacy beta annotation wins over spec.storageClassName."""
    legacy = (claim["metadata"].get("annotations") or {}).get(LEGACY_CLASS)
    return legacy if legacy is not None else (claim.get("spec") or {}).get("storageClassName") or ""


def volume_class(volume: dict) -> str:
    """GetPersistentVolumeClass, which reads a PV's class the way GetPersistentVolumeClaimClass reads a claim's."""
    return claim_class(volume)


def claim_ref(claim: dict) -> dict:
    meta = claim["metadata"]
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
            "name": meta["name"], "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}


def volume_matches_claim(volume: dict, claim: dict) -> bool:
    """Free (or pre-bound to this claim) and checkVolumeSatisfyClaim passes."""
    ref = (volume.get("spec") or {}).get("claimRef")
    meta = claim["metadata"]
    if ref and (ref.get("name") != meta["name"] or ref.get("namespace") != meta["namespace"]
                or (ref.get("uid") and ref["uid"] != meta.get("uid"))):
        return False
    if (volume.get("status") or {}).get("phase") in ("Released", "Failed") or volume["metadata"].get(
            "deletionTimestamp"):
        return False
    return _mismatch(volume, claim) == ""


def _mismatch(volume: dict, claim: dict) -> str:
    """checkVolumeSatisfyClaim's reason, "" when the volume satisfies the claim."""
    spec, claim_spec = volume.get("spec") or {}, claim.get("spec") or {}
    wanted = quantity(((claim_spec.get("resources") or {}).get("requests") or {}).get("storage"))
    if quantity((spec.get("capacity") or {}).get("storage")).value < wanted.value:
        return "requested PV is too small"
    if volume_class(volume) != claim_class(claim):
        return "storageClassName does not match"
    if (spec.get("volumeMode") or "Filesystem") != (claim_spec.get("volumeMode") or "Filesystem"):
        return "incompatible volumeMode"
    if not set(claim_spec.get("accessModes") or []) <= set(spec.get("accessModes") or []):
        return "incompatible accessMode"
    return ""


# --- protection and ephemeral volumes ---------------------------------------------------------------------

class ProtectionController(Controller):
    """pvc-protection and pv-protection: a deleted claim goes once no pod uses it, a deleted volume once it
    is no longer Bound. Keys are (namespace, claim) for claims and ("", volume) for volumes."""

    name = "pvc-protection-controller"
    watches = (_CLAIMS, _VOLUMES, _PODS)

    def keys_for(self, change: Change) -> Iterable[Key]:
        obj = change.obj
        if change.key == _PODS:
            gone = change.type == "DELETED" or is_terminal(obj)
            return [(obj["metadata"]["namespace"], name) for name in pod_claim_names(obj)] if gone else []
        return [(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])]

    def sync(self, namespace: str, name: str) -> None:
        key = _CLAIMS if namespace else _VOLUMES
        obj = self.store.get(key, namespace, name)
        finalizer = PVC_PROTECTION if namespace else PV_PROTECTION
        if obj is None or not obj["metadata"].get("deletionTimestamp") or finalizer not in (
                obj["metadata"].get("finalizers") or []):
            return
        if self._in_use(obj, namespace, name):
            return
        updated = clone(obj)
        updated["metadata"]["finalizers"] = [f for f in obj["metadata"]["finalizers"] if f != finalizer]
        try:
            self.api.update(self.api.rt(key), namespace, name, updated)
        except ApiError:
            return

    def _in_use(self, obj: dict, namespace: str, name: str) -> bool:
        if not namespace:
            return (obj.get("status") or {}).get("phase") == "Bound"
        return any(name in pod_claim_names(p) and not is_terminal(p)
                   for p in self.store.list(_PODS, namespace)[0])


class EphemeralVolumeController(Controller):
    """Creates the claim of each generic ephemeral volume, owned by its pod."""

    name = "ephemeral-volume-controller"
    watches = (_PODS,)

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.type == "DELETED" or not any(ephemeral for _, ephemeral in pod_claims(change.obj)):
            return []
        return super().keys_for(change)

    def sync(self, namespace: str, name: str) -> None:
        pod = self.store.get(_PODS, namespace, name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        for volume in pod["spec"].get("volumes") or []:
            template = (volume.get("ephemeral") or {}).get("volumeClaimTemplate")
            claim_name = f"{name}-{volume.get('name', '')}"
            if template is None or self.store.get(_CLAIMS, namespace, claim_name) is not None:
                continue
            claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": {**clone(template.get("metadata") or {}), "name": claim_name,
                                  "namespace": namespace,
                                  "ownerReferences": [new_controller_ref(pod)]},
                     "spec": clone(template.get("spec") or {})}
            try:
                self.api.create(self.api.rt(_CLAIMS), namespace, claim)
            except ApiError:
                continue


CONTROLLERS = (PersistentVolumeController, ProtectionController, EphemeralVolumeController)
