"""A tracked target: one object named by resource type, namespace and name, and how the output names it.

The key holds all three parts because the same name in two namespaces, or in two kinds, is two targets (a gap
of the original kubedog, which keyed on the name alone).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubedog_ci.kube.discovery import Resource

TargetKey = tuple[str, str, str, str]
"""(API group, plural, namespace, name): unique per object; the version is left out because every version of a
resource names the same objects."""


@dataclass(frozen=True)
class Target:
    """An object to track. `namespace` is "" for a cluster-scoped object."""

    resource: Resource
    namespace: str
    name: str

    @property
    def key(self) -> TargetKey:
        return (self.resource.group, self.resource.plural, self.namespace, self.name)

    @property
    def kind(self) -> str:
        return self.resource.kind

    @property
    def label(self) -> str:
        """kubectl's shortest name for the type and the object's name: `deploy/web`, `job/migrate`, `widget/gear`."""
        return f"{type_label(self.resource)}/{self.name}"


def type_label(resource: Resource) -> str:
    """The first short name (`deploy`, `sts`, `po`), else the singular (`job`, `widget`), else the kind."""
    if resource.short_names:
        return resource.short_names[0]
    return resource.singular or resource.kind.lower()


def labels(targets: list[Target]) -> dict[TargetKey, str]:
    """Each target's display label, qualified by its namespace (`prod/deploy/web`) only when the targets span
    several namespaces, so that the common one-namespace run keeps the short `deploy/web` prefix."""
    namespaces = {target.namespace for target in targets if target.namespace}
    if len(namespaces) <= 1:
        return {target.key: target.label for target in targets}
    return {target.key: f"{target.namespace}/{target.label}" if target.namespace else target.label
            for target in targets}
