"""Named objects fetched from the cluster: resolve each reference's type by discovery, then GET it."""

from __future__ import annotations

from dataclasses import dataclass

from kubedog_ci.kube.connect import Cluster
from kubedog_ci.kube.discovery import Resource, UnknownResource, discover, resolve
from kubedog_ci.kube.http import ApiError, GiveUp, Requester
from kubedog_ci.secrets import SECRETS


@dataclass(frozen=True)
class Ref:
    """An object as the user named it: a type name (`deploy`, `Deployment.apps`) or apiVersion+kind, and a name."""

    type_name: str
    name: str
    namespace: str | None = None
    api_version: str = ""


class UnknownType(ValueError):
    """A reference to a type the cluster does not serve (an input error, not a cluster error)."""


def resolve_ref(resources: list[Resource], ref: Ref) -> Resource:
    """The served resource type a reference names; raises UnknownType."""
    if ref.api_version:
        group = ref.api_version.rpartition("/")[0]
        for resource in resources:
            if resource.group == group and resource.kind == ref.type_name:
                return resource
        raise UnknownType(f'the server has no kind "{ref.type_name}" in API version "{ref.api_version}"')
    try:
        return resolve(resources, ref.type_name)
    except UnknownResource as err:
        raise UnknownType(str(err)) from err


@dataclass(frozen=True)
class Fetched:
    """A referenced object as the cluster has it now; `obj` is None when it does not exist."""

    ref: Ref
    resource: Resource
    namespace: str
    obj: dict | None

    @property
    def not_found_message(self) -> str:
        """The API server's own words for a missing object."""
        group = f".{self.resource.group}" if self.resource.group else ""
        return f'{self.resource.plural}{group} "{self.ref.name}" not found'


def fetch(cluster: Cluster, refs: list[Ref], default_namespace: str) -> list[Fetched]:
    """Each referenced object as the cluster has it now, in order; missing ones too (obj None). A failure of the
    cluster is a CommandError."""
    resources = discover(cluster)
    out: list[Fetched] = []
    for ref in refs:
        resource = resolve_ref(resources, ref)
        namespace = (ref.namespace or default_namespace) if resource.namespaced else ""
        what = f'{resource.plural}{"." + resource.group if resource.group else ""} "{ref.name}"' + (
            f' in namespace "{namespace}"' if namespace else "")
        try:
            obj: dict | None = cluster.get_json(resource.path(namespace, ref.name), "get", what, expected={404})
        except ApiError:
            obj = None
        out.append(Fetched(ref, resource, namespace, obj))
    return out


def register_secret(requests: Requester, namespace: str, name: str) -> str | None:
    """Read a Secret with a namespaced get and register its values (kubedog_ci.secrets), so that no output prints
    them; None when it was read, else why not ("forbidden", "not found", or the API's failure). The values are
    kept in memory only, never logged; the caller may name the Secret."""
    try:
        secret = requests.retrying(lambda: requests.get_json(f"/api/v1/namespaces/{namespace}/secrets/{name}"),
                                   "get", f'secret "{name}" in namespace "{namespace}"')
    except ApiError as err:
        return {403: "forbidden", 404: "not found"}.get(err.status, f"{err.status} {err.reason}")
    except GiveUp as err:
        return err.message
    SECRETS.add_secret(secret)
    return None
