"""Go-style durations (`90s`, `5m`, `1h30m`, `250ms`), as kubectl and kubedog users write them."""

from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str, *, signed: bool = False) -> float:
    """Seconds in a Go duration string; a bare number is seconds. With `signed`, a leading + or - is allowed
    (`-5m`, `+2m`, as Go's time.ParseDuration takes them): for offsets, where a negative duration means
    something. Raises ValueError on anything else."""
    text = text.strip()
    if signed and text[:1] in ("+", "-") and text[1:2] not in ("+", "-", " ", "\t"):
        sign = -1.0 if text[0] == "-" else 1.0
        return sign * parse_duration(text[1:])
    if not text:
        raise ValueError("empty duration")
    try:
        return float(text)
    except ValueError:
        pass
    position, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text):
        raise ValueError(f"invalid duration {text!r} (use e.g. 90s, 5m, 1h30m)")
    return total
