"""Apply order: namespaces and CRDs, what workloads consume, Services, workloads, the rest; input order within."""

from __future__ import annotations

import pytest

from kubedog_ci.kube.discovery import Resource
from kubedog_ci.manifests.order import apply_order
from kubedog_ci.manifests.reader import Manifest, Source
from kubedog_ci.manifests.validate import Planned


def planned(api_version: str, kind: str, name: str) -> Planned:
    group, _, version = api_version.rpartition("/")
    resource = Resource(group, version, kind.lower() + "s", kind.lower(), kind, True)
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
    return Planned(Manifest(obj, Source("in.yaml", 1)), resource, "default")


@pytest.mark.parametrize(("given", "expected"), [
    ([("apps/v1", "Deployment", "web"), ("v1", "Service", "web"), ("v1", "ConfigMap", "cfg"),
      ("v1", "Namespace", "shop")],
     ["Namespace/shop", "ConfigMap/cfg", "Service/web", "Deployment/web"]),
    ([("example.com/v1", "Widget", "gear"), ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets"),
      ("networking.k8s.io/v1", "Ingress", "web"), ("batch/v1", "Job", "migrate")],
     ["CustomResourceDefinition/widgets", "Job/migrate", "Widget/gear", "Ingress/web"]),
    ([("rbac.authorization.k8s.io/v1", "RoleBinding", "rb"), ("rbac.authorization.k8s.io/v1", "Role", "r"),
      ("v1", "ServiceAccount", "sa"), ("v1", "Secret", "s"), ("v1", "PersistentVolumeClaim", "data")],
     ["RoleBinding/rb", "Role/r", "ServiceAccount/sa", "Secret/s", "PersistentVolumeClaim/data"]),
    ([("autoscaling/v2", "HorizontalPodAutoscaler", "web"), ("admissionregistration.k8s.io/v1",
      "ValidatingWebhookConfiguration", "hook"), ("apps/v1", "StatefulSet", "db"), ("v1", "Pod", "p"),
      ("apps/v1", "DaemonSet", "agent"), ("batch/v1", "CronJob", "nightly"),
      ("policy/v1", "PodDisruptionBudget", "db")],
     ["PodDisruptionBudget/db", "StatefulSet/db", "Pod/p", "DaemonSet/agent", "CronJob/nightly",
      "HorizontalPodAutoscaler/web", "ValidatingWebhookConfiguration/hook"]),
    ([("example.com/v1", "Service", "not-core"), ("v1", "Service", "core")], ["Service/core", "Service/not-core"]),
    ([], []),
])
def test_apply_order(given: list[tuple[str, str, str]], expected: list[str]) -> None:
    ordered = apply_order([planned(*entry) for entry in given])
    assert [f"{p.kind}/{p.name}" for p in ordered] == expected
