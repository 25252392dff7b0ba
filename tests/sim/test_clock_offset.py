"""`--clock-offset`: a cluster whose wall clock is minutes ahead of or behind the CI runner's, as real ones drift.

Every timestamp the simulator writes (creationTimestamp, conditions, container start, Events, log lines, the HTTP
Date header) is on the shifted clock, and so is what it reads back (`sinceTime`, `sinceSeconds`, the ages in
kubectl's tables); the time scale still speeds up every delay.
"""

from __future__ import annotations

import email.utils
import json
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kubernetes import client, config

from kubedog_ci.sim.clock import Clock, parse_time
from kubedog_ci.sim.logs import parse_rfc3339_ns
from tests.support import KUBECTL, Kube, cluster_kube, namespace_name, requires_kubectl, wait_until

OFFSETS = {"ahead-5m": 300.0, "behind-5m": -300.0}
SLACK = timedelta(seconds=10)
"""How far a timestamp may lie from the shifted now: second precision, and the time a test takes."""


@pytest.fixture(scope="module", params=list(OFFSETS.values()), ids=list(OFFSETS))
def offset(request: pytest.FixtureRequest) -> float:
    return request.param


@pytest.fixture(scope="module")
def shifted(offset: float) -> Iterator[Kube]:
    with cluster_kube(clock_offset=offset) as kube:
        yield kube


@pytest.fixture
def ns(shifted: Kube, request: pytest.FixtureRequest) -> str:
    name = namespace_name(request)[:55].rstrip("-")
    shifted.core.create_namespace({"metadata": {"name": name}})
    return name


def cluster_now(offset: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=offset)


def assert_shifted(stamp: str | datetime | None, offset: float) -> None:
    """`stamp` is the cluster's now (minutes away from this machine's), not this machine's."""
    assert stamp is not None
    moment = parse_time(stamp) if isinstance(stamp, str) else stamp
    assert abs(moment - cluster_now(offset)) < SLACK, (moment, offset)


def started_pod(kube: Kube, ns: str, name: str, script: str) -> client.V1Pod:
    kube.core.create_namespaced_pod(ns, {"metadata": {"name": name}, "spec": {
        "nodeName": "sim-worker", "terminationGracePeriodSeconds": 0,
        "containers": [{"name": "app", "image": "busybox:1.36", "command": ["sh", "-c", script]}]}})
    return wait_until(lambda: (p := kube.core.read_namespaced_pod(name, ns)).status.phase == "Running" and p,
                      timeout=20, message=f"pod {name} running")


def log(kube: Kube, ns: str, name: str, **query: str) -> str:
    """The pod's log with raw query parameters (the client has no sinceTime)."""
    url = f"{kube.cluster.url}/api/v1/namespaces/{ns}/pods/{name}/log?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


