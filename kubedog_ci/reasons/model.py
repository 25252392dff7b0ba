"""The shapes of the reason table and of a classification, kept apart so the table module holds data only."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class ReasonClass(StrEnum):
    """What a reason does to a tracked resource's verdict.

    A grace period, when present, delays the effect: the reason must still be showing `grace_seconds` after it was
    first seen. For `capacity` a cluster-autoscaler `TriggeredScaleUp` on the Pod extends the wait, because nodes
    are on their way.
    """

    FATAL = "fatal"
    """Fail now: no retry can succeed without a change to the spec or the cluster."""
    FAILURE = "failure"
    """Counts once against the resource's failure budget (failures-allowed-per-replica x replicas)."""
    CAPACITY = "capacity"
    """The cluster is short of room: a failure only after the grace period, unless a scale-up is reported."""
    INFO = "info"
    """Progress or noise: shown, never counted."""


class Override(NamedTuple):
    """A message pattern that changes its reason's class; a rule's overrides are tried in order, first match wins.

    `pattern` is a regular expression searched case-insensitively (a plain fragment is a valid one). Its `grace`
    replaces the rule's: an override states its whole outcome so that it can be read on its own.
    """

    pattern: str
    cls: ReasonClass
    note: str
    grace: int | None = None


class Rule(NamedTuple):
    """One row of the table: a reason as it appears in one field.

    `reason` ending in `*` is a prefix (the kubelet's `OutOf<resource>`). `event_type` ("Normal" or "Warning")
    narrows an Event rule; the untyped rule for the same reason is the fallback when the type is not known.
    """

    reason: str
    cls: ReasonClass
    note: str
    grace: int | None = None
    overrides: tuple[Override, ...] = ()
    event_type: str | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    """The verdict for one (field, reason, message): what to do, how long to wait first, and why.

    `matched_fragment` is the part of the message that decided, so a diagnosis can quote it; None when the
    reason alone decided.
    """

    cls: ReasonClass
    grace_seconds: int | None
    note: str
    matched_fragment: str | None = None
