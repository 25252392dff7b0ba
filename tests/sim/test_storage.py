"""PVC binding: default StorageClass admission, dynamic and static provisioning, the PV controller's events."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kubernetes import client

from kubedog_ci.sim.controllers.storage import claim_class, default_class, volume_matches_claim
from tests.support import Kube

EXTERNAL_PROVISIONING = (
    "Waiting for a volume to be created either by the external provisioner 'rancher.io/local-path' or manually by "
    "the system administrator. If volume creation is delayed, please verify that the provisioner is running and "
    "correctly registered.")


def _claim(name: str, annotations: dict | None = None, **spec: object) -> dict:
    meta: dict = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, **spec}}


def _events(kube: Kube, name: str) -> list[tuple[str, str, str, str]]:
    items = kube.core.list_namespaced_event("default", field_selector=f"involvedObject.name={name}").items
    return [(e.type, e.reason, e.message, e.source.component) for e in items]


def _bound(kube: Kube, eventually: Callable, name: str) -> client.V1PersistentVolumeClaim:
    def check() -> object:
        claim = kube.core.read_namespaced_persistent_volume_claim(name, "default")
        return claim if claim.status.phase == "Bound" else None
    return eventually(check, 10, message=f"{name} to be Bound")


def test_default_class_is_assigned_and_a_volume_provisioned(kube: Kube, eventually: Callable) -> None:
    created = kube.core.create_namespaced_persistent_volume_claim("default", _claim("data"))
    assert created.spec.storage_class_name == "standard"
    assert created.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    claim = _bound(kube, eventually, "data")
    volume_name = f"pvc-{claim.metadata.uid}"
    assert claim.spec.volume_name == volume_name
    assert (claim.status.capacity, claim.status.access_modes) == ({"storage": "1Gi"}, ["ReadWriteOnce"])
    assert claim.metadata.annotations == {
        "pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes",
        "volume.beta.kubernetes.io/storage-provisioner": "rancher.io/local-path",
        "volume.kubernetes.io/storage-provisioner": "rancher.io/local-path"}
    volume = kube.core.read_persistent_volume(volume_name)
    assert volume.status.phase == "Bound"
    assert (volume.spec.claim_ref.name, volume.spec.claim_ref.uid) == ("data", claim.metadata.uid)
    assert (volume.spec.storage_class_name, volume.spec.persistent_volume_reclaim_policy) == ("standard", "Delete")
    assert volume.spec.capacity == {"storage": "1Gi"} and volume.spec.host_path.path.startswith(
        f"/var/local-path-provisioner/{volume_name}_default_data")
    assert volume.metadata.annotations["pv.kubernetes.io/provisioned-by"] == "rancher.io/local-path"
    events = _events(kube, "data")
    assert ("Normal", "ExternalProvisioning", EXTERNAL_PROVISIONING, "persistentvolume-controller") in events
    by_reason = {reason: (kind, message, source) for kind, reason, message, source in events}
    assert by_reason["Provisioning"][:2] == ("Normal", 'External provisioner is provisioning volume for claim '
                                                       '"default/data"')
    assert by_reason["ProvisioningSucceeded"][:2] == ("Normal", f"Successfully provisioned volume {volume_name}")
    assert by_reason["ProvisioningSucceeded"][2].startswith("rancher.io/local-path_local-path-provisioner-")


def test_legacy_annotation_names_the_class(kube: Kube, eventually: Callable) -> None:
    created = kube.core.create_namespaced_persistent_volume_claim("default", _claim(
        "legacy", {"volume.beta.kubernetes.io/storage-class": "standard"}))
    assert created.spec.storage_class_name is None
    claim = _bound(kube, eventually, "legacy")
    assert kube.core.read_persistent_volume(claim.spec.volume_name).spec.storage_class_name == "standard"


def test_missing_class_fails_provisioning_until_it_is_created(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_persistent_volume_claim("default", _claim("fast", storageClassName="fast"))
    failed = ("Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found',
              "persistentvolume-controller")
    eventually(lambda: failed in _events(kube, "fast"), 10, message="ProvisioningFailed")
    assert kube.core.read_namespaced_persistent_volume_claim("fast", "default").status.phase == "Pending"
    kube.storage.create_storage_class({"metadata": {"name": "fast"}, "provisioner": "example.com/fast",
                                       "reclaimPolicy": "Retain"})
    claim = _bound(kube, eventually, "fast")
    assert kube.core.read_persistent_volume(claim.spec.volume_name).spec.persistent_volume_reclaim_policy == "Retain"


def test_wait_for_first_consumer_provisions_on_the_pods_node(kube: Kube, eventually: Callable) -> None:
    kube.storage.create_storage_class({"metadata": {"name": "local"}, "provisioner": "rancher.io/local-path",
                                       "volumeBindingMode": "WaitForFirstConsumer"})
    kube.core.create_namespaced_persistent_volume_claim("default", _claim("cache", storageClassName="local"))
    waiting = ("Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding",
               "persistentvolume-controller")
    eventually(lambda: waiting in _events(kube, "cache"), 10, message="WaitForFirstConsumer")
    assert kube.core.read_namespaced_persistent_volume_claim("cache", "default").status.phase == "Pending"
    kube.core.create_namespaced_pod("default", {"metadata": {"name": "consumer"}, "spec": {
        "containers": [{"name": "app", "image": "nginx"}],
        "volumes": [{"name": "cache", "persistentVolumeClaim": {"claimName": "cache"}}]}})
    node = eventually(lambda: kube.core.read_namespaced_pod("consumer", "default").spec.node_name, 10,
                      message="consumer to be scheduled")
    claim = _bound(kube, eventually, "cache")
    assert claim.metadata.annotations["volume.kubernetes.io/selected-node"] == node
    affinity = kube.core.read_persistent_volume(claim.spec.volume_name).spec.node_affinity
    assert affinity.required.node_selector_terms[0].match_expressions[0].values == [node]


def test_static_volume_is_bound_to_a_classless_claim(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_persistent_volume_claim("default", _claim("static", storageClassName=""))
    failed = ("Normal", "FailedBinding", "no persistent volumes available for this claim and no storage class is set",
              "persistentvolume-controller")
    eventually(lambda: failed in _events(kube, "static"), 10, message="FailedBinding")
    for name, size in (("small", "512Mi"), ("right", "2Gi"), ("large", "10Gi")):
        kube.core.create_persistent_volume({"metadata": {"name": name}, "spec": {
            "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": f"/data/{name}"},
            "persistentVolumeReclaimPolicy": "Retain"}})
    claim = _bound(kube, eventually, "static")
    assert (claim.spec.volume_name, claim.status.capacity) == ("right", {"storage": "2Gi"})
    volume = eventually(lambda: (v := kube.core.read_persistent_volume("right")).status.phase == "Bound" and v, 10,
                        message="volume Bound")
    assert volume.metadata.annotations == {"pv.kubernetes.io/bound-by-controller": "yes"}
    assert kube.core.read_persistent_volume("large").status.phase == "Available"


def test_requested_volume_that_is_too_small_is_a_mismatch(kube: Kube, eventually: Callable) -> None:
    kube.core.create_persistent_volume({"metadata": {"name": "tiny"}, "spec": {
        "capacity": {"storage": "100Mi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data/tiny"}}})
    kube.core.create_namespaced_persistent_volume_claim("default", _claim("named", storageClassName="",
                                                                          volumeName="tiny"))
    mismatch = ("Warning", "VolumeMismatch", 'Cannot bind to requested volume "tiny": requested PV is too small',
                "persistentvolume-controller")
    eventually(lambda: mismatch in _events(kube, "named"), 10, message="VolumeMismatch")
    assert kube.core.read_namespaced_persistent_volume_claim("named", "default").status.phase == "Pending"


def test_deleting_a_claim_releases_and_reclaims_its_volume(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_persistent_volume_claim("default", _claim("scratch"))
    volume_name = _bound(kube, eventually, "scratch").spec.volume_name
    kube.core.delete_namespaced_persistent_volume_claim("scratch", "default")
    eventually(lambda: volume_name not in {v.metadata.name for v in kube.core.list_persistent_volume().items}, 10,
               message="the volume to be deleted")
    assert not kube.core.list_namespaced_persistent_volume_claim("default").items


def test_claim_in_use_is_kept_until_its_pod_is_gone(kube: Kube, eventually: Callable) -> None:
    kube.core.create_namespaced_persistent_volume_claim("default", _claim("used"))
    _bound(kube, eventually, "used")
    kube.core.create_namespaced_pod("default", {"metadata": {"name": "user"}, "spec": {
        "schedulerName": "nobody", "containers": [{"name": "app", "image": "nginx"}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "used"}}]}})
    kube.core.delete_namespaced_persistent_volume_claim("used", "default")
    claim = kube.core.read_namespaced_persistent_volume_claim("used", "default")
    assert claim.metadata.deletion_timestamp is not None
    assert claim.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    kube.core.delete_namespaced_pod("user", "default", grace_period_seconds=0)
    eventually(lambda: not kube.core.list_namespaced_persistent_volume_claim("default").items, 10,
               message="the claim to go")


# --- pure functions ------------------------------------------------------------------------------------------

def _class(name: str, created: str, default: str | None = "true", beta: bool = False) -> dict:
    key = "storageclass.beta.kubernetes.io/is-default-class" if beta else \
        "storageclass.kubernetes.io/is-default-class"
    annotations = {key: default} if default is not None else {}
    return {"metadata": {"name": name, "creationTimestamp": created, "annotations": annotations}}


@pytest.mark.parametrize(("classes", "expected"), [
    ([_class("a", "2024-01-01T00:00:00Z"), _class("b", "2024-01-02T00:00:00Z")], "b"),
    ([_class("b", "2024-01-01T00:00:00Z"), _class("a", "2024-01-01T00:00:00Z")], "a"),
    ([_class("a", "2024-01-01T00:00:00Z", "false"), _class("b", "2024-01-01T00:00:00Z", None)], None),
    ([_class("old", "2024-01-01T00:00:00Z", beta=True)], "old"),
])
def test_default_class_prefers_the_newest(classes: list[dict], expected: str | None) -> None:
    chosen = default_class(classes)
    assert (chosen["metadata"]["name"] if chosen else None) == expected


@pytest.mark.parametrize(("annotations", "class_name", "expected"), [
    ({}, "gold", "gold"),
    ({"volume.beta.kubernetes.io/storage-class": "legacy"}, "gold", "legacy"),
    ({}, None, ""),
])
def test_claim_class(annotations: dict, class_name: str | None, expected: str) -> None:
    claim = {"metadata": {"annotations": annotations}, "spec": {"storageClassName": class_name}}
    assert claim_class(claim) == expected


def _volume(size: str = "1Gi", modes: tuple = ("ReadWriteOnce",), cls: str = "", **extra: object) -> dict:
    return {"metadata": {"name": "pv"}, "spec": {"capacity": {"storage": size}, "accessModes": list(modes),
                                                 "storageClassName": cls, **extra}}


@pytest.mark.parametrize(("volume", "expected"), [
    (_volume(), True),
    (_volume("512Mi"), False),
    (_volume(modes=("ReadOnlyMany",)), False),
    (_volume(cls="gold"), False),
    (_volume(volumeMode="Block"), False),
    (_volume(claimRef={"namespace": "default", "name": "other"}), False),
    (_volume(claimRef={"namespace": "default", "name": "c"}), True),
])
def test_volume_matches_claim(volume: dict, expected: bool) -> None:
    claim = _claim("c", storageClassName="")
    claim["metadata"].update(namespace="default", uid="u1")
    assert volume_matches_claim(volume, claim) is expected
