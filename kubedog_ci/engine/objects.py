"""Small accessors for Kubernetes objects as the API serves them (dicts), shared by the engine's modules."""

from __future__ import annotations


def meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def uid(obj: dict) -> str:
    return meta(obj).get("uid") or ""


def controller_uid(obj: dict) -> str | None:
    """The uid of the object's controlling owner (ownerReferences with controller: true), if any."""
    return next((ref.get("uid") for ref in meta(obj).get("ownerReferences") or [] if ref.get("controller")), None)


def is_observed(obj: dict) -> bool:
    """True when the controller's status describes the object's latest spec (observedGeneration caught up)."""
    observed = (obj.get("status") or {}).get("observedGeneration")
    generation = meta(obj).get("generation")
    return generation is None or (observed is not None and observed >= generation)


def is_pod_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])
