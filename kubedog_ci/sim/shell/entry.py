"""The entry points: parse a script, run a program, find a container's program, run an exec probe."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence

from kubedog_ci.sim.shell.builtins import _BINARIES
from kubedog_ci.sim.shell.files import NO_FILES, Files
from kubedog_ci.sim.shell.interpreter import _Shell
from kubedog_ci.sim.shell.nodes import Program, _Lit, _Simple
from kubedog_ci.sim.shell.parser import ParseError, _parse
from kubedog_ci.sim.shell.steps import Exit, Output, Sleep, Step

_PROBE_COMMAND_LIMIT = 100_000  # a probe running more commands than this counts as timed out
_SHELLS = frozenset({"sh", "bash", "ash", "dash"})


def parse(script: str) -> Program:
    """Parse a shell script; raises :class:`ParseError` outside the supported subset."""
    return Program(_parse(script))


def _start(program: Program, env: Mapping[str, str], argv0: str, args: Sequence[str], files: Files) -> _Shell:
    params = program.params if program.params is not None else (argv0, *args)
    return _Shell(env, params[0], params[1:], program.errexit, files)


def run(
    program: Program,
    env: Mapping[str, str],
    argv0: str = "sh",
    args: Sequence[str] = (),
    files: Files = NO_FILES,
) -> Iterator[Step]:
    """Run a program lazily: the caller pulls Output/Sleep steps, and Exit comes last.

    Busy loops still yield ``Sleep(0.0)`` every 1,000 commands. Consecutive outputs to the
    same stream are merged. ``files`` are what the container's volume mounts show it.
    """
    shell = _start(program, env, argv0, args, files)
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
    Shell ``-c`` scripts and lone built-ins (echo, printf, sleep, true, false, seq, ls, ...) are known;
    ``cat`` only with a file, since without one it reads a stdin that the manifest may keep open (``tty: true``).
    """
    argv = [*command, *(args or ())] if command else list(args or ())
    if not argv:
        return None
    name = argv[0].rsplit("/", 1)[-1]
    if name in _SHELLS:
        return _shell_program(argv)
    if name == "cat" and all(arg == "-" for arg in argv[1:]):
        return None
    if name in _BINARIES:
        return Program(_Simple((), tuple((_Lit(arg),) for arg in argv), ()))
    return None


def probe(
    command: Sequence[str], env: Mapping[str, str], timeout_seconds: float, files: Files = NO_FILES
) -> tuple[int | None, str]:
    """Status and output of an exec probe; the status is None when it sleeps past the timeout or runs so many
    commands that it must be looping.

    Unknown programs and unparsable scripts succeed, since their behaviour cannot be known.
    """
    program = container_program(command, None)
    if program is None:
        return 0, ""
    shell = _start(program, env, "sh", (), files)
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


def probe_exit_code(
    command: Sequence[str], env: Mapping[str, str], timeout_seconds: float, files: Files = NO_FILES
) -> int:
    """Status of an exec probe; 1 when it times out (see `probe`)."""
    code, _ = probe(command, env, timeout_seconds, files)
    return 1 if code is None else code
