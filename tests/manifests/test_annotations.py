"""Per-object tracking settings from annotations: every annotation, werf's aliases, precedence and bad values."""

from __future__ import annotations

import pytest

from kubedog_ci.engine.settings import FailMode, TargetSettings
from kubedog_ci.manifests.annotations import settings_for, tracked
from kubedog_ci.manifests.reader import Manifest, ManifestError, Source


def manifest(annotations: dict[str, object]) -> Manifest:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "annotations": annotations}}
    return Manifest(obj, Source("app.yaml", 7))


def comparable(settings: TargetSettings) -> dict[str, object]:
    """The settings' fields, patterns by their text (compiled patterns do not compare equal by value)."""
    fields = dict(vars(settings))
    fields["log_regex"] = settings.log_regex.pattern if settings.log_regex else None
    fields["log_regex_for"] = tuple((name, pattern.pattern) for name, pattern in settings.log_regex_for)
    return fields


@pytest.mark.parametrize(("annotations", "changed"), [
    ({}, {}),
    ({"kubedog-ci.io/fail-mode": "hope"}, {"fail_mode": FailMode.HOPE}),
    ({"kubedog-ci.io/fail-mode": "Ignore"}, {"fail_mode": FailMode.IGNORE}),
    ({"werf.io/fail-mode": "FailWholeDeployProcessImmediately"}, {"fail_mode": FailMode.FAIL}),
    ({"werf.io/fail-mode": "HopeUntilEndOfDeployProcess"}, {"fail_mode": FailMode.HOPE}),
    ({"kubedog-ci.io/fail-mode": "IgnoreAndContinueDeployProcess"}, {"fail_mode": FailMode.IGNORE}),
    ({"kubedog-ci.io/failures-allowed-per-replica": "0"}, {"failures_allowed_per_replica": 0}),
    ({"werf.io/failures-allowed-per-replica": "3"}, {"failures_allowed_per_replica": 3}),
    ({"kubedog-ci.io/no-activity-timeout": "4m"}, {"no_activity_timeout": 240.0}),
    ({"werf.io/no-activity-timeout": "1m30s"}, {"no_activity_timeout": 90.0}),
    ({"kubedog-ci.io/skip-logs": "TRUE"}, {"skip_logs": True}),
    ({"werf.io/skip-logs": "false"}, {}),
    ({"kubedog-ci.io/skip-logs-for-containers": "istio-proxy, linkerd-proxy,"},
     {"skip_log_containers": frozenset({"istio-proxy", "linkerd-proxy"})}),
    ({"werf.io/show-logs-only-for-containers": "app"}, {"log_containers": frozenset({"app"})}),
    ({"kubedog-ci.io/log-regex": "ERROR|WARN"}, {"log_regex": "ERROR|WARN"}),
    ({"kubedog-ci.io/log-regex-for-app": "^level=error", "werf.io/log-regex-for-db": "FATAL"},
     {"log_regex_for": (("app", "^level=error"), ("db", "FATAL"))}),
    ({"kubedog-ci.io/track-termination-mode": "NonBlocking"}, {"blocking": False}),
    ({"werf.io/track-termination-mode": "waituntilresourceready"}, {"blocking": True}),
    ({"kubedog-ci.io/fail-mode": "ignore", "werf.io/fail-mode": "HopeUntilEndOfDeployProcess"},
     {"fail_mode": FailMode.IGNORE}),
    ({"werf.io/log-regex-for-app": "werf", "kubedog-ci.io/log-regex-for-app": "ours"},
     {"log_regex_for": (("app", "ours"),)}),
    ({"werf.io/weight": "10", "werf.io/replicas-on-creation": "1", "example.com/fail-mode": "x"}, {}),
    ({"kubedog-ci.io/timeout": "5m"}, {"timeout": 300.0}),
    ({"kubedog-ci.io/timeout": "PT1M30S"}, {"timeout": 90.0}),
    ({"krane.shopify.io/timeout-override": "45s"}, {"timeout": 45.0}),
    ({"krane.shopify.io/timeout-override": "PT0.25H"}, {"timeout": 900.0}),
    ({"krane.shopify.io/timeout-override": "1H30M"}, {"timeout": 5400.0}),
    ({"krane.shopify.io/timeout-override": "P1D"}, {"timeout": 86400.0}),
    ({"krane.shopify.io/timeout-override": "10m", "kubedog-ci.io/timeout": "2m"}, {"timeout": 120.0}),
    ({"krane.shopify.io/required-rollout": "full", "werf.io/timeout": "1s"}, {}),
])
def test_settings(annotations: dict[str, object], changed: dict[str, object]) -> None:
    assert comparable(settings_for(manifest(annotations))) == comparable(TargetSettings()) | changed


