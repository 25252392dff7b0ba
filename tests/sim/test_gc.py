"""Garbage collection by ownerReferences, in the three propagation modes, through the official Python client.

Owners and dependents are kinds no controller manages (ConfigMaps, Secrets, bare Pods on a node-less
cluster), so every deletion seen here is the garbage collector's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from kubernetes.client.exceptions import ApiException

from kubedog_ci.sim.cluster import SimCluster
from tests.support import Kube, cluster_kube, kubectl, make_kube, wait_until

HOLD = "example.com/hold"


@pytest.fixture(scope="module")
def kc() -> Iterator[Kube]:
    """Handles for a cluster without nodes, so no scheduler or kubelet touches the pods."""
    with cluster_kube(nodes=0) as handles:
        yield handles


def ref(owner: object, block: bool = False, kind: str = "ConfigMap", api_version: str = "v1") -> dict:
    return {"apiVersion": api_version, "kind": kind, "name": owner.metadata.name,  # type: ignore[attr-defined]
            "uid": owner.metadata.uid, "blockOwnerDeletion": block}  # type: ignore[attr-defined]


def configmap(kc: Kube, ns: str, name: str, *owners: dict, finalizers: tuple[str, ...] = ()) -> object:
    meta: dict = {"name": name, "ownerReferences": list(owners)}
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return kc.core.create_namespaced_config_map(ns, {"metadata": meta, "data": {"k": "v"}})


def pod(kc: Kube, ns: str, name: str, *owners: dict) -> object:
    return kc.core.create_namespaced_pod(ns, {"metadata": {"name": name, "ownerReferences": list(owners)},
                                              "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})


def exists(read: object, *args: str) -> bool:
    try:
        read(*args)  # type: ignore[operator]
    except ApiException as err:
        if err.status == 404:
            return False
        raise
    return True


def configmaps(kc: Kube, ns: str) -> set[str]:
    """The test's ConfigMaps (a real cluster also publishes kube-root-ca.crt in every namespace)."""
    return {c.metadata.name for c in kc.core.list_namespaced_config_map(ns).items} - {"kube-root-ca.crt"}


def release(kc: Kube, ns: str, name: str) -> None:
    kc.core.patch_namespaced_config_map(name, ns, {"metadata": {"finalizers": None}})


def test_background_deletion_collects_the_whole_tree(kc: Kube, ns: str) -> None:
    owner = configmap(kc, ns, "owner")
    child = configmap(kc, ns, "child", ref(owner))
    configmap(kc, ns, "grandchild", ref(child))
    kc.core.create_namespaced_secret(ns, {"metadata": {"name": "secret", "ownerReferences": [ref(owner)]}})
    pod(kc, ns, "worker", ref(child))
    configmap(kc, ns, "bystander")
    kc.core.delete_namespaced_config_map("owner", ns, propagation_policy="Background")
    wait_until(lambda: configmaps(kc, ns) == {"bystander"}, message="the tree collected")
    wait_until(lambda: not exists(kc.core.read_namespaced_pod, "worker", ns), message="the pod collected")
    assert not exists(kc.core.read_namespaced_secret, "secret", ns)


def test_a_dependent_with_another_live_owner_only_loses_the_dangling_reference(kc: Kube, ns: str) -> None:
    first, second = configmap(kc, ns, "first"), configmap(kc, ns, "second")
    configmap(kc, ns, "shared", ref(first), ref(second))
    kc.core.delete_namespaced_config_map("first", ns)
    wait_until(lambda: len(kc.core.read_namespaced_config_map("shared", ns).metadata.owner_references) == 1,
               message="the reference to the deleted owner dropped")
    [left] = kc.core.read_namespaced_config_map("shared", ns).metadata.owner_references
    assert (left.name, left.uid) == ("second", second.metadata.uid)


def test_a_dependent_of_an_owner_that_never_existed_is_collected(kc: Kube, ns: str) -> None:
    configmap(kc, ns, "stray", {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost",
                                "uid": "00000000-0000-0000-0000-000000000000"})
    wait_until(lambda: "stray" not in configmaps(kc, ns), message="the stray dependent collected")


def test_a_reference_to_a_replaced_owner_counts_as_gone(kc: Kube, ns: str) -> None:
    old = configmap(kc, ns, "owner")
    kc.core.delete_namespaced_config_map("owner", ns)
    configmap(kc, ns, "owner")
    configmap(kc, ns, "late", ref(old))
    wait_until(lambda: configmaps(kc, ns) == {"owner"}, message="the dependent of the old owner collected")


def test_foreground_deletion_waits_for_blocking_dependents(kc: Kube, ns: str) -> None:
    owner = configmap(kc, ns, "owner")
    configmap(kc, ns, "blocking", ref(owner, block=True), finalizers=(HOLD,))
    configmap(kc, ns, "free", ref(owner))
    kc.core.delete_namespaced_config_map("owner", ns, propagation_policy="Foreground")
    wait_until(lambda: "free" not in configmaps(kc, ns), message="the non-blocking dependent deleted")
    wait_until(lambda: kc.core.read_namespaced_config_map("blocking", ns).metadata.deletion_timestamp,
               message="the blocking dependent being deleted")
    waiting = kc.core.read_namespaced_config_map("owner", ns)
    assert waiting.metadata.deletion_timestamp is not None
    assert waiting.metadata.finalizers == ["foregroundDeletion"]
    release(kc, ns, "blocking")
    wait_until(lambda: not configmaps(kc, ns), message="the owner gone after its blocking dependent")


