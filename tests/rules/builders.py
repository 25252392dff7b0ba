"""Small builders for the rule tables: objects shaped as the API server serves them (camelCase, defaults applied,
zero counters omitted as omitempty does)."""

from __future__ import annotations

from kubedog_ci.rules import evaluate
from kubedog_ci.rules.verdict import State

READY, PROGRESSING, FAILED = State.READY, State.PROGRESSING, State.FAILED
DELETED_AT = "2024-05-01T12:00:00Z"


def cond(kind: str, status: str = "True", reason: str | None = None, message: str | None = None,
         **extra: object) -> dict:
    """A status condition; `extra` adds fields such as observedGeneration."""
    entry: dict = {"type": kind, "status": status, **extra}
    if reason:
        entry["reason"] = reason
    if message:
        entry["message"] = message
    return entry


def resource(api_version: str, kind: str, name: str, *, spec: dict | None = None, status: dict | None = None,
             generation: int | None = 1, deleting: bool = False, conditions: list[dict] | None = None) -> dict:
    """An object; counters of value 0 or None are dropped from `status`, as the API server omits them."""
    metadata: dict = {"name": name, "namespace": "default"}
    if generation is not None:
        metadata["generation"] = generation
    if deleting:
        metadata["deletionTimestamp"] = DELETED_AT
    obj: dict = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    if spec is not None:
        obj["spec"] = spec
    fields = {key: value for key, value in (status or {}).items() if value not in (None, 0)}
    if conditions:
        fields["conditions"] = conditions
    if status is not None or conditions:
        obj["status"] = fields
    return obj


def check(obj: dict, state: State, reason: str, fragment: str) -> None:
    """The table assertion: state and reason exactly, the fragment anywhere in the message."""
    verdict = evaluate(obj)
    assert (verdict.state, verdict.reason) == (state, reason), verdict
    assert fragment in verdict.message, verdict
