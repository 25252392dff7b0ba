"""resource.Quantity as k8s.io/apimachinery parses, adds and prints it.

The scheduler compares requests with node allocatable and ResourceQuota admission quotes quantities back to the
user ("requested: requests.cpu=500m, used: requests.cpu=1"), so both the arithmetic and the canonical text must
match the real type: exact values, the suffix family (decimal SI, binary SI, decimal exponent) of the first
non-zero operand, and canonical printing ("1000m" prints as "1", "0.5Gi" as "512Mi").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_DECIMAL_EXPONENTS = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIXES = {exp: suffix for suffix, exp in _DECIMAL_EXPONENTS.items()}
_NANO = Fraction(1, 10**9)
_SYNTAX = re.compile(r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
SYNTAX_ERROR = ("quantities must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


@dataclass(frozen=True)
class Quantity:
    """An exact amount (rounded up to nano units like the real type) and the suffix family it prints in."""

    value: Fraction
    format: str = DECIMAL_SI

    @classmethod
    def parse(cls, text: object) -> Quantity:
        """Parse "500m", "1", "128Mi", "1G", "1e3"; raises ValueError with the API server's message."""
        match = _SYNTAX.match(str(text).strip())
        if not match:
            raise ValueError(SYNTAX_ERROR)
        number, suffix = Fraction(match.group(1)), match.group(2) or ""
        if suffix and suffix in _BINARY_SUFFIXES:
            value, fmt = number * 1024 ** _BINARY_SUFFIXES.index(suffix), BINARY_SI
        elif suffix in _DECIMAL_EXPONENTS:
            value, fmt = number * Fraction(10) ** _DECIMAL_EXPONENTS[suffix], DECIMAL_SI
        else:
            value, fmt = number * Fraction(10) ** int(suffix[1:]), DECIMAL_EXPONENT
        return cls(_round_up_to_nano(value), fmt)

    @classmethod
    def zero(cls) -> Quantity:
        return cls(Fraction(0))

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self.format if self.value else other.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.format if self.value else other.format)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __le__(self, other: Quantity) -> bool:
        return self.value <= other.value

    def max(self, other: Quantity) -> Quantity:
        return other if other.value > self.value else self

    @property
    def milli(self) -> int:
        """MilliValue(): thousandths, rounded up (how cpu is compared)."""
        return math.ceil(self.value * 1000)

    @property
    def whole(self) -> int:
        """Value(): whole units, rounded up (how memory and pods are compared)."""
        return math.ceil(self.value)

    def __str__(self) -> str:
        fmt = self.format
        if fmt == BINARY_SI and (abs(self.value) < 1024 or self.value.denominator != 1):
            fmt = DECIMAL_SI
        if fmt == BINARY_SI:
            return _binary(int(self.value))
        return _decimal(self.value, fmt)


def _round_up_to_nano(value: Fraction) -> Fraction:
    return Fraction(math.ceil(value / _NANO)) * _NANO


def _binary(amount: int) -> str:
    power = 0
    while amount and amount % 1024 == 0 and power < len(_BINARY_SUFFIXES) - 1:
        amount //= 1024
        power += 1
    return f"{amount}{_BINARY_SUFFIXES[power]}"


def _decimal(value: Fraction, fmt: str) -> str:
    """Mantissa and an exponent that is a multiple of three, as AsCanonicalBytes chooses them."""
    mantissa, exponent = int(value / _NANO), -9
    if mantissa == 0:
        return "0"
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    extra = exponent % 3
    mantissa, exponent = mantissa * 10**extra, exponent - extra
    if fmt == DECIMAL_EXPONENT:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    if exponent > 18:
        mantissa, exponent = mantissa * 10 ** (exponent - 18), 18
    return f"{mantissa}{_DECIMAL_SUFFIXES[exponent]}"


def quantity(text: object, default: str = "0") -> Quantity:
    """Parse leniently for reading stored objects: an unparsable or missing value counts as `default`."""
    try:
        return Quantity.parse(default if text is None else text)
    except ValueError:
        return Quantity.parse(default)


ResourceList = dict[str, Quantity]


def add_lists(total: ResourceList, extra: ResourceList) -> ResourceList:
    out = dict(total)
    for name, value in extra.items():
        out[name] = out[name] + value if name in out else value
    return out


def max_lists(first: ResourceList, second: ResourceList) -> ResourceList:
    out = dict(first)
    for name, value in second.items():
        out[name] = out[name].max(value) if name in out else value
    return out


def container_resources(container: dict, kind: str) -> ResourceList:
    """A container's "requests" or "limits"; requests default to limits, as SetDefaults_Pod stores them."""
    resources = container.get("resources") or {}
    values = dict(resources.get(kind) or {})
    if kind == "requests":
        for name, limit in (resources.get("limits") or {}).items():
            values.setdefault(name, limit)
    return {name: quantity(value) for name, value in values.items()}


def pod_resources(spec: dict, kind: str) -> ResourceList:
    """PodRequests/PodLimits (component-helpers/resource): app containers and sidecars add up, every other init
    container runs alone (with the sidecars started before it), the larger of the two wins, plus overhead."""
    total: ResourceList = {}
    for container in spec.get("containers") or []:
        total = add_lists(total, container_resources(container, kind))
    sidecars: ResourceList = {}
    init_peak: ResourceList = {}
    for container in spec.get("initContainers") or []:
        own = container_resources(container, kind)
        if container.get("restartPolicy") == "Always":
            total = add_lists(total, own)
            sidecars = add_lists(sidecars, own)
            init_peak = max_lists(init_peak, sidecars)
        else:
            init_peak = max_lists(init_peak, add_lists(own, sidecars))
    total = max_lists(total, init_peak)
    overhead = {name: quantity(value) for name, value in (spec.get("overhead") or {}).items()}
    return add_lists(total, overhead)
