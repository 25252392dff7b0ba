"""RBAC as a real API server enforces it, through the official client and the real kubectl with a ServiceAccount's
kubeconfig: the bootstrap roles, bindings in one namespace or cluster-wide, resourceNames and subresources, the
exact 403s, the reviews (`kubectl auth can-i`), tokens, and the admin and `--deny` rules unchanged.

The module's cluster serves HTTPS: kubectl (client-go) sends a kubeconfig's token only over TLS. Each test works
in namespaces and ServiceAccounts of its own.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kubedog_ci.sim import bootstrap_policy
from kubedog_ci.sim.authn import UserInfo
from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import DenyRule
from kubedog_ci.sim.rbac import Attributes, request_attributes, rule_allows
from tests.support import KUBECTL, Kube, kube_for, namespace_name, requires_kubectl, sim_config, wait_until

APPLY_PATCH = "application/apply-patch+yaml"
SA_USER = UserInfo("system:serviceaccount:ci:deployer", ("system:serviceaccounts", "system:authenticated"))


# --- fixtures and helpers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(sim_config(), tls=True) as started:
        yield started


@pytest.fixture(scope="module")
def admin(cluster: SimCluster) -> Iterator[Kube]:
    with kube_for(cluster) as handles:
        yield handles


@pytest.fixture
def ns(admin: Kube, request: pytest.FixtureRequest) -> str:
    """Namespace A of the test (B is `other`)."""
    name = namespace_name(request)[:50].rstrip("-")
    admin.core.create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def other(admin: Kube, ns: str) -> str:
    name = f"{ns}-b"
    admin.core.create_namespace({"metadata": {"name": name}})
    return name


@dataclass
class As:
    """Official-client handles that authenticate with a ServiceAccount's kubeconfig."""

    kubeconfig: str
    api: client.ApiClient
    core: client.CoreV1Api
    apps: client.AppsV1Api
    events: client.EventsV1Api
    rbac: client.RbacAuthorizationV1Api
    authz: client.AuthorizationV1Api
    authn: client.AuthenticationV1Api


Login = Callable[[str], As]
"""The `login` fixture: client handles for a kubeconfig's ServiceAccount."""


@pytest.fixture
def login() -> Iterator[Login]:
    opened: list[client.ApiClient] = []

    def open_as(kubeconfig: str) -> As:
        api = config.new_client_from_config(config_file=kubeconfig)
        opened.append(api)
        return As(kubeconfig, api, client.CoreV1Api(api), client.AppsV1Api(api), client.EventsV1Api(api),
                  client.RbacAuthorizationV1Api(api), client.AuthorizationV1Api(api),
                  client.AuthenticationV1Api(api))

    yield open_as
    for api in opened:
        api.close()


def forbidden(call: Callable[[], object]) -> dict:
    """The Status of a call that must be answered 403."""
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 403, caught.value.body
    return json.loads(caught.value.body)


def status(message: str, details: dict) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": "Forbidden", "details": details, "code": 403}


def user(ns: str, name: str = "deployer") -> str:
    return f'User "system:serviceaccount:{ns}:{name}"'


