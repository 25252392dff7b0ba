"""Backslash escapes and ``printf`` formats, for ``echo -e``, ``printf``, awk strings and ``curl -w``."""

from __future__ import annotations

import re
from collections.abc import Sequence

from kubedog_ci.sim.shell.args import _c_integer

_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}
_ECHO_ESCAPE = re.compile(r"\\(0[0-7]{0,3}|x[0-9a-fA-F]{1,2}|[^0-7])", re.S)  # octal only as \0NNN
_PRINTF_TOKEN = re.compile(
    r"%(?P<flags>[-+ #0]*)(?P<width>\d*)(?:\.(?P<precision>\d*))?(?P<conversion>[diouxXeEfFgGcsb%])"
    r"|\\(?P<escape>[0-7]{1,3}|x[0-9a-fA-F]{1,2}|.)"
    r"|(?P<text>[^%\\]+|.)",
    re.S,
)


def _escape_char(code: str) -> str:
    """The character for a backslash escape, given what follows the backslash."""
    if code[0] in "01234567":
        return chr(int(code, 8) % 256)
    if code[0] == "x" and len(code) > 1:
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, "\\" + code)


def _unescape(text: str) -> tuple[str, bool]:
    """Expand ``echo -e`` / ``%b`` escapes; the flag says ``\\c`` cut the output short."""
    out: list[str] = []
    pos = 0
    for match in _ECHO_ESCAPE.finditer(text):
        out.append(text[pos : match.start()])
        pos = match.end()
        if match[1] == "c":
            return "".join(out), True
        out.append(_escape_char(match[1]))
    out.append(text[pos:])
    return "".join(out), False


def _printf(fmt: str, args: Sequence[str]) -> tuple[str, list[str]]:
    """Format like POSIX printf, reusing the format while arguments remain.

    Returns the text and the arguments that were not valid numbers (printed as 0).
    """
    out: list[str] = []
    invalid: list[str] = []
    remaining = list(args)
    while True:
        before = len(remaining)
        for token in _PRINTF_TOKEN.finditer(fmt):
            if token["text"] is not None:
                out.append(token["text"])
            elif token["escape"] == "c":
                return "".join(out), invalid
            elif token["escape"] is not None:
                out.append(_escape_char(token["escape"]))
            elif token["conversion"] == "%":
                out.append("%")
            else:
                out.append(_convert(token, remaining.pop(0) if remaining else "", invalid))
        if not remaining or len(remaining) == before:
            return "".join(out), invalid


def _convert(token: re.Match[str], arg: str, invalid: list[str]) -> str:
    """One printf conversion, such as %-5s, %05d or %.2f, using Python's matching % operator."""
    conversion = token["conversion"]
    precision = "" if token["precision"] is None else "." + token["precision"]
    spec = "%" + token["flags"] + token["width"] + precision
    if conversion in "csb":
        text = arg[:1] if conversion == "c" else _unescape(arg)[0] if conversion == "b" else arg
        return (spec + "s") % text
    if conversion in "eEfFgG":
        try:
            return (spec + conversion) % float(arg or 0)
        except ValueError:
            invalid.append(arg)
            return (spec + conversion) % 0.0
    number = _c_integer(arg or "0")
    if number is None:
        invalid.append(arg)
    return (spec + ("d" if conversion in "iu" else conversion)) % (number or 0)
