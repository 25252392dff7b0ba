"""What the consumer tells its output: the records and the Sink interface every output implements.

The consumer calls a sink from its own thread only, in the order things happened, so a sink needs no locking;
the records are plain text and numbers, so the terminal, JUnit, JSON-lines and CI annotation sinks need to know
nothing of Kubernetes objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kubedog_ci.engine.outcome import Diagnosis, Outcome
from kubedog_ci.rules import State


@dataclass(frozen=True)
class StatusChange:
    """A target's verdict or its message changed."""

    target: str
    state: State
    reason: str
    message: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventNotice:
    """A Kubernetes Event about a target, its current ReplicaSet or one of its current Pods."""

    target: str
    subject: str
    type: str
    reason: str
    message: str
    count: int = 1


@dataclass(frozen=True)
class LogRecord:
    """One line of a followed container's log."""

    target: str
    pod: str
    container: str
    text: str


class Sink(Protocol):
    """An output of the engine. `notice` carries the engine's own remarks (a watch it could not open, a target
    not found yet); `summary` comes last, once."""

    def status(self, change: StatusChange) -> None: ...

    def event(self, notice: EventNotice) -> None: ...

    def log(self, record: LogRecord) -> None: ...

    def failed(self, diagnosis: Diagnosis) -> None: ...

    def notice(self, message: str) -> None: ...

    def summary(self, outcome: Outcome) -> None: ...
