"""A tiny interpreter for the POSIX-sh subset that Kubernetes container commands use.

The simulated kubelet runs no real processes, yet pod logs, exit codes and timing should
look like a real cluster's. So a container's ``sh -c`` script is parsed here and run as a
generator of steps (output, sleep, exit) that the kubelet pulls at its own simulated pace.
Processes and the network do not exist: a command that is not a built-in succeeds silently.
The only files are those the container's volume mounts show it (``files``), read-only.

Each module imports only those listed before it: ``steps``, ``nodes``, ``files``; ``parser``; ``runtime``,
``args``; the built-ins' helpers ``printf``, ``conditions``, ``arith``, ``awk``, ``http_clients``;
``builtins`` (which names the interpreter's class for type checking only); ``interpreter``;
``entry``. This module re-exports the names the kubelet and the tests use.
"""

from __future__ import annotations

from kubedog_ci.sim.shell.entry import container_program, parse, probe, probe_exit_code, run
from kubedog_ci.sim.shell.files import NO_FILES, Files, Tree
from kubedog_ci.sim.shell.nodes import Program
from kubedog_ci.sim.shell.parser import ParseError
from kubedog_ci.sim.shell.steps import Exit, Output, Sleep, Step

__all__ = [
    "NO_FILES",
    "Exit",
    "Files",
    "Output",
    "ParseError",
    "Program",
    "Sleep",
    "Step",
    "Tree",
    "container_program",
    "parse",
    "probe",
    "probe_exit_code",
    "run",
]
