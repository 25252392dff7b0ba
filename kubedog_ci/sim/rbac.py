"""Authorization as kube-apiserver does it: system:masters first, then RBAC over the objects in the store.

A tool that reports a rollout must behave when CI's ServiceAccount may not list namespaces, read another
namespace or watch Events, so the simulator answers exactly as a real server would: the request's attributes are
parsed from the URL as RequestInfoFactory does (list vs get, `watch`, subresources, a `metadata.name` field
selector as the name), every ClusterRoleBinding and, for a namespaced request, every RoleBinding of the namespace
that names the user (or one of its groups, or its ServiceAccount) grants its role's rules, and a rule matches by
verb, API group, resource (`pods/log`, `*/scale`), resourceNames and nonResourceURLs as in
pkg/apis/rbac/v1/evaluation_helpers.go. A denial is the Forbidden Status that
responsewriters.Forbidden writes. SelfSubjectAccessReview and SelfSubjectRulesReview answer from the same rules.
`--deny` rules (SimConfig.deny) deny on top of everything, the admin included.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from kubedog_ci.sim import errors
from kubedog_ci.sim.authn import UserInfo
from kubedog_ci.sim.config import DenyRule
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.store import Store

GROUP = "rbac.authorization.k8s.io"
ROLES, ROLE_BINDINGS = f"{GROUP}/roles", f"{GROUP}/rolebindings"
CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS = f"{GROUP}/clusterroles", f"{GROUP}/clusterrolebindings"
_SPECIAL_VERBS = ("proxy", "watch")
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class Attributes:
    """authorizer.Attributes: who asks to do what, to which resource (or non-resource path)."""

    user: UserInfo
    verb: str
    path: str = ""
    resource_request: bool = False
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    denied: bool = False
    """An explicit deny (a --deny rule), not just no rule allowing it."""


def request_attributes(user: UserInfo, method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """RequestInfoFactory.NewRequestInfo over a URL path: resource requests under /api and /apis, everything else
    a non-resource request with the lower-cased HTTP method as its verb."""
    path = urllib.parse.unquote(path)
    parts = path.strip("/").split("/") if path.strip("/") else []
    plain = Attributes(user, method.lower(), path)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return plain
    group, rest = "", parts[1:]
    if parts[0] == "apis":
        if len(rest) < 3:
            return plain
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    if rest[0] in _SPECIAL_VERBS and len(rest) >= 2:
        verb, rest = rest[0], rest[1:]
    else:
        verb = _VERBS.get(method, "")
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 and verb != "proxy" else ""
    if not name and verb == "get":
        watch = query.get("watch")
        verb = "watch" if watch is not None and watch.lower() not in ("false", "0") else "list"
        name = _exact_name(query.get("fieldSelector") or "")
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user, verb, path, True, group, version, namespace, resource, subresource, name)


def _exact_name(field_selector: str) -> str:
    """The name a `metadata.name=` (or `==`) term requires, if it is a valid path segment."""
    for term in field_selector.split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and not key.endswith("!") and key.strip() == "metadata.name":
            value = value.strip()
            if value not in ("", ".", "..") and "/" not in value and "%" not in value:
                return value
    return ""


# --- rule matching (pkg/apis/rbac/v1/evaluation_helpers.go) ---------------------------------------------------


def _matches(values: list[str] | None, wanted: str) -> bool:
    return any(v in ("*", wanted) for v in values or [])


def _resource_matches(rule: dict, combined: str, subresource: str) -> bool:
    for resource in rule.get("resources") or []:
        if resource in ("*", combined):
            return True
        if subresource and resource == f"*/{subresource}":
            return True
    return False


def _url_matches(rule: dict, path: str) -> bool:
    for url in rule.get("nonResourceURLs") or []:
        if url in ("*", path) or (url.endswith("*") and path.startswith(url.rstrip("*"))):
            return True
    return False


def rule_allows(attrs: Attributes, rule: dict) -> bool:
    """RuleAllows: one PolicyRule against the request."""
    if not _matches(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return _url_matches(rule, attrs.path)
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    names = rule.get("resourceNames") or []
    return (_matches(rule.get("apiGroups"), attrs.group) and _resource_matches(rule, combined, attrs.subresource)
            and (not names or attrs.name in names))


# --- the rule resolver (pkg/registry/rbac/validation/rule.go) -----------------------------------------------------


def _applies(user: UserInfo, subject: dict, namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.name == f"system:serviceaccount:{sa_namespace}:{name}"
    return False


def _describe(subject: dict, namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name")}/{subject.get("namespace") or namespace}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


class Authorizer:
    """The union of the privileged-group authorizer and RBAC, with the simulator's deny rules on top."""

    def __init__(self, store: Store, deny: tuple[DenyRule, ...] = ()) -> None:
        self.store = store
        self.deny = deny

    def decide(self, attrs: Attributes) -> Decision:
        decision = self._rbac(attrs)
        if decision.allowed and attrs.resource_request and any(
                rule.matches(attrs.verb, attrs.resource, attrs.group, attrs.namespace) for rule in self.deny):
            return Decision(False, "", denied=True)
        return decision

    def check(self, attrs: Attributes) -> None:
        """Raise the real server's 403 unless the request is allowed."""
        decision = self.decide(attrs)
        if not decision.allowed:
            raise forbidden(attrs, decision.reason)

    def _rbac(self, attrs: Attributes) -> Decision:
        if attrs.user.privileged:
            return Decision(True)
        failures: list[str] = []
        for source, rule, failure in self._visit(attrs.user, attrs.namespace):
            if rule is not None and rule_allows(attrs, rule):
                return Decision(True, f"RBAC: allowed by {source}")
            if failure:
                failures.append(failure)
        return Decision(False, f"RBAC: {errors.aggregate(failures)}" if failures else "")

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[dict], list[dict], list[str]]:
        """(resource rules, non-resource rules, evaluation errors) as SelfSubjectRulesReview reports them: the
        privileged group's catch-all first, then every rule RBAC grants in `namespace`."""
        resource: list[dict] = []
        non_resource: list[dict] = []
        if user.privileged:
            resource.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
            non_resource.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
        failures: list[str] = []
        for _, rule, failure in self._visit(user, namespace):
            if failure:
                failures.append(failure)
                continue
            assert rule is not None
            if rule.get("resources"):
                entry = {"verbs": list(rule.get("verbs") or [])}
                entry |= {k: list(rule[k]) for k in ("apiGroups", "resources", "resourceNames") if rule.get(k)}
                resource.append(entry)
            if rule.get("nonResourceURLs"):
                non_resource.append({"verbs": list(rule.get("verbs") or []),
                                     "nonResourceURLs": list(rule["nonResourceURLs"])})
        return resource, non_resource, failures

    def _visit(self, user: UserInfo, namespace: str) -> Iterator[tuple[str, dict | None, str]]:
        """VisitRulesFor: (source, rule, "") for each granted rule, (source, None, error) for a binding whose role
        cannot be found; ClusterRoleBindings first, then the namespace's RoleBindings."""
        bindings, _ = self.store.list(CLUSTER_ROLE_BINDINGS)
        scopes = [("ClusterRoleBinding", "", sorted(bindings, key=_name))]
        if namespace:
            role_bindings, _ = self.store.list(ROLE_BINDINGS, namespace)
            scopes.append(("RoleBinding", namespace, sorted(role_bindings, key=_name)))
        for kind, scope, items in scopes:
            for binding in items:
                subject = next((s for s in binding.get("subjects") or [] if _applies(user, s, scope)), None)
                if subject is None:
                    continue
                ref = binding.get("roleRef") or {}
                rules, failure = self._role_rules(ref, scope)
                if failure:
                    yield "", None, failure
                    continue
                name = _name(binding) if kind == "ClusterRoleBinding" else f"{_name(binding)}/{scope}"
                source = f'{kind} "{name}" of {ref.get("kind")} "{ref.get("name")}" to {_describe(subject, scope)}'
                for rule in rules:
                    yield source, rule, ""

    def _role_rules(self, ref: dict, namespace: str) -> tuple[list[dict], str]:
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "Role":
            role = self.store.get(ROLES, namespace, name)
        elif kind == "ClusterRole":
            role = self.store.get(CLUSTER_ROLES, "", name)
        else:
            return [], f"unsupported role reference kind: {json.dumps(kind)}"
        if role is None:
            return [], f'{str(kind).lower()}.{GROUP} "{name}" not found'
        return list(role.get("rules") or []), ""


