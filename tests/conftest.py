"""Shared fixtures: a simulated cluster per test and official-client handles bound to it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from kubernetes import client, config

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import SimConfig

DEFAULT_TIME_SCALE = 0.02
"""Fifty times faster than a real cluster: a 10s back-off takes 0.2s, the order of things is unchanged."""


@dataclass
class Kube:
    """Official Python client APIs bound to one simulated cluster."""

    cluster: SimCluster
    api_client: client.ApiClient
    core: client.CoreV1Api
    apps: client.AppsV1Api
    batch: client.BatchV1Api
    custom: client.CustomObjectsApi
    storage: client.StorageV1Api
    extensions: client.ApiextensionsV1Api
    events: client.EventsV1Api


def make_kube(cluster: SimCluster) -> Kube:
    api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    return Kube(cluster, api_client, client.CoreV1Api(api_client), client.AppsV1Api(api_client),
                client.BatchV1Api(api_client), client.CustomObjectsApi(api_client),
                client.StorageV1Api(api_client), client.ApiextensionsV1Api(api_client),
                client.EventsV1Api(api_client))


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., SimCluster]]:
    """Start clusters with custom settings: `sim_factory(time_scale=0.05, nodes=1, faults=Faults(...))`."""
    started: list[SimCluster] = []

    def start(**settings: object) -> SimCluster:
        settings.setdefault("time_scale", DEFAULT_TIME_SCALE)
        cluster = SimCluster(SimConfig(**settings)).start()  # type: ignore[arg-type]
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


@pytest.fixture
def sim(sim_factory: Callable[..., SimCluster]) -> SimCluster:
    """A fresh cluster at the default time scale."""
    return sim_factory()


@pytest.fixture
def kube(sim: SimCluster) -> Iterator[Kube]:
    handles = make_kube(sim)
    yield handles
    handles.api_client.close()


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02,
               message: str = "condition") -> object:
    """Poll until predicate() is truthy and return its value; fail the test with `message` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def eventually() -> Callable[..., object]:
    """The `wait_until` poller as a fixture."""
    return wait_until
