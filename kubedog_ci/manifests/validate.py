"""Check the whole input against the cluster's types and namespaces before anything is applied.

Every problem is collected, so one run shows them all, each at its file and line, and a half-applied input
cannot happen for a reason knowable in advance. Names are checked with the API server's own rules and words.
Types come from discovery (one preferred version per group, so a manifest's older version is trusted: the
server still rejects it at apply if it is not served) and from the CustomResourceDefinitions in the input,
which are applied first whatever their place in it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

from kubedog_ci.kube.discovery import Resource
from kubedog_ci.manifests.reader import Manifest, ManifestError, Source

CRD_API_VERSION = "apiextensions.k8s.io/v1"
CRD_KIND = "CustomResourceDefinition"

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(_LABEL)
_DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DNS1035_LABEL = re.compile("[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_MESSAGE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                  "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                  f"validation is '{_LABEL}')")
_SUBDOMAIN_MESSAGE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                      "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                      f"for validation is '{_DNS1123_SUBDOMAIN.pattern}')")
_DNS1035_MESSAGE = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                    f"regex used for validation is '{_DNS1035_LABEL.pattern}')")

_RBAC = "rbac.authorization.k8s.io"
_NAME_RULES = {
    ("", "Namespace"): "label",
    ("", "Service"): "dns1035",
    (_RBAC, "Role"): "path-segment",
    (_RBAC, "ClusterRole"): "path-segment",
    (_RBAC, "RoleBinding"): "path-segment",
    (_RBAC, "ClusterRoleBinding"): "path-segment",
}
"""The API server's name rule for each (group, kind) that does not use the default, a DNS-1123 subdomain."""


@dataclass(frozen=True)
class Planned:
    """One object to apply: its manifest, its served type (at the manifest's version) and its namespace."""

    manifest: Manifest
    resource: Resource
    namespace: str
    """"" for a cluster-scoped object."""

    @property
    def obj(self) -> dict:
        return self.manifest.obj

    @property
    def source(self) -> Source:
        return self.manifest.source

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    @property
    def kind(self) -> str:
        return self.obj["kind"]

    @property
    def label(self) -> str:
        """As kubectl prints applied objects: `deployment.apps/web`, `service/web`."""
        return _label(self.resource.singular or self.kind.lower(), self.resource.group, self.name)


