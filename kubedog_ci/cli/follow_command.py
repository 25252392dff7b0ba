"""`kubedog follow`: the stream of `rollout track` (status changes, Warning events, logs), forever, like `tail -f`.

It never exits on a verdict: a resource with one is followed again when its object starts a new revision (its
Pods judged afresh and their logs streamed), and a deleted one is reported and waited for. Ctrl-C ends it with
the summary. Exit code: 0 SIGINT, 2 usage or input error, 5 cluster error, 143 SIGTERM.
"""

from __future__ import annotations

import argparse

from kubedog_ci.cli import exit_codes
from kubedog_ci.cli.tracking import add_target_flags, check_permissions, options_from, run_engine


def register(commands: argparse._SubParsersAction) -> None:
    follow = commands.add_parser(
        "follow", help="follow resources, their new revisions and logs until Ctrl-C",
        description="Watch resources, their Pods and Events and stream the current revision's logs, like "
        "'tail -f': never exits on ready, follows each new revision as it is rolled out. Ctrl-C ends it with a "
        "summary and exit code 0. Other exit codes: 2 usage or input error, 5 cluster error, 143 SIGTERM.")
    add_target_flags(follow, "follow")
    follow.set_defaults(run=run_follow)


def run_follow(args: argparse.Namespace) -> int:
    if args.check_permissions:
        return check_permissions(args)
    return exit_codes.for_follow(run_engine(args, options_from(args, follow=True)))
