"""kubedog_ci as a library, through its public API only, against the simulator (whose SimCluster gives the
kubeconfig). Time scale 0.02, with grace_scale=0.02 to match."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from kubernetes import client, config

import kubedog_ci
from kubedog_ci.sim.cluster import SimCluster
from tests.support import running_cluster

FAST = {"grace_scale": 0.02, "timeout": 30}


def deployment(name: str, image: str = "busybox:1.36", script: str = "echo started; while true; do sleep 5; done",
               extra: str = "") -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - {{name: app, image: "{image}", command: [sh, -c, "{script}"]{extra}}}
"""


JOB = """\
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: main, image: busybox:1.36, command: [sh, -c, "echo one; echo two; echo three"]}
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with running_cluster() as started:
        yield started


@pytest.fixture
def namespace(cluster: SimCluster, request: pytest.FixtureRequest) -> str:
    name = request.node.name.lower().replace("_", "-")[:50].strip("-")
    kubedog_ci.apply_and_track([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}],
                               kubeconfig=cluster.kubeconfig, **FAST)
    return name


class Recorder(kubedog_ci.Feed):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def added(self, resource: str, ready: bool) -> None:
        self.calls.append(("added", resource, ready))

    def added_replicaset(self, resource: str, name: str) -> None:
        self.calls.append(("added_replicaset", resource))

    def added_pod(self, resource: str, name: str) -> None:
        self.calls.append(("added_pod", resource))

    def pod_log(self, resource: str, pod: str, container: str, lines: list[str]) -> None:
        self.calls.append(("pod_log", resource, container, tuple(lines)))

    def ready(self, resource: str) -> None:
        self.calls.append(("ready", resource))

    def failed(self, resource: str, diagnosis: kubedog_ci.Diagnosis) -> None:
        self.calls.append(("failed", resource, diagnosis.reason, diagnosis.headline))

    def pod_error(self, resource: str, pod: str, container: str, reason: str, message: str) -> None:
        self.calls.append(("pod_error", resource, container, reason))

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


def test_a_healthy_deployment_in_order(cluster: SimCluster, namespace: str) -> None:
    feed = Recorder()
    outcome = kubedog_ci.apply_and_track([deployment("web")], namespace=namespace, kubeconfig=cluster.kubeconfig,
                                         feed=feed, **FAST)
    assert outcome.ok, outcome
    assert [(r.resource, r.namespace, r.verdict) for r in outcome.results] == [("deploy/web", namespace, "ready")]
    order = [name for name in feed.names() if name in ("added", "added_replicaset", "added_pod", "pod_log", "ready")]
    assert order[:3] == ["added", "added_replicaset", "added_pod"], feed.calls
    assert order.index("pod_log") < order.index("ready"), feed.calls
    assert ("pod_log", "deploy/web", "app", ("started",)) in feed.calls, feed.calls
    tracked = Recorder()
    again = kubedog_ci.track(["deploy/web"], namespace=namespace, kubeconfig=cluster.kubeconfig, feed=tracked, **FAST)
    assert again.ok and tracked.calls[0] == ("added", "deploy/web", True), tracked.calls


def test_an_image_that_does_not_exist_fails_with_the_reason(cluster: SimCluster, namespace: str) -> None:
    feed = Recorder()
    outcome = kubedog_ci.apply_and_track([deployment("api", image="registry.example/api:does-not-exist")],
                                         namespace=namespace, kubeconfig=cluster.kubeconfig, feed=feed, **FAST)
    assert not outcome.ok
    (result,) = outcome.results
    assert (result.verdict, result.reason) == ("failed", "ErrImagePull"), result
    failed = next(call for call in feed.calls if call[0] == "failed")
    assert failed[2] == "ErrImagePull" and failed[3].startswith("deploy/api FAILED: po/api-"), failed
    assert ("pod_error", "deploy/api", "app", "ErrImagePull") in feed.calls, feed.calls


def test_a_jobs_log_lines(cluster: SimCluster, namespace: str) -> None:
    feed = Recorder()
    outcome = kubedog_ci.apply_and_track([JOB], namespace=namespace, kubeconfig=cluster.kubeconfig, feed=feed,
                                         **FAST)
    assert outcome.ok, outcome
    lines = [line for call in feed.calls if call[0] == "pod_log" for line in call[3]]
    assert lines == ["one", "two", "three"], feed.calls


def test_stop_tracking_from_pod_log_returns_promptly_with_no_thread_left(cluster: SimCluster,
                                                                        namespace: str) -> None:
    never_ready = ", readinessProbe: {exec: {command: [sh, -c, 'exit 1']}, periodSeconds: 1}"
    chatty = deployment("chatty", script="i=0; while true; do i=$((i+1)); echo line-$i; sleep 1; done",
                        extra=never_ready)
    kubedog_ci.apply_and_track([chatty], namespace=namespace, kubeconfig=cluster.kubeconfig, timeout=0.5,
                               grace_scale=0.02)  # applied; it never becomes ready
    before = set(threading.enumerate())

    class StopAtFirstLine(kubedog_ci.Feed):
        lines: list[str] = []

        def pod_log(self, resource: str, pod: str, container: str, lines: list[str]) -> None:
            self.lines.extend(lines)
            raise kubedog_ci.StopTracking

    started = time.monotonic()
    feed = StopAtFirstLine()
    outcome = kubedog_ci.track(["deploy/chatty"], namespace=namespace, kubeconfig=cluster.kubeconfig, feed=feed,
                               logs_since=None, **FAST)
    assert time.monotonic() - started < 5
    assert outcome.stopped and not outcome.ok and feed.lines[0] == "line-1", outcome
    assert outcome.results[0].verdict == "progressing", outcome
    ours = ("informer ", "logs ", "log-tail", "kubedog-")  # the simulator's own request threads are not ours
    left = [thread for thread in set(threading.enumerate()) - before if thread.name.startswith(ours)]
    assert left == [], left


def test_an_exception_from_a_callback_is_raised_from_track(cluster: SimCluster, namespace: str) -> None:
    class Broken(kubedog_ci.Feed):
        def added(self, resource: str, ready: bool) -> None:
            raise KeyError("a bug in the feed")

    with pytest.raises(KeyError, match="a bug in the feed"):
        kubedog_ci.apply_and_track([deployment("web")], namespace=namespace, kubeconfig=cluster.kubeconfig,
                                   feed=Broken(), **FAST)


def test_a_passed_in_api_client(cluster: SimCluster, namespace: str) -> None:
    kubedog_ci.apply_and_track([deployment("web")], namespace=namespace, kubeconfig=cluster.kubeconfig, **FAST)
    api = config.new_client_from_config(config_file=cluster.kubeconfig)
    assert isinstance(api, client.ApiClient)
    outcome = kubedog_ci.track([("Deployment", "web", namespace)], api_client=api, **FAST)
    assert outcome.ok and outcome.results[0].resource == "deploy/web", outcome


def test_errors_are_exceptions(cluster: SimCluster, namespace: str, tmp_path) -> None:
    with pytest.raises(kubedog_ci.InputError, match='doesn\'t have a resource type "gadget"'):
        kubedog_ci.track(["gadget/x"], namespace=namespace, kubeconfig=cluster.kubeconfig, **FAST)
    with pytest.raises(kubedog_ci.ClusterError, match="no such file"):
        kubedog_ci.track(["deploy/web"], kubeconfig=str(tmp_path / "missing"))
    with pytest.raises(kubedog_ci.InputError, match="not KIND/NAME"):
        kubedog_ci.track(["web"], kubeconfig=cluster.kubeconfig)
    rejected = deployment("web").replace("replicas: 1", "replicas: -1")
    with pytest.raises(kubedog_ci.ApplyError, match="rejected by the API server"):
        kubedog_ci.apply_and_track([rejected], namespace=namespace, kubeconfig=cluster.kubeconfig, **FAST)


def test_the_iterator_form(cluster: SimCluster, namespace: str) -> None:
    kubedog_ci.apply_and_track([JOB], namespace=namespace, kubeconfig=cluster.kubeconfig, **FAST)
    records = list(kubedog_ci.watch(["job/migrate"], namespace=namespace, kubeconfig=cluster.kubeconfig,
                                    logs_since=None, **FAST))
    names = [record.name for record in records]
    assert names[:2] == ["added", "added_pod"] and "ready" in names, names  # a finished Job's log may come after
    lines = [line for record in records if record.name == "pod_log" for line in record.args["lines"]]
    assert lines == ["one", "two", "three"], records
    for record in kubedog_ci.watch(["job/migrate"], namespace=namespace, kubeconfig=cluster.kubeconfig, **FAST):
        assert record.resource == "job/migrate"
        break  # closing the iterator early ends tracking


def test_the_package_import_is_light_and_documented() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import sys, kubedog_ci; print('kubernetes' in sys.modules); "
                           "help(kubedog_ci.track)"], capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines()[0] == "False", done.stdout
    assert "Track `resources` until each is ready" in done.stdout
    assert sorted(kubedog_ci.__all__) == sorted(["ApplyError", "ClusterError", "Diagnosis", "Event", "Feed",
                                                 "InputError", "KubedogError", "Outcome", "Record", "Result",
                                                 "StopTracking", "apply_and_track", "track", "watch"])


def test_readmes_example_runs(cluster: SimCluster) -> None:
    """README's "Use it as a library" example, run as written against the simulator, so it cannot rot."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = re.search(r"<!-- library-example -->\n```python\n(.*?)```", readme, re.S)
    assert code is not None
    done = subprocess.run([sys.executable, "-c", code.group(1)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "KUBECONFIG": cluster.kubeconfig})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "job/hello " in done.stdout and "| hello from the job" in done.stdout, done.stdout
    assert "job/hello ready Complete" in done.stdout, done.stdout
