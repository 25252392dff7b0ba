"""A tiny interpreter for the POSIX-sh subset that Kubernetes container commands use.

The simulated kubelet runs no real processes, yet pod logs, exit codes and timing should
look like a real cluster's. So a container's ``sh -c`` script is parsed here and run as a
generator of steps (output, sleep, exit) that the kubelet pulls at its own simulated pace.
Files, processes and the network do not exist: a command that is not a built-in succeeds
silently, and no file can be read or tested.

Having no network, the simulator takes every HTTP endpoint to be up: the ``wget`` and ``curl``
built-ins act out a successful exchange in which any address answers ``HTTP/1.1 200 OK`` with an
empty body, so init containers that poll a Service until it answers 200 go on at once. An empty
body keeps ``curl -w '%{http_code}'`` printing just ``200`` and invents no content; ``wget -O-``
and plain ``curl`` therefore print nothing. A small ``awk`` lets such scripts pick the status out
of ``wget -S`` or ``curl -I`` output.
"""

from __future__ import annotations

import copy
import itertools
import math
import operator
import re
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn, assert_never


@dataclass(frozen=True)
class Output:
    """Text the program wrote (possibly several lines, newlines exactly as written)."""

    text: str
    stream: str  # "stdout" or "stderr"


@dataclass(frozen=True)
class Sleep:
    """The program sleeps this many simulated seconds (``math.inf`` for ``sleep infinity``)."""

    seconds: float


@dataclass(frozen=True)
class Exit:
    """Always the last step: the program ended with this status."""

    code: int


Step = Output | Sleep | Exit


class ParseError(ValueError):
    """The script is malformed or uses syntax outside the supported subset."""


# ---------------------------------------------------------------------------------------------
# Syntax tree


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


# ---------------------------------------------------------------------------------------------
# Lexer and parser

_WORD_END = " \t\n;&|()<>"
_BLANK = re.compile(r"(?:[ \t]+|\\\n|#[^\n]*)*")  # blanks, line continuations and comments
_OPERATOR = re.compile(r"(\d*)(&>>?|>>|>&|>\||<&|<>|<<-?|[<>])|&&|\|\||;;|[;&|()\n]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_SIMPLE_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9?$#@*!-]")
_BRACED_PARAM = re.compile(r"(#(?=[\w?$@*!-]))?([A-Za-z_][A-Za-z0-9_]*|\d+|[?$#@*!-])(:?[-=+?])?")
_CLOSERS = frozenset({"then", "elif", "else", "fi", "do", "done", "}"})


@dataclass(frozen=True)
class _Tok:
    kind: str  # "word", "op", "redir" or "eof"
    text: str
    word: _Word = ()
    fd: int = 0


def _append(parts: list[_Part], text: str) -> None:
    """Add literal text, merged into a preceding literal so that ``NAME=`` stays in one part."""
    if parts and isinstance(parts[-1], _Lit):
        parts[-1] = _Lit(parts[-1].text + text)
    else:
        parts.append(_Lit(text))


