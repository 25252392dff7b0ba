"""kubedog's multitrack spec read into entries and settings (kubedog_ci.manifests.multitrack): the specs of kubedog's
own documentation, every field with the meaning of its annotation, Go's field matching, warnings and errors."""

from __future__ import annotations

import json

import pytest

from kubedog_ci.engine.settings import FailMode, TargetSettings
from kubedog_ci.manifests.multitrack import parse
from kubedog_ci.manifests.reader import ManifestError

README_SPEC = """
{
  "StatefulSets": [
    {
      "ResourceName": "mysts1",
      "Namespace": "myns"
    }
  ],
  "Deployments": [
    {
      "ResourceName": "mydeploy22",
      "Namespace": "myns"
    }
  ]
}
"""
"""werf/kubedog doc/usage.md, "Multitracker CLI"."""
CLI_EXAMPLE = ('{"Deployments":[{"ResourceName":"mydeploy","Namespace":"myns"},{"ResourceName":"myresource",'
               '"Namespace":"myns","FailMode":"HopeUntilEndOfDeployProcess","AllowFailuresCount":3,'
               '"SkipLogsForContainers":["two", "three"]}], "StatefulSets":[{"ResourceName":"mysts",'
               '"Namespace":"myns"}]}')
"""werf/kubedog cmd/kubedog/main.go, the multitrack command's Example."""


def comparable(settings: TargetSettings) -> dict[str, object]:
    fields = dict(vars(settings))
    fields["log_regex"] = settings.log_regex.pattern if settings.log_regex else None
    fields["log_regex_for"] = tuple((name, pattern.pattern) for name, pattern in settings.log_regex_for)
    return fields


def test_the_readme_spec() -> None:
    spec = parse(README_SPEC)
    assert [(e.where, e.type_name, e.name, e.namespace, e.settings) for e in spec.entries] == [
        ("Deployments[0]", "deployments.apps", "mydeploy22", "myns", TargetSettings()),
        ("StatefulSets[0]", "statefulsets.apps", "mysts1", "myns", TargetSettings())]
    assert spec.warnings == []


def test_the_cli_example() -> None:
    spec = parse(CLI_EXAMPLE)
    assert [(e.type_name, e.name) for e in spec.entries] == [
        ("deployments.apps", "mydeploy"), ("deployments.apps", "myresource"), ("statefulsets.apps", "mysts")]
    assert spec.entries[1].settings == TargetSettings(fail_mode=FailMode.HOPE, failures_allowed=3,
                                                      skip_log_containers=frozenset({"two", "three"}))


def one(fields: dict[str, object], list_name: str = "Deployments") -> TargetSettings:
    spec = parse(json.dumps({list_name: [{"ResourceName": "web", **fields}]}))
    assert spec.warnings == []
    return spec.entries[0].settings


@pytest.mark.parametrize(("fields", "changed"), [
    ({}, {}),
    ({"FailMode": "IgnoreAndContinueDeployProcess"}, {"fail_mode": FailMode.IGNORE}),
    ({"FailMode": "FailWholeDeployProcessImmediately"}, {}),
    ({"FailMode": "HopeUntilEndOfDeployProcess"}, {"fail_mode": FailMode.HOPE}),
    ({"FailMode": ""}, {}),
    ({"TrackTerminationMode": "NonBlocking"}, {"blocking": False}),
    ({"TrackTerminationMode": "WaitUntilResourceReady"}, {}),
    ({"AllowFailuresCount": 0}, {"failures_allowed": 0}),
    ({"AllowFailuresCount": None}, {}),
    ({"LogRegex": "^ERROR"}, {"log_regex": "^ERROR"}),
    ({"LogRegexByContainerName": {"app": "level=error", "db": "FATAL"}},
     {"log_regex_for": (("app", "level=error"), ("db", "FATAL"))}),
    ({"SkipLogs": True}, {"skip_logs": True}),
    ({"SkipLogsForContainers": ["istio-proxy"]}, {"skip_log_containers": frozenset({"istio-proxy"})}),
    ({"ShowLogsOnlyForContainers": ["app"]}, {"log_containers": frozenset({"app"})}),
    ({"NoActivityTimeout": 240_000_000_000}, {"no_activity_timeout": 240.0}),
    ({"NoActivityTimeout": "90s"}, {"no_activity_timeout": 90.0}),
    ({"Timeout": 30_000_000_000}, {"timeout": 30.0}),
    ({"failmode": "ignoreandcontinuedeployprocess", "SKIPLOGS": True}, {"fail_mode": FailMode.IGNORE,
                                                                       "skip_logs": True}),
])
def test_fields_mean_what_their_annotations_mean(fields: dict[str, object], changed: dict[str, object]) -> None:
    assert comparable(one(fields)) == comparable(TargetSettings()) | changed


def test_canaries_allow_no_failure_as_in_kubedog() -> None:
    assert one({}, "Canaries") == TargetSettings(failures_allowed=0)
    assert parse(json.dumps({"Canaries": [{"ResourceName": "web"}]})).entries[0].type_name == "canaries.flagger.app"