def deployment(name: str) -> dict:
    return {"metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}}


def pod(name: str, script: str = "echo hello from the pod; sleep 3600") -> dict:
    return {"metadata": {"name": name},
            "spec": {"nodeName": "sim-worker", "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "app", "image": "busybox:1.36", "command": ["sh", "-c", script]}]}}


def log_of(who: As, name: str, namespace: str) -> str:
    """The pod's log so far, "" while its container has not started (the server answers 400 then)."""
    try:
        return who.core.read_namespaced_pod_log(name, namespace)
    except ApiException as err:
        if err.status != 400:
            raise
        return ""


def raw(kubeconfig: str, path: str, token: str | None = None) -> tuple[int, dict | str]:
    """A GET as the kubeconfig's user (or with `token`), outside any client's typed API (non-resource paths)."""
    loaded = yaml.safe_load(Path(kubeconfig).read_text())
    server = loaded["clusters"][0]["cluster"]
    context = ssl.create_default_context(cadata=base64.b64decode(server["certificate-authority-data"]).decode())
    token = token or loaded["users"][0]["user"].get("token")
    request = urllib.request.Request(server["server"] + path,
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            code, body = answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        code, body = err.code, err.read().decode()
    return code, json.loads(body) if body.startswith("{") else body


def kubectl(kubeconfig: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([KUBECTL or "kubectl", "--kubeconfig", kubeconfig, *args], capture_output=True, text=True,
                          timeout=60)


def review(who: As, namespace: str, verb: str, resource: str, group: str = "", name: str = "",
           subresource: str = "") -> dict:
    body = {"spec": {"resourceAttributes": {"namespace": namespace, "verb": verb, "group": group,
                                            "resource": resource, "name": name, "subresource": subresource}}}
    answer = who.authz.create_self_subject_access_review(body, _preload_content=False)
    assert answer.status == 201
    return json.loads(answer.data)["status"]


# --- request attributes and rule matching (pure) ---------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "query", "expected"), [
    ("GET", "/api/v1/namespaces/a/pods", {}, ("list", "", "a", "pods", "", "")),
    ("GET", "/api/v1/namespaces/a/pods", {"watch": "true"}, ("watch", "", "a", "pods", "", "")),
    ("GET", "/api/v1/namespaces/a/pods", {"watch": "0"}, ("list", "", "a", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/a/pods/x", {}, ("watch", "", "a", "pods", "", "x")),
    ("GET", "/api/v1/namespaces/a/pods", {"fieldSelector": "metadata.name=x"}, ("list", "", "a", "pods", "", "x")),
    ("GET", "/api/v1/namespaces/a/pods/x/log", {}, ("get", "", "a", "pods", "log", "x")),
    ("GET", "/api/v1/namespaces/a", {}, ("get", "", "a", "namespaces", "", "a")),
    ("PUT", "/api/v1/namespaces/a/finalize", {}, ("update", "", "a", "namespaces", "finalize", "a")),
    ("GET", "/api/v1/namespaces", {}, ("list", "", "", "namespaces", "", "")),
    ("DELETE", "/apis/apps/v1/namespaces/a/deployments", {}, ("deletecollection", "apps", "a", "deployments", "", "")),
    ("PATCH", "/apis/apps/v1/namespaces/a/deployments/web/scale", {}, ("patch", "apps", "a", "deployments", "scale",
                                                                      "web")),
    ("POST", "/api/v1/namespaces/a/serviceaccounts/ci/token", {}, ("create", "", "a", "serviceaccounts", "token",
                                                                   "ci")),
    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:basic-user", {},
     ("get", "rbac.authorization.k8s.io", "", "clusterroles", "", "system:basic-user")),
])
def test_request_attributes_as_request_info_parses_them(method: str, path: str, query: dict,
                                                         expected: tuple) -> None:
    attrs = request_attributes(SA_USER, method, path, query)
    assert attrs.resource_request
    assert (attrs.verb, attrs.group, attrs.namespace, attrs.resource, attrs.subresource, attrs.name) == expected


@pytest.mark.parametrize(("method", "path", "verb"), [
    ("GET", "/version", "get"), ("GET", "/apis/apps", "get"), ("GET", "/api", "get"), ("GET", "/api/v1", "get"),
    ("POST", "/healthz", "post"), ("GET", "/", "get"), ("GET", "/openapi/v3/apis/apps/v1", "get"),
])
def test_non_resource_requests_keep_path_and_http_verb(method: str, path: str, verb: str) -> None:
    attrs = request_attributes(SA_USER, method, path, {})
    assert (attrs.resource_request, attrs.verb, attrs.path) == (False, verb, path)


def _pods(verb: str, subresource: str = "", name: str = "") -> Attributes:
    return Attributes(SA_USER, verb, "", True, "", "v1", "ci", "pods", subresource, name)


@pytest.mark.parametrize(("rule", "attrs", "allowed"), [
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, _pods("get"), True),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, _pods("deletecollection", "log"), True),
    ({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["pods"]}, _pods("get"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, _pods("get", "log"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, _pods("get", "log"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["*/log"]}, _pods("get", "log"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["*/log"]}, _pods("get"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]}, _pods("get", name="a"),
     True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]}, _pods("get", name="b"),
     False),
    ({"verbs": ["list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]}, _pods("list"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}, Attributes(SA_USER, "get", "/apis/apps/v1"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/apis"]}, Attributes(SA_USER, "get", "/apis/apps"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["*"]}, Attributes(SA_USER, "get", "/metrics"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/metrics"]}, Attributes(SA_USER, "post", "/metrics"), False),
])
def test_rule_matching_as_evaluation_helpers_do(rule: dict, attrs: Attributes, allowed: bool) -> None:
    assert rule_allows(attrs, rule) is allowed


def test_bootstrap_roles_are_aggregated_from_the_real_policy() -> None:
    roles = {r["metadata"]["name"]: r for r in bootstrap_policy.cluster_roles()}
    view, edit, admin = roles["view"]["rules"], roles["edit"]["rules"], roles["admin"]["rules"]
    assert view == roles["system:aggregate-to-view"]["rules"]
    assert edit == roles["system:aggregate-to-edit"]["rules"] + view
    assert admin == edit + roles["system:aggregate-to-admin"]["rules"]
    assert not any("secrets" in r["resources"] for r in view)
    assert {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]} in edit


# --- the bootstrap policy on the cluster ------------------------------------------------------------------------


def test_bootstrap_cluster_roles_and_bindings_are_served(admin: Kube) -> None:
    rbac_api = client.RbacAuthorizationV1Api(admin.api_client)
    served = json.loads(rbac_api.read_cluster_role("edit", _preload_content=False).data)
    expected = {r["metadata"]["name"]: r for r in bootstrap_policy.cluster_roles()}["edit"]
    assert served["rules"] == expected["rules"]
    assert served["aggregationRule"] == {"clusterRoleSelectors": [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}}]}
    assert served["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    names = {r.metadata.name for r in rbac_api.list_cluster_role().items}
    assert {"cluster-admin", "admin", "edit", "view", "system:aggregate-to-edit", "system:discovery",
            "system:basic-user", "system:public-info-viewer"} <= names
    binding = rbac_api.read_cluster_role_binding("cluster-admin")
    assert [(s.kind, s.name) for s in binding.subjects] == [("Group", "system:masters")]


def test_a_labelled_cluster_role_is_aggregated_into_edit_and_admin(admin: Kube, ns: str, login: Login) -> None:
    rbac_api = client.RbacAuthorizationV1Api(admin.api_client)
    widgets = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["create", "get"]}
    rbac_api.create_cluster_role({"metadata": {"name": f"{ns}-widgets",
                                               "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
                                  "rules": [widgets]})
    try:
        wait_until(lambda: widgets in json.loads(rbac_api.read_cluster_role("admin", _preload_content=False).data)[
            "rules"], message="the labelled role's rules in admin (through edit)")
        who = login(admin.cluster.service_account_kubeconfig(ns, "deployer", role="edit"))
        assert review(who, ns, "create", "widgets", "example.com")["allowed"] is True
    finally:
        rbac_api.delete_cluster_role(f"{ns}-widgets")
    wait_until(lambda: widgets not in json.loads(rbac_api.read_cluster_role("edit", _preload_content=False).data)[
        "rules"], message="the rules gone from edit with the role")


# --- edit in one namespace ------------------------------------------------------------------------------------


def test_edit_in_its_namespace_deploys_reads_logs_and_events(admin: Kube, ns: str, login: Login) -> None:
    who = login(admin.cluster.service_account_kubeconfig(ns, "deployer", role="edit"))
    who.apps.create_namespaced_deployment(ns, deployment("web"))
    assert [d.metadata.name for d in who.apps.list_namespaced_deployment(ns).items] == ["web"]
    who.apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 2}})
    who.core.create_namespaced_pod(ns, pod("talker"))
    wait_until(lambda: "hello from the pod" in log_of(who, "talker", ns), timeout=20,
               message="the pod's log read as the ServiceAccount")
    wait_until(lambda: who.core.list_namespaced_event(ns).items, message="events listed as the ServiceAccount")
    # The real edit and view roles grant core/v1 events only: events.k8s.io is as forbidden as on a real cluster.
    assert forbidden(lambda: who.events.list_namespaced_event(ns))["message"] == (
        f'events.events.k8s.io is forbidden: {user(ns)} cannot list resource "events" in API group "events.k8s.io" '
        f'in the namespace "{ns}"')
    who.core.create_namespaced_event(ns, {"metadata": {"name": "by-ci"}, "involvedObject": {"kind": "Pod",
                                                                                           "name": "talker"},
                                          "reason": "Deployed", "message": "by CI", "type": "Normal"})
    who.core.create_namespaced_config_map(ns, {"metadata": {"name": "settings"}, "data": {"a": "1"}})
    who.core.list_namespaced_secret(ns)  # edit, unlike view, reads secrets
    assert who.core.read_namespace(ns).metadata.name == ns  # namespaces get at the namespace scope


