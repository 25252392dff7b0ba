"""The Deployment rule on real objects served by the simulated cluster: at the first moment the rule says ready,
kubectl's counters agree, for a new Deployment and for a rollout to a new image."""

from __future__ import annotations

import json
from collections.abc import Callable

from kubedog_ci.rules import State, Verdict, evaluate
from tests.support import Kube

NAMESPACE = "default"


def manifest(image: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}}


def served(kube: Kube) -> dict:
    """The Deployment exactly as the API server serves it (JSON), not the client's model of it."""
    response = kube.apps.read_namespaced_deployment("web", NAMESPACE, _preload_content=False)
    return json.loads(response.data)


def until_ready(kube: Kube, eventually: Callable[..., object], seen: list[Verdict]) -> dict:
    def ready_snapshot() -> dict | None:
        obj = served(kube)
        verdict = evaluate(obj)
        seen.append(verdict)
        return obj if verdict.state == State.READY else None
    return eventually(ready_snapshot, timeout=30, interval=0.005, message="the rule to say ready")


def assert_rolled_out(obj: dict, image: str) -> None:
    status = obj["status"]
    assert obj["metadata"]["generation"] <= status["observedGeneration"]
    assert (status["readyReplicas"] == status["replicas"] == status["updatedReplicas"]
            == status["availableReplicas"] == obj["spec"]["replicas"] == 3), status
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == image


def test_ready_exactly_when_kubectls_counters_agree(kube: Kube, eventually: Callable[..., object]) -> None:
    seen: list[Verdict] = []
    kube.apps.create_namespaced_deployment(NAMESPACE, manifest("nginx:1.27"))
    first = until_ready(kube, eventually, seen)
    assert_rolled_out(first, "nginx:1.27")
    assert evaluate(first).message == 'deployment "web" successfully rolled out'

    body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}}
    kube.apps.patch_namespaced_deployment("web", NAMESPACE, body)
    second = until_ready(kube, eventually, seen)
    assert second["metadata"]["generation"] == first["metadata"]["generation"] + 1
    assert_rolled_out(second, "nginx:1.28")
    assert {verdict.state for verdict in seen} <= {State.READY, State.PROGRESSING}, seen
    assert State.PROGRESSING in {verdict.state for verdict in seen}
