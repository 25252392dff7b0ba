"""A small ``awk``, enough for scripts to pick the status out of ``wget -S`` or ``curl -I`` output."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kubedog_ci.sim.shell.args import _options
from kubedog_ci.sim.shell.parser import _ASSIGNMENT
from kubedog_ci.sim.shell.printf import _escape_char
from kubedog_ci.sim.shell.runtime import _Gen, _Io, _write


class _AwkError(ValueError):
    """An awk program outside the supported subset."""


_AWK_TOKEN = re.compile(
    r"[ \t]+|\\\n|#[^\n]*"  # blanks, line continuations and comments
    r"|(?P<regex>/(?:\\.|[^\\/\n])*/)"
    r'|(?P<string>"(?:\\.|[^\\"\n])*")'
    r"|(?P<field>\$(?:\d+|NF))"
    r"|(?P<word>[A-Za-z_]\w*|\d+)"
    r"|(?P<op>[=!<>]=|[<>{};,\n])"
)
_AWK_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_AwkTerm = int | str  # a field number ($0 is the record, -1 is $NF) or literal text
_AwkPrint = tuple[tuple[_AwkTerm, ...], ...]  # comma-separated items, each of concatenated terms


@dataclass(frozen=True)
class _AwkRule:
    section: str  # "BEGIN", "END", or "" for a rule applied to each record
    test: Callable[[int, str], bool]  # applies to (NR, record)?
    prints: tuple[_AwkPrint, ...]


def _awk_unescape(text: str) -> str:
    """An awk string's backslash escapes, such as ``\\t`` and ``\\"``."""
    return re.sub(r"\\([0-7]{1,3}|.)", lambda m: m[1] if m[1] in '"/' else _escape_char(m[1]), text)


def _awk_parse(source: str) -> list[_AwkRule]:
    """Rules ``PATTERN { print ...; ... }``, where either part may be left out.

    A pattern is ``BEGIN``, ``END``, ``/regex/`` (Python's syntax) or ``NR`` compared with a
    number; a print statement prints the record, or ``$N``, ``$NF`` and "text" terms, which are
    concatenated and whose comma-separated items are joined by a space.
    """
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(source):
        match = _AWK_TOKEN.match(source, pos)
        if not match:
            raise _AwkError(source)
        pos = match.end()
        if match.lastgroup:
            tokens.append((match.lastgroup if match.lastgroup != "op" else match[0], match[0]))
    tokens.append(("eof", ""))
    index = 0

    def take(*kinds: str) -> str:
        nonlocal index
        kind, text = tokens[index]
        if kinds and kind not in kinds:
            raise _AwkError(text)
        index += 1
        return text

    def skip(*kinds: str) -> None:
        while tokens[index][0] in kinds:
            take()

    def pattern() -> tuple[str, Callable[[int, str], bool]]:
        """The rule's section and test; a rule without a pattern applies to every record."""
        kind, text = tokens[index]
        if text in ("BEGIN", "END"):
            take()
            return text, lambda number, record: True
        if kind == "regex":
            take()
            try:
                regex = re.compile(text[1:-1].replace("\\/", "/"))
            except re.error as error:
                raise _AwkError(text) from error
            return "", lambda number, record: regex.search(record) is not None
        if text == "NR":
            take()
            compare = _AWK_COMPARE[take(*_AWK_COMPARE)]
            line = take("word")
            if not line.isdigit():
                raise _AwkError(line)
            return "", lambda number, record: compare(number, int(line))
        return "", lambda number, record: True

    def term() -> _AwkTerm:
        kind, text = tokens[index]
        take("field", "string")
        if kind == "string":
            return _awk_unescape(text[1:-1])
        return -1 if text == "$NF" else int(text[1:])

    def statement() -> _AwkPrint:
        if take("word") != "print":
            raise _AwkError("print")
        if tokens[index][0] not in ("field", "string"):
            return ((0,),)
        items: list[tuple[_AwkTerm, ...]] = []
        while True:
            terms = [term()]
            while tokens[index][0] in ("field", "string"):
                terms.append(term())
            items.append(tuple(terms))
            if tokens[index][0] != ",":
                return tuple(items)
            take()
            skip("\n")

    rules: list[_AwkRule] = []
    skip(";", "\n")
    while tokens[index][0] != "eof":
        start = index
        section, test = pattern()
        if tokens[index][0] == "{":
            take()
            prints: list[_AwkPrint] = []
            skip(";", "\n")
            while tokens[index][0] != "}":
                prints.append(statement())
                if tokens[index][0] != "}":
                    take(";", "\n")
                    skip(";", "\n")
            take()
            rules.append(_AwkRule(section, test, tuple(prints)))
        elif section or index == start or tokens[index][0] not in (";", "\n", "eof"):
            raise _AwkError(tokens[index][1])  # BEGIN and END need an action, other rules something
        else:
            rules.append(_AwkRule(section, test, (((0,),),)))  # the default action prints the record
        skip(";", "\n")
    return rules


def _awk_splitter(separator: str) -> Callable[[str], list[str]]:
    """Field splitting: on blanks by default, else on one literal character or a regex."""
    if separator == " ":
        return str.split
    if len(separator) == 1:
        return lambda record: record.split(separator) if record else []
    try:
        regex = re.compile(separator)
    except re.error as error:
        raise _AwkError(separator) from error
    return lambda record: regex.split(record) if record else []


def _awk_apply(
    rules: Sequence[_AwkRule], section: str, number: int, record: str, split: Callable[[str], list[str]]
) -> str:
    """What the rules of one section print for one record (numbered ``NR``)."""
    fields = split(record)

    def value(term: _AwkTerm) -> str:
        if isinstance(term, str):
            return term
        if term == 0 or (term < 0 and not fields):
            return record
        return fields[term] if term < 0 else fields[term - 1] if term <= len(fields) else ""

    lines = [
        " ".join("".join(map(value, item)) for item in items) + "\n"
        for rule in rules
        if rule.section == section and rule.test(number, record)
        for items in rule.prints
    ]
    return "".join(lines)


def _builtin_awk(args: list[str], io: _Io) -> _Gen:
    """``awk [-F SEP] PROGRAM [FILE...]`` for the subset :func:`_awk_parse` reads.

    Input is standard input, unless files are named: they do not exist, so there is none.
    A program outside the subset is a runtime error, as a real awk's syntax error is.
    """
    options, operands = _options(args, "Fvf", frozenset())
    separator = " "
    for name, value in options:
        if name == "-F":
            separator = _awk_unescape(value) or " "
        elif name == "-f":
            yield from _write(io.err, f"awk: can't open file {value}\n")
            return 2
    if not operands:
        yield from _write(io.err, "usage: awk [-F SEP] 'PROGRAM' [FILE...]\n")
        return 2
    try:
        rules = _awk_parse(operands[0])
        split = _awk_splitter(separator)
    except _AwkError:
        yield from _write(io.err, "awk: syntax error\n")
        return 2
    files = [arg for arg in operands[1:] if not _ASSIGNMENT.match(arg)]  # NAME=VALUE sets a variable
    text = ""
    if not files or "-" in files:
        text, io.stdin.data = io.stdin.data, ""
    records = text.split("\n")
    if records[-1] == "":
        records.pop()
    record = ""
    yield from _write(io.out, _awk_apply(rules, "BEGIN", 0, record, split))
    for number, record in enumerate(records, 1):
        yield from _write(io.out, _awk_apply(rules, "", number, record, split))
    yield from _write(io.out, _awk_apply(rules, "END", len(records), record, split))
    return 0
