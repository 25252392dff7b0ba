"""Label and field selectors, table-driven."""

from __future__ import annotations

import pytest

from kubedog_ci.sim.selectors import (
    SelectorError,
    field_value,
    matches_label_selector,
    parse_field_selector,
    parse_label_selector,
    selector_to_string,
)

LABELS = {"app": "web", "tier": "front", "env": "prod"}


@pytest.mark.parametrize(("selector", "expected"), [
    ("", True), ("app=web", True), ("app==web", True), ("app=db", False), ("app!=db", True),
    ("app=web,tier=front", True), ("app=web,tier=back", False), ("env in (prod,staging)", True),
    ("env notin (prod)", False), ("tier", True), ("!tier", False), ("!missing", True), ("missing", False),
    ("app in (web), env notin (dev,test)", True),
])
def test_label_selector_strings(selector: str, expected: bool) -> None:
    assert parse_label_selector(selector)(LABELS) is expected


def test_bad_label_selector() -> None:
    with pytest.raises(SelectorError):
        parse_label_selector("app=(web")


EVENT = {"metadata": {"name": "e1", "namespace": "default"},
         "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default"}, "count": 3}


@pytest.mark.parametrize(("selector", "expected"), [
    ("metadata.name=e1", True), ("metadata.name!=e1", False), ("involvedObject.kind=Pod", True),
    ("involvedObject.kind=Pod,involvedObject.name=web-1", True), ("involvedObject.name=web-2", False),
    ("involvedObject.fieldPath=", True), ("count=3", True),
])
def test_field_selector_strings(selector: str, expected: bool) -> None:
    assert parse_field_selector(selector)(EVENT) is expected


@pytest.mark.parametrize(("selector", "expected"), [
    ({}, True), (None, True), ({"matchLabels": {"app": "web"}}, True), ({"matchLabels": {"app": "db"}}, False),
    ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}, True),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False),
])
def test_structured_selectors(selector: dict | None, expected: bool) -> None:
    assert matches_label_selector(selector, LABELS) is expected


def test_selector_round_trip_string() -> None:
    selector = {"matchLabels": {"b": "2", "a": "1"},
                "matchExpressions": [{"key": "c", "operator": "In", "values": ["y", "x"]},
                                     {"key": "d", "operator": "DoesNotExist"}]}
    text = selector_to_string(selector)
    assert text == "a=1,b=2,c in (x,y),!d"
    assert parse_label_selector(text)({"a": "1", "b": "2", "c": "x"})


def test_field_value_renders_like_the_api() -> None:
    assert field_value({"spec": {"unschedulable": True}}, "spec.unschedulable") == "true"
    assert field_value({}, "spec.nodeName") == ""
