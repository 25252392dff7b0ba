"""The documented exit codes (README, "Exit codes") and the one place that decides which one a command returns:
from an error the library raised, or from the outcome of a run."""

from __future__ import annotations

import signal
from collections.abc import Iterable
from typing import TYPE_CHECKING

from kubedog_ci.errors import ApplyError, ClusterError, InputError, KubedogError

if TYPE_CHECKING:
    from kubedog_ci.engine.outcome import Outcome

OK = 0
FAILED = 1
USAGE = 2
TIMEOUT = 3
APPLY_REJECTED = 4
CLUSTER_ERROR = 5
SIGINT = 130
SIGTERM = 143
SIGPIPE = 141

PROGRESSING = TIMEOUT
"""`status`: some object is not ready yet but has not failed, the same outcome a timeout reports."""
SIGNALS = {signal.SIGINT: SIGINT, signal.SIGTERM: SIGTERM}
MEANINGS = {OK: "every resource is ready", FAILED: "a resource failed", TIMEOUT: "the timeout passed first",
            APPLY_REJECTED: "the API server rejected an object", CLUSTER_ERROR: "the cluster could not be reached",
            USAGE: "bad input"}
_ERRORS: tuple[tuple[type[KubedogError], int], ...] = (
    (InputError, USAGE), (ClusterError, CLUSTER_ERROR), (ApplyError, APPLY_REJECTED))


def for_error(err: KubedogError) -> int:
    return next((code for kind, code in _ERRORS if isinstance(err, kind)), FAILED)


def for_run(outcome: Outcome) -> int:
    """A tracking run: a signal, then a failure, then a cluster error (raised, so it is printed as one
    paragraph), then a timeout."""
    if outcome.stopped_by is not None:
        return SIGNALS.get(outcome.stopped_by, SIGINT)
    if outcome.failed:
        return FAILED
    if outcome.cluster_error:
        raise ClusterError(outcome.cluster_error)
    return OK if outcome.all_ready else TIMEOUT


def for_follow(outcome: Outcome) -> int:
    """`follow` ends only on a signal (Ctrl-C is how it is meant to end: 0) or a cluster error."""
    if outcome.stopped_by == signal.SIGTERM:
        return SIGTERM
    if outcome.stopped_by is None and outcome.cluster_error:
        raise ClusterError(outcome.cluster_error)
    return OK


def for_verdicts(verdicts: Iterable[str]) -> int:
    """`status`: any failed, else any progressing, else all ready."""
    found = set(verdicts)
    if "failed" in found:
        return FAILED
    return PROGRESSING if "progressing" in found else OK
