"""`kubedog apply-and-track`: read and check every manifest, apply them with server-side apply, then track
everything that has a state to reach, concurrently, until all are ready, one has failed, or the timeout passes.

Nothing is applied until the whole input has been read and checked against the cluster's served types and
namespaces. Exit codes: 0 all ready, 1 a resource failed, 2 usage or input error (nothing applied), 3 timeout,
4 the API server rejected an object (what was applied before it is listed), 5 cluster error, 130/143 signals.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from kubedog_ci.cli import exit_codes
from kubedog_ci.cli.cluster_args import add_cluster_flags, connect
from kubedog_ci.cli.permissions import add_flag as add_permissions_flag
from kubedog_ci.cli.report_flags import build_sink
from kubedog_ci.cli.tracking import add_output_flags, add_verdict_flags, options_from, track_targets
from kubedog_ci.errors import InputError

if TYPE_CHECKING:
    from kubedog_ci.apply import ApplyResult
    from kubedog_ci.engine.settings import TargetSettings
    from kubedog_ci.engine.sink import Applied, Sink
    from kubedog_ci.kube.connect import Cluster
    from kubedog_ci.manifests.reader import Manifest
    from kubedog_ci.manifests.validate import Planned


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "apply-and-track", help="apply manifests (server-side apply) and track them until ready or failed",
        description="Read manifests, check them all, apply them with server-side apply (Namespaces and CRDs "
        "first, then what workloads use, Services, workloads, the rest), and track every applied resource until "
        "all are ready (exit 0) or one has failed (1, with a diagnosis). Other exit codes: 2 usage or input "
        "error (nothing applied), 3 timeout, 4 an object rejected by the API server, 5 cluster error, "
        "130 SIGINT, 143 SIGTERM. Per-object settings come from annotations (see README).")
    parser.add_argument("-f", "--filename", action="append", default=[], metavar="PATH",
                        help="a manifest file, a directory of .yaml/.yml/.json files, an http(s) URL, or '-' for "
                        "stdin; repeatable")
    parser.add_argument("-R", "--recursive", action="store_true",
                        help="read the directories given with -f recursively")
    parser.add_argument("-k", "--kustomize", action="append", default=[], metavar="DIR",
                        help="build this kustomization (with kubectl kustomize, or kustomize build) and apply it")
    add_cluster_flags(parser)
    parser.add_argument("--field-manager", default="kubedog", metavar="NAME",
                        help="the field manager of server-side apply (default kubedog)")
    parser.add_argument("--force-conflicts", action="store_true",
                        help="take over fields another field manager owns instead of failing with a conflict")
    parser.add_argument("--dry-run", choices=("none", "server"), default="none",
                        help="server: send every apply as a server-side dry run, report what the server would "
                        "reject, and stop (nothing is changed)")
    add_verdict_flags(parser)
    add_output_flags(parser)
    add_permissions_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from kubedog_ci.apply import Applier
    from kubedog_ci.engine.target import labels
    from kubedog_ci.kube.discovery import discover
    from kubedog_ci.library import event_versions, tracked_targets
    from kubedog_ci.manifests.order import apply_order
    from kubedog_ci.manifests.reader import ManifestError
    from kubedog_ci.manifests.validate import validate
    from kubedog_ci.secrets import SECRETS

    if not args.filename and not args.kustomize:
        raise InputError("give the manifests to apply: -f FILE|DIR|URL|- or -k DIR")
    options = options_from(args)
    sources: dict[str, str] = {}
    """label -> FILE:LINE, filled in once the targets are known; the sink reads it at the end of the run."""
    sink = build_sink(args, sources)
    manifests, settings = _read(args)
    for manifest in manifests:  # before anything reaches the cluster, whose messages may quote them
        SECRETS.add_secret(manifest.obj)
    cluster = connect(args)
    resources = discover(cluster)
    exists = (lambda namespace: True) if args.check_permissions else _namespace_checker(cluster, sink)
    try:
        planned = validate(manifests, resources, exists, cluster.namespace, args.namespace)
    except ManifestError as err:
        raise InputError(str(err)) from err
    if args.check_permissions:
        return _check_permissions(cluster, planned, settings, secrets=args.secret_redaction)
    dry_run = args.dry_run == "server"
    applier = Applier(cluster, field_manager=args.field_manager, force_conflicts=args.force_conflicts,
                      dry_run=dry_run, api_timeout=options.api_timeout,
                      report=lambda applied: sink.applied(_record(applied)))
    if not dry_run:  # the cluster's clock (Cluster.now), and where its Events stand: the run takes both from here
        options = dataclasses.replace(options, origin=cluster.now(), events_since=event_versions(
            cluster, (entry.namespace for entry in planned)))
    applied = applier.apply_all(apply_order(planned))  # raises ApplyError (ApplyRejected) or ClusterError
    if dry_run:
        sink.notice(f"server dry run: the API server accepted all {len(applied)} objects; nothing was changed")
        return exit_codes.OK
    tracked = tracked_targets([(entry.planned, entry.obj) for entry in applied], settings)
    del applied  # the server's copies of what was applied (a thousand Deployments): tracking reads its own
    if not tracked:
        sink.notice("nothing to track: every applied object is ready once applied")
        return exit_codes.OK
    targets = [target for target, _, _ in tracked]
    names = labels(targets)
    sources.update({names[target.key]: source for target, _, source in tracked})
    return exit_codes.for_run(track_targets(args, cluster, targets, options,
                                   {target.key: chosen for target, chosen, _ in tracked}, sink=sink))


def _check_permissions(cluster: Cluster, planned: list[Planned], settings: dict[int, TargetSettings | None], *,
                       secrets: bool) -> int:
    """`--check-permissions`: applying every object, then tracking those that would be tracked."""
    from kubedog_ci.cli.permissions import apply_needs, check, tracking_needs
    from kubedog_ci.library import tracked_targets

    targets = [target for target, _, _ in tracked_targets([(entry, entry.obj) for entry in planned], settings)]
    return check(cluster, apply_needs(planned), tracking_needs(targets, secrets=secrets))


def _read(args: argparse.Namespace) -> tuple[list[Manifest], dict[int, TargetSettings | None]]:
    """Every manifest, and each one's tracking settings from its annotations (None: not tracked), keyed by the
    manifest's id; all checked before the cluster is contacted."""
    from kubedog_ci.library import tracking_settings
    from kubedog_ci.manifests.inputs import read_inputs
    from kubedog_ci.manifests.reader import ManifestError

    try:
        manifests = read_inputs(args.filename, recursive=args.recursive, kustomizations=args.kustomize)
    except ManifestError as err:
        raise InputError(str(err)) from err
    return manifests, tracking_settings(manifests)


def _namespace_checker(cluster: Cluster, sink: Sink) -> Callable[[str], bool]:
    """Whether a namespace exists, by a get of that namespace alone: a CI account bound to a role in its own
    namespace may read that namespace but not list the cluster's. Forbidden to read it too, the check is skipped
    with a notice: a namespace that really is missing then fails the apply with the server's NotFound."""
    from kubedog_ci.kube.http import ApiError

    known: dict[str, bool] = {}

    def exists(name: str) -> bool:
        if name not in known:
            try:
                cluster.get_json(f"/api/v1/namespaces/{name}", "get", f'namespace "{name}"', expected={403, 404})
                known[name] = True
            except ApiError as err:
                known[name] = err.status != 404
                if err.status == 403:
                    sink.notice(f'cannot get namespace "{name}" (forbidden): not checked before apply')
        return known[name]

    return exists


def _record(applied: ApplyResult) -> Applied:
    from kubedog_ci.engine.sink import Applied

    planned = applied.planned
    return Applied(planned.kind, planned.namespace, planned.name, applied.action, applied.line(),
                         str(planned.source))