def _name(obj: dict) -> str:
    return obj["metadata"]["name"]


def _quote(text: str) -> str:
    """Go's %q for the names and paths in a Forbidden message."""
    return json.dumps(text, ensure_ascii=False)


def forbidden_message(attrs: Attributes) -> str:
    """responsewriters.forbiddenMessage."""
    user = _quote(attrs.user.name)
    if not attrs.resource_request:
        return f"User {user} cannot {attrs.verb} path {_quote(attrs.path)}"
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f"in the namespace {_quote(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
    return f"User {user} cannot {attrs.verb} resource {_quote(resource)} in API group {_quote(attrs.group)} {where}"


def forbidden(attrs: Attributes, reason: str = "") -> ApiError:
    """responsewriters.Forbidden: apierrors.NewForbidden of the resource (not the subresource) and name, with
    forbiddenMessage and the authorizer's reason."""
    text = forbidden_message(attrs)
    return _forbidden(attrs, f"{text}: {reason}" if reason else text)


def forbidden_on_update(attrs: Attributes, reason: str) -> ApiError:
    """The create check of an update or apply that would create the object (withAuthorization): NewForbidden
    with the authorizer's reason alone, which for a plain RBAC denial is empty."""
    return _forbidden(attrs, reason)


def _forbidden(attrs: Attributes, text: str) -> ApiError:
    headers = {"X-Content-Type-Options": "nosniff"}
    if not attrs.resource_request or not attrs.resource:
        return ApiError(403, "Forbidden", f"forbidden: {text}", {}, headers)
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f"{qualified} {_quote(attrs.name)}" if attrs.name else qualified
    details: dict = {"name": attrs.name} if attrs.name else {}
    if attrs.group:
        details["group"] = attrs.group
    details["kind"] = attrs.resource
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {text}", details, headers)


