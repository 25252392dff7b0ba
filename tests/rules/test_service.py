"""Service: readiness-rules.md ("Service", Recommended): only a LoadBalancer waits, for its ingress."""

from __future__ import annotations

import pytest

from kubedog_ci.rules.verdict import State
from tests.rules.builders import PROGRESSING, READY, check, resource


def service(kind: str | None, ingress: list[dict] | None = None, external_ips: list[str] | None = None,
            deleting: bool = False) -> dict:
    spec: dict = {"ports": [{"port": 80}], "clusterIP": "10.96.0.17"}
    if kind:
        spec["type"] = kind
    if external_ips:
        spec["externalIPs"] = external_ips
    status = {"loadBalancer": {"ingress": ingress} if ingress is not None else {}}
    return resource("v1", "Service", "web", spec=spec, status=status, generation=None, deleting=deleting)


CASES = [
    pytest.param(service("ClusterIP"), READY, "Ready", 'service "web" (ClusterIP) is ready', id="cluster-ip"),
    pytest.param(service(None), READY, "Ready", "(ClusterIP)", id="type-defaults-to-cluster-ip"),
    pytest.param(service("NodePort"), READY, "Ready", "(NodePort)", id="node-port"),
    pytest.param(service("ExternalName"), READY, "Ready", "(ExternalName)", id="external-name"),
    # §4.8: kstatus checks only clusterIP (always allocated); Helm, kapp and Argo wait for the ingress.
    pytest.param(service("LoadBalancer"), PROGRESSING, "NoLoadBalancerIngress",
                 'Waiting for service "web" to be assigned a load balancer ingress...', id="load-balancer-pending"),
    pytest.param(service("LoadBalancer", ingress=[]), PROGRESSING, "NoLoadBalancerIngress", "load balancer ingress",
                 id="load-balancer-empty-ingress"),
    pytest.param(service("LoadBalancer", ingress=[{"ip": "203.0.113.10"}]), READY, "LoadBalancerReady",
                 "has its load balancer at 203.0.113.10", id="load-balancer-ip"),
    pytest.param(service("LoadBalancer", ingress=[{"hostname": "lb.example.com"}]), READY, "LoadBalancerReady",
                 "at lb.example.com", id="load-balancer-hostname"),
    # Argo counts an entry of {}: the provider has answered.
    pytest.param(service("LoadBalancer", ingress=[{}]), READY, "LoadBalancerReady",
                 'service "web" has its load balancer', id="load-balancer-empty-entry"),
    # Helm: externalIPs need no provider.
    pytest.param(service("LoadBalancer", external_ips=["198.51.100.7"]), READY, "LoadBalancerReady",
                 "at 198.51.100.7", id="load-balancer-external-ips"),
    pytest.param(service("ClusterIP", deleting=True), PROGRESSING, "Terminating", "is being deleted",
                 id="deletion-timestamp"),
]


@pytest.mark.parametrize(("obj", "state", "reason", "fragment"), CASES)
def test_service_verdict(obj: dict, state: State, reason: str, fragment: str) -> None:
    check(obj, state, reason, fragment)
