"""Ingress: readiness-rules.md ("Ingress", Recommended): ready by default."""

from __future__ import annotations

import pytest

from kubedog_ci.rules.verdict import State
from tests.rules.builders import PROGRESSING, READY, check, resource


def ingress(addresses: list[dict] | None = None, api_version: str = "networking.k8s.io/v1",
            deleting: bool = False) -> dict:
    status = {"loadBalancer": {"ingress": addresses}} if addresses else {"loadBalancer": {}}
    return resource(api_version, "Ingress", "web", spec={"rules": [{"host": "web.example.com"}]}, status=status,
                    deleting=deleting)


CASES = [
    # §4.10: Argo waits for status.loadBalancer; many controllers never publish it, so we don't wait.
    pytest.param(ingress(), READY, "Ready", 'ingress "web" is ready (its address is not waited for)',
                 id="no-address-published"),
    pytest.param(ingress([{"ip": "203.0.113.10"}]), READY, "Ready", "ready at 203.0.113.10", id="address-published"),
    pytest.param(ingress(api_version="extensions/v1beta1"), READY, "Ready", "is ready", id="extensions-v1beta1"),
    pytest.param(ingress(deleting=True), PROGRESSING, "Terminating", "is being deleted", id="deletion-timestamp"),
]


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_ingress_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)
