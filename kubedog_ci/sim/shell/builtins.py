"""The built-in commands and the table the interpreter looks them up in.

Each built-in takes the shell (for its variables and options), its arguments and its streams,
and returns a status or a generator of steps that returns one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from kubedog_ci.sim.shell.args import _decimal
from kubedog_ci.sim.shell.awk import _builtin_awk
from kubedog_ci.sim.shell.conditions import _evaluate_test
from kubedog_ci.sim.shell.http_clients import _builtin_curl, _builtin_wget
from kubedog_ci.sim.shell.parser import _NAME
from kubedog_ci.sim.shell.printf import _printf, _unescape
from kubedog_ci.sim.shell.runtime import _Break, _Continue, _Exit, _Gen, _Io, _Jump, _ShellError, _write
from kubedog_ci.sim.shell.steps import Sleep

if TYPE_CHECKING:
    from kubedog_ci.sim.shell.interpreter import _Shell  # the interpreter imports this table; no cycle at run time

# Built-ins that are also programs, so that ``/bin/echo`` or a container's own command runs them.
_BINARIES = frozenset({"echo", "printf", "sleep", "true", "false", "seq", "wget", "curl", "awk", "cat", "ls"})


def _builtin_echo(shell: _Shell, args: list[str], io: _Io) -> _Gen:
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


def _builtin_printf(shell: _Shell, args: list[str], io: _Io) -> _Gen:
    if not args:
        yield from _write(io.err, "printf: usage: printf format [arguments]\n")
        return 2
    text, invalid = _printf(args[0], args[1:])
    for arg in invalid:
        yield from _write(io.err, f"printf: {arg}: invalid number\n")
    yield from _write(io.out, text)
    return 1 if invalid else 0


def _builtin_sleep(shell: _Shell, args: list[str], io: _Io) -> _Gen:
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


def _builtin_seq(shell: _Shell, args: list[str], io: _Io) -> _Gen:
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
        yield from shell._tick()  # each line counts, so long sequences cannot starve the caller
        yield from _write(io.out, f"{first + index * step:.{decimals}f}\n")
    return 0


def _builtin_cat(shell: _Shell, args: list[str], io: _Io) -> _Gen:
    """``cat [FILE...]``: ``-`` (or no operand) copies standard input, a mounted file its text; a path the
    mounts do not know prints nothing, and options make the whole command unknown, as if it were not built in."""
    if any(arg.startswith("-") and arg != "-" for arg in args):
        return 0
    status = 0
    for arg in args or ["-"]:
        if arg == "-":
            text, io.stdin.data = io.stdin.data, ""
            yield from _write(io.out, text)
            continue
        kind = shell.files.kind(arg)
        if kind in ("missing", "dir"):
            reason = "No such file or directory" if kind == "missing" else "Is a directory"
            yield from _write(io.err, f"cat: {arg}: {reason}\n")
            status = 1
        elif kind == "file":
            yield from _write(io.out, shell.files.read(arg) or "")
    return status


def _builtin_ls(shell: _Shell, args: list[str], io: _Io) -> _Gen:
    """``ls PATH...`` of mounted paths, as GNU ls lists them when its output is not a terminal.

    Without operands, with options, or when one operand is unknown, the listing cannot be known, so it
    prints nothing and succeeds, as an unknown program does.
    """
    kinds = {arg: shell.files.kind(arg) for arg in args}
    if not args or any(arg.startswith("-") for arg in args) or None in kinds.values():
        return 0
    for arg in args:
        if kinds[arg] == "missing":
            yield from _write(io.err, f"ls: cannot access '{arg}': No such file or directory\n")
    files = "".join(f"{arg}\n" for arg in sorted(args) if kinds[arg] == "file")
    listing = [files] if files else []
    for arg in sorted(arg for arg in args if kinds[arg] == "dir"):
        header = f"{arg}:\n" if len(args) > 1 else ""
        listing.append(header + "".join(f"{name}\n" for name in shell.files.entries(arg)))
    yield from _write(io.out, "\n".join(listing))
    return 2 if "missing" in kinds.values() else 0


def _builtin_read(shell: _Shell, args: list[str], io: _Io) -> int:
    """``read NAME...``: fails at end of input, so ``while read`` loops end."""
    names = [arg for arg in args if not arg.startswith("-")] or ["REPLY"]
    line, newline, io.stdin.data = io.stdin.data.partition("\n")
    values = line.strip().split(maxsplit=len(names) - 1)
    for index, name in enumerate(names):
        shell.vars[name] = values[index] if index < len(values) else ""
    return 0 if newline else 1


def _builtin_test(shell: _Shell, args: list[str], io: _Io) -> _Gen:
    try:
        return 0 if _evaluate_test(args, shell.files) else 1
    except ValueError as error:
        yield from _write(io.err, f"test: {error}\n")
        return 2


def _builtin_bracket(shell: _Shell, args: list[str], io: _Io, closer: str) -> _Gen:
    if not args or args[-1] != closer:
        yield from _write(io.err, f"[: missing {closer}\n")
        return 2
    return (yield from _builtin_test(shell, args[:-1], io))


def _builtin_exit(shell: _Shell, args: list[str], io: _Io) -> NoReturn:
    code = _decimal(args[0]) if args else shell.status
    if code is None:
        raise _ShellError(f"exit: Illegal number: {args[0]}")
    raise _Exit(code & 0xFF)


def _builtin_exec(shell: _Shell, args: list[str], io: _Io) -> _Gen:
    """``exec CMD...`` replaces the shell: run CMD, then exit with its status.

    Exec'ing a program the interpreter does not know is an image handing over to its server
    (`exec nginx -g 'daemon off;'`), so that runs forever, as it would on a real cluster.
    """
    if not args:  # only redirections, which this subset does not make permanent
        return 0
    if args[0].rsplit("/", 1)[-1] not in _BUILTINS:
        yield Sleep(math.inf)
    raise _Exit((yield from shell._command(args, io)))


def _builtin_export(shell: _Shell, args: list[str], io: _Io) -> int:
    for arg in args:
        name, equals, value = arg.partition("=")
        if equals and _NAME.fullmatch(name):
            shell.vars[name] = value
    return 0


def _builtin_set(shell: _Shell, args: list[str], io: _Io) -> int:
    """``set -e``/``+e``, ``-o errexit`` and ``set -- ARGS``; other options are accepted and ignored."""
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            shell.params = list(rest)
        elif arg.startswith(("-", "+")):
            names = [next(rest, "")] if "o" in arg else []
            if "e" in arg[1:] or "errexit" in names:
                shell.errexit = arg[0] == "-"
    return 0


def _jump(shell: _Shell, kind: type[_Jump], args: list[str]) -> int:
    """``break``/``continue [N]``; outside a loop they do nothing."""
    levels = _decimal(args[0]) if args else 1
    if levels is None or levels < 1:
        raise _ShellError(f"Illegal number: {args[0]}")
    if shell.loop_depth:
        raise kind(min(levels, shell.loop_depth))
    return 0


_BUILTINS: dict[str, Callable[[_Shell, list[str], _Io], int | _Gen]] = {
    ":": lambda shell, args, io: 0,
    "true": lambda shell, args, io: 0,
    "false": lambda shell, args, io: 1,
    "echo": _builtin_echo,
    "printf": _builtin_printf,
    "sleep": _builtin_sleep,
    "seq": _builtin_seq,
    "cat": _builtin_cat,
    "ls": _builtin_ls,
    "read": _builtin_read,
    "wget": lambda shell, args, io: _builtin_wget(args, io),
    "curl": lambda shell, args, io: _builtin_curl(args, io),
    "awk": lambda shell, args, io: _builtin_awk(args, io),
    "test": _builtin_test,
    "[": lambda shell, args, io: _builtin_bracket(shell, args, io, "]"),
    "[[": lambda shell, args, io: _builtin_bracket(shell, args, io, "]]"),
    "exit": _builtin_exit,
    "exec": _builtin_exec,
    "export": _builtin_export,
    "readonly": _builtin_export,
    "local": _builtin_export,
    "set": _builtin_set,
    "break": lambda shell, args, io: _jump(shell, _Break, args),
    "continue": lambda shell, args, io: _jump(shell, _Continue, args),
}
