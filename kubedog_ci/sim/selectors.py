"""Label and field selectors, in the string form of list/watch queries and the structured form of specs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Predicate = Callable[[dict], bool]

_SET_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_TERM = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_./-]*)\s*$")


class SelectorError(ValueError):
    """A selector string the API server would reject with 400 BadRequest."""


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside `in (a,b)` parentheses."""
    terms, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def parse_label_selector(text: str | None) -> Callable[[Mapping[str, str]], bool]:
    """`a=b,c!=d,e in (x,y),f notin (z),g,!h` -> a predicate over a label map."""
    if not text:
        return lambda labels: True
    checks: list[Callable[[Mapping[str, str]], bool]] = []
    for term in _split_terms(text):
        eq = _EQ_TERM.match(term)
        if eq:
            key, op, value = eq.groups()
            if op == "!=":
                checks.append(lambda lb, k=key, v=value: lb.get(k) != v)
            else:
                checks.append(lambda lb, k=key, v=value: lb.get(k) == v)
            continue
        st = _SET_TERM.match(term)
        if not st:
            raise SelectorError(f"unable to parse requirement: {term.strip()!r}")
        negate, key, op, values = st.groups()
        if op:
            allowed = {v.strip() for v in values.split(",") if v.strip()}
            if op == "in":
                checks.append(lambda lb, k=key, a=allowed: lb.get(k) in a)
            else:
                checks.append(lambda lb, k=key, a=allowed: lb.get(k) not in a)
        elif negate:
            checks.append(lambda lb, k=key: k not in lb)
        else:
            checks.append(lambda lb, k=key: k in lb)
    return lambda labels: all(check(labels) for check in checks)


def field_value(obj: dict, path: str) -> str:
    """The string value of a dotted field path, "" when absent (how the API server compares them)."""
    node: object = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _field_check(path: str, value: str, equal: bool) -> Predicate:
    return lambda obj: (field_value(obj, path) == value) is equal


def _field_terms(text: str) -> list[tuple[str, bool, str]]:
    """(label, negated, value) of each `label=value`, `label==value` or `label!=value` term."""
    terms = []
    for term in _split_terms(text):
        if "!=" in term:
            label, value = term.split("!=", 1)
            terms.append((label.strip(), True, value.strip()))
        elif "=" in term:
            label, value = term.replace("==", "=").split("=", 1)
            terms.append((label.strip(), False, value.strip()))
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
    return terms


def parse_field_selector(text: str | None) -> Predicate:
    """`metadata.name=x,involvedObject.kind=Pod,status.phase!=Failed` -> a predicate over an object."""
    if not text:
        return lambda obj: True
    checks = [_field_check(label, value, equal=not negated) for label, negated, value in _field_terms(text)]
    return lambda obj: all(check(obj) for check in checks)


@dataclass(frozen=True)
class FieldLabels:
    """One kind's field-selector contract, as the API server enforces it on list, watch and deletecollection.

    `labels`: what the kind's AddFieldLabelConversionFunc accepts, each mapped to the path its value is read from
    in the stored core/v1 object ("" for a label accepted but never set; "a|b" reads b when a is empty).
    `absent`: the value a missing field has, since ToSelectableFields sets every key ("false", "0").
    `unsupported`: the conversion func's error for any other label, answered as 400 BadRequest.
    """

    labels: Mapping[str, str]
    absent: Mapping[str, str] = field(default_factory=dict)
    unsupported: str = "field label not supported: {label}"


def _same(*labels: str) -> dict[str, str]:
    return {label: label for label in labels}


_META = _same("metadata.name", "metadata.namespace")
_INVOLVED = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
GENERIC_FIELD_LABELS = FieldLabels(_META, unsupported='"{label}" is not a known field selector: only '
                                                      '"metadata.name", "metadata.namespace"')
"""runtime.DefaultMetaV1FieldSelectorConversion: every kind without a conversion func (apps, custom resources)."""
FIELD_LABELS: dict[tuple[str, str], FieldLabels] = {
    # pkg/apis/core/v1/conversion.go, pkg/apis/events/v1/conversion.go, pkg/apis/batch/v1/conversion.go
    ("", "pods"): FieldLabels({**_META, **_same("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                                               "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                                               "status.podIP", "status.nominatedNodeName"),
                               "status.podIPs": "", "spec.host": "spec.nodeName"}, {"spec.hostNetwork": "false"}),
    ("", "nodes"): FieldLabels(_same("metadata.name", "spec.unschedulable"), {"spec.unschedulable": "false"}),
    ("", "namespaces"): FieldLabels(_same("metadata.name", "status.phase")),
    ("", "secrets"): FieldLabels({**_META, "type": "type"}),
    ("", "services"): FieldLabels({**_META, **_same("spec.clusterIP", "spec.type")}),
    ("", "replicationcontrollers"): FieldLabels({**_META, "status.replicas": "status.replicas"},
                                                {"status.replicas": "0"}),
    ("", "events"): FieldLabels({**_META, **_same(*(f"involvedObject.{f}" for f in _INVOLVED), "reason", "type",
                                                  "reportingComponent"),
                                 "source": "source.component|reportingComponent"}),
    ("events.k8s.io", "events"): FieldLabels({**_META, **_same("reason", "type"),
                                              **{f"regarding.{f}": f"involvedObject.{f}" for f in _INVOLVED},
                                              "reportingController": "reportingComponent"}),
    ("batch", "jobs"): FieldLabels({**_META, "status.successful": "status.succeeded"}, {"status.succeeded": "0"},
                                   'field label "{label}" not supported for Job'),
}


def _read(obj: dict, path: str, absent: Mapping[str, str]) -> str:
    value = next((v for v in (field_value(obj, p) for p in path.split("|")) if v), "") if path else ""
    return value or absent.get(path, "")


def kind_field_selector(group: str, plural: str, text: str | None) -> Predicate:
    """A list/watch `fieldSelector` for one kind: only its supported labels (SelectorError names the first other)."""
    if not text:
        return lambda obj: True
    contract = FIELD_LABELS.get((group, plural), GENERIC_FIELD_LABELS)
    checks: list[Predicate] = []
    for label, negated, value in _field_terms(text):
        if label not in contract.labels:
            raise SelectorError(contract.unsupported.format(label=label))
        path = contract.labels[label]
        checks.append(lambda o, p=path, v=value, n=negated: (_read(o, p, contract.absent) == v) is not n)
    return lambda obj: all(check(obj) for check in checks)


def matches_label_selector(selector: Mapping | None, labels: Mapping[str, str] | None) -> bool:
    """A structured LabelSelector (matchLabels + matchExpressions); an empty selector matches everything."""
    labels = labels or {}
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_to_string(selector: Mapping | None) -> str:
    """A structured LabelSelector in its string form (as kubectl prints it and list queries take it): the
    requirements sorted by key, as LabelSelectorAsSelector's selector.String() gives them."""
    if not selector:
        return ""
    terms = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        rendered = {"In": f"{key} in ({','.join(sorted(values))})",
                    "NotIn": f"{key} notin ({','.join(sorted(values))})",
                    "Exists": key, "DoesNotExist": f"!{key}"}.get(op)
        if rendered:
            terms.append((key, rendered))
    return ",".join(text for _, text in sorted(terms, key=lambda term: term[0]))