def test_edit_gets_the_real_403_at_the_cluster_scope_and_in_another_namespace(admin: Kube, ns: str, other: str,
                                                                              login: Login) -> None:
    admin.apps.create_namespaced_deployment(other, deployment("web"))
    admin.core.create_namespaced_pod(other, pod("talker"))
    who = login(admin.cluster.service_account_kubeconfig(ns, "deployer", role="edit"))
    me = user(ns)
    assert forbidden(who.core.list_namespace) == status(
        f'namespaces is forbidden: {me} cannot list resource "namespaces" in API group "" at the cluster scope',
        {"kind": "namespaces"})
    assert forbidden(who.core.list_node) == status(
        f'nodes is forbidden: {me} cannot list resource "nodes" in API group "" at the cluster scope',
        {"kind": "nodes"})
    assert forbidden(lambda: who.core.list_namespaced_pod(other)) == status(
        f'pods is forbidden: {me} cannot list resource "pods" in API group "" in the namespace "{other}"',
        {"kind": "pods"})
    assert forbidden(lambda: who.apps.read_namespaced_deployment("web", other)) == status(
        f'deployments.apps "web" is forbidden: {me} cannot get resource "deployments" in API group "apps" in the '
        f'namespace "{other}"', {"name": "web", "group": "apps", "kind": "deployments"})
    assert forbidden(lambda: who.core.read_namespaced_pod_log("talker", other)) == status(
        f'pods "talker" is forbidden: {me} cannot get resource "pods/log" in API group "" in the namespace '
        f'"{other}"', {"name": "talker", "kind": "pods"})
    assert forbidden(lambda: who.core.list_pod_for_all_namespaces())["message"] == (
        f'pods is forbidden: {me} cannot list resource "pods" in API group "" at the cluster scope')
    assert forbidden(lambda: who.apps.create_namespaced_deployment(other, deployment("mine")))["message"] == (
        f'deployments.apps is forbidden: {me} cannot create resource "deployments" in API group "apps" in the '
        f'namespace "{other}"')
    assert forbidden(lambda: who.core.read_namespace(other))["message"] == (
        f'namespaces "{other}" is forbidden: {me} cannot get resource "namespaces" in API group "" in the '
        f'namespace "{other}"')
    assert forbidden(lambda: who.rbac.list_namespaced_role_binding(ns))["message"] == (
        f'rolebindings.rbac.authorization.k8s.io is forbidden: {me} cannot list resource "rolebindings" in API '
        f'group "rbac.authorization.k8s.io" in the namespace "{ns}"')


