"""Selectors of related objects: which Pods (ReplicaSets, ControllerRevisions, EndpointSlices) an object's own
selector picks out, in the string form of a list or watch query, so the engine can watch those alone instead of
every object of the namespace."""

from __future__ import annotations

from dataclasses import dataclass

_OPERATORS = {"In": "in", "NotIn": "notin"}


@dataclass(frozen=True, order=True)
class Selector:
    """A label selector and a field selector as a list or watch query takes them; empty: everything. `nothing`:
    no object at all (NOTHING, a Service without a selector has no Pods to watch)."""

    labels: str = ""
    fields: str = ""
    nothing: bool = False

    def __bool__(self) -> bool:
        """False for EVERYTHING, the selector that needs no query parameter."""
        return bool(self.labels or self.fields or self.nothing)

    def __str__(self) -> str:
        if self.nothing:
            return "nothing"
        return ", ".join(part for part in (f"labels {self.labels}" if self.labels else "",
                                           f"fields {self.fields}" if self.fields else "") if part) or "everything"


EVERYTHING = Selector()
NOTHING = Selector(nothing=True)


def workload(stream: object, name: str, obj: dict | None) -> Selector | None:
    """A workload's related objects (its Pods, a Deployment's ReplicaSets, a DaemonSet's ControllerRevisions) carry
    its template's labels, which its `spec.selector` matches: known once its object is."""
    if obj is None:
        return None
    return from_label_selector((obj.get("spec") or {}).get("selector"))


def by_name(name: str) -> Selector:
    """The one object of that name (every type serves the metadata.name field selector)."""
    return Selector(fields=f"metadata.name={name}")


def by_labels(labels: dict) -> Selector:
    """The objects carrying all these labels (a Service's selector, an equality-only matchLabels)."""
    return Selector(labels=",".join(f"{key}={value}" for key, value in sorted(labels.items())))


def from_label_selector(selector: object) -> Selector | None:
    """A LabelSelector (`matchLabels`, `matchExpressions`) as a query's selector string, its terms sorted so equal
    selectors are equal strings; None when it cannot be said in one (not a LabelSelector, an unknown operator), so
    the caller falls back to every object. An empty LabelSelector selects everything (EVERYTHING)."""
    if not isinstance(selector, dict):
        return None
    terms = []
    for key, value in (selector.get("matchLabels") or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            return None
        terms.append(f"{key}={value}")
    for expression in selector.get("matchExpressions") or []:
        if not isinstance(expression, dict):
            return None
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if not isinstance(key, str) or not all(isinstance(value, str) for value in values):
            return None
        if operator in _OPERATORS and values:
            terms.append(f"{key} {_OPERATORS[operator]} ({','.join(sorted(values))})")
        elif operator == "Exists":
            terms.append(key)
        elif operator == "DoesNotExist":
            terms.append(f"!{key}")
        else:
            return None
    return Selector(labels=",".join(sorted(terms)))
