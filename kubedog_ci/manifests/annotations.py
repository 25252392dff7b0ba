"""Per-object tracking settings written as annotations, so one object can opt out of tracking, allow failures,
or filter its logs without a flag that would apply to every object.

Each annotation is `kubedog-ci.io/SUFFIX`; most are also read as `werf.io/SUFFIX`, so charts written for werf
keep working, and `timeout` as krane's `krane.shopify.io/timeout-override` (ours wins when both are set). Values
are checked before anything is applied: a bad one is an input error naming the object's file and line. An unknown
`kubedog-ci.io/` annotation is one too, as it is most likely a misspelt one that would otherwise be ignored.

The value parsers are public: `kubedog multitrack` reads kubedog's spec fields of the same form with them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from kubedog_ci.durations import parse_duration
from kubedog_ci.engine.settings import FailMode, TargetSettings
from kubedog_ci.manifests.reader import Manifest, ManifestError

PREFIX = "kubedog-ci.io/"
WERF_PREFIX = "werf.io/"
PER_CONTAINER_REGEX = "log-regex-for-"

T = TypeVar("T")


class Annotation(NamedTuple):
    """One annotation, as the README documents it."""

    suffix: str
    meaning: str
    values: str
    werf: bool = True
    """Also read under werf.io/."""
    alias: str | None = None
    """Another tool's annotation (a whole name) read as this one."""

    @property
    def name(self) -> str:
        return PREFIX + self.suffix


ANNOTATIONS: tuple[Annotation, ...] = (
    Annotation("track", "false: apply the object but do not track it", "true | false (default true)", werf=False),
    Annotation("fail-mode", "what the object's failure does: fails the run; is shown but the object is judged on "
               "until the timeout; is shown and ignored",
               "fail | hope | ignore (werf's FailWholeDeployProcessImmediately | HopeUntilEndOfDeployProcess | "
               "IgnoreAndContinueDeployProcess too)"),
    Annotation("failures-allowed-per-replica", "the failure budget per replica, instead of "
               "--failures-allowed-per-replica", "integer >= 0"),
    Annotation("no-activity-timeout", "fail the object when nothing about it changes for this long",
               "duration > 0, e.g. 4m"),
    Annotation("timeout", "fail the object (reason Timeout) when it has no verdict this long after its tracking "
               "started, whatever --timeout says", "duration > 0, e.g. 5m (ISO 8601 too: PT5M, as krane takes it)",
               werf=False, alias="krane.shopify.io/timeout-override"),
    Annotation("skip-logs", "true: show none of its containers' logs", "true | false"),
    Annotation("skip-logs-for-containers", "do not show these containers' logs", "comma-separated container names"),
    Annotation("show-logs-only-for-containers", "show only these containers' logs", "comma-separated container names"),
    Annotation("log-regex", "show only log lines matching it (searched, not anchored)", "Python regular expression"),
    Annotation(f"{PER_CONTAINER_REGEX}<container>", "as log-regex, for one container, instead of log-regex",
               "Python regular expression"),
    Annotation("settle", "its settle window's floor, instead of --settle (0: ready as soon as its rule says so)",
               "duration >= 0, e.g. 30s", werf=False),
    Annotation("track-termination-mode", "NonBlocking: the run does not wait for the object; its failure still "
               "counts", "WaitUntilResourceReady | NonBlocking"),
)

_FAIL_MODES = {
    "fail": FailMode.FAIL, "hope": FailMode.HOPE, "ignore": FailMode.IGNORE,
    "failwholedeployprocessimmediately": FailMode.FAIL,
    "hopeuntilendofdeployprocess": FailMode.HOPE,
    "ignoreandcontinuedeployprocess": FailMode.IGNORE,
}
_TERMINATION_MODES = {"waituntilresourceready": True, "nonblocking": False}


def tracked(manifest: Manifest) -> bool:
    """False when the object is to be applied but not tracked (`kubedog-ci.io/track: "false"`)."""
    found = _annotations(manifest).get("track")
    return found is None or _parse(manifest, found, parse_boolean)


def settings_for(manifest: Manifest) -> TargetSettings:
    """The object's tracking settings: the defaults, overridden by its annotations."""
    fields: dict[str, object] = {}
    per_container: list[tuple[str, re.Pattern[str]]] = []
    for suffix, found in _annotations(manifest).items():
        if suffix.startswith(PER_CONTAINER_REGEX):
            per_container.append((suffix.removeprefix(PER_CONTAINER_REGEX), _parse(manifest, found, parse_regex)))
        elif suffix in _FIELDS:
            field, parse = _FIELDS[suffix]
            fields[field] = _parse(manifest, found, parse)
    return TargetSettings(**fields, log_regex_for=tuple(sorted(per_container)))


