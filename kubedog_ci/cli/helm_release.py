"""`--helm-release NAME` (rollout track, follow, status): the objects a Helm release deployed, read from the
release Helm stored in the cluster (kubedog_ci.manifests.helm decodes it).

The release's history is listed with Helm's own label selector (`owner=helm,name=NAME`) in its namespace: a
namespaced list of Secrets (ConfigMaps with `--helm-driver configmap` or HELM_DRIVER=configmap), so the account
needs `list secrets` there. The newest revision is taken (the highest number, whatever its status, as `helm
history` shows it last), or `--helm-revision N`; a notice says which. Its manifest's objects are resolved as `-f`
manifests are, in the release's namespace unless they name another; those with no state to reach (ConfigMaps,
RBAC, …) are left out, as apply-and-track leaves them out, judged from the manifest so that they are never read
(an account needs no permission on them), and each keeps its tracking annotations. Hooks have
run by the time `helm upgrade` returns, so they are left out unless `--helm-hooks`; a hook no longer in the
cluster (deleted by its delete policy) is then named and skipped.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubedog_ci.cli.cluster_args import connect
from kubedog_ci.errors import InputError

if TYPE_CHECKING:
    from kubedog_ci.cli.permissions import Need
    from kubedog_ci.engine.settings import TargetSettings
    from kubedog_ci.engine.target import Target, TargetKey
    from kubedog_ci.kube.access import Permission
    from kubedog_ci.kube.connect import Cluster
    from kubedog_ci.kube.fetch import Fetched
    from kubedog_ci.manifests.helm import Release, ReleaseObject


def add_flags(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument("--helm-release", metavar="NAME",
                        help=f"{verb} what the Helm release NAME deployed, read from the release Helm keeps in the "
                        "cluster (in -n NS; needs list secrets there): its newest revision, whatever its status")
    parser.add_argument("--helm-revision", type=int, metavar="N",
                        help="with --helm-release: that revision instead of the newest")
    parser.add_argument("--helm-hooks", action="store_true",
                        help="with --helm-release: the release's hooks (Jobs and the rest) too; those no longer in "
                        "the cluster are named and skipped")
    parser.add_argument("--helm-driver", metavar="secret|configmap",
                        help="where Helm keeps its releases (default: $HELM_DRIVER, else secret)")


def check_flags(args: argparse.Namespace) -> None:
    """--helm-release names the objects alone; the other --helm- flags need it."""
    if not args.helm_release:
        if args.helm_revision is not None or args.helm_hooks or args.helm_driver:
            raise InputError("--helm-revision, --helm-hooks and --helm-driver go with --helm-release NAME")
        return
    if args.resources or args.filename or getattr(args, "selector", None):
        raise InputError("--helm-release names the objects to track itself: give no RESOURCE, -f or -l with it")
    if args.helm_revision is not None and args.helm_revision < 1:
        raise InputError(f"--helm-revision must be 1 or more, got {args.helm_revision}")


@dataclass
class Resolved:
    """A release's objects, resolved against the cluster."""

    cluster: Cluster
    release: Release
    fetched: list[Fetched] = field(default_factory=list)
    """The objects to judge, live (obj None when missing), in the release's order."""
    targets: list[Target] = field(default_factory=list)
    sources: dict[TargetKey, str] = field(default_factory=dict)
    """`helm:NAME/REVISION:TEMPLATE:LINE` of each target."""
    settings: dict[TargetKey, TargetSettings] = field(default_factory=dict)
    """Each target's settings, from its annotations."""
    notices: list[str] = field(default_factory=list)