class InvalidInput(ManifestError):
    """Problems that stop the input from being applied at all; `problems` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        head = [f"{len(problems)} problems in the input; nothing was applied:"] if len(problems) > 1 else []
        super().__init__("\n".join(head + problems))


def crd_resources(manifests: list[Manifest]) -> list[Resource]:
    """The types the input's CustomResourceDefinitions define: one per served version.

    An incomplete definition defines nothing here; the server rejects it at apply, with its own words.
    """
    resources: list[Resource] = []
    for manifest in manifests:
        obj = manifest.obj
        if obj.get("apiVersion") != CRD_API_VERSION or obj.get("kind") != CRD_KIND:
            continue
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
        group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
        if not (isinstance(group, str) and isinstance(plural, str) and isinstance(kind, str)):
            continue
        singular = names.get("singular") or kind.lower()
        short_names = tuple(names.get("shortNames") or ())
        for version in spec.get("versions") or []:
            if isinstance(version, dict) and version.get("served") and isinstance(version.get("name"), str):
                resources.append(Resource(group, version["name"], plural, singular, kind,
                                          spec.get("scope") != "Cluster", short_names))
    return resources


def validate(manifests: list[Manifest], resources: list[Resource], namespace_exists: Callable[[str], bool],
             default_namespace: str, namespace_override: str | None = None) -> list[Planned]:
    """The input as objects to apply, in input order; raises InvalidInput listing every problem found.
    `namespace_exists` answers for each namespace the input uses and does not create (a namespaced get each,
    so a CI account that may not list namespaces can still be checked)."""
    defined = {(r.group, r.version, r.kind): r for r in crd_resources(manifests)}
    served: dict[tuple[str, str], Resource] = {}
    for resource in resources:
        served.setdefault((resource.group, resource.kind), resource)
    created = {m.obj["metadata"].get("name") for m in manifests
               if m.obj["apiVersion"] == "v1" and m.obj["kind"] == "Namespace"}
    problems: list[str] = []
    seen: dict[tuple[str, str, str, str], Source] = {}
    planned: list[Planned] = []
    for manifest in manifests:
        obj, source = manifest.obj, manifest.source
        meta, kind = obj["metadata"], obj["kind"]
        group, _, version = obj["apiVersion"].rpartition("/")
        name = meta.get("name")
        if not (isinstance(name, str) and name):
            problems.append(f'{source}: {kind} with generateName "{meta.get("generateName")}": server-side apply '
                            "needs metadata.name; generateName is not supported")
            continue
        found = defined.get((group, version, kind)) or served.get((group, kind))
        label = _label(found.singular if found and found.singular else kind.lower(), group, name)
        problems.extend(f"{source}: {label}: metadata.name: Invalid value: {_quoted(name)}: {message}"
                        for message in _name_problems(_NAME_RULES.get((group, kind), "subdomain"), name))
        written = meta.get("namespace") or ""
        if written:
            wrong = _name_problems("label", written) if isinstance(written, str) else ["must be a string"]
            problems.extend(f"{source}: {label}: metadata.namespace: Invalid value: {_quoted(written)}: {message}"
                            for message in wrong)
            if wrong:
                continue
        if found is None:
            hint = "" if _built_in(group) else " (is its CustomResourceDefinition applied?)"
            problems.append(f'{source}: no kind "{kind}" in API version "{obj["apiVersion"]}" is served by the '
                            f"cluster{hint}")
            continue
        if not found.namespaced:
            namespace = ""
            if written:
                problems.append(f'{source}: {label} is cluster-scoped but sets metadata.namespace "{written}"')
        elif namespace_override and written and written != namespace_override:
            problems.append(f'{source}: {label}: the namespace from the provided object "{written}" does not match '
                            f'the namespace "{namespace_override}". You must pass \'--namespace={written}\' to '
                            "perform this operation.")
            continue
        else:
            namespace = namespace_override or written or default_namespace
            if namespace not in created and not namespace_exists(namespace):
                problems.append(f'{source}: namespace "{namespace}" of {label} does not exist and is not created by '
                                "the input")
        key = (group, kind, namespace, name)
        if key in seen:
            where = f' in namespace "{namespace}"' if namespace else ""
            problems.append(f"{source}: {label}{where} is also defined at {seen[key]}")
            continue
        seen[key] = source
        planned.append(Planned(manifest, dataclasses.replace(found, version=version), namespace))
    if problems:
        raise InvalidInput(problems)
    return planned


def _label(singular: str, group: str, name: str) -> str:
    return f"{singular}{'.' + group if group else ''}/{name}"


def _quoted(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _built_in(group: str) -> bool:
    """Kubernetes' own API groups, where an unknown kind is a typo rather than a missing definition."""
    return "." not in group or group.endswith(".k8s.io")


def _name_problems(rule: str, name: str) -> list[str]:
    """The API server's complaints about a name under one of its rules, in its words; none when it is valid."""
    if rule == "path-segment":
        problems = [f"may not be '{name}'"] if name in (".", "..") else []
        return problems + [f"may not contain '{c}'" for c in ("/", "%") if c in name]
    limit, pattern, message = {
        "label": (63, _DNS1123_LABEL, _LABEL_MESSAGE),
        "dns1035": (63, _DNS1035_LABEL, _DNS1035_MESSAGE),
        "subdomain": (253, _DNS1123_SUBDOMAIN, _SUBDOMAIN_MESSAGE),
    }[rule]
    problems = [f"must be no more than {limit} characters"] if len(name) > limit else []
    return problems + ([] if pattern.fullmatch(name) else [message])
