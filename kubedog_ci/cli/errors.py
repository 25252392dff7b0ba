"""How an error reaches the user: one paragraph on stderr, never a traceback, and the exit code it means."""

from __future__ import annotations

import sys

from kubedog_ci.cli import exit_codes
from kubedog_ci.errors import KubedogError


def report(err: KubedogError) -> int:
    """Print the error as `kubedog: MESSAGE` and return its exit code. The message may quote the cluster (a
    server's message, a webhook's denial): it is printed without secret values, escape sequences or control
    characters."""
    from kubedog_ci.output.text import clean
    from kubedog_ci.secrets import SECRETS

    print(f"kubedog: {clean(SECRETS.redact(str(err)))}", file=sys.stderr)
    return exit_codes.for_error(err)
