"""Shared fixtures: a simulated cluster per test and official-client handles bound to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import SimConfig
from tests.support import DEFAULT_TIME_SCALE, Kube, make_kube, wait_until


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


@pytest.fixture
def eventually() -> Callable[..., object]:
    """The `wait_until` poller as a fixture."""
    return wait_until
