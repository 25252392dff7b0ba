"""What a running program yields to the kubelet, which pulls the steps at its own simulated pace."""

from __future__ import annotations

from dataclasses import dataclass


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