class _Lexer:
    """Produces tokens on demand, so that ``$(...)`` can run a parser on the same input."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0

    def next_token(self) -> _Tok:
        src = self.src
        blank = _BLANK.match(src, self.pos)
        assert blank is not None  # the pattern also matches the empty string
        self.pos = blank.end()
        if self.pos >= len(src):
            return _Tok("eof", "end of input")
        op = _OPERATOR.match(src, self.pos)
        if op:
            self.pos = op.end()
            if not op[2]:
                return _Tok("op", op[0])
            if op[2].startswith("<<"):
                raise ParseError("here-documents are not supported")
            return _Tok("redir", op[2], fd=int(op[1]) if op[1] else 0 if op[2][0] == "<" else 1)
        start = self.pos
        word = self._parts(_WORD_END, quoted=False)
        return _Tok("word", src[start : self.pos], tuple(word))

    def _parts(self, stop: str, quoted: bool) -> list[_Part]:
        """Read word parts up to an unquoted character in ``stop``, which is left unread."""
        src = self.src
        parts: list[_Part] = []
        while self.pos < len(src) and src[self.pos] not in stop:
            char = src[self.pos]
            if char == "\\":
                escaped = src[self.pos + 1 : self.pos + 2] or "\\"
                self.pos += 2
                if escaped != "\n":  # a backslash-newline joins lines
                    keep = not quoted or escaped in '$`"\\'
                    _append(parts, escaped if keep else "\\" + escaped)
            elif char == "'" and not quoted:
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise ParseError("unterminated single quote")
                _append(parts, src[self.pos + 1 : end])
                self.pos = end + 1
            elif char == '"' and not quoted:
                self.pos += 1
                inner = self._parts('"', quoted=True)
                if self.pos >= len(src):
                    raise ParseError("unterminated double quote")
                self.pos += 1
                parts.extend(inner or [_Lit("")])
            elif char == "$":
                parts.append(self._dollar(quoted))
            elif char == "`":
                parts.append(self._backquote(quoted))
            else:
                _append(parts, char)
                self.pos += 1
        return parts

    def _dollar(self, quoted: bool) -> _Part:
        """Read ``$...``: a parameter, ``$(...)``, ``$((...))`` or a lone dollar sign."""
        src, start = self.src, self.pos
        if src.startswith("$((", start):
            end = self._arith_end(start + 3)
            self.pos = end + 2
            return _ArithSub(tuple(_Lexer(src[start + 3 : end])._parts("", quoted=True)), quoted)
        if src.startswith("$(", start):
            self.pos += 2
            return _CmdSub(_Parser(self).substitution(), quoted)
        if src.startswith("${", start):
            return self._braced(quoted)
        name = _SIMPLE_PARAM.match(src, start + 1)
        if not name:
            self.pos += 1
            return _Lit("$")
        self.pos = name.end()
        return _Param(name[0], "", (), quoted)

    def _arith_end(self, start: int) -> int:
        """Index of the ``))`` closing an arithmetic expansion that starts at ``start``."""
        depth = 0
        for index in range(start, len(self.src)):
            char = self.src[index]
            if char == "(":
                depth += 1
            elif char == ")" and depth:
                depth -= 1
            elif self.src.startswith("))", index):
                return index
        raise ParseError("unterminated $((")

    def _braced(self, quoted: bool) -> _Param:
        match = _BRACED_PARAM.match(self.src, self.pos + 2)
        if not match:
            raise ParseError("bad substitution")
        self.pos = match.end()
        length, name, op = match.groups()
        # The argument is expanded without field splitting, so its own quotes only need removing.
        arg = tuple(self._parts("}", quoted=False)) if op else ()
        if self.src[self.pos : self.pos + 1] != "}" or (length and op):
            raise ParseError("unsupported parameter expansion")
        self.pos += 1
        return _Param(name, "#" if length else op or "", arg, quoted)

    def _backquote(self, quoted: bool) -> _CmdSub:
        src, index = self.src, self.pos + 1
        body: list[str] = []
        while index < len(src) and src[index] != "`":
            if src[index] == "\\" and src[index + 1 : index + 2] in ("$", "`", "\\"):
                index += 1
            body.append(src[index])
            index += 1
        if index >= len(src):
            raise ParseError("unterminated backquote")
        self.pos = index + 1
        return _CmdSub(_parse("".join(body)), quoted)


def _strip_assignment(word: _Word, length: int) -> _Word:
    """Drop ``NAME=``, which the lexer always keeps in the word's first literal."""
    head, *tail = word
    assert isinstance(head, _Lit)
    rest = head.text[length:]
    return (_Lit(rest), *tail) if rest else tuple(tail)