def test_a_watch_is_authorized_as_watch(admin: Kube, ns: str, other: str, login: Login) -> None:
    who = login(admin.cluster.service_account_kubeconfig(ns, "deployer", role="view"))
    answer = who.core.list_namespaced_pod(ns, watch=True, timeout_seconds=1, _preload_content=False)
    assert answer.status == 200
    answer.release_conn()
    assert forbidden(lambda: who.core.list_namespaced_event(other, watch=True, timeout_seconds=1,
                                                           _preload_content=False))["message"] == (
        f'events is forbidden: {user(ns)} cannot watch resource "events" in API group "" in the namespace "{other}"')


def test_discovery_and_reviews_are_open_to_every_service_account(admin: Kube, ns: str, login: Login) -> None:
    kubeconfig = admin.cluster.service_account_kubeconfig(ns, "nobody")
    for path in ("/api", "/api/v1", "/apis", "/apis/apps/v1", "/version", "/openapi/v3", "/healthz"):
        assert raw(kubeconfig, path)[0] == 200, path
    assert raw(kubeconfig, "/") == (403, status(
        f'forbidden: {user(ns, "nobody")} cannot get path "/"', {}))
    assert raw(kubeconfig, "/metrics")[1]["message"] == f'forbidden: {user(ns, "nobody")} cannot get path "/metrics"'
    who = login(kubeconfig)
    assert review(who, ns, "get", "pods") == {"allowed": False}
    assert forbidden(lambda: who.core.list_namespaced_pod(ns))["details"] == {"kind": "pods"}


# --- view, custom roles, bindings to cluster roles, resourceNames --------------------------------------------------


def test_view_lists_but_cannot_create_or_read_secrets(admin: Kube, ns: str, login: Login) -> None:
    admin.core.create_namespaced_secret(ns, {"metadata": {"name": "token"}, "stringData": {"k": "v"}})
    admin.apps.create_namespaced_deployment(ns, deployment("web"))
    who = login(admin.cluster.service_account_kubeconfig(ns, "reader", role="view"))
    me = user(ns, "reader")
    assert [d.metadata.name for d in who.apps.list_namespaced_deployment(ns).items] == ["web"]
    who.apps.read_namespaced_deployment_status("web", ns)
    who.core.list_namespaced_pod(ns)
    assert forbidden(lambda: who.core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}}))["message"] == (
        f'configmaps is forbidden: {me} cannot create resource "configmaps" in API group "" in the namespace "{ns}"')
    assert forbidden(lambda: who.apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}}))[
        "message"] == (f'deployments.apps "web" is forbidden: {me} cannot patch resource "deployments/scale" in API '
                       f'group "apps" in the namespace "{ns}"')
    assert forbidden(lambda: who.core.list_namespaced_secret(ns))["message"] == (
        f'secrets is forbidden: {me} cannot list resource "secrets" in API group "" in the namespace "{ns}"')
    assert forbidden(lambda: who.core.read_namespaced_secret("token", ns)) == status(
        f'secrets "token" is forbidden: {me} cannot get resource "secrets" in API group "" in the namespace "{ns}"',
        {"name": "token", "kind": "secrets"})


