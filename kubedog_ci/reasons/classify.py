"""Classify one Kubernetes reason, with its message, from the reason table.

The lookup index is built on first use, so a CLI run that never classifies pays nothing, and then cached; every
message pattern is compiled then, once. A call is one or two dict lookups, plus a few precompiled searches for the
overloaded reasons, and returns a shared Classification when the message does not matter.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

from kubedog_ci.reasons.model import Classification, ReasonClass, Rule
from kubedog_ci.reasons.table import TABLE

FIELDS = frozenset({"event", "waiting", "terminated", "pod"})
"""Valid `where` values besides `condition:<Type>`; anything else is a caller's bug, so it raises."""

_CONTAINER_ERROR = re.compile(r"^Err|BackOff$|Error$")

_UNKNOWN_WARNING = Classification(
    ReasonClass.INFO, None,
    "Unclassified Warning event: not counted (most Warning reasons in the catalog are noise, and third-party "
    "controllers add more), but shown with the recent Warning events.")
_UNKNOWN_CONTAINER_ERROR = Classification(
    ReasonClass.FAILURE, None, "Unclassified container reason named like an error (Err*, *BackOff, *Error).")
_UNKNOWN = Classification(ReasonClass.INFO, None, "Unclassified reason.")


def looks_like_error(reason: str) -> bool:
    """A container reason named like an error (Err*, *BackOff, *Error: ErrImagePull, CrashLoopBackOff,
    CreateContainerConfigError, but not ContainerCreating or PodInitializing): failed, known to the table or not
    (Argo's pattern)."""
    return _CONTAINER_ERROR.search(reason) is not None


class _Override(NamedTuple):
    pattern: re.Pattern[str]
    group: int
    """The capturing group that holds the fragment to quote (0, the whole match, when the pattern has none)."""
    cls: ReasonClass
    note: str
    grace: int | None


class _Entry(NamedTuple):
    plain: Classification
    overrides: tuple[_Override, ...]


class _Index(NamedTuple):
    exact: dict[tuple[str, str, str | None], _Entry]
    prefixes: dict[str, tuple[tuple[str, _Entry], ...]]


def _entry(rule: Rule) -> _Entry:
    overrides = []
    for override in rule.overrides:
        pattern = re.compile(override.pattern, re.IGNORECASE)
        overrides.append(_Override(pattern, min(pattern.groups, 1), override.cls, override.note, override.grace))
    return _Entry(Classification(rule.cls, rule.grace, rule.note), tuple(overrides))


@cache
def _index() -> _Index:
    """The table keyed on (field, reason, event type); a duplicate key is a table bug, so it raises."""
    exact: dict[tuple[str, str, str | None], _Entry] = {}
    prefixes: dict[str, list[tuple[str, _Entry]]] = {}
    for where, rules in TABLE.items():
        for rule in rules:
            if rule.reason.endswith("*"):
                prefixes.setdefault(where, []).append((rule.reason[:-1], _entry(rule)))
                continue
            key = (where, rule.reason, rule.event_type)
            if key in exact:
                raise ValueError(f"duplicate reason table entry {key}")
            exact[key] = _entry(rule)
    return _Index(exact, {where: tuple(entries) for where, entries in prefixes.items()})


def _unknown(where: str, reason: str, event_type: str | None) -> Classification:
    if where == "event":
        return _UNKNOWN_WARNING if event_type == "Warning" else _UNKNOWN
    if where in ("waiting", "terminated") and looks_like_error(reason):
        return _UNKNOWN_CONTAINER_ERROR
    return _UNKNOWN


def classify(where: str, reason: str, message: str = "", event_type: str | None = None) -> Classification:
    """Classify `reason` as found in `where` ("event", "waiting", "terminated", "pod" or "condition:<Type>").

    The field is part of the key because one string means different things in different fields (Completed,
    Error, DeadlineExceeded). `event_type` ("Normal"/"Warning") matters for Events only: BackOff is an image
    back-off when Normal and a container restart back-off when Warning. The message decides for overloaded reasons
    (Failed, FailedScheduling, FailedCreate, FailedMount, Killing, Evicted, ErrImagePull, ...).
    """
    if where not in FIELDS and not where.startswith("condition:"):
        raise ValueError(f"unknown reason field {where!r} (expected one of {sorted(FIELDS)} or condition:<Type>)")
    index = _index()
    entry = index.exact.get((where, reason, event_type)) or index.exact.get((where, reason, None))
    if entry is None:
        entry = next((found for prefix, found in index.prefixes.get(where, ()) if reason.startswith(prefix)), None)
        if entry is None:
            return _unknown(where, reason, event_type)
    for override in entry.overrides:
        match = override.pattern.search(message)
        if match is not None:
            return Classification(override.cls, override.grace, override.note, match.group(override.group))
    return entry.plain