def test_object_condition_and_container_times_are_on_the_cluster_clock(shifted: Kube, ns: str,
                                                                       offset: float) -> None:
    pod = started_pod(shifted, ns, "clocked", "echo one; sleep 3600")
    assert_shifted(pod.metadata.creation_timestamp, offset)
    assert_shifted(shifted.core.read_namespace(ns).metadata.creation_timestamp, offset)
    assert_shifted(pod.status.start_time, offset)
    assert_shifted(pod.status.container_statuses[0].state.running.started_at, offset)
    for condition in pod.status.conditions:
        assert_shifted(condition.last_transition_time, offset)
    shifted.apps.create_namespaced_deployment(ns, {"metadata": {"name": "web"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    conditions = wait_until(lambda: (shifted.apps.read_namespaced_deployment_status("web", ns).status or
                                     client.V1DeploymentStatus()).conditions, message="the Deployment's conditions")
    for condition in conditions:
        assert_shifted(condition.last_update_time, offset)
        assert_shifted(condition.last_transition_time, offset)


def test_event_times_and_names_are_on_the_cluster_clock(shifted: Kube, ns: str, offset: float) -> None:
    started_pod(shifted, ns, "evented", "sleep 3600")
    events = wait_until(lambda: shifted.core.list_namespaced_event(ns).items, message="the pod's Events")
    for event in events:
        assert_shifted(event.first_timestamp, offset)
        assert_shifted(event.last_timestamp, offset)
        suffix = int(event.metadata.name.rsplit(".", 1)[1], 16)  # the recorder names Events by UnixNano
        assert abs(suffix / 1e9 - cluster_now(offset).timestamp()) < SLACK.total_seconds()
    listed = shifted.events.list_namespaced_event(ns, _preload_content=False)  # events.k8s.io/v1, as JSON
    for event in json.loads(listed.data)["items"]:
        assert_shifted(event["deprecatedFirstTimestamp"], offset)
        assert_shifted(event["deprecatedLastTimestamp"], offset)


def test_every_response_has_a_date_header_on_the_cluster_clock(shifted: Kube, ns: str, offset: float) -> None:
    started_pod(shifted, ns, "dated", "echo one; sleep 3600")
    base = shifted.cluster.url
    for path in ("/version", "/healthz", f"/api/v1/namespaces/{ns}/pods", f"/api/v1/namespaces/{ns}/pods/dated/log",
                 "/api/v1/namespaces/nope/pods/nothing", "/no/such/path"):
        request = urllib.request.Request(base + path)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                date = answer.headers["Date"]
        except urllib.error.HTTPError as err:
            date = err.headers["Date"]
        assert date, path
        assert_shifted(email.utils.parsedate_to_datetime(date), offset)


def test_log_timestamps_and_since_are_read_on_the_cluster_clock(shifted: Kube, ns: str, offset: float) -> None:
    started_pod(shifted, ns, "talker", "echo one; sleep 3600")
    stamped = wait_until(lambda: log(shifted, ns, "talker", timestamps="true"), message="the log line")
    stamp, text = stamped.strip().split(" ", 1)
    assert text == "one"
    assert_shifted(datetime.fromtimestamp(parse_rfc3339_ns(stamp) / 1e9, UTC), offset)

    def since(moment: datetime) -> str:
        return log(shifted, ns, "talker", sinceTime=moment.strftime("%Y-%m-%dT%H:%M:%SZ"))

    assert since(cluster_now(offset) - timedelta(seconds=60)) == "one\n"
    assert since(cluster_now(offset) + timedelta(seconds=60)) == ""
    # a minute ago on this machine's clock: after the line when the cluster is behind, before it when ahead
    assert since(datetime.now(UTC) - timedelta(seconds=60)) == ("one\n" if offset > 0 else "")
    assert log(shifted, ns, "talker", sinceSeconds="60") == "one\n"
    assert log(shifted, ns, "talker", sinceTime=stamp) == "one\n"  # a reader resuming at the line it saw


def test_the_time_scale_still_speeds_up_delays(shifted: Kube, ns: str) -> None:
    started_pod(shifted, ns, "sleeper", "sleep 100; echo awake; sleep 3600")
    wait_until(lambda: "awake" in log(shifted, ns, "sleeper"), timeout=15,
               message="100 simulated seconds at the default time scale")


@pytest.mark.kubectl
@requires_kubectl
def test_kubectl_ages_are_measured_on_the_cluster_clock(shifted: Kube, ns: str) -> None:
    started_pod(shifted, ns, "aged", "sleep 3600")
    done = subprocess.run([KUBECTL or "kubectl", "--kubeconfig", shifted.cluster.kubeconfig, "get", "pod", "aged",
                           "-n", ns, "--no-headers"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"\d+s", done.stdout.split()[-1]), done.stdout  # seconds old, not 5m or <invalid>


def test_the_clock_is_shifted_for_this_cluster_only() -> None:
    assert abs(Clock().time() - datetime.now(UTC).timestamp()) < 1
    assert abs(Clock(-300).now() - (datetime.now(UTC) - timedelta(minutes=5))) < timedelta(seconds=1)


def test_kubedog_sim_serve_clock_offset(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    proc = subprocess.Popen([sys.executable, "-m", "kubedog_ci.cli.main", "sim", "serve", "--kubeconfig-out",
                             str(kubeconfig), "--time-scale", "0.05", "--clock-offset", "-5m"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        with urllib.request.urlopen(f"{url}/version", timeout=10) as answer:
            assert_shifted(email.utils.parsedate_to_datetime(answer.headers["Date"]), -300)
        api = config.new_client_from_config(config_file=str(kubeconfig))
        created = client.CoreV1Api(api).create_namespace({"metadata": {"name": "late"}})
        assert_shifted(created.metadata.creation_timestamp, -300)
        api.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
