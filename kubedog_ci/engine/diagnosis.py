"""The diagnosis block of a failed resource: its first line names the root cause, the rest gives the evidence.

    deploy/api FAILED: po/api-7c9f-x2k [app] ImagePullBackOff: Back-off pulling image "registry.example/api:v2"

The root cause is a Pod's container reason when one is known: "ProgressDeadlineExceeded" or
"BackoffLimitExceeded" say only that the controller gave up, so they follow in parentheses. Only reasons,
messages, exit codes, counts and log lines are printed, never an object, so Secret data cannot leak through a
diagnosis; bearer tokens and JWTs that a webhook or controller put in a message are masked all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from kubedog_ci.engine.outcome import Diagnosis
from kubedog_ci.engine.producers import Producers
from kubedog_ci.engine.sink import EventNotice, Sink
from kubedog_ci.engine.state import TargetState
from kubedog_ci.kube.producers import LOG_TAIL_TIMEOUT
from kubedog_ci.rules import Related, Verdict
from kubedog_ci.rules.problems import Problem, pod_problems, signal_name
from kubedog_ci.secrets import redact_tokens

LOG_TAIL_LINES = 20


def root_cause(problems: Iterable[Problem]) -> Problem | None:
    """The sign to blame: the most severe, and among equals the most recent (problems come oldest first)."""
    chosen: Problem | None = None
    for problem in problems:
        if chosen is None or problem.severity <= chosen.severity:
            chosen = problem
    return chosen


def cause_of(state: TargetState, related: Related) -> Problem | None:
    """The Pod problem behind a failure the resource's own status declared (a Job's exits included)."""
    candidates = [*state.budget.counted(), *state.budget.pending()]
    for pod in state.pods.values():
        candidates += pod_problems(pod)
    if state.obj is not None:
        candidates += state.profile.object_problems(state.obj, related)
    return root_cause(candidates)


def wants_log(problem: Problem | None) -> bool:
    """A crashed container's log explains its exit: worth fetching for the diagnosis."""
    return problem is not None and problem.crashed_previous is not None and bool(problem.pod and problem.container)


def headline(label: str, reason: str, message: str, cause: Problem | None, by_rule: bool) -> str:
    """`LABEL FAILED: ROOT CAUSE`. `by_rule`: the resource's own status failed it (reason, message), and `cause`,
    if any, is the Pod sign found behind it."""
    if cause is None:
        # Rules word a condition as `job "x" failed: Reason: message`: the reason is said first already.
        detail = message.split(f"{reason}: ", 1)[1] if f"{reason}: " in message else message
        return redact_tokens(f"{label} FAILED: {reason}: {detail}" if detail else f"{label} FAILED: {reason}")
    suffix = f" ({reason})" if by_rule and reason != cause.reason else ""
    return redact_tokens(f"{label} FAILED: {cause.describe()}{suffix}")


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
    return [(label, redact_tokens(" ".join(value.split()))) for label, value in rows]


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
        message=redact_tokens(message), details=tuple(_details(namespace, reason, message, cause, by_rule, budget)),
        log_title=log_title, log_tail=tuple(log_tail or ())[-LOG_TAIL_LINES:],
        warnings=tuple(redact_tokens(f"{w.subject} {w.reason}{w.repeated}: {w.message}") for w in warnings),
        pod=cause.pod if cause else None, container=cause.container if cause else None)


@dataclass
class _Pending:
    """A failure whose diagnosis waits for the crashed container's log (read off the loop's thread)."""

    state: TargetState
    verdict: Verdict
    """The failure as judged then: a hoping target may have been judged otherwise since."""
    cause: Problem | None
    by_rule: bool
    budget: str | None
    future: Future[list[str]] | None
    deadline: float


class PendingDiagnoses:
    """Diagnoses waiting for a log tail; each goes to the sink once its tail is in (or failed, or took longer than
    LOG_TAIL_TIMEOUT), so the run goes on meanwhile."""

    def __init__(self, producers: Producers, sink: Sink, clock: Callable[[], float]) -> None:
        self.producers = producers
        self.sink = sink
        self.clock = clock
        self.waiting: list[_Pending] = []

    def add(self, state: TargetState, verdict: Verdict, cause: Problem | None, *, by_rule: bool,
            budget: str | None) -> None:
        """Diagnose a failure, fetching the crashed container's last log lines first when it has crashed."""
        future = None
        if wants_log(cause) and cause is not None:
            future = self.producers.log_tail(state.target.namespace, cause.pod or "", cause.container or "",
                                             bool(cause.crashed_previous), LOG_TAIL_LINES)
        self.waiting.append(_Pending(state, verdict, cause, by_rule, budget, future, self.clock() + LOG_TAIL_TIMEOUT))
        self.finish(wait=False)

    def finish(self, *, wait: bool) -> None:
        """Give each diagnosis whose log tail is in (or failed, or took too long) to the sink; keep the others.
        `wait`: the run is over, so wait for each (up to its deadline)."""
        waiting = []
        for pending in self.waiting:
            future = pending.future
            if future is not None and not future.done() and not wait and self.clock() < pending.deadline:
                waiting.append(pending)
                continue
            tail, error = None, None
            if future is not None:
                try:
                    tail = future.result(timeout=max(0.0, pending.deadline - self.clock()))
                except Exception as err:  # the log is evidence, not a requirement: say why it is missing
                    error = _log_error(err)
            state, verdict = pending.state, pending.verdict
            found = diagnose(state.label, state.target.namespace, verdict.reason, verdict.message, pending.cause,
                             by_rule=pending.by_rule, warnings=list(state.recent_warnings.values()),
                             budget=pending.budget, log_tail=tail, log_error=error)
            if state.diagnosed == (verdict.reason, verdict.message):  # not one a hoping target has moved past
                state.diagnosis = found
            self.sink.failed(found)
        self.waiting = waiting


def _log_error(err: Exception) -> str:
    status = getattr(err, "status", None)
    reason = getattr(err, "reason", None)
    return f"could not be read ({status} {reason})" if status and reason else \
        f"could not be read ({err or type(err).__name__})"
