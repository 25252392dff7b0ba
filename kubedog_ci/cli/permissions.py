"""`--check-permissions`: what a run of the command on these resources would ask of the API server, and whether
the account may, without running it.

Each permission is needed for a verdict (the tracked objects themselves; for apply-and-track, applying them) or
optional (Events, Pods, ReplicaSets, logs: without them the run still ends with a verdict, with what each kind
loses said beside it, from its profile). The answers come from the API server (SelfSubjectAccessReview), so they
are what the run would meet. Exit code: 0 when every permission needed for a verdict is granted, 1 when one is
not; the Role rules that would grant what is missing are printed as YAML.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from kubedog_ci.cli import exit_codes

if TYPE_CHECKING:
    from kubedog_ci.engine.target import Target
    from kubedog_ci.kube.access import Permission
    from kubedog_ci.kube.connect import Cluster
    from kubedog_ci.manifests.validate import Planned

SECRETS_LOST = ("the values of the Secrets its Pods consume cannot be redacted from logs (turn the reads off with "
                "--no-secret-redaction)")
WATCH = ("get", "list", "watch")
"""A tracked object is read once (get) and then listed and watched, like every related type."""


@dataclass
class Need:
    """Why a run asks for one permission: `needed` for a verdict, else what the run loses without it."""

    needed: bool
    uses: set[str]


def add_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check-permissions", action="store_true",
                        help="do not run: ask the API server whether this account has every permission this run "
                        "would use, print them (needed for a verdict, or optional and what is lost without it) "
                        "and the Role rules that would grant the missing ones; exit 0 when every needed one is "
                        "granted, 1 when one is not")


def tracking_needs(targets: list[Target], *, secrets: bool = True) -> dict[Permission, Need]:
    """The permissions of tracking `targets`: get, list and watch each target's type in its namespace (needed);
    Events, the related types its profile watches, container logs and (`secrets`: unless --no-secret-redaction)
    the Secrets its Pods consume (optional, with what its kind loses)."""
    from kubedog_ci.engine.state import EVENTS, RELATED_TYPES
    from kubedog_ci.kube.access import Permission
    from kubedog_ci.rules import Stream, profile_for

    needs: dict[Permission, Need] = {}

    def add(permission: Permission, needed: bool, use: str) -> None:
        need = needs.setdefault(permission, Need(needed, set()))
        need.needed = need.needed or needed
        need.uses.add(use)

    for target in targets:
        resource, namespace = target.resource, target.namespace
        profile = profile_for(resource.group, resource.kind)
        for verb in WATCH:
            add(Permission(namespace, resource.group, resource.plural, verb), True, f"tracking {target.label}")
        if not namespace:
            continue
        optional = [(EVENTS, Stream.EVENTS), *((RELATED_TYPES[stream], stream) for stream in profile.streams)]
        for related, stream in optional:
            for verb in WATCH[1:]:
                add(Permission(namespace, related.group, related.plural, verb), False,
                    profile.lost_without(stream, resource.kind))
        if profile.has_pods:
            add(Permission(namespace, "", "pods/log", "get"), False, profile.lost_without(Stream.LOGS, resource.kind))
            if secrets:
                add(Permission(namespace, "", "secrets", "get"), False, SECRETS_LOST)
    return needs


def apply_needs(planned: list[Planned]) -> dict[Permission, Need]:
    """Applying: get and patch (server-side apply) each object (needed); get each namespace it goes to
    (optional: the check that it exists is skipped without it)."""
    from kubedog_ci.kube.access import Permission

    needs: dict[Permission, Need] = {}
    for entry in planned:
        for verb in ("get", "patch"):
            need = needs.setdefault(Permission(entry.namespace, entry.resource.group, entry.resource.plural, verb),
                                    Need(True, set()))
            need.uses.add(f"applying {entry.label}")
        if entry.namespace:
            needs.setdefault(Permission(entry.namespace, "", "namespaces", "get"), Need(
                False, {f'the check that namespace "{entry.namespace}" exists before anything is applied'}))
    return needs


def check(cluster: Cluster, *parts: dict[Permission, Need]) -> int:
    """Ask for each permission the parts of the run need, print the table and the rules that would grant what is
    missing."""
    from kubedog_ci.kube.access import allowed

    needs: dict[Permission, Need] = {}
    for part in parts:
        for permission, need in part.items():
            merged = needs.setdefault(permission, Need(False, set()))
            merged.needed = merged.needed or need.needed
            merged.uses |= need.uses

    rows = [("VERB", "RESOURCE", "NAMESPACE", "FOR", "GRANTED", "WITHOUT IT")]
    missing: list[Permission] = []
    failed = False
    for permission in sorted(needs):
        need = needs[permission]
        granted, _ = allowed(cluster, permission)
        if not granted:
            missing.append(permission)
            failed = failed or need.needed
        lost = "no verdict" if need.needed else "; ".join(sorted(need.uses))
        rows.append((permission.verb, permission.qualified, permission.namespace or "(cluster)",
                     "verdict" if need.needed else "optional", "yes" if granted else "NO", lost))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)) + "  " + row[5])
    if missing:
        print("\nRules that grant what is missing (kubectl apply -f, then bind them to this account):\n")
        yaml.safe_dump_all(_roles(missing), sys.stdout, sort_keys=False)
    needed = sum(1 for need in needs.values() if need.needed)
    print(f"\n{needed - sum(1 for p in missing if needs[p].needed)} of {needed} permissions needed for a verdict "
          f"granted; {len(needs) - needed - sum(1 for p in missing if not needs[p].needed)} of {len(needs) - needed} "
          "optional ones granted")
    return exit_codes.FAILED if failed else exit_codes.OK


def _roles(missing: list[Permission]) -> list[dict]:
    """A Role per namespace (a ClusterRole for cluster scope), one rule per API group and resource."""
    by_scope: dict[str, dict[tuple[str, str], list[str]]] = {}
    for permission in missing:
        verbs = by_scope.setdefault(permission.namespace, {}).setdefault((permission.group, permission.resource), [])
        verbs.append(permission.verb)
    roles = []
    for namespace, rules in sorted(by_scope.items()):
        meta = {"name": "kubedog-ci", **({"namespace": namespace} if namespace else {})}
        roles.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role" if namespace else "ClusterRole",
                      "metadata": meta,
                      "rules": [{"apiGroups": [group], "resources": [resource], "verbs": verbs}
                                for (group, resource), verbs in sorted(rules.items())]})
    return roles
