"""Namespace deletion and the default ServiceAccount, through the official Python client and kubectl."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from kubernetes.client.exceptions import ApiException

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.controllers.namespace import deletion_conditions, merge_conditions
from tests.support import Kube, cluster_kube, kubectl, make_kube, wait_until

HOLD = "example.com/hold"
OK_CONDITIONS = [
    ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"),
    ("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
     "All legacy kube types successfully parsed"),
    ("NamespaceDeletionContentFailure", "False", "ContentDeleted",
     "All content successfully deleted, may be waiting on finalization"),
    ("NamespaceContentRemaining", "False", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
]


# --- pure functions ---------------------------------------------------------------------------------------

NOW = "2026-01-01T00:00:00Z"


def _summary(conditions: list[dict]) -> list[tuple[str, str, str, str]]:
    return [(c["type"], c["status"], c["reason"], c["message"]) for c in conditions]


def test_deletion_conditions_when_everything_is_gone() -> None:
    assert _summary(deletion_conditions({}, {}, [], NOW)) == OK_CONDITIONS


def test_deletion_conditions_report_remaining_content_sorted() -> None:
    conditions = _summary(deletion_conditions({"pods.": 2, "widgets.example.com": 1},
                                              {"b.io/x": 1, "a.io/y": 2}, ["z failed", "a failed"], NOW))
    assert conditions[2:] == [
        ("NamespaceDeletionContentFailure", "True", "ContentDeletionFailed",
         "Failed to delete all resource types, 2 remaining: a failed, z failed"),
        ("NamespaceContentRemaining", "True", "SomeResourcesRemain",
         "Some resources are remaining: pods. has 2 resource instances, widgets.example.com has 1 resource instances"),
        ("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
         "Some content in the namespace has finalizers remaining: a.io/y in 2 resource instances, "
         "b.io/x in 1 resource instances"),
    ]


def test_merge_conditions_keeps_the_transition_time_unless_the_status_flips() -> None:
    old = deletion_conditions({"pods.": 1}, {}, [], NOW)
    for cond in old:
        cond["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    merged, changed = merge_conditions(old, deletion_conditions({"pods.": 3}, {}, [], NOW))
    assert changed and merged[3]["message"].endswith("pods. has 3 resource instances")
    assert merged[3]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    merged, changed = merge_conditions(merged, deletion_conditions({}, {}, [], NOW))
    assert changed and merged[3]["lastTransitionTime"] != "2020-01-01T00:00:00Z"
    assert merge_conditions(merged, deletion_conditions({}, {}, [], NOW)) == (merged, False)


# --- the cluster ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kc() -> Iterator[Kube]:
    """Handles for a cluster without nodes, so no scheduler or kubelet touches the pods."""
    with cluster_kube(nodes=0) as handles:
        yield handles


def service_accounts(kc: Kube, namespace: str) -> list[str]:
    return [sa.metadata.name for sa in kc.core.list_namespaced_service_account(namespace).items]


def namespace_exists(kc: Kube, name: str) -> bool:
    return any(n.metadata.name == name for n in kc.core.list_namespace().items)


def test_every_namespace_has_a_default_service_account(kc: Kube) -> None:
    for seeded in ("default", "kube-system", "kube-public", "kube-node-lease"):
        wait_until(lambda n=seeded: service_accounts(kc, n) == ["default"], message=f"default SA in {seeded}")
    kc.core.create_namespace({"metadata": {"name": "fresh"}})
    wait_until(lambda: service_accounts(kc, "fresh") == ["default"], message="default SA in a new namespace")
    sa = kc.core.read_namespaced_service_account("default", "fresh")
    assert (sa.api_version, sa.kind, sa.metadata.namespace) == ("v1", "ServiceAccount", "fresh")


def test_a_deleted_default_service_account_is_recreated(kc: Kube) -> None:
    kc.core.create_namespace({"metadata": {"name": "recreate"}})
    wait_until(lambda: service_accounts(kc, "recreate"), message="default SA")
    first = kc.core.read_namespaced_service_account("default", "recreate").metadata.uid
    kc.core.delete_namespaced_service_account("default", "recreate")
    wait_until(lambda: service_accounts(kc, "recreate")
               and kc.core.read_namespaced_service_account("default", "recreate").metadata.uid != first,
               message="a new default SA")


def test_deleting_a_namespace_empties_it_then_removes_it(kc: Kube) -> None:
    kc.core.create_namespace({"metadata": {"name": "doomed"}})
    kc.core.create_namespaced_config_map("doomed", {"metadata": {"name": "held", "finalizers": [HOLD]}})
    kc.core.create_namespaced_config_map("doomed", {"metadata": {"name": "plain"}})
    kc.core.create_namespaced_secret("doomed", {"metadata": {"name": "token"}, "stringData": {"k": "v"}})
    kc.core.create_namespaced_pod("doomed", {"metadata": {"name": "worker"},
                                             "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})
    kc.core.delete_namespace("doomed")
    ns = kc.core.read_namespace("doomed")
    assert ns.metadata.deletion_timestamp is not None and ns.status.phase == "Terminating"
    assert ns.spec.finalizers == ["kubernetes"]

    with pytest.raises(ApiException) as caught:
        kc.core.create_namespaced_config_map("doomed", {"metadata": {"name": "late"}})
    assert caught.value.status == 403
    assert json.loads(caught.value.body)["message"] == (
        'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being '
        "terminated")

    def conditions() -> list[tuple[str, str, str, str]]:
        found = kc.core.read_namespace("doomed").status.conditions or []
        return [(c.type, c.status, c.reason, c.message) for c in found]

    wait_until(conditions, message="deletion conditions")
    assert conditions() == [*OK_CONDITIONS[:3],
                            ("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                             "Some resources are remaining: configmaps. has 1 resource instances"),
                            ("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                             "Some content in the namespace has finalizers remaining: example.com/hold in 1 "
                             "resource instances")]
    assert [c.metadata.name for c in kc.core.list_namespaced_config_map("doomed").items] == ["held"]
    assert not kc.core.list_namespaced_secret("doomed").items and not kc.core.list_namespaced_pod("doomed").items
    assert not kc.core.list_namespaced_service_account("doomed").items
    kc.core.delete_namespace("doomed")  # deleting again changes nothing while content remains
    assert kc.core.read_namespace("doomed").status.phase == "Terminating"

    kc.core.patch_namespaced_config_map("held", "doomed", {"metadata": {"finalizers": None}})
    wait_until(lambda: not namespace_exists(kc, "doomed"), message="the namespace removed")


@pytest.mark.kubectl
def test_kubectl_delete_namespace_waits_until_it_is_gone(kc: Kube) -> None:
    kc.core.create_namespace({"metadata": {"name": "short-lived"}})
    kc.core.create_namespaced_config_map("short-lived", {"metadata": {"name": "data"}})
    done = kubectl(kc, "delete", "namespace", "short-lived", "--timeout=20s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == 'namespace "short-lived" deleted'
    assert not namespace_exists(kc, "short-lived")


@pytest.mark.kubectl
def test_deleting_a_namespace_with_running_workloads(sim_factory: Callable[..., SimCluster]) -> None:
    """Pods terminate gracefully through the kubelet; the namespace waits for them."""
    full = make_kube(sim_factory())
    try:
        full.core.create_namespace({"metadata": {"name": "shop"}})
        labels = {"app": "shop"}
        template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
        full.apps.create_namespaced_deployment("shop", {"metadata": {"name": "shop"}, "spec": {
            "replicas": 2, "selector": {"matchLabels": labels}, "template": template}})
        wait_until(lambda: [p.status.phase for p in full.core.list_namespaced_pod("shop").items] == ["Running"] * 2,
                   message="two running pods")
        done = kubectl(full, "delete", "namespace", "shop", "--timeout=30s")
        assert done.returncode == 0, done.stderr
        assert not namespace_exists(full, "shop")
        assert not full.core.list_pod_for_all_namespaces(label_selector="app=shop").items
    finally:
        full.api_client.close()