def test_a_custom_role_without_list_events(admin: Kube, ns: str, login: Login) -> None:
    rules = [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]},
             {"apiGroups": ["apps"], "resources": ["deployments", "deployments/status"], "verbs": ["*"]},
             {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}]
    who = login(admin.cluster.service_account_kubeconfig(ns, "narrow", rules=rules))
    me = user(ns, "narrow")
    who.apps.create_namespaced_deployment(ns, deployment("web"))
    who.core.list_namespaced_pod(ns)
    who.core.create_namespaced_event(ns, {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "x"},
                                          "reason": "R", "message": "m", "type": "Normal"})
    assert forbidden(lambda: who.core.list_namespaced_event(ns))["message"] == (
        f'events is forbidden: {me} cannot list resource "events" in API group "" in the namespace "{ns}"')
    assert forbidden(lambda: who.events.list_namespaced_event(ns))["message"] == (
        f'events.events.k8s.io is forbidden: {me} cannot list resource "events" in API group "events.k8s.io" in '
        f'the namespace "{ns}"')
    assert forbidden(lambda: who.apps.list_namespaced_replica_set(ns))["details"] == {"group": "apps",
                                                                                     "kind": "replicasets"}
    role = client.RbacAuthorizationV1Api(admin.api_client).read_namespaced_role("narrow", ns)
    assert [r.resources for r in role.rules] == [r["resources"] for r in rules]


def test_a_role_binding_grants_a_cluster_role_only_in_its_namespace(admin: Kube, ns: str, other: str,
                                                                    login: Login) -> None:
    rbac_api = client.RbacAuthorizationV1Api(admin.api_client)
    rbac_api.create_cluster_role({"metadata": {"name": f"{ns}-pod-reader"},
                                  "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                                            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]})
    kubeconfig = admin.cluster.service_account_kubeconfig(ns, "reader")
    rbac_api.create_namespaced_role_binding(ns, {
        "metadata": {"name": "read-pods"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"{ns}-pod-reader"}})
    who = login(kubeconfig)
    who.core.list_namespaced_pod(ns)
    forbidden(lambda: who.core.list_namespaced_pod(other))
    forbidden(who.core.list_pod_for_all_namespaces)
    assert raw(kubeconfig, "/metrics")[0] == 403  # a RoleBinding grants no nonResourceURLs
    assert review(who, ns, "list", "pods") == {
        "allowed": True, "reason": f'RBAC: allowed by RoleBinding "read-pods/{ns}" of ClusterRole "{ns}-pod-reader" '
                                   f'to ServiceAccount "reader/{ns}"'}


def test_a_cluster_role_binding_grants_everywhere(admin: Kube, ns: str, other: str, login: Login) -> None:
    who = login(admin.cluster.service_account_kubeconfig(ns, "auditor", role="view", cluster_wide=True))
    assert ns in [n.metadata.name for n in who.core.list_namespace().items]
    who.core.list_namespaced_pod(other)
    who.core.list_pod_for_all_namespaces()
    forbidden(who.core.list_node)
    assert review(who, other, "list", "deployments", "apps")["reason"] == (
        f'RBAC: allowed by ClusterRoleBinding "{ns}:auditor:view" of ClusterRole "view" to ServiceAccount '
        f'"auditor/{ns}"')


def test_resource_names_limit_get_and_a_named_list(admin: Kube, ns: str, login: Login) -> None:
    for name in ("allowed", "secret-plans"):
        admin.core.create_namespaced_config_map(ns, {"metadata": {"name": name}})
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["allowed"],
              "verbs": ["get", "list", "watch", "patch"]}]
    who = login(admin.cluster.service_account_kubeconfig(ns, "picky", rules=rules))
    me = user(ns, "picky")
    assert who.core.read_namespaced_config_map("allowed", ns).metadata.name == "allowed"
    who.core.patch_namespaced_config_map("allowed", ns, {"data": {"k": "v"}})
    assert [c.metadata.name for c in who.core.list_namespaced_config_map(
        ns, field_selector="metadata.name=allowed").items] == ["allowed"]
    assert forbidden(lambda: who.core.read_namespaced_config_map("secret-plans", ns))["message"] == (
        f'configmaps "secret-plans" is forbidden: {me} cannot get resource "configmaps" in API group "" in the '
        f'namespace "{ns}"')
    assert forbidden(lambda: who.core.list_namespaced_config_map(ns))["message"] == (
        f'configmaps is forbidden: {me} cannot list resource "configmaps" in API group "" in the namespace "{ns}"')
    assert forbidden(lambda: who.core.list_namespaced_config_map(ns, field_selector="metadata.name=secret-plans"))[
        "details"] == {"name": "secret-plans", "kind": "configmaps"}


