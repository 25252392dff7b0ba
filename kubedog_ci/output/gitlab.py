"""GitLab CI output: a collapsed job-log section per resource that did not end ready, written at `summary()`.

GitLab folds the lines between `section_start` and `section_end` markers under the header line; the markers
are escape sequences, so text from the cluster, cleaned of every escape and control character, cannot open or
close a section of its own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TextIO

from kubedog_ci.engine.outcome import Outcome, TargetResult
from kubedog_ci.output.text import Evidence, one_line, root_reason, verdict
from kubedog_ci.rules import State

_NOT_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def section_name(label: str, taken: set[str]) -> str:
    """`kubedog_deploy_web`: the characters GitLab accepts in a section name, unique among `taken`."""
    base = _NOT_NAME.sub("_", f"kubedog_{label}")
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}_{number}"
    taken.add(name)
    return name


class GitLabSink(Evidence):
    """Collapsed sections on `stream`; `clock` gives the Unix time the markers carry."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.stream = stream
        self.clock = clock

    def _section(self, result: TargetResult, outcome: Outcome, name: str) -> list[str]:
        word = verdict(result, outcome)
        reason = root_reason(result, self.diagnosis(result))
        header = one_line(f"{result.label} {word}: {reason}" if reason else f"{result.label} {word}")
        body = [f"  {line}" for line in self.lines(result, outcome)]
        return [f"\x1b[0Ksection_start:{int(self.clock())}:{name}[collapsed=true]\r\x1b[0K{header}", *body,
                f"\x1b[0Ksection_end:{int(self.clock())}:{name}\r\x1b[0K"]

    def summary(self, outcome: Outcome) -> None:
        taken: set[str] = set()
        lines = [line for result in outcome.results if result.state is not State.READY
                 for line in self._section(result, outcome, section_name(result.label, taken))]
        if lines:
            self.stream.write("".join(line + "\n" for line in lines))
            self.stream.flush()
