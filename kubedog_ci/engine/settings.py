"""Per-target tracking settings: what the run-wide Options say, overridden for one object by its annotations.

apply-and-track reads them from each manifest's annotations (kubedog_ci.manifests.annotations); the engine
applies them per target. A target without settings gets the defaults, which mean "the run's Options".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class FailMode(StrEnum):
    """What a failure of this target does to the run."""

    FAIL = "fail"
    """The failure fails the run (at once with --fail-fast)."""
    HOPE = "hope"
    """The failure is shown (once while it stays the same), but the target is judged on with a fresh budget until
    the timeout and never stops the run early: it may still become ready; still failed at the end, it fails the
    run."""
    IGNORE = "ignore"
    """The failure is shown and the target stops being tracked; it does not fail the run, nor stop it early."""


@dataclass(frozen=True)
class TargetSettings:
    """One target's overrides. None means "as the run's Options say"."""

    fail_mode: FailMode = FailMode.FAIL
    failures_allowed_per_replica: int | None = None
    failures_allowed: int | None = None
    """Its whole failure budget, whatever its replicas (kubedog's AllowFailuresCount), instead of
    failures_allowed_per_replica x replicas."""
    no_activity_timeout: float | None = None
    """Seconds without any change of the target, its current Pods or ReplicaSet, an Event about them or a log line
    of its Pods, before it fails (NoActivity)."""
    timeout: float | None = None
    """Seconds from the start of its tracking after which it fails (Timeout) if it has no verdict yet, whatever
    the run's timeout; a target whose failure is hoped on (fail mode hope) then stays failed."""
    skip_logs: bool = False
    log_containers: frozenset[str] | None = None
    """Only these containers' logs are shown (None: all)."""
    skip_log_containers: frozenset[str] = frozenset()
    log_regex: re.Pattern[str] | None = None
    """Only log lines matching it are shown (searched, not anchored)."""
    log_regex_for: tuple[tuple[str, re.Pattern[str]], ...] = field(default=())
    """(container, pattern): a container's own filter, instead of log_regex."""
    settle: float | None = None
    """Its settle window's floor in seconds, instead of Options.settle (0: ready at once)."""
    blocking: bool = True
    """False: the run does not wait for this target; when every blocking target has its verdict, a
    non-blocking one without a verdict is left behind (not a timeout). Its failure still counts. When every
    target is non-blocking, all are waited for, as if blocking."""

    def shows_logs_of(self, container: str) -> bool:
        """Whether the container's log is followed at all (a hidden one costs no stream)."""
        if self.skip_logs or container in self.skip_log_containers:
            return False
        return self.log_containers is None or container in self.log_containers

    def log_filter(self, container: str) -> re.Pattern[str] | None:
        """The pattern the lines of a shown container must match (None: every line is shown)."""
        return dict(self.log_regex_for).get(container, self.log_regex)

    def shows_line(self, container: str, text: str) -> bool:
        """Whether one log line is shown: its container's logs are, and the line matches its filter."""
        if not self.shows_logs_of(container):
            return False
        pattern = self.log_filter(container)
        return pattern is None or pattern.search(text) is not None


DEFAULT = TargetSettings()
