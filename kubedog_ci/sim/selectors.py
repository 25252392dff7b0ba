"""Label and field selectors, in the string form of list/watch queries and the structured form of specs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

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


def parse_field_selector(text: str | None) -> Predicate:
    """`metadata.name=x,involvedObject.kind=Pod,status.phase!=Failed` -> a predicate over an object."""
    if not text:
        return lambda obj: True
    checks: list[Predicate] = []
    for term in _split_terms(text):
        if "!=" in term:
            path, value = term.split("!=", 1)
            checks.append(_field_check(path.strip(), value.strip(), equal=False))
        elif "=" in term:
            path, value = term.replace("==", "=").split("=", 1)
            checks.append(_field_check(path.strip(), value.strip(), equal=True))
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
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
    """A structured LabelSelector in its string form (as kubectl prints it and list queries take it)."""
    if not selector:
        return ""
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)
