"""The verdict every readiness rule returns: one of three states, a machine reason and a human message."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    """A StrEnum, so a state prints and serializes as the word `status -o json` shows."""

    READY = "ready"
    PROGRESSING = "progressing"
    FAILED = "failed"


@dataclass(frozen=True)
class Verdict:
    """What a rule decided about one object. `reason` is a CamelCase word (for a failure, the root cause the
    cluster reported, e.g. `BackoffLimitExceeded`); `message` reads like kubectl's where kubectl has one;
    `warnings` flag a verdict the user should know was bent (paused, suspended, OnDelete)."""

    state: State
    reason: str
    message: str
    warnings: tuple[str, ...] = ()


def ready(reason: str, message: str, *warnings: str) -> Verdict:
    return Verdict(State.READY, reason, message, warnings)


def progressing(reason: str, message: str) -> Verdict:
    return Verdict(State.PROGRESSING, reason, message)


def failed(reason: str, message: str) -> Verdict:
    return Verdict(State.FAILED, reason, message)