def _annotations(manifest: Manifest) -> dict[str, tuple[str, str]]:
    """suffix -> (annotation, value) for the annotations read here; ours replace werf's and other tools'."""
    annotations = manifest.obj["metadata"].get("annotations")
    if not isinstance(annotations, dict):
        return {}
    found: dict[str, tuple[str, str]] = {}
    for key, value in annotations.items():  # other tools' names first: ours, read last, win
        if isinstance(key, str) and key in _ALIASES:
            found[_ALIASES[key]] = (key, _string(manifest, key, value))
    for prefix in (WERF_PREFIX, PREFIX):
        for key, value in annotations.items():
            if not (isinstance(key, str) and key.startswith(prefix)):
                continue
            suffix = key.removeprefix(prefix)
            known = suffix in _WERF_SUFFIXES if prefix == WERF_PREFIX else suffix in _SUFFIXES
            if not (known or suffix.startswith(PER_CONTAINER_REGEX)):
                if prefix == WERF_PREFIX:
                    continue  # werf has many more annotations, for werf itself
                raise ManifestError(f"{manifest.source}: annotation {key} is not a kubedog-ci annotation (known: "
                                    f"{', '.join(a.suffix for a in ANNOTATIONS)})")
            found[suffix] = (key, _string(manifest, key, value))
    return found


def _string(manifest: Manifest, key: str, value: object) -> str:
    if not isinstance(value, str):
        shown = json.dumps(value, default=str)
        raise ManifestError(f'{manifest.source}: annotation {key}: {shown} is not a string; annotation '
                            f'values must be strings: quote it, "{shown}"')
    return value


def _parse(manifest: Manifest, found: tuple[str, str], parse: Callable[[str], T]) -> T:
    key, value = found
    try:
        return parse(value)
    except ValueError as err:
        raise ManifestError(f'{manifest.source}: annotation {key}: "{value}" {err}') from err


def parse_boolean(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ValueError("is not true or false")
    return value.lower() == "true"


def parse_fail_mode(value: str) -> FailMode:
    if value.lower() not in _FAIL_MODES:
        raise ValueError("is not one of fail, hope, ignore")
    return _FAIL_MODES[value.lower()]


def parse_count(value: str) -> int:
    if not re.fullmatch("[0-9]+", value.strip()):
        raise ValueError("is not an integer >= 0")
    return int(value)


def parse_positive_duration(value: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise ValueError("is not a duration > 0 (e.g. 90s, 5m, 1h30m)")
    return seconds


_ISO_8601 = re.compile(r"P(?:(?P<W>\d+(?:\.\d+)?)W)?(?:(?P<D>\d+(?:\.\d+)?)D)?"
                       r"(?:T(?:(?P<H>\d+(?:\.\d+)?)H)?(?:(?P<M>\d+(?:\.\d+)?)M)?(?:(?P<S>\d+(?:\.\d+)?)S)?)?")
_ISO_UNITS = {"W": 604800.0, "D": 86400.0, "H": 3600.0, "M": 60.0, "S": 1.0}


def parse_timeout(value: str) -> float:
    """A duration > 0: Go's (90s, 5m, 1h30m), or ISO 8601's as krane reads its timeout-override: a whole duration
    (PT5M, P1D) or its time part alone, in either case (5M, 1h30m, 0.25H)."""
    try:
        return parse_positive_duration(value)
    except ValueError:
        pass
    text = value.strip().upper()
    for candidate in (f"PT{text}", text):
        match = _ISO_8601.fullmatch(candidate)
        if match and candidate not in ("P", "PT") and not candidate.endswith("T"):
            seconds = sum(float(amount) * _ISO_UNITS[unit] for unit, amount in match.groupdict().items() if amount)
            if seconds > 0:
                return seconds
    raise ValueError("is not a duration > 0 (e.g. 90s, 5m, 1h30m, or ISO 8601: PT5M)")


def parse_non_negative_duration(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as err:
        raise ValueError("is not a duration >= 0 (e.g. 0, 30s, 2m)") from err


def parse_containers(value: str) -> frozenset[str]:
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def parse_regex(value: str) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except re.error as err:
        raise ValueError(f"is not a valid regular expression: {err}") from err


def parse_termination_mode(value: str) -> bool:
    if value.lower() not in _TERMINATION_MODES:
        raise ValueError("is not one of WaitUntilResourceReady, NonBlocking")
    return _TERMINATION_MODES[value.lower()]


_FIELDS: dict[str, tuple[str, Callable[[str], object]]] = {
    "fail-mode": ("fail_mode", parse_fail_mode),
    "failures-allowed-per-replica": ("failures_allowed_per_replica", parse_count),
    "no-activity-timeout": ("no_activity_timeout", parse_positive_duration),
    "timeout": ("timeout", parse_timeout),
    "skip-logs": ("skip_logs", parse_boolean),
    "skip-logs-for-containers": ("skip_log_containers", parse_containers),
    "show-logs-only-for-containers": ("log_containers", parse_containers),
    "log-regex": ("log_regex", parse_regex),
    "track-termination-mode": ("blocking", parse_termination_mode),
    "settle": ("settle", parse_non_negative_duration),
}
"""suffix -> (TargetSettings field, parser) for every annotation but `track` and the per-container regexes."""
_SUFFIXES = {a.suffix for a in ANNOTATIONS}
_WERF_SUFFIXES = {a.suffix for a in ANNOTATIONS if a.werf}
_ALIASES = {a.alias: a.suffix for a in ANNOTATIONS if a.alias}
