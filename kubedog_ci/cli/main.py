"""The `kubedog` command line: argument parsing and the one place that turns outcomes into exit codes.

Each command lives in its own module and registers its parser here; a command's `run(args)` returns an exit
code or raises `UsageError`/`CommandError`, which `main` prints as one paragraph (never a traceback).
Heavy imports (the Kubernetes client, the simulator) happen inside the commands, so `--version` and `--help`
start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from kubedog_ci import version_line
from kubedog_ci.cli import (
    apply_command,
    demo_command,
    exit_codes,
    follow_command,
    rollout_command,
    sim_command,
    status_command,
)
from kubedog_ci.cli.errors import CommandError, UsageError

COMMANDS = (apply_command, rollout_command, follow_command, status_command, demo_command, sim_command)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with the documented exit code instead of 2-by-accident."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}\n{self.format_usage().strip()}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kubedog",
        description="Apply Kubernetes manifests and track every resource until it is ready or has failed, "
        "telling you why as early as possible.",
        epilog="Run 'kubedog COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "run", None):
            parser.print_help()
            return exit_codes.USAGE
        return int(args.run(args))
    except UsageError as err:
        print(f"kubedog: {err}", file=sys.stderr)
        return exit_codes.USAGE
    except CommandError as err:
        print(f"kubedog: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return exit_codes.SIGINT
    except BrokenPipeError:
        # stdout's reader went away (`kubedog … | head`): nothing more can be shown; exit as a shell would report
        # a process killed by SIGPIPE, without a traceback from the interpreter's last flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_codes.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
