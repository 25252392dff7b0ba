"""resource.Quantity parsing, arithmetic and canonical printing, against apimachinery's behaviour."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubedog_ci.sim.quantity import BINARY_SI, DECIMAL_EXPONENT, DECIMAL_SI, Quantity, pod_resources


@pytest.mark.parametrize(("text", "value", "fmt", "canonical"), [
    ("500m", Fraction(1, 2), DECIMAL_SI, "500m"),
    ("1", Fraction(1), DECIMAL_SI, "1"),
    ("1000m", Fraction(1), DECIMAL_SI, "1"),
    ("1.5", Fraction(3, 2), DECIMAL_SI, "1500m"),
    ("0.1", Fraction(1, 10), DECIMAL_SI, "100m"),
    ("2000", Fraction(2000), DECIMAL_SI, "2k"),
    ("20000", Fraction(20000), DECIMAL_SI, "20k"),
    ("1G", Fraction(10**9), DECIMAL_SI, "1G"),
    ("128Mi", Fraction(128 * 2**20), BINARY_SI, "128Mi"),
    ("0.5Gi", Fraction(2**29), BINARY_SI, "512Mi"),
    ("1024Ki", Fraction(2**20), BINARY_SI, "1Mi"),
    ("1025Ki", Fraction(1025 * 1024), BINARY_SI, "1025Ki"),
    ("1e3", Fraction(1000), DECIMAL_EXPONENT, "1e3"),
    ("129e6", Fraction(129 * 10**6), DECIMAL_EXPONENT, "129e6"),
    ("1n", Fraction(1, 10**9), DECIMAL_SI, "1n"),
    ("0", Fraction(0), DECIMAL_SI, "0"),
    ("-1", Fraction(-1), DECIMAL_SI, "-1"),
])
def test_parse_and_canonical_text(text: str, value: Fraction, fmt: str, canonical: str) -> None:
    quantity = Quantity.parse(text)
    assert (quantity.value, quantity.format, str(quantity)) == (value, fmt, canonical)


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "5 m", "1Kb", "m"])
def test_invalid_quantities_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="quantities must match the regular expression"):
        Quantity.parse(text)


@pytest.mark.parametrize(("left", "right", "total"), [
    ("500m", "500m", "1"),
    ("1", "500m", "1500m"),
    ("0", "128Mi", "128Mi"),
    ("128Mi", "256Mi", "384Mi"),
    ("128Mi", "1G", "1134217728"),
    ("0", "0", "0"),
])
def test_sums_keep_the_first_non_zero_format(left: str, right: str, total: str) -> None:
    assert str(Quantity.parse(left) + Quantity.parse(right)) == total


@pytest.mark.parametrize(("text", "milli", "whole"), [
    ("500m", 500, 1), ("1", 1000, 1), ("1.5", 1500, 2), ("128Mi", 128 * 2**20 * 1000, 128 * 2**20),
])
def test_milli_and_whole_values_round_up(text: str, milli: int, whole: int) -> None:
    assert (Quantity.parse(text).milli, Quantity.parse(text).whole) == (milli, whole)


def _container(name: str, requests: dict | None = None, limits: dict | None = None, **extra: object) -> dict:
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    return {"name": name, "image": "busybox", "resources": resources, **extra}


@pytest.mark.parametrize(("spec", "kind", "expected"), [
    ({"containers": [_container("a", {"cpu": "100m"}), _container("b", {"cpu": "200m", "memory": "64Mi"})]},
     "requests", {"cpu": "300m", "memory": "64Mi"}),
    ({"containers": [_container("a", {"cpu": "100m"})], "initContainers": [_container("i", {"cpu": "1"})]},
     "requests", {"cpu": "1"}),
    ({"containers": [_container("a", {"cpu": "100m"})],
      "initContainers": [_container("s", {"cpu": "200m"}, restartPolicy="Always"), _container("i", {"cpu": "250m"})]},
     "requests", {"cpu": "450m"}),
    ({"containers": [_container("a", limits={"cpu": "2", "memory": "1Gi"})]}, "requests",
     {"cpu": "2", "memory": "1Gi"}),
    ({"containers": [_container("a", {"cpu": "1"}, {"cpu": "2"})], "overhead": {"cpu": "250m"}}, "limits",
     {"cpu": "2250m"}),
    ({"containers": [_container("a")]}, "requests", {}),
])
def test_pod_resources(spec: dict, kind: str, expected: dict) -> None:
    assert {k: str(v) for k, v in pod_resources(spec, kind).items()} == expected
