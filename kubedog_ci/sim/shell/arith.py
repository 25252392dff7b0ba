"""``$((...))``: C integer arithmetic over shell variables."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

from kubedog_ci.sim.shell.args import _c_integer
from kubedog_ci.sim.shell.parser import _NAME
from kubedog_ci.sim.shell.runtime import _ShellError

_ARITH_TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+|\d+|[A-Za-z_]\w*|\|\||&&|[=!<>]=|[-+*/%]=|[-+*/%()<>!=])")
_ARITH_LEVELS = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "/", "%"))


def _divide(a: int, b: int) -> int:
    """C division: truncates toward zero."""
    if b == 0:
        raise _ShellError("arithmetic: division by zero")
    quotient = abs(a) // abs(b)
    return quotient if (a < 0) == (b < 0) else -quotient


_ARITH_OPS: dict[str, Callable[[int, int], int]] = {
    "||": lambda a, b: int(bool(a or b)),
    "&&": lambda a, b: int(bool(a and b)),
    "==": lambda a, b: int(a == b),
    "!=": lambda a, b: int(a != b),
    "<": lambda a, b: int(a < b),
    "<=": lambda a, b: int(a <= b),
    ">": lambda a, b: int(a > b),
    ">=": lambda a, b: int(a >= b),
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _divide,
    "%": lambda a, b: a - b * _divide(a, b),
}


def _arith(text: str, variables: dict[str, str]) -> int:
    """Evaluate ``$((...))`` as C integer arithmetic, where bare names read (and set) variables."""
    tokens: list[str] = []
    pos, text = 0, text.rstrip()
    while pos < len(text):
        match = _ARITH_TOKEN.match(text, pos)
        if not match:
            raise _ShellError(f"arithmetic syntax error: {text!r}")
        tokens.append(match[1])
        pos = match.end()
    tokens.append("")  # end marker
    index = 0

    def take() -> str:
        nonlocal index
        index += 1
        return tokens[index - 1]

    def variable(name: str) -> int:
        value = _c_integer(variables.get(name) or "0")
        if value is None:
            raise _ShellError(f"arithmetic: {name}: not a number: {variables[name]!r}")
        return value

    def assignment() -> int:
        if _NAME.fullmatch(tokens[index]) and tokens[index + 1] in ("=", "+=", "-=", "*=", "/=", "%="):
            name, op = take(), take()
            value = assignment()
            if op != "=":
                value = _ARITH_OPS[op[0]](variable(name), value)
            variables[name] = str(value)
            return value
        return binary(0)

    def binary(level: int) -> int:
        if level == len(_ARITH_LEVELS):
            return unary()
        value = binary(level + 1)
        while tokens[index] in _ARITH_LEVELS[level]:
            op = take()
            value = _ARITH_OPS[op](value, binary(level + 1))
        return value

    def unary() -> int:
        token = take()
        if token in ("-", "+", "!"):
            value = unary()
            return -value if token == "-" else int(not value) if token == "!" else value
        if token == "(":
            value = assignment()
            if take() != ")":
                raise _ShellError(f"arithmetic: missing ')': {text!r}")
            return value
        if _NAME.fullmatch(token):
            return variable(token)
        number = _c_integer(token)
        if number is None:
            raise _ShellError(f"arithmetic syntax error: {text!r}")
        return number

    result = assignment() if tokens[0] else 0
    if tokens[index]:
        raise _ShellError(f"arithmetic syntax error: {text!r}")
    return result
