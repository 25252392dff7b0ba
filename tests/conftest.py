"""Shared fixtures: a cluster per test or per module, official-client handles bound to it, and namespaces; a
directory served over HTTP (fake releases for the install script, the GitHub Action and README's recipes)."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubedog_ci.sim.cluster import SimCluster
from tests.sim.workload_support import PodRecorder, recording, standin_kubelet
from tests.support import Kube, kube_for, namespace_name, running_cluster, sim_config, wait_until


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., SimCluster]]:
    """Start clusters with custom settings: `sim_factory(time_scale=0.05, nodes=1, faults=Faults(...))`."""
    started: list[SimCluster] = []

    def start(**settings: object) -> SimCluster:
        cluster = SimCluster(sim_config(**settings)).start()
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
    with kube_for(sim) as handles:
        yield handles


@pytest.fixture(scope="module")
def shared_cluster() -> Iterator[SimCluster]:
    """One cluster at the default time scale for the whole test module: tests keep to their own `ns`."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def kc(shared_cluster: SimCluster) -> Iterator[Kube]:
    """Handles for the module's cluster; a module may override this to use a differently configured one."""
    with kube_for(shared_cluster) as handles:
        yield handles


@pytest.fixture
def ns(kc: Kube, request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own in kc's cluster, named after the test."""
    name = namespace_name(request)
    kc.core.create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def running(kube: Kube) -> Iterator[Kube]:
    """`kube` with a stand-in kubelet marking new pods of "default" Running and Ready (see workload_support)."""
    with standin_kubelet(kube.core):
        yield kube


@pytest.fixture
def pods(running: Kube) -> Iterator[PodRecorder]:
    """Every pod watch event of the test in "default", in the API server's order."""
    with recording(running.core) as recorder:
        yield recorder


@pytest.fixture
def eventually() -> Callable[..., object]:
    """The `wait_until` poller as a fixture."""
    return wait_until


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An empty directory served over HTTP on 127.0.0.1; yields it and its URL (no trailing slash)."""
    www = tmp_path / "www"
    www.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
