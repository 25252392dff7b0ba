"""Checking the input before apply: types, names, namespaces and duplicates, every problem at its file and line."""

from __future__ import annotations

import pytest

from kubedog_ci.kube.discovery import Resource
from kubedog_ci.manifests.reader import read_text
from kubedog_ci.manifests.validate import InvalidInput, Planned, crd_resources, validate

RBAC = "rbac.authorization.k8s.io"
EXTENSIONS = "apiextensions.k8s.io"
DISCOVERY = [
    Resource("", "v1", "namespaces", "namespace", "Namespace", False, ("ns",)),
    Resource("", "v1", "services", "service", "Service", True, ("svc",)),
    Resource("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    Resource("", "v1", "pods", "pod", "Pod", True, ("po",)),
    Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",)),
    Resource("autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler",
             True, ("hpa",)),
    Resource(RBAC, "v1", "roles", "role", "Role", True),
    Resource(RBAC, "v1", "clusterroles", "clusterrole", "ClusterRole", False),
    Resource(EXTENSIONS, "v1", "customresourcedefinitions", "customresourcedefinition", "CustomResourceDefinition",
             False, ("crd",)),
]
NAMESPACES = {"default", "kube-system"}

CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, kind: Widget, shortNames: [wd]}
  versions:
  - {name: v1, served: true, storage: true}
  - {name: v1alpha1, served: false, storage: false}
