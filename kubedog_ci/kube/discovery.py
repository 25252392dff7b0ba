"""Discovery and resource names: `deploy/web`, `deployments.apps/web`, `Widget.example.com/gear`, `job migrate`.

Names resolve the way kubectl resolves them: against each served resource's plural, singular, short names and
kind, case-insensitively, optionally qualified by `.GROUP` or `.VERSION.GROUP`; when several groups serve the
name, the core group wins, then the groups in the order discovery lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubedog_ci.kube.connect import Cluster


@dataclass(frozen=True)
class Resource:
    """One served resource type."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None, name: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"
        scope = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{base}{scope}/{self.plural}" + (f"/{name}" if name else "")


class UnknownResource(LookupError):
    """A name no served resource answers to."""


def discover(cluster: Cluster) -> list[Resource]:
    """Every resource of every group's preferred version, core first (subresources left out); a failure is a
    cluster error (CommandError)."""
    what = "the served resource types"
    versions = [("", "v1")]
    for group in cluster.get_json("/apis", "discover", what).get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("version")
        if preferred:
            versions.append((group["name"], preferred))
    resources: list[Resource] = []
    for group, version in versions:
        path = f"/apis/{group}/{version}" if group else "/api/v1"
        for entry in cluster.get_json(path, "discover", what).get("resources") or []:
            if "/" in entry["name"]:
                continue
            resources.append(Resource(group, version, entry["name"], entry.get("singularName") or "",
                                      entry["kind"], bool(entry.get("namespaced")),
                                      tuple(entry.get("shortNames") or ())))
    return resources


def resolve(resources: list[Resource], name: str) -> Resource:
    """The resource a kubectl-style type name means; raises UnknownResource."""
    wanted = name.lower()
    for candidate, group in _splits(wanted):
        for resource in resources:
            names = {resource.plural, resource.singular, resource.kind.lower(), *resource.short_names}
            if candidate in names and group in (None, resource.group, f"{resource.version}.{resource.group}"):
                return resource
    raise UnknownResource(f'the server doesn\'t have a resource type "{name}"')


def _splits(name: str) -> list[tuple[str, str | None]]:
    """`deployments.apps` -> [("deployments.apps", None), ("deployments", "apps")]: whole name first."""
    out: list[tuple[str, str | None]] = [(name, None)]
    head, _, tail = name.partition(".")
    if tail:
        out.append((head, tail))
    return out
