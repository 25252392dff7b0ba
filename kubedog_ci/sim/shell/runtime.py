"""What the interpreter and its built-ins share: where output goes, and the exceptions that end or leave a command."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

from kubedog_ci.sim.shell.steps import Output, Step

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
