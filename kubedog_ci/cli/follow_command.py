"""`kubedog follow`: the stream of `rollout track` (status changes, Warning events, logs), forever, like `tail -f`.

It never exits on a verdict: a resource with one is followed again when its object starts a new revision (its
Pods judged afresh and their logs streamed), and a deleted one is reported and waited for. Ctrl-C ends it with
the summary. Exit code: 0 SIGINT, 2 usage or input error, 5 cluster error, 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import signal

from kubedog_ci.cli import exit_codes
from kubedog_ci.cli.errors import CommandError
from kubedog_ci.cli.rollout_command import (
    add_target_flags,
    check_grace_scale,
    logs_since,
    max_log_streams,
    run_engine,
)
from kubedog_ci.cli.targets import api_timeout


def register(commands: argparse._SubParsersAction) -> None:
    follow = commands.add_parser(
        "follow", help="follow resources, their new revisions and logs until Ctrl-C",
        description="Watch resources, their Pods and Events and stream the current revision's logs, like "
        "'tail -f': never exits on ready, follows each new revision as it is rolled out. Ctrl-C ends it with a "
        "summary and exit code 0. Other exit codes: 2 usage or input error, 5 cluster error, 143 SIGTERM.")
    add_target_flags(follow, "follow")
    follow.set_defaults(run=run_follow)


def run_follow(args: argparse.Namespace) -> int:
    from kubedog_ci.engine.outcome import Options

    check_grace_scale(args)
    options = Options(timeout=0, logs=args.logs, logs_since=logs_since(args), fail_fast=False,
                      grace_scale=args.grace_scale, api_timeout=api_timeout(args),
                      max_log_streams=max_log_streams(args), follow=True)
    outcome = run_engine(args, options)
    if outcome.stopped_by == signal.SIGTERM:
        return exit_codes.SIGTERM
    if outcome.stopped_by is None and outcome.cluster_error:
        raise CommandError(outcome.cluster_error, exit_codes.CLUSTER_ERROR)
    return exit_codes.OK