def resolve(args: argparse.Namespace, verb: str = "tracking", cluster: Cluster | None = None) -> Resolved:
    """The release's objects that have a state to reach, as targets with their sources and settings, and the
    notices saying which revision they come from and what was left out."""
    from kubedog_ci.engine.target import Target
    from kubedog_ci.kube.fetch import Ref, UnknownType, fetch
    from kubedog_ci.manifests.annotations import settings_for, tracked
    from kubedog_ci.manifests.helm import HelmError, objects
    from kubedog_ci.manifests.reader import ManifestError
    from kubedog_ci.rules import is_trackable
    from kubedog_ci.secrets import SECRETS

    cluster = cluster or connect(args)
    namespace = args.namespace or cluster.namespace
    release = read_release(cluster, args.helm_release, namespace, revision=args.helm_revision,
                           driver=helm_driver(args))
    try:
        found = objects(release, hooks=args.helm_hooks)
        for entry in found:  # the chart's Secrets: their values never reach the output
            SECRETS.add_secret(entry.manifest.obj)
        named = [entry for entry in found if entry.manifest.obj["metadata"].get("name")]
        chosen = [entry for entry in named if tracked(entry.manifest)]
        settings = {id(entry): settings_for(entry.manifest) for entry in chosen}
    except (HelmError, ManifestError) as err:
        raise InputError(str(err)) from err
    # Judged from what Helm applied, before anything is read: a ConfigMap, Secret or Role of the release is not
    # read at all, so an account that may read only what is tracked (and list the release) is enough.
    trackable = [entry for entry in chosen if is_trackable(entry.manifest.obj["apiVersion"].rpartition("/")[0],
                                                           entry.manifest.obj["kind"], entry.manifest.obj)]
    home = release.namespace or namespace
    refs = [Ref(entry.manifest.obj["kind"], entry.manifest.obj["metadata"]["name"],
                entry.manifest.obj["metadata"].get("namespace") or home, entry.manifest.obj["apiVersion"])
            for entry in trackable]
    try:
        fetched = fetch(cluster, refs, home)
    except UnknownType as err:
        raise InputError(f"{release.label}: {err}") from err
    resolved = Resolved(cluster, release)
    left = {"not tracked by annotation": len(named) - len(chosen), "hook{s} no longer in the cluster": 0,
            "with no state to reach": len(chosen) - len(trackable),
            "named by generateName alone": len(found) - len(named)}
    for live, entry in zip(fetched, trackable, strict=True):
        if entry.hook is not None and live.obj is None:
            resolved.notices.append(_gone_hook(live, entry))
            left["hook{s} no longer in the cluster"] += 1
            continue
        target = Target(live.resource, live.namespace, live.ref.name)
        if target.key in resolved.sources:
            continue
        resolved.fetched.append(live)
        resolved.targets.append(target)
        resolved.sources[target.key] = str(entry.manifest.source)
        resolved.settings[target.key] = settings[id(entry)]
    hooks = 0 if args.helm_hooks else sum(1 for hook in release.hooks if hook.manifest.strip())
    left["hook{s}, which --helm-hooks tracks"] = hooks
    said = (f'Helm release "{release.name or args.helm_release}" revision {release.revision} (status '
            f'{release.status}) in namespace "{namespace}": {verb} {len(resolved.targets)} of its '
            f"{len(found) + hooks} objects")
    if reasons := [f"{count} {why.format(s='' if count == 1 else 's')}" for why, count in left.items() if count]:
        said += f" (left out: {', '.join(reasons)})"
    if not resolved.targets:
        said += "; nothing to track: every object of the release is ready once applied"
    resolved.notices.insert(0, said)
    return resolved


def helm_driver(args: argparse.Namespace) -> str:
    """secrets or configmaps: --helm-driver, else HELM_DRIVER, else secrets."""
    from kubedog_ci.manifests.helm import driver_resource

    value = args.helm_driver if args.helm_driver is not None else os.environ.get("HELM_DRIVER", "")
    try:
        return driver_resource(value)
    except ValueError as err:
        raise InputError(str(err)) from err


