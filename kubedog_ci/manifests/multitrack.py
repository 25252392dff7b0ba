"""kubedog's multitrack spec (the JSON `kubedog multitrack` reads on stdin), read into targets and their settings,
so a pipeline written for werf's kubedog keeps its spec.

The spec is kubedog's `MultitrackSpecs` (werf/kubedog pkg/trackers/rollout/multitrack/multitrack.go) as Go's
encoding/json reads it: the lists `Deployments`, `StatefulSets`, `DaemonSets`, `Jobs`, `Canaries` (Flagger) of
`MultitrackSpec` (`ResourceName`, `Namespace`, `TrackTerminationMode`, `FailMode`, `AllowFailuresCount`,
`LogRegex`, `LogRegexByContainerName`, `SkipLogs`, `SkipLogsForContainers`, `ShowLogsOnlyForContainers`, …), and
`Generics` of `generic.Spec` (multitrack/generic/spec.go), whose embedded `ResourceID` (pkg/tracker/resid) puts
`Name`, `Namespace` and `GroupVersionKind` (`Group`, `Version`, `Kind`) at its top level, beside `Timeout`,
`NoActivityTimeout`, `TrackTerminationMode`, `FailMode`, `AllowFailuresCount`. As in Go, field names match
whatever their case, and durations are Go's time.Duration in JSON: integer nanoseconds (a duration string, `4m`,
is taken too).

Each field means what the annotation of the same name means (kubedog_ci.manifests.annotations, whose parsers read
the values): FailMode is fail-mode, TrackTerminationMode track-termination-mode, LogRegex log-regex, and so on;
AllowFailuresCount is the whole resource's failure budget, as kubedog counts it. Timeout and NoActivityTimeout,
which kubedog reads for Generics only, are honoured on every list. A field left out means what the run's flags
say, not kubedog's own default (1 failure in all, 4m without activity for Generics), except that Canaries, as in
kubedog, allow no failure. kubedog's fields that have no meaning here (ShowServiceMessages, HideEvents, …) and
fields kubedog does not know are warned about and ignored, as Go ignores the latter silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from kubedog_ci.durations import parse_duration
from kubedog_ci.engine.settings import TargetSettings
from kubedog_ci.manifests.annotations import (
    parse_boolean,
    parse_count,
    parse_fail_mode,
    parse_regex,
    parse_termination_mode,
)
from kubedog_ci.manifests.reader import ManifestError

LISTS = {"Deployments": "deployments.apps", "StatefulSets": "statefulsets.apps", "DaemonSets": "daemonsets.apps",
         "Jobs": "jobs.batch", "Canaries": "canaries.flagger.app"}
"""The spec's lists of MultitrackSpec -> the resource type they name."""
GENERICS = "Generics"
IGNORED = {
    "FailureThresholdSeconds": "failures are weighed by the reason table and its grace periods",
    "IgnoreReadinessProbeFailsByContainerName": "a failing readiness probe fails a resource only after its grace "
                                                "period",
    "ShowServiceMessages": "Warning events are always shown",
    "HideEvents": "Warning events are always shown",
    "StatusProgressPeriod": "see --status-interval",
}
"""kubedog's fields that mean nothing here, and why."""


@dataclass(frozen=True)
class Entry:
    """One resource the spec names: a type name or a kind (with `api_version`, for Generics), its settings."""

    where: str
    """`Deployments[0]`: where in the spec it is."""
    type_name: str
    name: str
    namespace: str | None
    settings: TargetSettings
    api_version: str = ""


