"""`kubedog rollout track`: watch resources until each is ready or one has failed, and say why.

Objects are named like `kubedog status` names them (RESOURCE arguments, or -f manifests that are read, not
applied), or by a kind and `-l SELECTOR`. The engine streams status changes, Warning events and the logs of the
current revision's containers, and ends with one diagnosis block per failed resource and a summary table.
Exit code: 0 all ready, 1 a resource failed, 2 usage or input error, 3 timeout with no failure, 5 cluster
error, 130 SIGINT, 143 SIGTERM.
"""

from __future__ import annotations

import argparse

from kubedog_ci.cli import exit_codes
from kubedog_ci.cli.tracking import add_target_flags, add_verdict_flags, check_permissions, options_from, run_engine


def register(commands: argparse._SubParsersAction) -> None:
    rollout = commands.add_parser("rollout", help="track rollouts until ready or failed",
                                  description="Track the rollout of Kubernetes resources.")
    rollout_commands = rollout.add_subparsers(dest="rollout_command", metavar="SUBCOMMAND", required=True,
                                              parser_class=type(rollout))
    track = rollout_commands.add_parser(
        "track", help="track resources until each is ready or one has failed",
        description="Watch resources, their Pods and Events, stream the current revision's logs, and exit as soon "
        "as every resource is ready (0) or one has failed (1, with a diagnosis naming the root cause). "
        "Other exit codes: 2 usage or input error, 3 timeout with no failure, 5 cluster error, 130 SIGINT, "
        "143 SIGTERM.")
    add_target_flags(track, "track")
    add_verdict_flags(track)
    track.set_defaults(run=run_track)


def run_track(args: argparse.Namespace) -> int:
    if args.check_permissions:
        return check_permissions(args)
    return exit_codes.for_run(run_engine(args, options_from(args)))
