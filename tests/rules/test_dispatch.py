"""`evaluate` dispatches on (API group, kind) from one table; other kinds get the generic rule."""

from __future__ import annotations

import json

import pytest

from kubedog_ci.rules import PROFILES, State, Verdict, crd, deployment, evaluate, generic, ingress, job, pod
from tests.rules.builders import resource


@pytest.mark.parametrize(("api_version", "kind", "rule"), [
    ("apps/v1", "Deployment", deployment.evaluate),
    ("apps/v1beta2", "Deployment", deployment.evaluate),
    ("extensions/v1beta1", "Deployment", deployment.evaluate),
    ("batch/v1", "Job", job.evaluate),
    ("v1", "Pod", pod.evaluate),
    ("extensions/v1beta1", "Ingress", ingress.evaluate),
    ("networking.k8s.io/v1", "Ingress", ingress.evaluate),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", crd.evaluate),
])
def test_known_kinds_have_their_rule(api_version: str, kind: str, rule: object) -> None:
    assert PROFILES[(api_version.rpartition("/")[0], kind)].evaluate is rule


def test_a_kind_is_matched_with_its_group() -> None:
    # A custom resource that happens to be called Deployment is not an apps Deployment: with no status it would
    # be "not observed" by the Deployment rule, but waits for its controller by the custom resources' one.
    assert evaluate(resource("example.com/v1", "Deployment", "x")).reason == "AwaitingStatus"
    assert evaluate(resource("apps/v1", "Deployment", "x")).reason == "NotObserved"
    assert evaluate(resource("v1", "ConfigMap", "x")) == generic.evaluate(resource("v1", "ConfigMap", "x"))


def test_an_object_without_api_version_or_kind_gets_the_generic_rule() -> None:
    assert evaluate({"metadata": {"name": "x"}}).state == State.READY


def test_the_verdict_is_frozen_and_its_state_serializes_as_a_word() -> None:
    verdict = evaluate(resource("v1", "ConfigMap", "x"))
    assert isinstance(verdict, Verdict)
    assert json.dumps({"verdict": verdict.state}) == '{"verdict": "ready"}'
    with pytest.raises(AttributeError):
        verdict.reason = "changed"  # type: ignore[misc]
