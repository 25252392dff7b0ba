"""Lexer and recursive-descent parser for the supported ``sh`` subset, producing :mod:`.nodes` trees.

They share a module because they recurse into each other: the lexer parses a ``$(...)`` or
backquoted command while it reads the word around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubedog_ci.sim.shell.nodes import (
    _AndOr,
    _ArithSub,
    _CmdSub,
    _For,
    _If,
    _Lit,
    _Loop,
    _Node,
    _Param,
    _Part,
    _Pipeline,
    _Redir,
    _Redirected,
    _Seq,
    _Simple,
    _Subshell,
    _Word,
)


class ParseError(ValueError):
    """The script is malformed or uses syntax outside the supported subset."""


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