class _Parser:
    """Recursive descent over the POSIX shell grammar, restricted to the supported subset."""

    def __init__(self, lexer: _Lexer) -> None:
        self.lexer = lexer
        self.token: _Tok | None = None

    def peek(self) -> _Tok:
        if self.token is None:
            self.token = self.lexer.next_token()
        return self.token

    def take(self) -> _Tok:
        token = self.peek()
        self.token = None
        return token

    def at(self, kind: str, *texts: str) -> bool:
        token = self.peek()
        return token.kind == kind and (not texts or token.text in texts)

    def keyword(self) -> str:
        """The next token's text if it is a word: reserved words count only in command position."""
        return self.peek().text if self.at("word") else ""

    def expect(self, kind: str, text: str) -> None:
        if not self.at(kind, text):
            raise ParseError(f"expected {text!r} but found {self.peek().text!r}")
        self.take()

    def newlines(self) -> None:
        while self.at("op", "\n"):
            self.take()

    def program(self) -> _Node:
        body = self.sequence(frozenset())
        if not self.at("eof"):
            raise ParseError(f"unexpected {self.peek().text!r}")
        return body

    def substitution(self) -> _Node:
        body = self.sequence(frozenset())
        self.expect("op", ")")
        return body

    def sequence(self, terminators: frozenset[str]) -> _Node:
        """And-or lists separated by ``;``, ``&`` or newlines (``&`` runs in the foreground)."""
        items: list[_Node] = []
        while True:
            self.newlines()
            if self.at("eof") or self.at("op", ")") or self.keyword() in terminators:
                break
            items.append(self.and_or())
            if not self.at("op", ";", "&", "\n"):
                break
            self.take()
        return items[0] if len(items) == 1 else _Seq(tuple(items))

    def body(self, terminators: frozenset[str]) -> _Node:
        """A compound command's list, which must not be empty."""
        node = self.sequence(terminators)
        if node == _Seq(()):
            raise ParseError(f"expected a command before {self.peek().text!r}")
        return node

    def and_or(self) -> _Node:
        items, ops = [self.pipeline()], []
        while self.at("op", "&&", "||"):
            ops.append(self.take().text)
            self.newlines()
            items.append(self.pipeline())
        return _AndOr(tuple(items), tuple(ops)) if ops else items[0]

    def pipeline(self) -> _Node:
        negate = self.keyword() == "!"
        if negate:
            self.take()
        cmds = [self.command()]
        while self.at("op", "|"):
            self.take()
            self.newlines()
            cmds.append(self.command())
        return _Pipeline(tuple(cmds), negate) if negate or len(cmds) > 1 else cmds[0]

    def command(self) -> _Node:
        keyword = self.keyword()
        node: _Node
        if keyword in _CLOSERS:
            raise ParseError(f"unexpected {keyword!r}")
        if self.at("op", "("):
            self.take()
            node = _Subshell(self.body(frozenset()))
            self.expect("op", ")")
        elif keyword == "{":
            self.take()
            node = self.body(frozenset({"}"}))
            self.expect("word", "}")
        elif keyword == "if":
            node = self.if_clause()
        elif keyword in ("while", "until"):
            until = self.take().text == "until"
            node = _Loop(self.body(frozenset({"do"})), self.do_group(), until)
        elif keyword == "for":
            node = self.for_loop()
        else:
            return self.simple()
        redirs: list[_Redir] = []
        while self.at("redir"):
            redirs.append(self.redirect())
        return _Redirected(node, tuple(redirs)) if redirs else node

    def redirect(self) -> _Redir:
        op = self.take()
        if not self.at("word"):
            raise ParseError(f"expected a file name after {op.text!r}")
        return _Redir(op.fd, op.text, self.take().word)

    def simple(self) -> _Simple:
        assigns: list[tuple[str, _Word]] = []
        words: list[_Word] = []
        redirs: list[_Redir] = []
        while True:
            if self.at("redir"):
                redirs.append(self.redirect())
            elif not self.at("word"):
                break
            elif not words and (match := _ASSIGNMENT.match(self.peek().text)):
                assigns.append((match[1], _strip_assignment(self.take().word, match.end())))
            else:
                words.append(self.take().word)
        if not (assigns or words or redirs):
            raise ParseError(f"unexpected {self.peek().text!r}")
        return _Simple(tuple(assigns), tuple(words), tuple(redirs))

    def if_clause(self) -> _If:
        branches: list[tuple[_Node, _Node]] = []
        self.take()
        while True:
            cond = self.body(frozenset({"then"}))
            self.expect("word", "then")
            branches.append((cond, self.body(frozenset({"elif", "else", "fi"}))))
            if self.keyword() != "elif":
                break
            self.take()
        orelse = None
        if self.keyword() == "else":
            self.take()
            orelse = self.body(frozenset({"fi"}))
        self.expect("word", "fi")
        return _If(tuple(branches), orelse)

    def do_group(self) -> _Node:
        self.expect("word", "do")
        body = self.body(frozenset({"done"}))
        self.expect("word", "done")
        return body

    def for_loop(self) -> _For:
        self.take()
        name = self.take()
        if name.kind != "word" or not _NAME.fullmatch(name.text):
            raise ParseError(f"bad for loop variable {name.text!r}")
        self.newlines()
        words: list[_Word] | None = None
        if self.keyword() == "in":
            self.take()
            words = []
            while self.at("word"):
                words.append(self.take().word)
            if not self.at("op", ";", "\n"):
                raise ParseError(f"expected ';' or a newline but found {self.peek().text!r}")
            self.take()
        elif self.at("op", ";"):
            self.take()
        self.newlines()
        return _For(name.text, None if words is None else tuple(words), self.do_group())


def _parse(source: str) -> _Node:
    return _Parser(_Lexer(source)).program()


# ---------------------------------------------------------------------------------------------
# Evaluation

_YIELD_EVERY = 1000  # commands between Sleep(0.0) steps, so that busy loops hand back control
_PROBE_COMMAND_LIMIT = 100_000  # a probe running more commands than this counts as timed out
_SHELLS = frozenset({"sh", "bash", "ash", "dash"})
_BINARIES = frozenset({"echo", "printf", "sleep", "true", "false", "seq", "wget", "curl", "awk"})
_IFS = re.compile(r"[ \t\n]+")

_Target = str | list[str] | None  # a stream name, a capture buffer, or discarded output
_Gen = Generator[Step, None, int]


@dataclass
class _Stdin:
    """What is left to read on standard input (a pipe's data; empty otherwise)."""

    data: str = ""


@dataclass(frozen=True)
class _Io:
    out: _Target
    err: _Target
    stdin: _Stdin


@dataclass
class _Counter:
    """Commands run so far, shared with subshells."""

    commands: int = 0


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _ShellError(Exception):
    """A fatal error, such as bad arithmetic, that ends the shell with status 2."""


class _Jump(Exception):
    def __init__(self, levels: int) -> None:
        super().__init__(levels)
        self.levels = levels


class _Break(_Jump):
    pass


class _Continue(_Jump):
    pass


def _write(target: _Target, text: str) -> Iterator[Step]:
    """Send text to a stream, into a capture buffer, or nowhere."""
    if isinstance(target, list):
        target.append(text)
    elif target and text:
        yield Output(text, target)


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


