"""Reading a command's arguments: integers as sh and C read them, and getopt-style options."""

from __future__ import annotations

import re
from collections.abc import Sequence


def _decimal(text: str) -> int | None:
    return int(text) if re.fullmatch(r"\s*[+-]?\d+\s*", text) else None


def _c_integer(text: str) -> int | None:
    """A C integer constant: decimal, 0x hexadecimal or 0 octal."""
    match = re.fullmatch(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\s*", text)
    if not match:
        return None
    digits = match[2]
    value = int(digits, 16 if digits[1:2] in ("x", "X") else 8 if digits[0] == "0" else 10)
    return -value if match[1] == "-" else value


def _options(
    args: Sequence[str], short_with_arg: str, long_with_arg: frozenset[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Split arguments getopt-style into (option, value) pairs and operands, in any order.

    Short options cluster (``-qO-``, ``-sSo FILE``): one that takes a value takes the rest of
    its cluster or else the next argument. A long option takes ``=VALUE``, or the next argument
    if it is listed. Unknown options are kept like any other, for the caller to ignore.
    """
    options: list[tuple[str, str]] = []
    operands: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            operands.extend(rest)
        elif arg.startswith("--"):
            name, equals, value = arg.partition("=")
            options.append((name, value if equals or name not in long_with_arg else next(rest, "")))
        elif arg.startswith("-") and arg != "-":
            for index, flag in enumerate(arg[1:], 2):
                if flag in short_with_arg:
                    options.append(("-" + flag, arg[index:] or next(rest, "")))
                    break
                options.append(("-" + flag, ""))
        else:
            operands.append(arg)
    return options, operands
