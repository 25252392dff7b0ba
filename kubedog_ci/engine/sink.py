"""What the engine tells its output: the records and the Sink interface every output implements.

The engine calls a sink from its own thread only, in the order things happened, so a sink needs no locking;
the records are plain text and numbers, so the terminal, JUnit, JSON-lines and CI annotation sinks need to know
nothing of Kubernetes objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kubedog_ci.engine.outcome import Diagnosis, Outcome
from kubedog_ci.rules import State


@dataclass(frozen=True)
class StatusChange:
    """A target's verdict or its message changed."""

    target: str
    state: State
    reason: str
    message: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventNotice:
    """A Kubernetes Event about a target, its current ReplicaSet or one of its current Pods."""

    target: str
    subject: str
    type: str
    reason: str
    message: str
    count: int = 1

    @property
    def repeated(self) -> str:
        """` (x3)` after a Warning seen three times; nothing after one seen once."""
        return f" (x{self.count})" if self.count > 1 else ""


@dataclass(frozen=True)
class Seen:
    """A tracked object, or one of the objects of its current revision (ReplicaSet, Pod), seen for the first time:
    `kind` is the object's kind; `ready` whether the tracked object was ready at that moment (False for the
    others)."""

    target: str
    kind: str
    name: str
    ready: bool = False


@dataclass(frozen=True)
class LogRecord:
    """Lines of a followed container's log, as one read brought them: `text` holds one line, or several joined by
    "\n" (no line holds one), so a chatty container costs each output per read, not per line."""

    target: str
    pod: str
    container: str
    text: str

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    @property
    def prefixed(self) -> list[str]:
        """`po/web-7c9f-x2k[app] | text` for each line: where it came from, for the outputs that keep lines."""
        head = f"po/{self.pod}[{self.container}] | "
        return [head + line for line in self.text.split("\n")]


@dataclass(frozen=True)
class Applied:
    """One object applied by apply-and-track, before tracking starts: `line` is kubectl's line
    (`deployment.apps/web created`); `source` the manifest's FILE:LINE."""

    kind: str
    namespace: str
    name: str
    action: str
    line: str
    source: str = ""


@dataclass(frozen=True)
class Progress:
    """One row of the live status: a target as it stands now. `ready`/`desired` are None for kinds without
    replicas; `age` is seconds since tracking started."""

    target: str
    state: State
    ready: int | None
    desired: int | None
    restarts: int
    age: float
    reason: str


class Sink(Protocol):
    """An output of the engine. `notice` carries the engine's own remarks (a watch it could not open, a target
    not found yet); `detail` API-level remarks only `-v` shows (what is watched, reconnects); `progress` comes
    about once a second with every target's row; `summary` comes last, once. `applied` is called by
    apply-and-track before the engine starts. `flush` comes whenever the engine's queue runs dry: a sink may hold
    records back until then (a burst of log lines written at once), never longer."""

    def applied(self, record: Applied) -> None: ...

    def detail(self, message: str) -> None: ...

    def progress(self, rows: list[Progress]) -> None: ...

    def seen(self, record: Seen) -> None: ...

    def status(self, change: StatusChange) -> None: ...

    def event(self, notice: EventNotice) -> None: ...

    def log(self, record: LogRecord) -> None: ...

    def failed(self, diagnosis: Diagnosis) -> None: ...

    def notice(self, message: str) -> None: ...

    def summary(self, outcome: Outcome) -> None: ...

    def flush(self) -> None: ...