class _Shell:
    """Evaluator state: variables, positional parameters, ``$?`` and options."""

    def __init__(self, env: Mapping[str, str], argv0: str, params: Sequence[str], errexit: bool) -> None:
        self.vars = dict(env)
        self.argv0 = argv0
        self.params = list(params)
        self.errexit = errexit
        self.status = 0
        self.subst_status: int | None = None  # status of the latest $(...) in this command
        self.cond_depth = 0  # > 0 inside tested commands, which `set -e` ignores
        self.loop_depth = 0
        self.counter = _Counter()

    def main(self, body: _Node) -> Iterator[Step]:
        status = yield from self._guarded(body, _Io("stdout", "stderr", _Stdin()))
        yield Exit(status)

    def _guarded(self, body: _Node, io: _Io) -> _Gen:
        """Run ``body`` as a whole shell: ``exit`` and fatal errors end it with a status."""
        try:
            return (yield from self._run(body, io))
        except _Exit as exit_:
            return exit_.code
        except _ShellError as error:
            yield from _write(io.err, f"{self.argv0}: {error}\n")
            return 2

    def _subshell(self, body: _Node, io: _Io) -> _Gen:
        """Run ``body`` in a copy of the shell, as ``( )``, ``$( )`` and pipelines do."""
        child = copy.copy(self)
        child.vars, child.params, child.loop_depth = dict(self.vars), list(self.params), 0
        return (yield from child._guarded(body, io))

    def _run(self, node: _Node, io: _Io) -> _Gen:
        """Run a node and record its status as ``$?``."""
        self.status = yield from self._dispatch(node, io)
        return self.status

    def _condition(self, node: _Node, io: _Io) -> _Gen:
        """Run a node whose status is tested, so that ``set -e`` does not apply inside."""
        self.cond_depth += 1
        try:
            return (yield from self._run(node, io))
        finally:
            self.cond_depth -= 1

    def _iteration(self, body: _Node, io: _Io) -> Generator[Step, None, tuple[int, bool]]:
        """Run a loop body once; the flag says whether the loop goes on after break/continue."""
        self.loop_depth += 1
        try:
            return (yield from self._run(body, io)), True
        except _Jump as jump:
            if jump.levels > 1:
                raise type(jump)(jump.levels - 1) from None
            return 0, isinstance(jump, _Continue)
        finally:
            self.loop_depth -= 1

    def _dispatch(self, node: _Node, io: _Io) -> _Gen:
        match node:
            case _Simple():
                return (yield from self._simple(node, io))
            case _Seq(items):
                status = 0
                for item in items:
                    status = yield from self._run(item, io)
                return status
            case _AndOr(items, ops):
                status = 0
                for index, item in enumerate(items):
                    if index and (status == 0) != (ops[index - 1] == "&&"):
                        continue
                    last = index == len(items) - 1
                    status = yield from (self._run(item, io) if last else self._condition(item, io))
                return status
            case _Pipeline((cmd,), _):  # `! cmd`
                return int((yield from self._condition(cmd, io)) == 0)
            case _Pipeline(cmds, negate):
                stdin = io.stdin
                for cmd in cmds[:-1]:
                    buffer: list[str] = []
                    yield from self._subshell(cmd, replace(io, out=buffer, stdin=stdin))
                    stdin = _Stdin("".join(buffer))
                status = yield from self._subshell(cmds[-1], replace(io, stdin=stdin))
                if negate:
                    return int(status == 0)
                self._check_errexit(status)
                return status
            case _Subshell(body):
                return (yield from self._subshell(body, io))
            case _Redirected(body, redirs):
                return (yield from self._run(body, (yield from self._redirect(redirs, io))))
            case _If(branches, orelse):
                for cond, body in branches:
                    if (yield from self._condition(cond, io)) == 0:
                        return (yield from self._run(body, io))
                return 0 if orelse is None else (yield from self._run(orelse, io))
            case _Loop(cond, body, until):
                status = 0
                while ((yield from self._condition(cond, io)) == 0) != until:
                    status, proceed = yield from self._iteration(body, io)
                    if not proceed:
                        break
                return status
            case _For(name, words, body):
                values = list(self.params) if words is None else (yield from self._expand(words, io))
                status = 0
                for value in values:
                    self.vars[name] = value
                    status, proceed = yield from self._iteration(body, io)
                    if not proceed:
                        break
                return status
        assert_never(node)

    def _tick(self) -> Iterator[Step]:
        """Count one command; every so often hand control back even if nothing sleeps."""
        self.counter.commands += 1
        if self.counter.commands % _YIELD_EVERY == 0:
            yield Sleep(0.0)

    def _simple(self, cmd: _Simple, io: _Io) -> _Gen:
        yield from self._tick()
        self.subst_status = None
        argv = yield from self._expand(cmd.words, io)
        command_io = yield from self._redirect(cmd.redirs, io)
        if argv:
            # Assignments before a command only reach its environment, which no built-in reads.
            status = yield from self._command(argv, command_io)
        else:
            for name, word in cmd.assigns:
                self.vars[name] = yield from self._string(word, io)
            status = self.subst_status or 0
        self._check_errexit(status)
        return status

    def _check_errexit(self, status: int) -> None:
        """``set -e``: a failing command ends the shell unless its status is being tested."""
        if status and self.errexit and not self.cond_depth:
            raise _Exit(status)

    def _command(self, argv: list[str], io: _Io) -> _Gen:
        """Run a built-in; any other program succeeds silently."""
        name = argv[0]
        basename = name.rsplit("/", 1)[-1]
        handler = _BUILTINS.get(name) or (_BUILTINS[basename] if basename in _BINARIES else None)
        if handler is None:
            return 0
        outcome = handler(self, argv[1:], io)
        return outcome if isinstance(outcome, int) else (yield from outcome)

    def _redirect(self, redirs: Sequence[_Redir], io: _Io) -> Generator[Step, None, _Io]:
        """Apply redirections left to right; every file is missing, so writing to one discards."""
        fds: dict[int, _Target] = {1: io.out, 2: io.err}
        stdin = io.stdin
        for redir in redirs:
            target = yield from self._string(redir.target, io)
            if redir.op in (">&", "<&"):
                fds[redir.fd] = fds.get(int(target)) if target.isdigit() else None
            elif redir.op.startswith("&>"):
                fds[1] = fds[2] = None
            elif redir.op.startswith(">"):
                fds[redir.fd] = {"/dev/stdout": fds[1], "/dev/stderr": fds[2]}.get(target)
            else:
                stdin = _Stdin()
        return _Io(fds[1], fds[2], stdin)

    # -- expansion

    def _expand(self, words: Sequence[_Word], io: _Io) -> Generator[Step, None, list[str]]:
        fields: list[str] = []
        for word in words:
            fields.extend((yield from self._fields(word, io)))
        return fields

    def _fields(self, word: _Word, io: _Io) -> Generator[Step, None, list[str]]:
        """Expand a word into fields: unquoted expansions split on blanks, "$@" keeps its params."""
        fields: list[str] = []
        current: str | None = None  # None until something (even '') starts a field
        for part in word:
            if isinstance(part, _Param) and part.quoted and part.name == "@" and not part.op:
                if self.params:
                    current = (current or "") + self.params[0]
                    for param in self.params[1:]:
                        fields.append(current)
                        current = param
                continue
            value = yield from self._value(part, io)
            if isinstance(part, _Lit) or part.quoted:
                current = (current or "") + value
                continue
            for index, piece in enumerate(_IFS.split(value)):
                if index and current is not None:
                    fields.append(current)
                    current = None
                if piece:
                    current = (current or "") + piece
        if current is not None:
            fields.append(current)
        return fields

    def _string(self, word: _Word, io: _Io) -> Generator[Step, None, str]:
        """Expand a word to one string, without field splitting."""
        values: list[str] = []
        for part in word:
            values.append((yield from self._value(part, io)))
        return "".join(values)

    def _value(self, part: _Part, io: _Io) -> Generator[Step, None, str]:
        match part:
            case _Lit(text):
                return text
            case _Param():
                return (yield from self._param(part, io))
            case _CmdSub(body):
                buffer: list[str] = []
                self.subst_status = yield from self._subshell(body, replace(io, out=buffer))
                return "".join(buffer).rstrip("\n")
            case _ArithSub(expr):
                return str(_arith((yield from self._string(expr, io)), self.vars))
        assert_never(part)

    def _param(self, param: _Param, io: _Io) -> Generator[Step, None, str]:
        value, op = self._lookup(param.name), param.op
        if op == "#":
            return str(len(value or ""))
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("+"):
            return "" if unset else (yield from self._string(param.arg, io))
        if not op or not unset:
            return value or ""
        default = yield from self._string(param.arg, io)
        if op.endswith("?"):
            raise _ShellError(f"{param.name}: {default or 'parameter not set'}")
        if op.endswith("="):
            self.vars[param.name] = default
        return default

    def _lookup(self, name: str) -> str | None:
        match name:
            case "?":
                return str(self.status)
            case "#":
                return str(len(self.params))
            case "$":
                return "1"
            case "@" | "*":
                return " ".join(self.params)
            case "-":
                return "e" if self.errexit else ""
            case "!":
                return None
        if name.isdigit():
            index = int(name)
            if index == 0:
                return self.argv0
            return self.params[index - 1] if index <= len(self.params) else None
        return self.vars.get(name)

    # -- built-ins; each returns a status, or a generator of steps returning one

    def _builtin_echo(self, args: list[str], io: _Io) -> _Gen:
        newline, escapes = True, False
        while args and re.fullmatch(r"-[neE]+", args[0]):
            for flag in args.pop(0)[1:]:
                if flag == "n":
                    newline = False
                else:
                    escapes = flag == "e"
        text = " ".join(args)
        if escapes:
            text, cut = _unescape(text)
            newline = newline and not cut
        yield from _write(io.out, text + "\n" * newline)
        return 0

    def _builtin_printf(self, args: list[str], io: _Io) -> _Gen:
        if not args:
            yield from _write(io.err, "printf: usage: printf format [arguments]\n")
            return 2
        text, invalid = _printf(args[0], args[1:])
        for arg in invalid:
            yield from _write(io.err, f"printf: {arg}: invalid number\n")
        yield from _write(io.out, text)
        return 1 if invalid else 0

    def _builtin_sleep(self, args: list[str], io: _Io) -> _Gen:
        if not args:
            yield from _write(io.err, "sleep: missing operand\n")
            return 1
        total = 0.0
        for arg in args:
            match = re.fullmatch(r"(\d+\.?\d*|\.\d+)([smhd]?)", arg)
            if arg in ("inf", "infinity"):
                total = math.inf
            elif match:
                total += float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
            else:
                yield from _write(io.err, f"sleep: invalid time interval '{arg}'\n")
                return 1
        yield Sleep(total)
        return 0

    def _builtin_seq(self, args: list[str], io: _Io) -> _Gen:
        try:
            numbers = [float(arg) for arg in args]
        except ValueError:
            numbers = []
        first = numbers[0] if len(numbers) > 1 else 1.0
        step = numbers[1] if len(numbers) == 3 else 1.0
        if not 1 <= len(numbers) <= 3 or not step or not all(map(math.isfinite, numbers)):
            yield from _write(io.err, f"seq: invalid arguments: {' '.join(args)}\n")
            return 1
        decimals = max(len(arg.partition(".")[2]) for arg in args)
        for index in range(math.floor((numbers[-1] - first) / step + 1e-9) + 1):
            yield from self._tick()  # each line counts, so long sequences cannot starve the caller
            yield from _write(io.out, f"{first + index * step:.{decimals}f}\n")
        return 0

    def _builtin_cat(self, args: list[str], io: _Io) -> _Gen:
        """``cat`` copies standard input; naming files makes it an unknown program."""
        if any(arg != "-" for arg in args):
            return 0
        text, io.stdin.data = io.stdin.data, ""
        yield from _write(io.out, text)
        return 0

    def _builtin_read(self, args: list[str], io: _Io) -> int:
        """``read NAME...``: fails at end of input, so ``while read`` loops end."""
        names = [arg for arg in args if not arg.startswith("-")] or ["REPLY"]
        line, newline, io.stdin.data = io.stdin.data.partition("\n")
        values = line.strip().split(maxsplit=len(names) - 1)
        for index, name in enumerate(names):
            self.vars[name] = values[index] if index < len(values) else ""
        return 0 if newline else 1

    def _builtin_wget(self, args: list[str], io: _Io) -> _Gen:
        """busybox or GNU ``wget``: every URL answers 200 with an empty body (see the module docstring).

        ``-S`` prints the response head to stderr as busybox does (``  HTTP/1.1 200 OK``), even
        with ``-q``; ``-o FILE`` sends it to that log instead. The body goes to ``-O FILE`` (nowhere
        unless it names a standard stream, such as ``-O-``), or to no file; ``--spider`` skips it.
        """
        options, urls = _options(args, "OoTtPUYe", _WGET_LONG_WITH_ARG)
        if not urls:
            yield from _write(io.err, "wget: missing URL\n")
            return 1
        log: _Target = io.err
        body: _Target = None
        for name, value in options:
            if name in ("-O", "--output-document"):
                body = _file_target(value, io)
            elif name in ("-o", "--output-file"):
                log = _file_target(value, io)
        show_head = any(name in ("-S", "--server-response") for name, _ in options)
        spider = any(name == "--spider" for name, _ in options)
        for _url in urls:
            if show_head:
                yield from _write(log, "".join(f"  {line}\n" for line in _HTTP_HEAD))
            if not spider:
                yield from _write(body, _HTTP_BODY)
        return 0

    def _builtin_curl(self, args: list[str], io: _Io) -> _Gen:
        """``curl``: every URL answers 200 with an empty body (see the module docstring).

        The body, after the response head with ``-i`` (or instead of the body with ``-I``), goes to
        ``-o FILE`` (nowhere unless it names a standard stream) or standard output; then ``-w``
        writes its format to standard output. Nothing can fail, so ``-s -S -f -L --max-time``
        change nothing, and no progress meter is drawn.
        """
        options, urls = _options(args, "AbcCdDeEFHKmorTuUwxXyYzQ", _CURL_LONG_WITH_ARG)
        urls += [value for name, value in options if name == "--url"]
        if not urls:
            yield from _write(io.err, "curl: no URL specified!\n")
            return 2
        target: _Target = io.out
        write_out, head, include = "", False, False
        for name, value in options:
            if name in ("-o", "--output"):
                target = _file_target(value, io)
            elif name in ("-O", "--remote-name"):
                target = None
            elif name in ("-w", "--write-out"):
                write_out = "" if value.startswith("@") else value  # @FILE: no file exists
            elif name in ("-I", "--head"):
                head = True
            elif name in ("-i", "--include"):
                include = True
        for url in urls:
            if head or include:
                yield from _write(target, "".join(f"{line}\n" for line in _HTTP_HEAD) + "\n")
            if not head:
                yield from _write(target, _HTTP_BODY)
            yield from _write(io.out, _curl_write_out(write_out, url))
        return 0

    def _builtin_awk(self, args: list[str], io: _Io) -> _Gen:
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

    def _builtin_test(self, args: list[str], io: _Io) -> _Gen:
        try:
            return 0 if _evaluate_test(args) else 1
        except ValueError as error:
            yield from _write(io.err, f"test: {error}\n")
            return 2

    def _builtin_bracket(self, args: list[str], io: _Io, closer: str) -> _Gen:
        if not args or args[-1] != closer:
            yield from _write(io.err, f"[: missing {closer}\n")
            return 2
        return (yield from self._builtin_test(args[:-1], io))

    def _builtin_exit(self, args: list[str], io: _Io) -> NoReturn:
        code = _decimal(args[0]) if args else self.status
        if code is None:
            raise _ShellError(f"exit: Illegal number: {args[0]}")
        raise _Exit(code & 0xFF)

    def _builtin_exec(self, args: list[str], io: _Io) -> _Gen:
        """``exec CMD...`` replaces the shell: run CMD, then exit with its status.

        Exec'ing a program the interpreter does not know is an image handing over to its server
        (`exec nginx -g 'daemon off;'`), so that runs forever, as it would on a real cluster.
        """
        if not args:  # only redirections, which this subset does not make permanent
            return 0
        if args[0].rsplit("/", 1)[-1] not in _BUILTINS:
            yield Sleep(math.inf)
        raise _Exit((yield from self._command(args, io)))

    def _builtin_export(self, args: list[str], io: _Io) -> int:
        for arg in args:
            name, equals, value = arg.partition("=")
            if equals and _NAME.fullmatch(name):
                self.vars[name] = value
        return 0

    def _builtin_set(self, args: list[str], io: _Io) -> int:
        """``set -e``/``+e``, ``-o errexit`` and ``set -- ARGS``; other options are accepted and ignored."""
        rest = iter(args)
        for arg in rest:
            if arg == "--":
                self.params = list(rest)
            elif arg.startswith(("-", "+")):
                names = [next(rest, "")] if "o" in arg else []
                if "e" in arg[1:] or "errexit" in names:
                    self.errexit = arg[0] == "-"
        return 0

    def _jump(self, kind: type[_Jump], args: list[str]) -> int:
        """``break``/``continue [N]``; outside a loop they do nothing."""
        levels = _decimal(args[0]) if args else 1
        if levels is None or levels < 1:
            raise _ShellError(f"Illegal number: {args[0]}")
        if self.loop_depth:
            raise kind(min(levels, self.loop_depth))
        return 0