def test_generics_carry_their_kind() -> None:
    spec = parse(json.dumps({"Generics": [
        {"Name": "tls", "Namespace": "prod", "GroupVersionKind": {"Group": "cert-manager.io", "Version": "v1",
                                                                  "Kind": "Certificate"},
         "Timeout": 120_000_000_000, "NoActivityTimeout": 240_000_000_000, "FailMode": "HopeUntilEndOfDeployProcess"},
        {"Name": "cfg", "GroupVersionKind": {"Version": "v1", "Kind": "ConfigMap"}},
        {"Name": "gear", "GroupVersionKind": {"Group": "example.com", "Kind": "Widget"}}]}))
    assert [(e.type_name, e.api_version, e.name, e.namespace) for e in spec.entries] == [
        ("Certificate", "cert-manager.io/v1", "tls", "prod"), ("ConfigMap", "v1", "cfg", None),
        ("Widget", "example.com/", "gear", None)]
    assert spec.entries[0].settings == TargetSettings(timeout=120.0, no_activity_timeout=240.0,
                                                      fail_mode=FailMode.HOPE)


def test_unknown_and_unused_fields_are_warned_about_not_fatal() -> None:
    spec = parse(json.dumps({
        "Deployments": [{"ResourceName": "web", "Replicas": 3, "ShowServiceMessages": True,
                         "FailureThresholdSeconds": 0}],
        "Pods": [{"ResourceName": "x"}],
        "Generics": [{"Name": "g", "GroupVersionKind": {"Kind": "Widget", "Subresource": "status"},
                      "HideEvents": True, "StatusProgressPeriod": 5_000_000_000}]}))
    assert [(e.type_name, e.name) for e in spec.entries] == [("deployments.apps", "web"), ("Widget", "g")]
    assert spec.warnings == [
        "multitrack spec: Pods: unknown field, ignored",
        "multitrack spec: Deployments[0].Replicas: unknown field, ignored",
        "multitrack spec: Deployments[0].ShowServiceMessages: kubedog's, not used here (Warning events are always "
        "shown)",
        "multitrack spec: Generics[0].GroupVersionKind.Subresource: unknown field, ignored",
        "multitrack spec: Generics[0].HideEvents: kubedog's, not used here (Warning events are always shown)",
        "multitrack spec: Generics[0].StatusProgressPeriod: kubedog's, not used here (see --status-interval)"]


@pytest.mark.parametrize("text", ["{}", "null", '{"Deployments": null, "Jobs": []}'])
def test_an_empty_spec_names_nothing(text: str) -> None:
    assert parse(text).entries == []


@pytest.mark.parametrize(("text", "message"), [
    ("", "<stdin>: empty; expected kubedog's multitrack spec, a JSON object such as"),
    ('{"Deployments": [{"ResourceName": "web",}]}', "<stdin>:1:41: not valid JSON: Expecting property name enclosed "
     "in double quotes"),
    ("[]", "<stdin>: kubedog's multitrack spec is a JSON object (Deployments, StatefulSets, DaemonSets, Jobs, "
     "Canaries, Generics), not a list"),
    ('{"Deployments": {"ResourceName": "web"}}', "<stdin>: Deployments: must be a list, not an object"),
    ('{"Jobs": ["migrate"]}', "<stdin>: Jobs[0]: must be an object, not a string"),
    ('{"Jobs": [{"Namespace": "x"}]}', "<stdin>: Jobs[0].ResourceName: missing: name the resource"),
    ('{"Jobs": [{"ResourceName": 7}]}', "<stdin>: Jobs[0].ResourceName: 7 is a number, not a string"),
    ('{"Deployments": [{"ResourceName": "w", "FailMode": "Sometimes"}]}',
     '<stdin>: Deployments[0].FailMode: "Sometimes" is not one of fail, hope, ignore'),
    ('{"Deployments": [{"ResourceName": "w", "AllowFailuresCount": "3"}]}',
     '<stdin>: Deployments[0].AllowFailuresCount: "3" is a string, not an integer >= 0'),
    ('{"Deployments": [{"ResourceName": "w", "AllowFailuresCount": -1}]}',
     "<stdin>: Deployments[0].AllowFailuresCount: -1 is not an integer >= 0"),
    ('{"Deployments": [{"ResourceName": "w", "TrackTerminationMode": "Later"}]}',
     '"Later" is not one of WaitUntilResourceReady, NonBlocking'),
    ('{"Deployments": [{"ResourceName": "w", "LogRegex": "(oops"}]}', '"(oops" is not a valid regular expression'),
    ('{"Deployments": [{"ResourceName": "w", "SkipLogsForContainers": "app"}]}',
     '"app" is not a list of container names'),
    ('{"Deployments": [{"ResourceName": "w", "NoActivityTimeout": 0}]}',
     "NoActivityTimeout: 0 is not a duration > 0 (nanoseconds, as Go writes a time.Duration, or e.g. 4m)"),
    ('{"Generics": [{"Name": "g"}]}', "<stdin>: Generics[0].GroupVersionKind: missing: give its Group, Version and "
     "Kind"),
    ('{"Generics": [{"Name": "g", "GroupVersionKind": {"Group": "apps"}}]}',
     "<stdin>: Generics[0].GroupVersionKind.Kind: missing: name the kind"),
])
def test_a_spec_that_cannot_be_read(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as error:
        parse(text)
    assert str(error.value).startswith(message) or message in str(error.value), str(error.value)
