"""The LogFollower against the simulator: exact line sequences under cuts, long lines, restarts and endings.

Containers print numbered lines so that a lost, repeated or reordered line is visible in one comparison.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from kubedog_ci.kube.logs import LogFollower, parse_timestamp_ns
from kubedog_ci.kube.messages import LogEnded
from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import DenyRule, Faults
from tests.kube.support import STOP_WITHIN, Collector
from tests.support import Kube, kube_for, wait_until

Start = Callable[[threading.Thread], threading.Thread]
NUMBERED = 'for i in $(seq 1 500); do echo "line $i"; sleep 0.01; done'


def make_pod(kube: Kube, name: str, script: str, restart: str = "Never", init: str | None = None) -> None:
    spec: dict = {"restartPolicy": restart,
                  "containers": [{"name": "app", "image": "busybox:1.36", "command": ["sh", "-c", script]}]}
    if init is not None:
        spec["initContainers"] = [{"name": "setup", "image": "busybox:1.36", "command": ["sh", "-c", init]}]
    kube.core.create_namespaced_pod("default", {"metadata": {"name": name}, "spec": spec})


def follower(kube: Kube, name: str, collector: Collector, stop: threading.Event, **options: object) -> LogFollower:
    return LogFollower(kube.api_client, "default", name, "app", collector.queue, stop=stop, **options)  # type: ignore[arg-type]


def texts(collector: Collector) -> list[str]:
    return [line.text for line in collector.lines()]


def app_status(kube: Kube, name: str) -> Any:
    """The app container's status (the client's V1ContainerStatus), None before the kubelet reports one."""
    statuses = kube.core.read_namespaced_pod(name, "default").status.container_statuses or []
    return next((s for s in statuses if s.name == "app"), None)


def test_numbered_lines_survive_repeated_cuts_exactly(sim_factory: Callable[..., SimCluster], collector: Collector,
                                                      stop: threading.Event, start: Start) -> None:
    """500 lines over half a second, the stream cut every 5-100 ms, mid-line included: 1..500, once each."""
    cluster = sim_factory(time_scale=0.1, faults=Faults(log_cut=0.1))
    with kube_for(cluster) as kube:
        make_pod(kube, "counter", NUMBERED)
        reader = start(follower(kube, "counter", collector, stop))
        collector.until(lambda items: collector.ended(), timeout=15, message="LogEnded")
    assert texts(collector) == [f"line {i}" for i in range(1, 501)]
    assert isinstance(reader, LogFollower) and reader.reconnects >= 3
    stamps = [parse_timestamp_ns(line.timestamp) for line in collector.lines()]
    assert all(a is not None and b is not None and a < b for a, b in itertools.pairwise(stamps))
    assert collector.ended() == [LogEnded("default", "counter", "app", "terminated: Completed (exit code 0)")]
    assert isinstance(collector.pull()[-1], LogEnded)
    assert {line[:3] for line in collector.lines()} == {("default", "counter", "app")}


def test_follows_a_container_that_has_not_started_yet(kube: Kube, collector: Collector, stop: threading.Event,
                                                      start: Start) -> None:
    make_pod(kube, "late", 'for i in 1 2 3; do echo "late $i"; done; exit 3', init="sleep 10")
    start(follower(kube, "late", collector, stop))
    collector.until(lambda items: collector.ended(), message="LogEnded")
    assert texts(collector) == ["late 1", "late 2", "late 3"]
    assert collector.ended()[0].reason == "terminated: Error (exit code 3)"


def test_a_long_line_is_cut_with_a_marker_and_the_next_line_survives(kube: Kube, collector: Collector,
                                                                     stop: threading.Event, start: Start) -> None:
    """A 2.6 MB line (ten characters doubled 18 times) against the default 1 MiB limit."""
    make_pod(kube, "wide", 's=0123456789; for i in $(seq 1 18); do s="$s$s"; done; echo before; echo "$s"; '
                           "echo after")
    start(follower(kube, "wide", collector, stop))
    collector.until(lambda items: collector.ended(), message="LogEnded")
    before, cut, after = texts(collector)
    assert (before, after) == ("before", "after")
    limit = 1 << 20
    assert cut == ("0123456789" * (limit // 10 + 1))[:limit] + f" …[line cut at {limit} bytes]"


@pytest.mark.parametrize("limit", [1, 7, 8, 9, 50])
def test_lines_split_across_chunks_and_cut_at_any_limit(kube: Kube, collector: Collector, stop: threading.Event,
                                                        start: Start, limit: int) -> None:
    lengths = [0, 1, 7, 8, 9, 49, 50, 51, 300]
    script = "; ".join(f"printf '%s\\n' {'x' * n}" if n else "echo" for n in lengths) + "; echo 'é€𝄞'"
    make_pod(kube, f"sizes-{limit}", script)
    start(LogFollower(kube.api_client, "default", f"sizes-{limit}", "app", collector.queue, stop=stop,
                      max_line_bytes=limit))
    collector.until(lambda items: collector.ended(), message="LogEnded")
    marker = f" …[line cut at {limit} bytes]"
    expected = ["x" * n if n <= limit else "x" * limit + marker for n in lengths]
    unicode = "é€𝄞".encode()
    expected.append("é€𝄞" if len(unicode) <= limit else
                    unicode[:limit].decode("utf-8", "ignore") + marker)
    assert texts(collector) == expected


def test_tail_lines_and_since_shape_the_first_request(kube: Kube, collector: Collector, stop: threading.Event,
                                                      start: Start) -> None:
    make_pod(kube, "tail", NUMBERED.replace("500", "20"))
    wait_until(lambda: (app_status(kube, "tail") or None) and app_status(kube, "tail").state.terminated,
               message="tail done")
    start(follower(kube, "tail", collector, stop, tail_lines=3))
    collector.until(lambda items: collector.ended(), message="LogEnded")
    assert texts(collector) == ["line 18", "line 19", "line 20"]

    since = Collector()
    start(LogFollower(kube.api_client, "default", "tail", "app", since.queue, stop=stop,
                      since=collector.lines()[1].timestamp))
    since.until(lambda items: since.ended(), message="LogEnded")
    assert texts(since) == ["line 19", "line 20"]


def test_a_restarting_container_is_followed_and_its_previous_instance_readable(
        kube: Kube, collector: Collector, stop: threading.Event, start: Start) -> None:
    make_pod(kube, "crasher", 'echo "boom 1"; echo "boom 2"; exit 1', restart="Always")
    start(follower(kube, "crasher", collector, stop))
    wait_until(lambda: (app_status(kube, "crasher") or None) and app_status(kube, "crasher").restart_count >= 2,
               timeout=10, message="two restarts")
    collector.until(lambda items: texts(collector)[:6] == ["boom 1", "boom 2"] * 3, message="three instances")
    assert not collector.ended()  # restartPolicy Always: the container is never done for good

    previous = Collector()
    start(LogFollower(kube.api_client, "default", "crasher", "app", previous.queue, stop=stop, previous=True))
    previous.until(lambda items: previous.ended(), message="LogEnded")
    assert [(line.text, line.previous) for line in previous.lines()] == [("boom 1", True), ("boom 2", True)]
    assert previous.ended()[0].reason == "previous instance read"


def test_previous_without_a_previous_instance(kube: Kube, collector: Collector, stop: threading.Event,
                                              start: Start) -> None:
    make_pod(kube, "once", "echo hi")
    wait_until(lambda: (app_status(kube, "once") or None) and app_status(kube, "once").state.terminated,
               message="once done")
    start(follower(kube, "once", collector, stop, previous=True))
    collector.until(lambda items: collector.ended(), message="LogEnded")
    assert collector.lines() == []
    assert collector.ended()[0].reason == ('no previous instance: previous terminated container "app" in pod '
                                           '"once" not found')


def test_a_deleted_pod_ends_the_follower(kube: Kube, collector: Collector, stop: threading.Event,
                                         start: Start) -> None:
    make_pod(kube, "doomed", 'while true; do echo tick; sleep 1; done')
    start(follower(kube, "doomed", collector, stop))
    collector.until(lambda items: collector.lines(), message="a first line")
    kube.core.delete_namespaced_pod("doomed", "default", grace_period_seconds=0)
    collector.until(lambda items: collector.ended(), message="LogEnded")
    assert collector.ended()[0].reason in ("pod deleted", "terminated: Error (exit code 137)",
                                           "terminated: Completed (exit code 0)"), collector.ended()
    assert set(texts(collector)) == {"tick"}


def test_a_forbidden_pod_read_ends_with_the_servers_message(sim_factory: Callable[..., SimCluster],
                                                            collector: Collector, stop: threading.Event,
                                                            start: Start) -> None:
    cluster = sim_factory(deny=(DenyRule("get", "pods"),))
    with kube_for(cluster) as kube:
        make_pod(kube, "secret", "echo hi")
        start(follower(kube, "secret", collector, stop))
        collector.until(lambda items: collector.ended(), message="LogEnded")
    assert collector.ended()[0].reason == (
        f'the Kubernetes API server at {cluster.url} refused to get pod "secret" in namespace "default" '
        '(403 Forbidden): pods "secret" is forbidden: User "system:admin" cannot get resource "pods" in API group '
        '"" in the namespace "default"')


def test_stop_ends_a_quiet_stream_promptly(kube: Kube, collector: Collector) -> None:
    stop = threading.Event()
    make_pod(kube, "quiet", "echo hello; sleep infinity")
    reader = follower(kube, "quiet", collector, stop)
    reader.start()
    collector.until(lambda items: collector.lines(), message="hello")
    time.sleep(0.3)
    began = time.monotonic()
    stop.set()
    reader.join(2)
    assert not reader.is_alive() and time.monotonic() - began < STOP_WITHIN
    assert texts(collector) == ["hello"] and not collector.ended()
