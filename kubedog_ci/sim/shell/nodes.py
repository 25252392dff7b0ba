"""The syntax tree a script parses into; the interpreter walks it, so it holds no behaviour of its own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class _Lit:
    """Literal text with quotes removed; even an empty one (``''``) makes a field."""

    text: str


@dataclass(frozen=True)
class _Param:
    """``$NAME`` or ``${NAME<op>arg}``; op is "" (plain), "#" (length) or ``[:]-=+?``."""

    name: str
    op: str
    arg: _Word
    quoted: bool


@dataclass(frozen=True)
class _CmdSub:
    """``$(...)`` or a backquoted command."""

    body: _Node
    quoted: bool


@dataclass(frozen=True)
class _ArithSub:
    """``$((...))``; the expression is expanded first, then evaluated."""

    expr: _Word
    quoted: bool


_Part = _Lit | _Param | _CmdSub | _ArithSub
_Word = tuple[_Part, ...]


@dataclass(frozen=True)
class _Redir:
    fd: int
    op: str
    target: _Word


@dataclass(frozen=True)
class _Simple:
    assigns: tuple[tuple[str, _Word], ...]
    words: tuple[_Word, ...]
    redirs: tuple[_Redir, ...]


@dataclass(frozen=True)
class _Seq:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _AndOr:
    """``items[0] ops[0] items[1] ...`` with ops "&&" or "||", evaluated left to right."""

    items: tuple[_Node, ...]
    ops: tuple[str, ...]


@dataclass(frozen=True)
class _Pipeline:
    cmds: tuple[_Node, ...]
    negate: bool


@dataclass(frozen=True)
class _Subshell:
    body: _Node


@dataclass(frozen=True)
class _Redirected:
    """A compound command with redirections, such as ``done >/dev/null``."""

    body: _Node
    redirs: tuple[_Redir, ...]


@dataclass(frozen=True)
class _If:
    branches: tuple[tuple[_Node, _Node], ...]  # (condition, body) for if and each elif
    orelse: _Node | None


@dataclass(frozen=True)
class _Loop:
    cond: _Node
    body: _Node
    until: bool


@dataclass(frozen=True)
class _For:
    name: str
    words: tuple[_Word, ...] | None  # None iterates over "$@"
    body: _Node


_Node = _Simple | _Seq | _AndOr | _Pipeline | _Subshell | _Redirected | _If | _Loop | _For


@dataclass(frozen=True)
class Program:
    """An opaque parsed program.

    A program built from a container's argv carries its own ``$0 $1 ...`` (``params``) and
    ``-e`` option; one from :func:`parse` takes them from :func:`run`.
    """

    body: _Node
    params: tuple[str, ...] | None = None
    errexit: bool = False