# --- authorization.k8s.io/v1 reviews -------------------------------------------------------------------------------


def access_review(authorizer: Authorizer, user: UserInfo, body: dict) -> dict:
    """POST selfsubjectaccessreviews: may the requester do what spec describes?"""
    spec = body.get("spec") or {}
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None):
        field, what = ("nonResourceAttributes", "cannot be specified in combination with resourceAttributes") \
            if resource is not None else ("resourceAttributes", "exactly one of nonResourceAttributes or "
                                                                "resourceAttributes must be specified")
        cause = f"Invalid value: {json.dumps(non_resource)}: {what}"
        raise ApiError(422, "Invalid", f'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.{field}: '
                       f"{cause}", {"group": "authorization.k8s.io", "kind": "SelfSubjectAccessReview",
                                    "causes": [{"reason": "FieldValueInvalid", "message": cause,
                                                "field": f"spec.{field}"}]})
    if resource is not None:
        attrs = Attributes(user, resource.get("verb", ""), "", True, resource.get("group", ""),
                           resource.get("version", ""), resource.get("namespace", ""), resource.get("resource", ""),
                           resource.get("subresource", ""), resource.get("name", ""))
    else:
        attrs = Attributes(user, non_resource.get("verb", ""), non_resource.get("path", ""))
    decision = authorizer.decide(attrs)
    status: dict = {"allowed": decision.allowed}
    if decision.denied:
        status["denied"] = True
    if decision.reason:
        status["reason"] = decision.reason
    return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}


def rules_review(authorizer: Authorizer, user: UserInfo, body: dict) -> dict:
    """POST selfsubjectrulesreviews: every rule the requester holds in spec.namespace."""
    spec = body.get("spec") or {}
    namespace = spec.get("namespace") or ""
    if not namespace:
        raise errors.bad_request("no namespace on request")
    resource, non_resource, failures = authorizer.rules_for(user, namespace)
    status: dict = {"resourceRules": resource, "nonResourceRules": non_resource, "incomplete": False}
    if failures:
        status["evaluationError"] = errors.aggregate(failures)
    return {"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}
