"""The `kubedog` command line: argument parsing and the one place that turns outcomes into exit codes.

Each command lives in its own module and registers its parser here; a command's `run(args)` returns an exit
code or raises `InputError`/`CommandError`, which `main` prints as one paragraph (never a traceback).
Heavy imports (the Kubernetes client, the simulator) happen inside the commands, so `--version` and `--help`
start fast.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from kubedog_ci import version_line
from kubedog_ci.cli import (
    apply_command,
    demo_command,
    exit_codes,
    follow_command,
    multitrack_command,
    rollout_command,
    sim_command,
    status_command,
)
from kubedog_ci.cli.errors import report
from kubedog_ci.errors import InputError, KubedogError

COMMANDS = (apply_command, rollout_command, follow_command, status_command, multitrack_command, demo_command,
            sim_command)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with the documented exit code instead of 2-by-accident."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{message}\n{self.format_usage().strip()}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kubedog",
        description="Apply Kubernetes manifests and track every resource until it is ready or has failed, "
        "telling you why as early as possible.",
        epilog="Run 'kubedog COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=version_line())
    parser.set_defaults(cli=_command)  # a command that runs another (demo runs apply-and-track) re-enters here
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv`; with None, this process's own, and the process ends with it."""
    code = _command(argv)
    if argv is None:
        _end(code)
    return code


def _end(code: int) -> NoReturn:
    """End the process as soon as the command is done: a CI step waits for the exit, not for the verdict. The
    output is flushed and the atexit handlers run (the kubernetes client removes the credential files it wrote),
    but the interpreter's teardown of every module and object, some 15 ms of freeing memory the OS takes back
    anyway, is skipped."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # as in _command: the reader went away
        code = exit_codes.SIGPIPE
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


def _command(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "run", None):
            parser.print_help()
            return exit_codes.USAGE
        return int(args.run(args))
    except KubedogError as err:
        return report(err)
    except KeyboardInterrupt:
        return exit_codes.SIGINT
    except BrokenPipeError:
        # stdout's reader went away (`kubedog … | head`): nothing more can be shown; exit as a shell would report
        # a process killed by SIGPIPE, without a traceback from the interpreter's last flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_codes.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