_BUILTINS: dict[str, Callable[[_Shell, list[str], _Io], int | _Gen]] = {
    ":": lambda shell, args, io: 0,
    "true": lambda shell, args, io: 0,
    "false": lambda shell, args, io: 1,
    "echo": _Shell._builtin_echo,
    "printf": _Shell._builtin_printf,
    "sleep": _Shell._builtin_sleep,
    "seq": _Shell._builtin_seq,
    "cat": _Shell._builtin_cat,
    "read": _Shell._builtin_read,
    "wget": _Shell._builtin_wget,
    "curl": _Shell._builtin_curl,
    "awk": _Shell._builtin_awk,
    "test": _Shell._builtin_test,
    "[": lambda shell, args, io: shell._builtin_bracket(args, io, "]"),
    "[[": lambda shell, args, io: shell._builtin_bracket(args, io, "]]"),
    "exit": _Shell._builtin_exit,
    "exec": _Shell._builtin_exec,
    "export": _Shell._builtin_export,
    "readonly": _Shell._builtin_export,
    "local": _Shell._builtin_export,
    "set": _Shell._builtin_set,
    "break": lambda shell, args, io: shell._jump(_Break, args),
    "continue": lambda shell, args, io: shell._jump(_Continue, args),
}


# -- text helpers for echo -e and printf

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


