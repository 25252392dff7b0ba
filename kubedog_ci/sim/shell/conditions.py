"""The expressions of ``test``, ``[`` and ``[[``: strings, integers, and the files a container's mounts show it."""

from __future__ import annotations

import operator
from collections.abc import Callable

from kubedog_ci.sim.shell.args import _decimal
from kubedog_ci.sim.shell.files import Files

_TEST_UNARY_OPS: dict[str, Callable[[str], bool]] = {
    "-z": lambda text: text == "",
    "-n": lambda text: text != "",
}
# File tests answer from the mounts; an unknown path is false. Mounted volumes are read-only, hold no special
# files, and the symlinks and modes the kubelet gives them are not modelled, so the other operators are false.
_TEST_FILE_OPS: dict[str, Callable[[Files, str], bool]] = {
    "-e": lambda files, path: files.kind(path) in ("file", "dir"),
    "-r": lambda files, path: files.kind(path) in ("file", "dir"),
    "-f": lambda files, path: files.kind(path) == "file",
    "-d": lambda files, path: files.kind(path) == "dir",
    "-s": lambda files, path: files.kind(path) == "dir" or (files.kind(path) == "file" and files.read(path) != ""),
    **dict.fromkeys(("-w", "-x", "-L", "-h", "-p", "-S", "-b", "-c"), lambda files, path: False),
}
_TEST_STRING_OPS: dict[str, Callable[[str, str], bool]] = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
}
_TEST_INTEGER_OPS: dict[str, Callable[[int, int], bool]] = {
    "-eq": operator.eq,
    "-ne": operator.ne,
    "-lt": operator.lt,
    "-le": operator.le,
    "-gt": operator.gt,
    "-ge": operator.ge,
}


def _test_integer(text: str) -> int:
    value = _decimal(text)
    if value is None:
        raise ValueError(f"{text}: integer expression expected")
    return value


def _evaluate_test(args: list[str], files: Files) -> bool:
    """A ``test`` expression: ``! -a -o``, -z -n, string and integer comparisons, file tests on ``files``."""
    pos = 0

    def disjunction() -> bool:
        nonlocal pos
        value = conjunction()
        while pos < len(args) and args[pos] == "-o":
            pos += 1
            value = conjunction() or value
        return value

    def conjunction() -> bool:
        nonlocal pos
        value = negation()
        while pos < len(args) and args[pos] == "-a":
            pos += 1
            value = negation() and value
        return value

    def negation() -> bool:
        nonlocal pos
        if pos >= len(args):
            raise ValueError("argument expected")
        if args[pos] == "!" and pos + 1 < len(args):
            pos += 1
            return not negation()
        if pos + 2 < len(args) and args[pos + 1] in _TEST_STRING_OPS:
            pos += 3
            return _TEST_STRING_OPS[args[pos - 2]](args[pos - 3], args[pos - 1])
        if pos + 2 < len(args) and args[pos + 1] in _TEST_INTEGER_OPS:
            pos += 3
            left, right = _test_integer(args[pos - 3]), _test_integer(args[pos - 1])
            return _TEST_INTEGER_OPS[args[pos - 2]](left, right)
        if pos + 1 < len(args) and args[pos] in _TEST_UNARY_OPS:
            pos += 2
            return _TEST_UNARY_OPS[args[pos - 2]](args[pos - 1])
        if pos + 1 < len(args) and args[pos] in _TEST_FILE_OPS:
            pos += 2
            return _TEST_FILE_OPS[args[pos - 2]](files, args[pos - 1])
        pos += 1
        return args[pos - 1] != ""

    if not args:
        return False
    result = disjunction()
    if pos < len(args):
        raise ValueError(f"unexpected argument {args[pos]!r}")
    return result
