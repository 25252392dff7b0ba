"""The diagnosis block of a failed resource: its first line names the root cause, the rest gives the evidence.

    deploy/api FAILED: po/api-7c9f-x2k [app] ImagePullBackOff: Back-off pulling image "registry.example/api:v2"

The root cause is a Pod's container reason when one is known: "ProgressDeadlineExceeded" or
"BackoffLimitExceeded" say only that the controller gave up, so they follow in parentheses. Only reasons,
messages, exit codes, counts and log lines are printed, never an object, so Secret data cannot leak through a
diagnosis; bearer tokens and JWTs that a webhook or controller put in a message are masked all the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from kubedog_ci.engine.outcome import Diagnosis
from kubedog_ci.engine.problems import Problem, signal_name
from kubedog_ci.engine.sink import EventNotice

LOG_TAIL_LINES = 20
_SECRET = re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+|eyJ[\w-]{8,}\.[\w-]+\.[\w-]+")


def redact(text: str) -> str:
    """Mask bearer tokens and JWTs."""
    return _SECRET.sub(lambda match: (match.group(1) or "") + "***", text)


def culprit(problems: Iterable[Problem]) -> Problem | None:
    """The sign to blame: the most severe, and among equals the most recent (problems come oldest first)."""
    chosen: Problem | None = None
    for problem in problems:
        if chosen is None or problem.severity <= chosen.severity:
            chosen = problem
    return chosen


def wants_log(problem: Problem | None) -> bool:
    """A crashed container's log explains its exit: worth fetching for the diagnosis."""
    return problem is not None and problem.crashed_previous is not None and bool(problem.pod and problem.container)


def headline(label: str, reason: str, message: str, cause: Problem | None, by_rule: bool) -> str:
    """`LABEL FAILED: ROOT CAUSE`. `by_rule`: the resource's own status failed it (reason, message), and `cause`,
    if any, is the Pod sign found behind it."""
    if cause is None:
        # Rules word a condition as `job "x" failed: Reason: message`: the reason is said first already.
        detail = message.split(f"{reason}: ", 1)[1] if f"{reason}: " in message else message
        return redact(f"{label} FAILED: {reason}: {detail}" if detail else f"{label} FAILED: {reason}")
    suffix = f" ({reason})" if by_rule and reason != cause.reason else ""
    return redact(f"{label} FAILED: {cause.describe()}{suffix}")


def _details(namespace: str, reason: str, message: str, cause: Problem | None, by_rule: bool,
             budget: str | None) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if namespace:
        rows.append(("namespace", namespace))
    if cause is None or by_rule:
        rows.append(("verdict", f"{reason}: {message}" if message else reason))
    if cause is None:
        return rows
    if cause.pod:
        rows.append(("pod", f"po/{cause.pod}"))
    elif cause.subject:
        rows.append(("object", cause.subject))
    if cause.container:
        rows.append(("container", cause.container))
    rows.append(("reason", cause.reason))
    if cause.message:
        rows.append(("message", cause.message))
    if cause.exit_code is not None:
        signal = f" ({signal_name(cause.signal)})" if cause.signal else ""
        rows.append(("exit code", f"{cause.exit_code}{signal}"))
    if cause.restart_count is not None:
        rows.append(("restarts", str(cause.restart_count)))
    rows.append(("class", f"{cause.classification.cls}: {cause.classification.note}"))
    if budget:
        rows.append(("budget", budget))
    return [(label, redact(" ".join(value.split()))) for label, value in rows]


def diagnose(label: str, namespace: str, reason: str, message: str, cause: Problem | None, *, by_rule: bool,
             warnings: Sequence[EventNotice] = (), budget: str | None = None,
             log_tail: Sequence[str] | None = None, log_error: str | None = None) -> Diagnosis:
    """The block for one failed resource. `log_tail` is the crashed instance's log (already fetched), or None
    with `log_error` saying why it is missing."""
    log_title = ""
    if wants_log(cause) and cause is not None:
        instance = "previous instance" if cause.crashed_previous else "terminated instance"
        if log_tail:
            count = min(len(log_tail), LOG_TAIL_LINES)
            lines = "last log line" if count == 1 else f"last {count} log lines"
            log_title = f"{lines} of {cause.container} ({instance})"
        else:
            log_title = f"log of {cause.container} ({instance}): {log_error or 'empty'}"
    return Diagnosis(
        target=label, headline=headline(label, reason, message, cause, by_rule), reason=reason,
        message=redact(message), details=tuple(_details(namespace, reason, message, cause, by_rule, budget)),
        log_title=log_title, log_tail=tuple(log_tail or ())[-LOG_TAIL_LINES:],
        warnings=tuple(redact(f"{w.subject} {w.reason}" + (f" (x{w.count})" if w.count > 1 else "")
                              + f": {w.message}") for w in warnings))