# -- wget, curl and awk

_HTTP_HEAD = ("HTTP/1.1 200 OK", "Content-Length: 0")  # what every address answers
_HTTP_BODY = ""
_WGET_LONG_WITH_ARG = frozenset(
    {
        "--output-document",
        "--output-file",
        "--timeout",
        "--tries",
        "--header",
        "--user-agent",
        "--directory-prefix",
        "--post-data",
        "--post-file",
        "--execute",
        "--user",
        "--password",
        "--wait",
        "--waitretry",
        "--connect-timeout",
        "--read-timeout",
        "--dns-timeout",
    }
)
_CURL_LONG_WITH_ARG = frozenset(
    {
        "--output",
        "--write-out",
        "--max-time",
        "--connect-timeout",
        "--header",
        "--request",
        "--data",
        "--data-raw",
        "--data-binary",
        "--data-urlencode",
        "--form",
        "--user",
        "--user-agent",
        "--referer",
        "--cookie",
        "--cookie-jar",
        "--dump-header",
        "--retry",
        "--retry-delay",
        "--retry-max-time",
        "--cacert",
        "--cert",
        "--key",
        "--resolve",
        "--connect-to",
        "--proxy",
        "--noproxy",
        "--unix-socket",
        "--url",
        "--config",
        "--range",
        "--upload-file",
        "--limit-rate",
        "--max-filesize",
        "--interface",
    }
)
_CURL_WRITE_OUT = re.compile(r"%\{(\w+)\}|%%|\\([nrt\\])")
_CURL_VARIABLES = {"http_code": "200", "response_code": "200", "http_version": "1.1", "exitcode": "0"}


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