@pytest.mark.parametrize(("annotations", "expected"), [
    ({}, True),
    ({"kubedog-ci.io/track": "false"}, False),
    ({"kubedog-ci.io/track": "False"}, False),
    ({"kubedog-ci.io/track": "true"}, True),
    ({"werf.io/track": "false"}, True),
])
def test_tracked(annotations: dict[str, object], expected: bool) -> None:
    assert tracked(manifest(annotations)) is expected


@pytest.mark.parametrize(("annotations", "message"), [
    ({"kubedog-ci.io/fail-mode": "x"}, 'app.yaml:7: annotation kubedog-ci.io/fail-mode: "x" is not one of fail, hope, '
     "ignore"),
    ({"werf.io/fail-mode": "sometimes"}, 'annotation werf.io/fail-mode: "sometimes" is not one of fail, hope, ignore'),
    ({"kubedog-ci.io/failures-allowed-per-replica": "-1"}, '"-1" is not an integer >= 0'),
    ({"werf.io/failures-allowed-per-replica": "two"}, 'werf.io/failures-allowed-per-replica: "two" is not an integer'),
    ({"kubedog-ci.io/no-activity-timeout": "0s"}, '"0s" is not a duration > 0 (e.g. 90s, 5m, 1h30m)'),
    ({"kubedog-ci.io/no-activity-timeout": "soon"}, '"soon" is not a duration > 0'),
    ({"kubedog-ci.io/skip-logs": "yes"}, 'kubedog-ci.io/skip-logs: "yes" is not true or false'),
    ({"kubedog-ci.io/log-regex": "(error"}, '"(error" is not a valid regular expression: missing ), unterminated'),
    ({"werf.io/log-regex-for-app": "[a"}, 'werf.io/log-regex-for-app: "[a" is not a valid regular expression'),
    ({"kubedog-ci.io/track-termination-mode": "Later"}, '"Later" is not one of WaitUntilResourceReady, NonBlocking'),
    ({"kubedog-ci.io/failures-allowed-per-replica": 3}, "kubedog-ci.io/failures-allowed-per-replica: 3 is not a "
     'string; annotation values must be strings: quote it, "3"'),
    ({"kubedog-ci.io/skip-log": "true"}, "app.yaml:7: annotation kubedog-ci.io/skip-log is not a kubedog-ci "
     "annotation (known: track, fail-mode,"),
    ({"kubedog-ci.io/timeout": "0s"}, 'kubedog-ci.io/timeout: "0s" is not a duration > 0 (e.g. 90s, 5m, 1h30m, or '
     "ISO 8601: PT5M)"),
    ({"krane.shopify.io/timeout-override": "PT"}, 'krane.shopify.io/timeout-override: "PT" is not a duration > 0'),
    ({"krane.shopify.io/timeout-override": "soon"}, '"soon" is not a duration > 0'),
    ({"krane.shopify.io/timeout-override": 30}, "krane.shopify.io/timeout-override: 30 is not a string"),
])
def test_bad_values(annotations: dict[str, object], message: str) -> None:
    with pytest.raises(ManifestError) as error:
        settings_for(manifest(annotations))
    assert str(error.value).startswith("app.yaml:7: annotation ")
    assert message in str(error.value)


@pytest.mark.parametrize(("annotations", "message"), [
    ({"kubedog-ci.io/track": "no"}, 'app.yaml:7: annotation kubedog-ci.io/track: "no" is not true or false'),
    ({"kubedog-ci.io/track": False}, 'app.yaml:7: annotation kubedog-ci.io/track: false is not a string; annotation '
     'values must be strings: quote it, "false"'),
])
def test_bad_track(annotations: dict[str, object], message: str) -> None:
    with pytest.raises(ManifestError) as error:
        tracked(manifest(annotations))
    assert str(error.value) == message