"""


def check(text: str, override: str | None = None) -> list[Planned]:
    return validate(list(read_text(text, "in.yaml")), DISCOVERY, NAMESPACES.__contains__, "default", override)


def obj(api_version: str, kind: str, name: str, namespace: str | None = None) -> str:
    ns = f", namespace: {namespace}" if namespace else ""
    return f"---\napiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: '{name}'{ns}}}\n"


@pytest.mark.parametrize(("text", "override", "problem"), [
    (obj("example.com/v1", "Widget", "gear"), None, 'in.yaml:2: no kind "Widget" in API version "example.com/v1" is '
     "served by the cluster (is its CustomResourceDefinition applied?)"),
    (obj("apps/v1", "Deploymnet", "web"), None,
     'in.yaml:2: no kind "Deploymnet" in API version "apps/v1" is served by the cluster'),
    (CRD + obj("example.com/v1alpha1", "Widget", "gear"), None,
     'in.yaml:12: no kind "Widget" in API version "example.com/v1alpha1" is served'),
    (obj("apps/v1", "Deployment", "Web"), None, 'in.yaml:2: deployment.apps/Web: metadata.name: Invalid value: "Web": '
     "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
     "start and end with an alphanumeric character"),
    (obj("v1", "ConfigMap", "x" * 254), None, "metadata.name: Invalid value: \"" + "x" * 254 + '": must be no more '
     "than 253 characters"),
    (obj("v1", "Namespace", "a.b"), None, 'in.yaml:2: namespace/a.b: metadata.name: Invalid value: "a.b": a '
     "lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
     "with an alphanumeric character"),
    (obj("v1", "Namespace", "n" * 64), None, "must be no more than 63 characters"),
    (obj("v1", "Service", "1web"), None, 'in.yaml:2: service/1web: metadata.name: Invalid value: "1web": a DNS-1035 '
     "label must consist of lower case alphanumeric characters or '-', start with an alphabetic character"),
    (obj(f"{RBAC}/v1", "Role", "a/b"), None, "in.yaml:2: role.rbac.authorization.k8s.io/a/b: metadata.name: Invalid "
     "value: \"a/b\": may not contain '/'"),
    (obj(f"{RBAC}/v1", "ClusterRole", ".."), None, "metadata.name: Invalid value: \"..\": may not be '..'"),
    (obj(f"{RBAC}/v1", "ClusterRole", "50%"), None, "may not contain '%'"),
    (obj("apps/v1", "Deployment", "web", "Bad_NS"), None, 'in.yaml:2: deployment.apps/web: metadata.namespace: '
     'Invalid value: "Bad_NS": a lowercase RFC 1123 label must consist'),
    (obj("v1", "ConfigMap", "c", "n" * 64), None, f'in.yaml:2: configmap/c: metadata.namespace: Invalid value: '
     f'"{"n" * 64}": must be no more than 63 characters'),
    (obj("v1", "ConfigMap", "c", "7"), None, 'configmap/c: metadata.namespace: Invalid value: 7: must be a string'),
    ("apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-}\n", None, 'in.yaml:1: Job with '
     'generateName "migrate-": server-side apply needs metadata.name; generateName is not supported'),
    (obj("apps/v1", "Deployment", "web") + obj("apps/v1", "Deployment", "web", "default"), None,
     'in.yaml:6: deployment.apps/web in namespace "default" is also defined at in.yaml:2'),
    (obj(f"{RBAC}/v1", "ClusterRole", "view") + obj(f"{RBAC}/v1", "ClusterRole", "view"), None,
     "in.yaml:6: clusterrole.rbac.authorization.k8s.io/view is also defined at in.yaml:2"),
    (obj("v1", "Namespace", "x", "y"), None,
     'in.yaml:2: namespace/x is cluster-scoped but sets metadata.namespace "y"'),
    (obj("apps/v1", "Deployment", "web", "a"), "b", 'in.yaml:2: deployment.apps/web: the namespace from the provided '
     'object "a" does not match the namespace "b". You must pass \'--namespace=a\' to perform this operation.'),
    (obj("apps/v1", "Deployment", "web", "shop"), None,
     'in.yaml:2: namespace "shop" of deployment.apps/web does not exist and is not created by the input'),
    (obj("v1", "Pod", "p"), "shop", 'in.yaml:2: namespace "shop" of pod/p does not exist and is not created by the'),
])
def test_each_problem(text: str, override: str | None, problem: str) -> None:
    with pytest.raises(InvalidInput) as error:
        check(text, override)
    assert len(error.value.problems) == 1
    assert str(error.value).startswith("in.yaml:")
    assert problem in str(error.value)


def test_every_problem_is_reported_at_once() -> None:
    text = obj("apps/v1", "Deployment", "Web") + obj("v1", "Widget", "w") + obj("v1", "Pod", "p", "gone")
    with pytest.raises(InvalidInput) as error:
        check(text)
    lines = str(error.value).splitlines()
    assert lines[0] == "3 problems in the input; nothing was applied:"
    assert [line.split(": ")[0] for line in lines[1:]] == ["in.yaml:2", "in.yaml:6", "in.yaml:10"]


HAPPY = (obj("example.com/v1", "Widget", "gear", "shop") + CRD.replace("apiVersion", "---\napiVersion", 1)
         + obj("v1", "Namespace", "shop") + obj("apps/v1", "Deployment", "web", "shop") + obj("v1", "Service", "web")
         + obj("autoscaling/v1", "HorizontalPodAutoscaler", "web", "shop") + obj(f"{RBAC}/v1", "Role", "Admin:Ops")
         + obj(f"{RBAC}/v1", "ClusterRole", "Admin:Ops"))


def test_a_valid_input_is_planned_in_input_order() -> None:
    planned = check(HAPPY)
    assert [(p.label, p.namespace, p.resource.api_version, str(p.source)) for p in planned] == [
        ("widget.example.com/gear", "shop", "example.com/v1", "in.yaml:2"),
        ("customresourcedefinition.apiextensions.k8s.io/widgets.example.com", "", "apiextensions.k8s.io/v1",
         "in.yaml:6"),
        ("namespace/shop", "", "v1", "in.yaml:17"),
        ("deployment.apps/web", "shop", "apps/v1", "in.yaml:21"),
        ("service/web", "default", "v1", "in.yaml:25"),
        ("horizontalpodautoscaler.autoscaling/web", "shop", "autoscaling/v1", "in.yaml:29"),
        ("role.rbac.authorization.k8s.io/Admin:Ops", "default", "rbac.authorization.k8s.io/v1", "in.yaml:33"),
        ("clusterrole.rbac.authorization.k8s.io/Admin:Ops", "", "rbac.authorization.k8s.io/v1", "in.yaml:37"),
    ]
    assert planned[0].resource.path("shop", "gear") == "/apis/example.com/v1/namespaces/shop/widgets/gear"
    assert (planned[3].kind, planned[3].name, planned[3].obj["metadata"]["namespace"]) == ("Deployment", "web", "shop")


@pytest.mark.parametrize(("written", "override", "namespace"), [
    (None, "shop", "shop"),
    ("shop", "shop", "shop"),
    ("shop", None, "shop"),
    (None, None, "default"),
])
def test_namespace_override(written: str | None, override: str | None, namespace: str) -> None:
    planned = check(obj("v1", "Namespace", "shop") + obj("v1", "ConfigMap", "c", written), override)
    assert [p.namespace for p in planned] == ["", namespace]


def test_crd_resources_are_its_served_versions() -> None:
    text = CRD.replace("served: false", "served: true").replace("Namespaced", "Cluster") + obj("v1", "Pod", "p")
    assert crd_resources(list(read_text(text, "in.yaml"))) == [
        Resource("example.com", version, "widgets", "widget", "Widget", False, ("wd",))
        for version in ("v1", "v1alpha1")
    ]
