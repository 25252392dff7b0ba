"""Which Secrets a Pod or a workload's Pods consume: each kind of reference, in each kind of container."""

from __future__ import annotations

import pytest

from kubedog_ci.rules.objects import consumed_secrets

SPEC = {
    "imagePullSecrets": [{"name": "registry"}],
    "initContainers": [{"name": "init",
                        "envFrom": [{"secretRef": {"name": "init-env"}}, {"configMapRef": {"name": "c"}}]}],
    "containers": [{"name": "app", "env": [
        {"name": "A", "value": "plain"},
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]}],
    "ephemeralContainers": [{"name": "debug", "env": [{"name": "D", "valueFrom": {"secretKeyRef": {"name": "dbg"}}}]}],
    "volumes": [{"name": "certs", "secret": {"secretName": "tls"}}, {"name": "cfg", "configMap": {"name": "cm"}},
                {"name": "all", "projected": {"sources": [{"secret": {"name": "projected"}},
                                                          {"serviceAccountToken": {"path": "t"}}]}}],
}
ALL = {"registry", "init-env", "db", "dbg", "tls", "projected"}


@pytest.mark.parametrize(("obj", "expected"), [
    pytest.param({"kind": "Pod", "spec": SPEC}, ALL, id="pod"),
    pytest.param({"kind": "Deployment", "spec": {"template": {"spec": SPEC}}}, ALL, id="deployment-template"),
    pytest.param({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": SPEC}}}}}, ALL,
                 id="cronjob-job-template"),
    pytest.param({"kind": "Job", "spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}}, set(),
                 id="none"),
    pytest.param({"kind": "ConfigMap", "data": {"a": "b"}}, set(), id="no-pod-spec"),
    pytest.param({"kind": "Pod", "spec": {"containers": [{"env": [{"valueFrom": {"secretKeyRef": {}}}]}]}}, set(),
                 id="reference-without-a-name"),
])
def test_consumed_secrets(obj: dict, expected: set[str]) -> None:
    assert consumed_secrets(obj) == expected
