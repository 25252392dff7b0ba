"""What the tracking commands (rollout track, follow, apply-and-track) share: their flags, the run's Options
from those flags, the objects named on the command line, and the tracking run itself with its signal handling."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kubedog_ci.cli import exit_codes, helm_release
from kubedog_ci.cli.cluster_args import (
    add_cluster_flags,
    add_secret_redaction_flag,
    api_timeout,
    connect,
    fetch_named,
    named_refs,
)
from kubedog_ci.cli.permissions import add_flag as add_permissions_flag
from kubedog_ci.cli.report_flags import add_report_flags, build_sink
from kubedog_ci.durations import parse_duration
from kubedog_ci.errors import InputError

if TYPE_CHECKING:
    from kubedog_ci.engine.outcome import Options, Outcome
    from kubedog_ci.engine.settings import TargetSettings
    from kubedog_ci.engine.sink import Sink
    from kubedog_ci.engine.target import Target, TargetKey
    from kubedog_ci.engine.tracker import Interrupt
    from kubedog_ci.kube.connect import Cluster
    from kubedog_ci.manifests.reader import Manifest


def add_target_flags(parser: argparse.ArgumentParser, verb: str) -> None:
    """The flags `rollout track` and `follow` share: what to watch, the cluster, logs, colors, grace scale."""
    parser.add_argument("resources", nargs="*", metavar="RESOURCE",
                        help="KIND/NAME, KIND.GROUP/NAME or KIND NAME; with -l, only KIND")
    parser.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                        help=f"{verb} the objects named in this manifest file ('-' for stdin; not applied); "
                        "repeatable")
    parser.add_argument("-l", "--selector", metavar="SELECTOR",
                        help=f"{verb} every object of the RESOURCE kinds matching this label selector")
    helm_release.add_flags(parser, verb)
    add_cluster_flags(parser)
    add_output_flags(parser)
    add_permissions_flag(parser)


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    """Logs, the grace scale, and the report flags (colors, JSON, JUnit, CI): how a tracking run shows what it
    sees."""
    add_report_flags(parser)
    parser.add_argument("--logs", action=argparse.BooleanOptionalAction, default=True,
                        help="stream the logs of the current revision's containers (default: on)")
    parser.add_argument("--max-log-streams", type=int, default=50, metavar="N",
                        help="follow at most N container logs at once; the others wait for one of them to end, and "
                        "then start from where they would have (default 50)")
    parser.add_argument("--logs-since", default="now", metavar="now|all|DURATION",
                        help="logs of already running containers from: now (default), all, or DURATION ago")
    add_secret_redaction_flag(parser)
    parser.add_argument("--grace-scale", type=float, default=1.0, metavar="F",
                        help="multiply every grace period of the reason table by F (e.g. 0.02 against "
                        "'kubedog sim serve --time-scale 0.02'; default 1)")
    # How many targets of a namespace get watches of their own (by name, by selector) before a type is watched
    # once for all of them (Options.selective_watches): the knob of the measurement that chose the default
    # (README, Benchmarks), not a user's.
    parser.add_argument("--selective-watches", type=int, default=None, help=argparse.SUPPRESS)


def add_verdict_flags(parser: argparse.ArgumentParser) -> None:
    """When a tracking run ends: its timeout, fail-fast, and the failure budget."""
    parser.add_argument("--timeout", default="10m", metavar="DURATION",
                        help="give up after this long (Go duration: 90s, 5m, 1h30m; 0 means none; default 10m)")
    parser.add_argument("--fail-fast", action=argparse.BooleanOptionalAction, default=True,
                        help="stop at the first failed resource (default); with --no-fail-fast, wait until every "
                        "resource has a verdict")
    parser.add_argument("--failures-allowed-per-replica", type=int, default=1, metavar="N",
                        help="container failures tolerated per replica before a resource fails (default 1)")
    parser.add_argument("--settle", default="5s", metavar="DURATION",
                        help="a workload is ready only once each of its current Pods has been running this long, or "
                        "longer when its liveness or startup probes can still have it killed; a restart, OOM kill "
                        "or failed liveness probe meanwhile fails it (default 5s; 0: ready as soon as its rule "
                        "says so; scaled by --grace-scale)")
    parser.add_argument("--settle-max", default="2m", metavar="DURATION",
                        help="the longest settle window, whatever the probes say (default 2m)")


def logs_since(args: argparse.Namespace) -> float | None:
    """--logs-since as Options.logs_since: None for all, else seconds before the start."""
    if args.logs_since == "all":
        return None
    if args.logs_since == "now":
        return 0.0
    try:
        return parse_duration(args.logs_since)
    except ValueError as err:
        raise InputError(f"--logs-since: {err}; or use now or all") from err


def max_log_streams(args: argparse.Namespace) -> int:
    """--max-log-streams, checked: with no stream at all, --no-logs says what is meant."""
    if args.max_log_streams < 1:
        raise InputError(f"--max-log-streams must be at least 1, got {args.max_log_streams}")
    return args.max_log_streams


def check_grace_scale(args: argparse.Namespace) -> None:
    if args.grace_scale <= 0:
        raise InputError(f"--grace-scale must be greater than 0, got {args.grace_scale}")


def options_from(args: argparse.Namespace, *, follow: bool = False) -> Options:
    """The run's Options from the flags. `follow`: `kubedog follow`'s, which has no timeout, never fails fast and
    re-opens verdicts."""
    from kubedog_ci.engine.outcome import Options

    since = logs_since(args)
    check_grace_scale(args)
    shown = {"logs": args.logs, "logs_since": since, "grace_scale": args.grace_scale,
             "api_timeout": api_timeout(args), "max_log_streams": max_log_streams(args),
             "redact_secrets": args.secret_redaction}
    if args.selective_watches is not None:
        shown["selective_watches"] = max(0, args.selective_watches)
    if follow:
        return Options(timeout=0, fail_fast=False, follow=True, **shown)
    try:
        timeout = parse_duration(args.timeout)
    except ValueError as err:
        raise InputError(f"--timeout: {err}") from err
    if timeout < 0:
        raise InputError(f"--timeout must not be negative, got {args.timeout}")
    if args.failures_allowed_per_replica < 0:
        raise InputError(f"--failures-allowed-per-replica must be 0 or more, got {args.failures_allowed_per_replica}")
    settle, settle_max = (_duration(args, flag) for flag in ("settle", "settle_max"))
    return Options(timeout=timeout, fail_fast=args.fail_fast, settle=settle, settle_max=settle_max,
                   failures_allowed_per_replica=args.failures_allowed_per_replica, **shown)


def _duration(args: argparse.Namespace, name: str) -> float:
    """A duration flag >= 0, in seconds."""
    flag, text = f"--{name.replace('_', '-')}", getattr(args, name)
    try:
        seconds = parse_duration(text)
    except ValueError as err:
        raise InputError(f"{flag}: {err}") from err
    if seconds < 0:
        raise InputError(f"{flag} must not be negative, got {text}")
    return seconds


def run_engine(args: argparse.Namespace, options: Options) -> Outcome:
    """Resolve the named objects (or the Helm release's) and track them (see `track_targets`)."""
    helm_release.check_flags(args)
    if args.helm_release:
        found = helm_release.resolve(args, "following" if options.follow else "tracking")
        return track_targets(args, found.cluster, found.targets, options, found.settings, sources=found.sources,
                             notices=found.notices)
    cluster, targets, sources = resolve_targets(args)
    return track_targets(args, cluster, targets, options, sources=sources)


def track_targets(args: argparse.Namespace, cluster: Cluster, targets: list[Target], options: Options,
                  settings: Mapping[TargetKey, TargetSettings] | None = None, *, sink: Sink | None = None,
                  sources: Mapping[TargetKey, str] | None = None, notices: Iterable[str] = ()) -> Outcome:
    """Run the engine on the targets and return its outcome; SIGINT and SIGTERM stop it with a summary. The sink
    is built from the flags unless given; `sources` (a target's manifest FILE:LINE) point CI annotations and
    JUnit at the manifests; `notices` are told to the sink first."""
    from kubedog_ci.engine.target import labels
    from kubedog_ci.engine.tracker import Interrupt
    from kubedog_ci.library import run_tracking

    if sink is None:
        names = labels(targets)
        sink = build_sink(args, {names[key]: source for key, source in (sources or {}).items() if key in names})
    for notice in notices:
        sink.notice(notice)
    interrupt = Interrupt()
    with _signals(interrupt):
        return run_tracking(cluster, targets, options, sink, settings=settings, interrupt=interrupt, join=False)


def resolve_targets(args: argparse.Namespace) -> tuple[Cluster, list[Target], dict[TargetKey, str]]:
    """The targets named by RESOURCE arguments, -f manifests, or KINDs with -l, the cluster they live in, and the
    FILE:LINE of the targets read from manifests."""
    manifests = _read_named(args)
    cluster = connect(args)
    sources: dict[TargetKey, str] = {}
    if args.selector:
        targets = _selected(cluster, args.resources, args.selector, args.namespace or cluster.namespace)
    else:
        targets, sources = _named(args, cluster, manifests)
    if not targets:
        raise InputError(f"no objects to track in {', '.join(args.filename)}")
    return cluster, targets, sources


def check_permissions(args: argparse.Namespace) -> int:
    """`--check-permissions`: the permissions tracking the named objects would use (cli.permissions), asked
    without reading the objects themselves (that is one of the permissions asked about)."""
    from kubedog_ci.cli.permissions import check, tracking_needs
    from kubedog_ci.engine.target import Target
    from kubedog_ci.kube.discovery import UnknownResource, discover, resolve
    from kubedog_ci.kube.fetch import UnknownType, resolve_ref

    helm_release.check_flags(args)
    if args.helm_release:
        cluster = connect(args)
        return check(cluster, *helm_release.permissions(
            args, cluster, secrets=args.secret_redaction,
            warn=lambda message: print(f"kubedog: {message}", file=sys.stderr)))
    manifests = _read_named(args)
    cluster = connect(args)
    resources, namespace = discover(cluster), args.namespace or cluster.namespace
    try:
        if args.selector:
            kinds = [resolve(resources, kind) for words in args.resources for kind in words.split(",") if kind]
            targets = [Target(kind, namespace if kind.namespaced else "", f"-l {args.selector}") for kind in kinds]
        else:
            found = [(resolve_ref(resources, ref), ref) for ref in named_refs(args, [m.obj for m in manifests])]
            targets = [Target(kind, (ref.namespace or namespace) if kind.namespaced else "", ref.name)
                       for kind, ref in found]
    except (UnknownResource, UnknownType) as err:
        raise InputError(str(err)) from err
    return check(cluster, tracking_needs(targets, secrets=args.secret_redaction))


def _read_named(args: argparse.Namespace) -> list[Manifest]:
    """The -f manifests naming objects to track, after checking how the objects are named."""
    from kubedog_ci.manifests.reader import ManifestError, read_paths

    if not args.resources and not args.filename:
        raise InputError("name the objects: RESOURCE arguments (e.g. deploy/web), -f FILE, KIND -l SELECTOR, or "
                         "--helm-release NAME")
    if args.selector and (args.filename or not args.resources or any("/" in word for word in args.resources)):
        raise InputError("-l selects objects of the RESOURCE kinds: give kinds only (e.g. deploy -l app=web)")
    try:
        return read_paths(args.filename)
    except ManifestError as err:
        raise InputError(str(err)) from err


@contextmanager
def _signals(interrupt: Interrupt) -> Iterator[None]:
    """SIGINT and SIGTERM ask the engine to stop its threads and print the summary, instead of dying mid-line.
    A second one is not waited on: the previous handler is back, so a second Ctrl-C ends the process at once."""
    previous: dict[int, object] = {}

    def handler(number: int, _frame: object) -> None:
        interrupt.request(number)
        signal.signal(number, previous[number])  # type: ignore[arg-type]

    for signum in exit_codes.SIGNALS:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)  # type: ignore[arg-type]