def test_a_subresource_is_its_own_resource(admin: Kube, ns: str, login: Login) -> None:
    admin.core.create_namespaced_pod(ns, pod("talker"))
    who = login(admin.cluster.service_account_kubeconfig(
        ns, "logs-only", rules=[{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]))
    wait_until(lambda: "hello" in log_of(who, "talker", ns), timeout=20,
               message="the log through pods/log alone")
    assert forbidden(lambda: who.core.read_namespaced_pod("talker", ns))["message"] == (
        f'pods "talker" is forbidden: {user(ns, "logs-only")} cannot get resource "pods" in API group "" in the '
        f'namespace "{ns}"')


def test_an_apply_that_creates_needs_create(admin: Kube, ns: str, login: Login) -> None:
    admin.core.create_namespaced_config_map(ns, {"metadata": {"name": "present"}})
    who = login(admin.cluster.service_account_kubeconfig(
        ns, "patcher", rules=[{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"]}]))
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "present"}, "data": {"k": "v"}}
    who.core.patch_namespaced_config_map("present", ns, manifest, field_manager="ci", _content_type=APPLY_PATCH)
    fresh = {**manifest, "metadata": {"name": "fresh"}}
    assert forbidden(lambda: who.core.patch_namespaced_config_map(
        "fresh", ns, fresh, field_manager="ci", _content_type=APPLY_PATCH)) == status(
        'configmaps "fresh" is forbidden: ', {"name": "fresh", "kind": "configmaps"})


def test_a_binding_to_a_missing_role_says_so_in_the_reason(admin: Kube, ns: str, login: Login) -> None:
    kubeconfig = admin.cluster.service_account_kubeconfig(ns, "orphan")
    client.RbacAuthorizationV1Api(admin.api_client).create_namespaced_role_binding(ns, {
        "metadata": {"name": "dangling"}, "subjects": [{"kind": "ServiceAccount", "name": "orphan", "namespace": ns}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "missing"}})
    who = login(kubeconfig)
    assert forbidden(lambda: who.core.list_namespaced_pod(ns))["message"] == (
        f'pods is forbidden: {user(ns, "orphan")} cannot list resource "pods" in API group "" in the namespace '
        f'"{ns}": RBAC: role.rbac.authorization.k8s.io "missing" not found')


# --- reviews -------------------------------------------------------------------------------------------------


def test_self_subject_access_reviews(admin: Kube, ns: str, other: str, login: Login) -> None:
    who = login(admin.cluster.service_account_kubeconfig(ns, "deployer", role="edit"))
    allowed_by = (f'RBAC: allowed by RoleBinding "deployer:edit/{ns}" of ClusterRole "edit" to ServiceAccount '
                  f'"deployer/{ns}"')
    assert review(who, ns, "create", "deployments", "apps") == {"allowed": True, "reason": allowed_by}
    assert review(who, ns, "get", "pods", subresource="log", name="x") == {"allowed": True, "reason": allowed_by}
    assert review(who, other, "list", "pods") == {"allowed": False}
    assert review(who, "", "list", "namespaces") == {"allowed": False}
    body = {"spec": {"nonResourceAttributes": {"path": "/apis/apps", "verb": "get"}}}
    answer = json.loads(who.authz.create_self_subject_access_review(body, _preload_content=False).data)
    assert answer["kind"] == "SelfSubjectAccessReview" and answer["status"] == {
        "allowed": True, "reason": 'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole '
                                   '"system:discovery" to Group "system:authenticated"'}
    with pytest.raises(ApiException) as caught:
        who.authz.create_self_subject_access_review({"spec": {}})
    assert caught.value.status == 422
    reviews = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    assert raw(who.kubeconfig, reviews)[0] == 403  # authorization comes first: nobody may list them...
    assert raw(admin.cluster.kubeconfig, reviews) == (405, {  # ...and there is nothing to list
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server does not allow this method on the requested resource", "reason": "MethodNotAllowed",
        "details": {}, "code": 405})


def test_self_subject_rules_review(admin: Kube, ns: str, other: str, login: Login) -> None:
    who = login(admin.cluster.service_account_kubeconfig(ns, "deployer", role="edit"))

    def rules(namespace: str) -> dict:
        answer = who.authz.create_self_subject_rules_review({"spec": {"namespace": namespace}},
                                                            _preload_content=False)
        return json.loads(answer.data)["status"]

    here, there = rules(ns), rules(other)
    assert here["incomplete"] is False and there["incomplete"] is False
    basic = [{"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
              "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
             {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]}]
    assert there["resourceRules"] == basic
    assert {"verbs": ["get", "list", "watch"], "apiGroups": [""],
            "resources": ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                          "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"]} in \
        here["resourceRules"]
    assert len(here["resourceRules"]) == len(basic) + len(
        {r["metadata"]["name"]: r for r in bootstrap_policy.cluster_roles()}["edit"]["rules"])
    assert here["nonResourceRules"] == there["nonResourceRules"]
    assert {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]} in \
        here["nonResourceRules"]
    with pytest.raises(ApiException) as caught:
        who.authz.create_self_subject_rules_review({"spec": {}})
    assert caught.value.status == 400 and json.loads(caught.value.body)["message"] == "no namespace on request"


def test_self_subject_review_says_who_the_token_is(admin: Kube, ns: str, login: Login) -> None:
    who = login(admin.cluster.service_account_kubeconfig(ns, "deployer"))
    info = json.loads(who.authn.create_self_subject_review({}, _preload_content=False).data)["status"]["userInfo"]
    sa = admin.core.read_namespaced_service_account("deployer", ns)
    assert info["username"] == f"system:serviceaccount:{ns}:deployer" and info["uid"] == sa.metadata.uid
    assert info["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]


@pytest.mark.kubectl
@requires_kubectl
def test_kubectl_with_a_service_account_kubeconfig(admin: Kube, ns: str, other: str) -> None:
    kubeconfig = admin.cluster.service_account_kubeconfig(ns, "deployer", role="edit")
    done = kubectl(kubeconfig, "auth", "can-i", "list", "pods", "-n", ns)
    assert (done.returncode, done.stdout.strip()) == (0, "yes")
    done = kubectl(kubeconfig, "auth", "can-i", "list", "pods", "-n", other)
    assert (done.returncode, done.stdout.strip()) == (1, "no")
    done = kubectl(kubeconfig, "auth", "can-i", "get", "pods", "--subresource=log", "-n", ns)
    assert done.stdout.strip() == "yes"
    done = kubectl(kubeconfig, "auth", "can-i", "--list", "-n", ns)
    assert done.returncode == 0, done.stderr
    table = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    assert table["pods/log"] == ["pods/log", "[]", "[]", "[get", "list", "watch]"]
    assert "deployments.apps" in table and "selfsubjectaccessreviews.authorization.k8s.io" in table
    assert any(line.split()[0] == "[/api/*]" for line in done.stdout.splitlines())
    done = kubectl(kubeconfig, "get", "namespaces")
    assert done.returncode == 1
    assert done.stderr.strip() == (f'Error from server (Forbidden): namespaces is forbidden: {user(ns)} cannot list '
                                   f'resource "namespaces" in API group "" at the cluster scope')
    done = kubectl(kubeconfig, "get", "pods", "-n", other)
    assert f'cannot list resource "pods" in API group "" in the namespace "{other}"' in done.stderr
    done = kubectl(kubeconfig, "create", "deployment", "web", "--image=nginx:1.27")
    assert done.returncode == 0, done.stderr
    assert kubectl(kubeconfig, "get", "deployments", "-o", "name").stdout.strip() == "deployment.apps/web"
    done = kubectl(kubeconfig, "auth", "whoami", "-o", "json")
    assert json.loads(done.stdout)["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:deployer"
    token = kubectl(kubeconfig, "create", "token", "deployer").stdout.strip()
    assert token.count(".") == 2
    done = kubectl(kubeconfig, "--token", token, "auth", "can-i", "create", "deployments")
    assert done.stdout.strip() == "yes"


# --- tokens -------------------------------------------------------------------------------------------------


def test_a_token_secret_is_filled_in_and_authenticates(admin: Kube, ns: str, login: Login) -> None:
    kubeconfig = admin.cluster.service_account_kubeconfig(ns, "legacy", role="view")
    admin.core.create_namespaced_secret(ns, {
        "metadata": {"name": "legacy-token", "annotations": {"kubernetes.io/service-account.name": "legacy"}},
        "type": "kubernetes.io/service-account-token"})
    secret = wait_until(lambda: (s := admin.core.read_namespaced_secret("legacy-token", ns)).data and s,
                        message="the token controller to fill the Secret")
    sa = admin.core.read_namespaced_service_account("legacy", ns)
    assert secret.metadata.annotations["kubernetes.io/service-account.uid"] == sa.metadata.uid
    assert base64.b64decode(secret.data["namespace"]).decode() == ns
    assert "BEGIN CERTIFICATE" in base64.b64decode(secret.data["ca.crt"]).decode()
    token = base64.b64decode(secret.data["token"]).decode()
    loaded = yaml.safe_load(Path(kubeconfig).read_text())
    loaded["users"][0]["user"]["token"] = token
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(loaded, handle)
    who = login(handle.name)
    who.core.list_namespaced_pod(ns)
    admin.core.delete_namespaced_secret("legacy-token", ns)
    with pytest.raises(ApiException) as caught:
        who.core.list_namespaced_pod(ns)
    assert caught.value.status == 401
    Path(handle.name).unlink()


def test_a_token_dies_with_its_service_account_and_cannot_be_forged(admin: Kube, ns: str, login: Login) -> None:
    kubeconfig = admin.cluster.service_account_kubeconfig(ns, "temp", role="view")
    who = login(kubeconfig)
    who.core.list_namespaced_pod(ns)
    header, payload, signature = yaml.safe_load(Path(kubeconfig).read_text())["users"][0]["user"]["token"].split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "==="))
    forged["kubernetes.io"]["serviceaccount"]["name"] = "admin"
    forged_token = ".".join([header, base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("="),
                             signature])
    assert raw(kubeconfig, f"/api/v1/namespaces/{ns}/pods", token=forged_token) == (401, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
        "reason": "Unauthorized", "code": 401})
    admin.core.delete_namespaced_service_account("temp", ns)
    assert raw(kubeconfig, f"/api/v1/namespaces/{ns}/pods")[0] == 401


