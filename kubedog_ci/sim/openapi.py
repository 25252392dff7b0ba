"""Just enough OpenAPI v3 for kubectl to see that the server validates fields itself.

Before it sends an object, kubectl asks /openapi/v3 whether the PATCH operation of the object's kind takes the
`fieldValidation` query parameter (its QueryParamVerifierV3). When it does, kubectl leaves validation to the
server (`fieldValidation=Strict`) instead of downloading schemas to validate on the client, so `kubectl apply`
and `kubectl create -f` work without `--validate=false`. The documents carry one PATCH operation per resource
and no schemas: `kubectl explain` still needs a real cluster.
"""

from __future__ import annotations

import hashlib

from kubedog_ci.sim.resources import Registry, ResourceType

_FIELD_VALIDATION = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True},
                     "description": "fieldValidation instructs the server on how to handle objects in the request "
                                    "containing unknown or duplicate fields."}


def _prefix(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def root(registry: Registry) -> dict:
    """/openapi/v3: each group version's document path, with a hash that changes when its resources do."""
    paths = {}
    for group, versions in registry.groups().items():
        for version in versions:
            operations = _operations(registry, group, version)
            if not operations:  # create-only kinds (the reviews) have no PATCH to describe
                continue
            digest = hashlib.sha256(repr(sorted(operations)).encode()).hexdigest()
            prefix = _prefix(group, version)
            paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest[:32].upper()}"}
    return {"paths": paths}


def group_version(registry: Registry, prefix: str) -> dict | None:
    """/openapi/v3/api/v1 or /openapi/v3/apis/GROUP/VERSION; None for an unknown one."""
    parts = prefix.strip("/").split("/")
    if parts[0] == "api" and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        return None
    operations = _operations(registry, group, version)
    if not operations:
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "unversioned"},
            "paths": dict(operations), "components": {}}


def _operations(registry: Registry, group: str, version: str) -> list[tuple[str, dict]]:
    types = [rt for rt in registry.all() if rt.group == group and rt.version == version and "patch" in rt.verbs]
    return [(_item_path(rt), {"patch": _patch(rt)}) for rt in sorted(types, key=lambda t: t.plural)]


def _item_path(rt: ResourceType) -> str:
    scope = "/namespaces/{namespace}" if rt.namespaced else ""
    return f"/{_prefix(rt.group, rt.version)}{scope}/{rt.plural}/{{name}}"


def _patch(rt: ResourceType) -> dict:
    return {"operationId": f"patch{rt.kind}", "parameters": [_FIELD_VALIDATION],
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": rt.group, "kind": rt.kind, "version": rt.version}}
