"""Credentials as real CI holds them: a ServiceAccount bound to a role, and a kubeconfig with its token.

    path = cluster.service_account_kubeconfig("ci", "deployer", role="edit")        # RoleBinding to edit in ci
    path = cluster.service_account_kubeconfig("ci", "reader", role="view", cluster_wide=True)
    path = cluster.service_account_kubeconfig("ci", "narrow", rules=[{"apiGroups": ["apps"], ...}])

The objects are created through the Api, as `kubectl apply` would (idempotently: a second call updates them), and
the token comes from the TokenRequest code path, so a test or an e2e run of the tool meets exactly the
permissions, the 403s and the discovery a real CI ServiceAccount meets. The kubeconfig points at the same server
with the same CA as the admin's, and carries only the token.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from kubedog_ci.sim import authn
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.rbac import CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, GROUP, ROLE_BINDINGS, ROLES

if TYPE_CHECKING:
    from kubedog_ci.sim.cluster import SimCluster

TOKEN_SECONDS = 24 * 3600
"""How long the kubeconfig's token lasts: longer than any test, like a CI job's token outlives its job."""


def write_config(path: str | os.PathLike, config: dict) -> None:
    """Write a kubeconfig atomically, so a process polling for the file never reads half of it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    os.chmod(tmp, 0o600)
    tmp.replace(target)



def service_account_kubeconfig(cluster: SimCluster, namespace: str, name: str, *, role: str | None = None,
                               rules: list[dict] | None = None, cluster_wide: bool = False,
                               namespaces: Iterable[str] | None = None,
                               path: str | os.PathLike | None = None) -> str:
    """Create (or update) ServiceAccount `namespace/name` and its grants, write a kubeconfig with a token for it,
    and return the kubeconfig's path.

    `role` names a ClusterRole (`edit`, `view`, `admin`, `cluster-admin` or any other) to bind; `rules` are
    PolicyRules for a Role (a ClusterRole when cluster-wide) named after the ServiceAccount. Either is bound by a
    RoleBinding in each of `namespaces` (default: the ServiceAccount's own), or with `cluster_wide` by a
    ClusterRoleBinding. With neither, the ServiceAccount holds only what every authenticated user holds."""
    api = cluster.api
    grant_in = [namespace] if namespaces is None else list(dict.fromkeys(namespaces))
    for ns in dict.fromkeys([namespace, *grant_in]):
        if api.store.get("/namespaces", "", ns) is None:
            api.create(api.rt("/namespaces"), None, {"metadata": {"name": ns}})
    _apply(cluster, "/serviceaccounts", namespace, {"metadata": {"name": name}})
    subject = {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    if rules is not None:
        if cluster_wide:
            role_name = f"{namespace}:{name}"
            _apply(cluster, CLUSTER_ROLES, None, {"metadata": {"name": role_name}, "rules": rules})
            _bind(cluster, None, role_name, "ClusterRole", role_name, subject)
        else:
            for ns in grant_in:
                _apply(cluster, ROLES, ns, {"metadata": {"name": name}, "rules": rules})
                _bind(cluster, ns, name, "Role", name, subject)
    if role is not None:
        if cluster_wide:
            _bind(cluster, None, f"{namespace}:{name}:{role}", "ClusterRole", role, subject)
        else:
            for ns in grant_in:
                _bind(cluster, ns, f"{name}:{role}", "ClusterRole", role, subject)
    request = authn.token_request(api.store, cluster.tokens, namespace, name,
                                  {"spec": {"expirationSeconds": TOKEN_SECONDS}})
    target = Path(path) if path else Path(cluster.kubeconfig).with_name(f"kubeconfig-{namespace}-{name}")
    write_config(target, _kubeconfig(cluster, namespace, name, request["status"]["token"]))
    return str(target)


def _bind(cluster: SimCluster, namespace: str | None, binding: str, kind: str, role: str, subject: dict) -> None:
    key = ROLE_BINDINGS if namespace else CLUSTER_ROLE_BINDINGS
    _apply(cluster, key, namespace, {"metadata": {"name": binding}, "subjects": [subject],
                                     "roleRef": {"apiGroup": GROUP, "kind": kind, "name": role}})


def _apply(cluster: SimCluster, key: str, namespace: str | None, body: dict) -> None:
    """Create, or replace what an earlier call made (roleRef of a binding cannot change: recreate it then)."""
    api = cluster.api
    rt = api.rt(key)
    name = body["metadata"]["name"]
    try:
        api.create(rt, namespace, body)
        return
    except ApiError as err:
        if err.reason != "AlreadyExists":
            raise
    current = api.get(rt, namespace or "", name)
    if "roleRef" in body and current.get("roleRef") != body["roleRef"]:
        api.delete(rt, namespace or "", name)
        api.create(rt, namespace, body)
        return
    api.update(rt, namespace or "", name, {**current, **{k: v for k, v in body.items() if k != "metadata"}})


def _kubeconfig(cluster: SimCluster, namespace: str, name: str, token: str) -> dict:
    config = cluster.kubeconfig_dict()
    cluster_entry = dict(config["clusters"][0]["cluster"])
    label = f"{namespace}-{name}"
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": label, "preferences": {},
        "clusters": [{"name": "kubedog-sim", "cluster": cluster_entry}],
        "users": [{"name": label, "user": {"token": token}}],
        "contexts": [{"name": label, "context": {"cluster": "kubedog-sim", "user": label, "namespace": namespace}}],
    }


