"""Go-style durations, table-driven."""

from __future__ import annotations

import pytest

from kubedog_ci.durations import parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25), ("1.5s", 1.5), ("0", 0.0), ("42", 42.0),
    ("2h", 7200.0), ("1m30s", 90.0), ("100us", 0.0001), (" 10s ", 10.0),
])
def test_parses(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "ten", "5 m", "1d", "s", "10s5", "-5s"])
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(("text", "seconds"), [
    ("-5m", -300.0), ("+2m", 120.0), ("5m", 300.0), ("-90", -90.0), ("-1h30m", -5400.0), ("0s", 0.0),
])
def test_parses_a_sign_when_asked(text: str, seconds: float) -> None:
    assert parse_duration(text, signed=True) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["-", "+", "--5m", "+-5m", "- 5m"])
def test_rejects_a_bare_or_double_sign(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text, signed=True)