@dataclass
class Spec:
    entries: list[Entry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Reader:
    """One spec object's fields, looked up as Go's encoding/json looks them up (exact name, else any case)."""

    def __init__(self, source: str, where: str, data: dict, known: set[str]) -> None:
        self.source, self.where, self.data = source, where, data
        self.names = {key: next((name for name in known if name.lower() == key.lower()), None) for key in data}
        self.values = {name: data[key] for key, name in self.names.items() if name is not None}

    def unknown(self) -> list[str]:
        return [key for key, name in self.names.items() if name is None]

    def error(self, name: str, problem: str) -> ManifestError:
        return ManifestError(f"{self.source}: {self.where}.{name}: {problem}")

    def get(self, name: str, parse: Callable[[object], object]) -> object:
        """The field parsed, or None when it is absent or null (Go's zero value: the default)."""
        value = self.values.get(name)
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as err:
            raise self.error(name, f"{json.dumps(value)} {err}") from err


def parse(text: str, source: str = "<stdin>") -> Spec:
    """The spec's resources in its order (lists in kubedog's order, each in its own), and its warnings; a
    ManifestError for what cannot be read."""
    if not text.strip():
        raise ManifestError(f"{source}: empty; expected kubedog's multitrack spec, a JSON object such as "
                            '{"Deployments": [{"ResourceName": "web", "Namespace": "prod"}]}')
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ManifestError(f"{source}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: kubedog's multitrack spec is a JSON object (Deployments, StatefulSets, "
                            f"DaemonSets, Jobs, Canaries, Generics), not {_json_type(data)}")
    spec = Spec()
    top = _Reader(source, "", data, {*LISTS, GENERICS})
    spec.warnings += [f"multitrack spec: {key}: unknown field, ignored" for key in top.unknown()]
    for name in [*LISTS, GENERICS]:
        items = top.values.get(name)
        if items is None:
            continue
        if not isinstance(items, list):
            raise ManifestError(f"{source}: {name}: must be a list, not {_json_type(items)}")
        for index, item in enumerate(items):
            where = f"{name}[{index}]"
            if not isinstance(item, dict):
                raise ManifestError(f"{source}: {where}: must be an object, not {_json_type(item)}")
            spec.entries.append(_generic(source, where, item, spec.warnings) if name == GENERICS else
                                _entry(source, where, item, LISTS[name], spec.warnings, canary=name == "Canaries"))
    return spec


_COMMON = {"Namespace", "TrackTerminationMode", "FailMode", "AllowFailuresCount", "LogRegex", "LogRegexByContainerName",
           "SkipLogs", "SkipLogsForContainers", "ShowLogsOnlyForContainers", "NoActivityTimeout", "Timeout", *IGNORED}


def _entry(source: str, where: str, item: dict, type_name: str, warnings: list[str], *, canary: bool) -> Entry:
    reader = _Reader(source, where, item, {"ResourceName", *_COMMON})
    name = reader.get("ResourceName", _string)
    if not name:
        raise reader.error("ResourceName", "missing: name the resource")
    settings = _settings(reader, warnings, failures_allowed=0 if canary else None)
    return Entry(where, type_name, str(name), _namespace(reader), settings)


def _generic(source: str, where: str, item: dict, warnings: list[str]) -> Entry:
    reader = _Reader(source, where, item, {"Name", "GroupVersionKind", *_COMMON})
    name = reader.get("Name", _string)
    if not name:
        raise reader.error("Name", "missing: name the resource")
    gvk = reader.values.get("GroupVersionKind")
    if not isinstance(gvk, dict):
        raise reader.error("GroupVersionKind", 'missing: give its Group, Version and Kind (e.g. {"Group": '
                           '"cert-manager.io", "Version": "v1", "Kind": "Certificate"})')
    ids = _Reader(source, f"{where}.GroupVersionKind", gvk, {"Group", "Version", "Kind"})
    warnings += [f"multitrack spec: {ids.where}.{key}: unknown field, ignored" for key in ids.unknown()]
    group, version, kind = (str(ids.get(part, _string) or "") for part in ("Group", "Version", "Kind"))
    if not kind:
        raise ids.error("Kind", "missing: name the kind")
    api_version = f"{group}/{version}" if group else version
    return Entry(where, kind, str(name), _namespace(reader), _settings(reader, warnings), api_version)


def _namespace(reader: _Reader) -> str | None:
    return str(reader.get("Namespace", _string) or "") or None


def _settings(reader: _Reader, warnings: list[str], failures_allowed: int | None = None) -> TargetSettings:
    warnings += [f"multitrack spec: {reader.where}.{key}: unknown field, ignored" for key in reader.unknown()]
    for name, why in IGNORED.items():
        if reader.values.get(name) not in (None, False, 0, "", {}, []):
            warnings.append(f"multitrack spec: {reader.where}.{name}: kubedog's, not used here ({why})")
    fields: dict[str, object] = {}
    for name, attribute, read in (
            ("FailMode", "fail_mode", _text(parse_fail_mode)),
            ("TrackTerminationMode", "blocking", _text(parse_termination_mode)),
            ("AllowFailuresCount", "failures_allowed", _count),
            ("LogRegex", "log_regex", _text(parse_regex)),
            ("SkipLogs", "skip_logs", _boolean),
            ("SkipLogsForContainers", "skip_log_containers", _names),
            ("ShowLogsOnlyForContainers", "log_containers", _names),
            ("NoActivityTimeout", "no_activity_timeout", _duration),
            ("Timeout", "timeout", _duration)):
        value = reader.get(name, read)
        if value is not None:
            fields[attribute] = value
    if failures_allowed is not None:
        fields.setdefault("failures_allowed", failures_allowed)
    per_container = reader.get("LogRegexByContainerName", _regexes)
    return TargetSettings(**fields, log_regex_for=per_container or ())  # type: ignore[arg-type]


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), "null")


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"is {_json_type(value)}, not a string")
    return value


def _text(parse_value: Callable[[str], object]) -> Callable[[object], object]:
    """A string field read by an annotation's parser; "" is Go's zero value: the default."""
    def read(value: object) -> object:
        text = _string(value)
        return parse_value(text) if text else None
    return read


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"is {_json_type(value)}, not an integer >= 0")
    return parse_count(str(value))


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return parse_boolean(_string(value))


def _names(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValueError("is not a list of container names")
    return frozenset(name.strip() for name in value if name.strip())


def _regexes(value: object) -> tuple[tuple[str, object], ...]:
    if not isinstance(value, dict) or not all(isinstance(pattern, str) for pattern in value.values()):
        raise ValueError("is not an object of container name to regular expression")
    return tuple(sorted((container, parse_regex(pattern)) for container, pattern in value.items()))


def _duration(value: object) -> float:
    """Go's time.Duration as JSON holds it, integer nanoseconds; or a duration string (90s, 4m)."""
    if isinstance(value, bool):
        raise ValueError("is a boolean, not a duration")
    if isinstance(value, int | float):
        seconds = value / 1e9
    else:
        try:
            seconds = parse_duration(_string(value))
        except ValueError as err:
            raise ValueError("is not a duration (nanoseconds, as Go writes a time.Duration, or e.g. 4m)") from err
    if seconds <= 0:
        raise ValueError("is not a duration > 0 (nanoseconds, as Go writes a time.Duration, or e.g. 4m)")
    return seconds