def test_foreground_deletion_without_dependents_finishes_at_once(kc: Kube, ns: str) -> None:
    configmap(kc, ns, "alone")
    kc.core.delete_namespaced_config_map("alone", ns, propagation_policy="Foreground")
    wait_until(lambda: not configmaps(kc, ns), message="the owner deleted")


def test_foreground_deletion_cascades_through_dependents_that_own_others(kc: Kube, ns: str) -> None:
    top = configmap(kc, ns, "top")
    middle = configmap(kc, ns, "middle", ref(top, block=True))
    configmap(kc, ns, "bottom", ref(middle, block=True), finalizers=(HOLD,))
    kc.core.delete_namespaced_config_map("top", ns, propagation_policy="Foreground")
    wait_until(lambda: kc.core.read_namespaced_config_map("middle", ns).metadata.finalizers == ["foregroundDeletion"],
               message="the middle object deleted in the foreground too")
    assert configmaps(kc, ns) == {"top", "middle", "bottom"}
    release(kc, ns, "bottom")
    wait_until(lambda: not configmaps(kc, ns), message="the chain removed bottom-up")


def test_orphan_deletion_keeps_dependents_and_strips_the_reference(kc: Kube, ns: str) -> None:
    owner, other = configmap(kc, ns, "owner"), configmap(kc, ns, "other")
    configmap(kc, ns, "only", ref(owner))
    configmap(kc, ns, "both", ref(owner), ref(other))
    pod(kc, ns, "worker", ref(owner, block=True))
    kc.core.delete_namespaced_config_map("owner", ns, propagation_policy="Orphan")
    wait_until(lambda: "owner" not in configmaps(kc, ns), message="the owner deleted")
    assert configmaps(kc, ns) == {"other", "only", "both"}
    assert kc.core.read_namespaced_config_map("only", ns).metadata.owner_references is None
    assert [r.name for r in kc.core.read_namespaced_config_map("both", ns).metadata.owner_references] == ["other"]
    assert kc.core.read_namespaced_pod("worker", ns).metadata.owner_references is None


def test_orphan_deletion_holds_the_owner_until_dependents_are_released(kc: Kube, ns: str) -> None:
    owner = configmap(kc, ns, "owner", finalizers=(HOLD,))
    configmap(kc, ns, "child", ref(owner))
    kc.core.delete_namespaced_config_map("owner", ns, propagation_policy="Orphan")
    wait_until(lambda: kc.core.read_namespaced_config_map("owner", ns).metadata.finalizers == [HOLD],
               message="the orphan finalizer handled")
    assert kc.core.read_namespaced_config_map("child", ns).metadata.owner_references is None
    release(kc, ns, "owner")
    wait_until(lambda: configmaps(kc, ns) == {"child"}, message="the owner gone, the child kept")


def deployment(name: str) -> dict:
    labels = {"app": name}
    return {"metadata": {"name": name}, "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
        "metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}


def app_objects(kc: Kube, app: str) -> tuple[int, int]:
    """(ReplicaSets, pods) labelled app=<app> in the default namespace."""
    selector = f"app={app}"
    return (len(kc.apps.list_namespaced_replica_set("default", label_selector=selector).items),
            len(kc.core.list_namespaced_pod("default", label_selector=selector).items))


@pytest.mark.kubectl
def test_kubectl_delete_deployment_collects_replica_sets_and_pods(sim_factory: Callable[..., SimCluster]) -> None:
    full = make_kube(sim_factory())
    try:
        for app in ("web", "api"):
            full.apps.create_namespaced_deployment("default", deployment(app))
            wait_until(lambda a=app: app_objects(full, a) == (1, 2), message=f"the {app} rollout")
        done = kubectl(full, "delete", "deployment", "web", "--timeout=20s")
        assert done.returncode == 0, done.stderr
        wait_until(lambda: app_objects(full, "web") == (0, 0), message="the ReplicaSet and its pods collected")
        done = kubectl(full, "delete", "deployment", "api", "--cascade=foreground", "--timeout=20s")
        assert done.returncode == 0, done.stderr
        assert app_objects(full, "api") == (0, 0)  # foreground: the Deployment went last
    finally:
        full.api_client.close()


@pytest.mark.kubectl
@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
def test_kubectl_delete_returns_once_the_owner_is_gone(kc: Kube, ns: str, cascade: str) -> None:
    owner = configmap(kc, ns, "owner")
    configmap(kc, ns, "child", ref(owner, block=True))
    done = kubectl(kc, "-n", ns, "delete", "configmap", "owner", f"--cascade={cascade}", "--timeout=20s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('configmap "owner" deleted')
    if cascade == "background":
        wait_until(lambda: not configmaps(kc, ns), message="the child collected")
    else:  # kubectl waited for the owner, which waited for its dependents
        assert configmaps(kc, ns) == ({"child"} if cascade == "orphan" else set())