def _file_target(path: str, io: _Io) -> _Target:
    """Where a program writing to a named file sends it: no file exists, but standard streams do."""
    return {"-": io.out, "/dev/stdout": io.out, "/dev/stderr": io.err}.get(path)


def _curl_write_out(fmt: str, url: str) -> str:
    """Expand ``curl -w``: ``%{http_code}`` and a few more variables, ``%%`` and ``\\n \\r \\t``.

    Timings are zero; other variables print nothing.
    """

    def expand(match: re.Match[str]) -> str:
        if match[2]:
            return _ESCAPES[match[2]]
        if not match[1]:
            return "%"
        if match[1] in ("url", "url_effective"):
            return url
        return "0.000000" if match[1].startswith("time_") else _CURL_VARIABLES.get(match[1], "")

    return _CURL_WRITE_OUT.sub(expand, fmt)


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


# -- test and arithmetic

_TEST_UNARY_OPS: dict[str, Callable[[str], bool]] = {
    "-z": lambda text: text == "",
    "-n": lambda text: text != "",
    **dict.fromkeys(
        ("-e", "-f", "-d", "-s", "-r", "-w", "-x", "-L", "-h", "-p", "-S", "-b", "-c"), lambda _: False
    ),
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


def _evaluate_test(args: list[str]) -> bool:
    """A ``test`` expression: ``! -a -o``, -z -n, string and integer comparisons; no file exists."""
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
        pos += 1
        return args[pos - 1] != ""

    if not args:
        return False
    result = disjunction()
    if pos < len(args):
        raise ValueError(f"unexpected argument {args[pos]!r}")
    return result


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


# ---------------------------------------------------------------------------------------------
# Public entry points


def parse(script: str) -> Program:
    """Parse a shell script; raises :class:`ParseError` outside the supported subset."""
    return Program(_parse(script))


def _start(program: Program, env: Mapping[str, str], argv0: str, args: Sequence[str]) -> _Shell:
    params = program.params if program.params is not None else (argv0, *args)
    return _Shell(env, params[0], params[1:], program.errexit)


def run(
    program: Program, env: Mapping[str, str], argv0: str = "sh", args: Sequence[str] = ()
) -> Iterator[Step]:
    """Run a program lazily: the caller pulls Output/Sleep steps, and Exit comes last.

    Busy loops still yield ``Sleep(0.0)`` every 1,000 commands. Consecutive outputs to the
    same stream are merged.
    """
    shell = _start(program, env, argv0, args)
    steps = shell.main(program.body)
    for stream, group in itertools.groupby(steps, lambda s: s.stream if isinstance(s, Output) else ""):
        if stream:
            yield Output("".join(step.text for step in group if isinstance(step, Output)), stream)
        else:
            yield from group


def _shell_program(argv: Sequence[str]) -> Program | None:
    """``SHELL [options] -c SCRIPT [$0 [$1 ...]]``, the usual way manifests run scripts."""
    flags, index = "", 1
    options: list[str] = []
    while index < len(argv) and argv[index].startswith(("-", "+")) and argv[index] not in ("-", "--"):
        option = argv[index]
        index += 1
        if option.startswith("--"):  # long options such as --login
            continue
        names = list(argv[index : index + 1]) if "o" in option else []  # -o NAME
        index += len(names)
        if option[0] == "-":
            flags += option[1:]
            options += names
    if index < len(argv) and argv[index] == "--":
        index += 1
    if "c" not in flags or index >= len(argv):
        return None
    try:
        body = _parse(argv[index])
    except ParseError:
        return None
    params = tuple(argv[index + 1 :]) or (argv[0],)
    return Program(body, params, "e" in flags or "errexit" in options)


def container_program(command: Sequence[str] | None, args: Sequence[str] | None) -> Program | None:
    """The program a container runs, or None when it is unknown ("runs forever silently").

    The argv is ``command + args``, or ``args`` alone when there is no command.
    Shell ``-c`` scripts and lone built-ins (echo, printf, sleep, true, false, seq) are known.
    """
    argv = [*command, *(args or ())] if command else list(args or ())
    if not argv:
        return None
    name = argv[0].rsplit("/", 1)[-1]
    if name in _SHELLS:
        return _shell_program(argv)
    if name in _BINARIES:
        return Program(_Simple((), tuple((_Lit(arg),) for arg in argv), ()))
    return None


def probe(command: Sequence[str], env: Mapping[str, str], timeout_seconds: float) -> tuple[int | None, str]:
    """Status and output of an exec probe; the status is None when it sleeps past the timeout or runs so many
    commands that it must be looping.

    Unknown programs and unparsable scripts succeed, since their behaviour cannot be known.
    """
    program = container_program(command, None)
    if program is None:
        return 0, ""
    shell = _start(program, env, "sh", ())
    steps = shell.main(program.body)
    output: list[str] = []
    slept = 0.0
    while True:
        step = next(steps)
        if isinstance(step, Exit):
            return step.code, "".join(output)
        if isinstance(step, Output):
            output.append(step.text)
        elif isinstance(step, Sleep):
            slept += step.seconds
        if slept > timeout_seconds or shell.counter.commands > _PROBE_COMMAND_LIMIT:
            return None, "".join(output)


def probe_exit_code(command: Sequence[str], env: Mapping[str, str], timeout_seconds: float) -> int:
    """Status of an exec probe; 1 when it times out (see `probe`)."""
    code, _ = probe(command, env, timeout_seconds)
    return 1 if code is None else code
