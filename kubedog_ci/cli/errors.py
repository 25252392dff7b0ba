"""Errors a command raises for `main` to print as one paragraph with the right exit code."""

from __future__ import annotations

from kubedog_ci.cli import exit_codes


class CommandError(Exception):
    """A failure the user must act on; the message names the file, line or resource concerned."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CommandError):
    """Bad arguments or input (exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_codes.USAGE)