def test_a_token_request_is_answered_like_the_real_one(admin: Kube, ns: str, login: Login) -> None:
    who = login(admin.cluster.service_account_kubeconfig(ns, "deployer", role="edit"))
    answer = json.loads(who.core.create_namespaced_service_account_token(
        "deployer", ns, {"spec": {"expirationSeconds": 1200}}, _preload_content=False).data)
    assert answer["kind"] == "TokenRequest" and answer["apiVersion"] == "authentication.k8s.io/v1"
    assert answer["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert answer["spec"]["expirationSeconds"] == 1200 and answer["status"]["token"].count(".") == 2
    with pytest.raises(ApiException) as caught:
        who.core.create_namespaced_service_account_token("deployer", ns, {"spec": {"expirationSeconds": 60}})
    assert caught.value.status == 422
    assert forbidden(lambda: login(admin.cluster.service_account_kubeconfig(ns, "viewer", role="view")).core
                     .create_namespaced_service_account_token("deployer", ns, {"spec": {}}))["message"] == (
        f'serviceaccounts "deployer" is forbidden: {user(ns, "viewer")} cannot create resource '
        f'"serviceaccounts/token" in API group "" in the namespace "{ns}"')


# --- the admin and --deny ------------------------------------------------------------------------------------


def test_the_admin_stays_all_powerful(admin: Kube, ns: str) -> None:
    assert admin.core.list_namespace().items and admin.core.list_node().items
    admin.core.list_secret_for_all_namespaces()
    authz = client.AuthorizationV1Api(admin.api_client)
    answer = json.loads(authz.create_self_subject_access_review(
        {"spec": {"resourceAttributes": {"verb": "delete", "resource": "nodes"}}}, _preload_content=False).data)
    assert answer["status"] == {"allowed": True}
    rules = json.loads(authz.create_self_subject_rules_review({"spec": {"namespace": ns}},
                                                              _preload_content=False).data)["status"]
    assert rules["resourceRules"][0] == {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
    assert rules["nonResourceRules"][0] == {"verbs": ["*"], "nonResourceURLs": ["*"]}
    info = json.loads(client.AuthenticationV1Api(admin.api_client).create_self_subject_review(
        {}, _preload_content=False).data)["status"]["userInfo"]
    assert info == {"username": "system:admin", "groups": ["system:masters", "system:authenticated"]}


def test_deny_rules_apply_on_top_of_rbac(sim_factory: Callable[..., SimCluster], login: Login) -> None:
    sim = sim_factory(deny=(DenyRule("get", "deployments.apps", "ci"), DenyRule("list", "pods")))
    with kube_for(sim) as boss:
        boss.core.create_namespace({"metadata": {"name": "ci"}})
        boss.apps.create_namespaced_deployment("ci", deployment("web"))
        assert forbidden(lambda: boss.apps.read_namespaced_deployment("web", "ci"))["message"] == (
            'deployments.apps "web" is forbidden: User "system:admin" cannot get resource "deployments" in API group '
            '"apps" in the namespace "ci"')
        who = login(sim.service_account_kubeconfig("ci", "deployer", role="edit"))
        who.apps.list_namespaced_deployment("ci")
        assert forbidden(lambda: who.apps.read_namespaced_deployment("web", "ci"))["message"] == (
            'deployments.apps "web" is forbidden: User "system:serviceaccount:ci:deployer" cannot get resource '
            '"deployments" in API group "apps" in the namespace "ci"')
        forbidden(lambda: who.core.list_namespaced_pod("ci"))
        assert review(who, "ci", "get", "deployments", "apps") == {"allowed": False, "denied": True}
        assert review(who, "ci", "list", "deployments", "apps")["allowed"] is True


def test_the_helper_is_idempotent_and_grants_in_several_namespaces(admin: Kube, ns: str, other: str,
                                                                   login: Login) -> None:
    first = admin.cluster.service_account_kubeconfig(ns, "ci", role="view")
    again = admin.cluster.service_account_kubeconfig(ns, "ci", role="edit", namespaces=[ns, other])
    assert first == again
    who = login(again)
    who.core.create_namespaced_config_map(other, {"metadata": {"name": "there"}})
    loaded = yaml.safe_load(Path(again).read_text())
    assert loaded["contexts"][0]["context"]["namespace"] == ns
    assert loaded["clusters"][0]["cluster"]["certificate-authority-data"]
    assert set(loaded["users"][0]["user"]) == {"token"}


def test_with_a_required_token_service_account_tokens_still_authenticate(sim_factory: Callable[..., SimCluster],
                                                                         login: Login) -> None:
    sim = sim_factory(token="static-admin-token")
    who = login(sim.service_account_kubeconfig("ci", "deployer", role="edit"))
    who.apps.list_namespaced_deployment("ci")
    forbidden(lambda: who.core.list_namespace())
    anonymous = client.CoreV1Api(client.ApiClient(client.Configuration(host=sim.url)))
    with pytest.raises(ApiException) as caught:
        anonymous.list_namespaced_pod("ci")
    assert caught.value.status == 401
