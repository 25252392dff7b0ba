"""The evaluator: walks a syntax tree as a generator of steps, expanding words and running built-ins."""

from __future__ import annotations

import copy
import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import assert_never

from kubedog_ci.sim.shell.arith import _arith
from kubedog_ci.sim.shell.builtins import _BINARIES, _BUILTINS
from kubedog_ci.sim.shell.files import Files
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
from kubedog_ci.sim.shell.runtime import _Continue, _Exit, _Gen, _Io, _Jump, _ShellError, _Stdin, _Target, _write
from kubedog_ci.sim.shell.steps import Exit, Sleep, Step

_YIELD_EVERY = 1000  # commands between Sleep(0.0) steps, so that busy loops hand back control
_IFS = re.compile(r"[ \t\n]+")


@dataclass
class _Counter:
    """Commands run so far, shared with subshells."""

    commands: int = 0


class _Shell:
    """Evaluator state: variables, positional parameters, ``$?`` and options, and the files it can read."""

    def __init__(self, env: Mapping[str, str], argv0: str, params: Sequence[str], errexit: bool, files: Files) -> None:
        self.vars = dict(env)
        self.argv0 = argv0
        self.params = list(params)
        self.errexit = errexit
        self.status = 0
        self.subst_status: int | None = None  # status of the latest $(...) in this command
        self.cond_depth = 0  # > 0 inside tested commands, which `set -e` ignores
        self.loop_depth = 0
        self.counter = _Counter()
        self.files = files

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
        """Apply redirections left to right: writing to a file discards, reading one gives a mounted file's text."""
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
            elif redir.fd == 0 and redir.op == "<":
                stdin = _Stdin(self.files.read(target) or "")
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