def _unique(targets: list[Target]) -> list[Target]:
    return list({target.key: target for target in targets}.values())


def _named(args: argparse.Namespace, cluster: Cluster, manifests: list[Manifest]) \
        -> tuple[list[Target], dict[TargetKey, str]]:
    """RESOURCE arguments and manifest objects, resolved by discovery, in order, each once; and the FILE:LINE
    of those read from manifests."""
    from kubedog_ci.engine.target import Target

    fetched = fetch_named(args, cluster, named_refs(args, [m.obj for m in manifests]))
    targets = [Target(f.resource, f.namespace, f.ref.name) for f in fetched]
    named = len(targets) - len(manifests)
    sources = {target.key: str(manifest.source) for target, manifest in zip(targets[named:], manifests, strict=True)}
    return _unique(targets), sources


def _selected(cluster: Cluster, kinds: list[str], selector: str, namespace: str) -> list[Target]:
    """Every object of the given kinds (words, or comma-separated) that matches the label selector now."""
    from kubedog_ci.engine.target import Target
    from kubedog_ci.kube.discovery import UnknownResource, discover, resolve
    from kubedog_ci.kube.http import ApiError, resource_phrase

    resources = discover(cluster)
    targets = []
    for word in (kind for words in kinds for kind in words.split(",") if kind):
        try:
            resource = resolve(resources, word)
        except UnknownResource as err:
            raise InputError(str(err)) from err
        scope = namespace if resource.namespaced else ""
        what = resource_phrase(resource.plural, resource.group, scope, resource.namespaced)
        try:
            items = cluster.get_json(resource.path(scope), "list", what, {"labelSelector": selector},
                                     expected={400}).get("items") or []
        except ApiError as err:
            raise InputError(f"-l {selector}: {err.message or err.reason}") from err
        targets += [Target(resource, scope, item["metadata"]["name"]) for item in items]
    if not targets:
        raise InputError(f"no {', '.join(kinds)} objects match -l {selector}"
                         + (f' in namespace "{namespace}"' if namespace else ""))
    return _unique(targets)
