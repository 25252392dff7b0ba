"""`kubedog multitrack`: werf kubedog's command of that name, for pipelines that migrate from it. It reads
kubedog's multitrack JSON spec on stdin (kubedog_ci.manifests.multitrack reads it) and tracks the resources it
names as `rollout track` tracks them, each with the settings its spec fields give (the same as the annotations of
the same names). kubedog's `--kube-config`, `--kube-context` and `-t SECONDS` are taken too.

Exit code: 0 all ready, 1 a resource failed, 2 usage or input error (a spec that cannot be read), 3 timeout with
no failure, 5 cluster error, 130 SIGINT, 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import sys

from kubedog_ci.cli import exit_codes
from kubedog_ci.cli.cluster_args import add_cluster_flags, connect, fetch_named
from kubedog_ci.cli.tracking import add_output_flags, add_verdict_flags, options_from, track_targets
from kubedog_ci.errors import InputError


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "multitrack", help="track the resources of a kubedog multitrack JSON spec (stdin), as werf's kubedog does",
        description="Read werf kubedog's multitrack spec, a JSON object of Deployments, StatefulSets, DaemonSets, "
        "Jobs, Canaries and Generics, each with ResourceName (Name and GroupVersionKind for Generics), Namespace, "
        "FailMode, AllowFailuresCount, TrackTerminationMode, SkipLogs, SkipLogsForContainers, "
        "ShowLogsOnlyForContainers, LogRegex, LogRegexByContainerName, NoActivityTimeout and Timeout, on stdin, and "
        "track those resources as 'rollout track' does. Unknown fields are warned about and ignored. Exit codes: 0 "
        "all ready, 1 a resource failed, 2 usage or input error, 3 timeout, 5 cluster error, 130 SIGINT, "
        "143 SIGTERM.")
    parser.add_argument("-f", "--filename", default="-", metavar="FILE",
                        help="read the spec from FILE instead of stdin ('-', the default)")
    add_cluster_flags(parser)
    parser.add_argument("--kube-config", dest="kubeconfig", default=argparse.SUPPRESS, metavar="PATH",
                        help="kubedog's name for --kubeconfig")
    parser.add_argument("--kube-context", dest="context", default=argparse.SUPPRESS, metavar="NAME",
                        help="kubedog's name for --context")
    add_verdict_flags(parser)
    parser.add_argument("-t", dest="timeout", default=argparse.SUPPRESS, metavar="SECONDS",
                        help="kubedog's -t: --timeout in seconds (0: none)")
    add_output_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from kubedog_ci.engine.target import Target
    from kubedog_ci.kube.fetch import Ref
    from kubedog_ci.manifests.multitrack import parse
    from kubedog_ci.manifests.reader import STDIN, ManifestError, display_name, read_file, read_stream

    options = options_from(args)
    try:
        text = read_stream(sys.stdin, STDIN) if args.filename == STDIN else read_file(args.filename)
        spec = parse(text, display_name(args.filename))
    except ManifestError as err:
        raise InputError(str(err)) from err
    cluster = connect(args)
    refs = [Ref(entry.type_name, entry.name, entry.namespace or args.namespace, entry.api_version)
            for entry in spec.entries]
    fetched = fetch_named(args, cluster, refs)
    targets, settings = [], {}
    for found, entry in zip(fetched, spec.entries, strict=True):
        target = Target(found.resource, found.namespace, found.ref.name)
        if target.key not in settings:
            targets.append(target)
        settings[target.key] = entry.settings  # named twice: the later entry's settings, as the later annotation
    notices = list(spec.warnings)
    if not targets:
        notices.append("the multitrack spec names no resource: nothing to track")
    return exit_codes.for_run(track_targets(args, cluster, targets, options, settings, notices=notices))