def read_release(cluster: Cluster, name: str, namespace: str, *, revision: int | None = None,
                 driver: str = "secrets") -> Release:
    """The newest (or the given) revision of release `name` in `namespace`, decoded. Forbidden to list where it is
    kept: a ClusterError naming the permission; no such release or revision: an InputError listing what there
    is."""
    from kubedog_ci.manifests.helm import HelmError, decode_stored, newest, revision_of, selector

    items = _list(cluster, namespace, driver, selector(name))
    chosen = newest(items, revision)
    if chosen is None:
        if items:
            have = ", ".join(str(number) for number in sorted({revision_of(item) or 0 for item in items}))
            raise InputError(f'Helm release "{name}" in namespace "{namespace}" has no revision {revision} '
                             f"(revisions: {have})")
        raise InputError(f'no Helm release "{name}" in namespace "{namespace}" ({_where(driver, name)}); '
                         + _others(cluster, namespace, driver))
    try:
        return decode_stored(chosen, driver)
    except HelmError as err:
        raise InputError(f'Helm release "{name}" in namespace "{namespace}": {err}') from err


def _list(cluster: Cluster, namespace: str, driver: str, labels: str) -> list[dict]:
    from kubedog_ci.kube.http import resource_phrase

    listing = cluster.get_json(f"/api/v1/namespaces/{namespace}/{driver}", "list",
                               resource_phrase(driver, "", namespace), {"labelSelector": labels})
    return [item for item in listing.get("items") or [] if isinstance(item, dict)]


def _where(driver: str, name: str) -> str:
    kept, other = ("Secrets", "configmap") if driver == "secrets" else ("ConfigMaps", "secret")
    return (f"no {kept} labeled owner=helm,name={name}; if Helm keeps its releases in {other}s, say "
            f"--helm-driver {other} or set HELM_DRIVER={other}")


def _others(cluster: Cluster, namespace: str, driver: str) -> str:
    """`releases there: api (revision 4, deployed), web (revision 2, failed)`, or that there are none."""
    from kubedog_ci.manifests.helm import newest, release_name_of

    by_name: dict[str, list[dict]] = {}
    for item in _list(cluster, namespace, driver, "owner=helm"):
        by_name.setdefault(release_name_of(item), []).append(item)
    shown = []
    for name, items in sorted(by_name.items()):
        last = newest(items) or items[0]
        labels = (last.get("metadata") or {}).get("labels") or {}
        shown.append(f"{name} (revision {labels.get('version', '?')}, {labels.get('status', 'unknown')})")
    return f"releases there: {', '.join(shown)}" if shown else "there is no Helm release in that namespace"


def _gone_hook(live: Fetched, entry: ReleaseObject) -> str:
    from kubedog_ci.engine.target import type_label

    hook = entry.hook
    if hook is None:
        return ""
    events = ", ".join(hook.events) or "no event"
    said = [f"its delete policy: {', '.join(hook.delete_policies)}"] if hook.delete_policies else []
    said += [f"its last run: {hook.last_phase}"] if hook.last_phase else []
    return (f"hook {type_label(live.resource)}/{live.ref.name} ({events}) is not in the cluster"
            + (f" ({'; '.join(said)})" if said else "") + ": not tracked")


def permissions(args: argparse.Namespace, cluster: Cluster, *, secrets: bool,
                warn: Callable[[str], None]) -> list[dict[Permission, Need]]:
    """--check-permissions with --helm-release: `list` where the release is kept (needed), and, when the release
    can be read, what tracking its objects needs."""
    from kubedog_ci.cli.permissions import Need, tracking_needs
    from kubedog_ci.errors import ClusterError
    from kubedog_ci.kube.access import Permission

    namespace = args.namespace or cluster.namespace
    reading = {Permission(namespace, "", helm_driver(args), "list"):
               Need(True, {f'reading Helm release "{args.helm_release}"'})}
    try:
        resolved = resolve(args, cluster=cluster)
    except ClusterError as err:
        warn(f"{err}; so only reading the release is checked, not tracking its objects")
        return [reading]
    return [reading, tracking_needs(resolved.targets, secrets=secrets)]
