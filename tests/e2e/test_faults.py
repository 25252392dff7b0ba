"""The API's faults end to end: the CLI as a process against a simulated cluster that injects them (`--faults`,
time scale 0.02, grace periods scaled alike). Each test asserts the verdict, the exit code and, for logs, the
exact line sequence; the simulator's fault counters prove that the fault did hit."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import DenyRule, Faults
from tests import junit_schema
from tests.bench import fault_matrix
from tests.support import KUBEDOG, CliRun, kube_for, wait_until

SCALE = ["--grace-scale", "0.02", "--color", "never"]
FOREVER = "while true; do sleep 5; done"
SLOW_PULL = {"sim.kubedog-ci.io/pull-seconds": "1000"}
"""A pull that takes 20s at this time scale: progressing, with no failure sign, for as long as a test needs."""
LATE_READY = {"readinessProbe": {"exec": {"command": ["sh", "-c", "exit 0"]}, "initialDelaySeconds": 60}}
"""Ready 1.2s after the start: time for watches to drop, streams to be cut and lines to be printed first."""
NOT_FOUND_IMAGE = "registry.example/app:does-not-exist"


# --- manifests ---------------------------------------------------------------------------------------------------


def pod_spec(script: str = FOREVER, image: str = "busybox:1.36", **container: object) -> dict:
    return {"containers": [{"name": "app", "image": image, "command": ["sh", "-c", script], **container}]}


def deployment(name: str, spec: dict | None = None, annotations: dict | None = None) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                                  "spec": spec or pod_spec()}}}


def counting(count: int, every: int = 20) -> str:
    """Prints `line 1` to `line COUNT`, sleeping a (simulated) second every `every` lines, so the stream lives
    long enough to be cut many times."""
    return (f'i=1; while [ $i -le {count} ]; do echo "line $i"; if [ $((i % {every})) -eq 0 ]; then sleep 1; fi; '
            f"i=$((i+1)); done")


def job(name: str, script: str) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script]}]}}}}


# --- running the CLI -----------------------------------------------------------------------------------------------


class Run(CliRun):
    """A finished kubedog process, with its log lines and reports."""

    def logs(self, container: str) -> list[str]:
        """The text of every log line of `container`, in the order printed."""
        marker = f"[{container}] | "
        return [line.split(marker, 1)[1] for line in self.out.splitlines() if marker in line]

    def reports(self) -> list[str]:
        """The status and event lines before the summary (`deploy/web ready: …`, `… Warning BackOff: …`)."""
        lines = self.out.splitlines()[:self.summary_start()]
        return [line for line in lines if re.match(r"\S+/\S+ ", line) and "] | " not in line
                and " FAILED: " not in line]


def kubedog(cluster: SimCluster, *args: str, timeout: float = 60) -> Run:
    done = subprocess.run([*KUBEDOG, *args, "--kubeconfig", cluster.kubeconfig, *SCALE], capture_output=True,
                          text=True, timeout=timeout)
    return Run(done.returncode, done.stdout, done.stderr)


def apply_and_track(cluster: SimCluster, tmp_path: Path, docs: list[dict], *extra: str) -> Run:
    path = tmp_path / f"manifests-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return kubedog(cluster, "apply-and-track", "-f", str(path), "--timeout", "45s", *extra)


def injected(cluster: SimCluster) -> Counter:
    """The faults the simulator injected so far, by name."""
    assert cluster.server is not None
    return Counter(cluster.server.stats.snapshot()["faults"])


class Lines:
    """A running process's stdout, read on a thread (the pipe never fills) and kept line by line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._lock = threading.Lock()
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 20) -> str:
        def found() -> str | None:
            with self._lock:
                return next((line for line in self.lines if predicate(line)), None)

        return str(wait_until(found, timeout=timeout, message=f"{what}; output so far:\n" + "\n".join(self.lines)))

    def finish(self, timeout: float) -> Run:
        """Wait for the process to exit (killing it if it does not) and return its run."""
        try:
            self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self._thread.join(timeout=5)
        assert self.process.stderr is not None
        return Run(self.process.returncode, "\n".join(self.lines), self.process.stderr.read())


def start(cluster: SimCluster, *args: str) -> Lines:
    return Lines(subprocess.Popen([*KUBEDOG, *args, "--kubeconfig", cluster.kubeconfig, *SCALE],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))


@pytest.fixture
def faulty(sim_factory: Callable[..., SimCluster]) -> Callable[..., SimCluster]:
    """Start a cluster injecting `spec` (the `--faults` syntax), with other SimConfig settings as keywords."""
    return lambda spec="", **settings: sim_factory(faults=Faults.parse(spec), **settings)


# --- verdicts under each fault ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["watch-drop=300ms", "gone=0.5,watch-drop=300ms", "http-error=0.3", "latency=50ms"])
def test_right_verdicts_under_faults(spec: str, faulty: Callable[..., SimCluster], tmp_path: Path) -> None:
    cluster = faulty(spec)
    script = f"echo web 1; echo web 2; echo web 3; {FOREVER}"
    settings = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}
    web = apply_and_track(cluster, tmp_path, [settings, deployment("web", pod_spec(script, **LATE_READY))])
    assert web.code == 0, web
    assert web.verdicts() == {"deploy/web": "ready"}
    assert web.out.splitlines()[:2] == ["configmap/settings created", "deployment.apps/web created"], web
    assert web.logs("app") == ["web 1", "web 2", "web 3"], web
    assert web.reports()[-1] == 'deploy/web ready: deployment "web" successfully rolled out', web

    bad = apply_and_track(cluster, tmp_path, [deployment("bad", pod_spec(image=NOT_FOUND_IMAGE))])
    assert bad.code == 1, bad
    assert bad.verdicts() == {"deploy/bad": "FAILED"}
    headline = bad.headline("deploy/bad")
    assert headline.startswith("deploy/bad FAILED: po/bad-") and " [app] " in headline, bad
    assert "ErrImagePull: " in headline or "ImagePullBackOff: " in headline, bad
    assert f'"{NOT_FOUND_IMAGE}"' in headline and "not found" in headline, bad

    for run in (web, bad):  # a relist or a resumed watch never prints a status or an event twice
        assert [line for line, count in Counter(run.reports()).items() if count > 1] == [], run
    expected = {name for name in ("watch-drop", "gone", "http-error", "latency") if name in spec}
    assert {name for name, count in injected(cluster).items() if count >= 2} >= expected, injected(cluster)


def test_http_errors_apply_every_object_once(faulty: Callable[..., SimCluster], tmp_path: Path) -> None:
    cluster = faulty("http-error=0.3")
    docs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"config{n}"}} for n in range(3)]
    docs += [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
              "spec": {"selector": {"app": "web0"}, "ports": [{"port": 80}]}}]
    docs += [deployment(f"web{n}") for n in range(2)] + [job("migrate", "echo migrated")]
    run = apply_and_track(cluster, tmp_path, docs)
    assert run.code == 0, run
    assert run.out.splitlines()[:7] == [
        "configmap/config0 created", "configmap/config1 created", "configmap/config2 created", "service/web created",
        "deployment.apps/web0 created", "deployment.apps/web1 created", "job.batch/migrate created"], run
    assert run.verdicts() == {"svc/web": "ready", "deploy/web0": "ready", "deploy/web1": "ready",
                              "job/migrate": "ready"}, run
    assert run.logs("main") == ["migrated"], run
    assert injected(cluster)["http-error"] >= 3, injected(cluster)


# --- logs -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["apply-and-track", "rollout track"])
def test_log_cuts_lose_no_line_and_repeat_none(command: str, faulty: Callable[..., SimCluster],
                                               tmp_path: Path) -> None:
    cluster = faulty("log-cut=200ms")
    count = job("count", counting(2000))
    if command == "apply-and-track":
        run = apply_and_track(cluster, tmp_path, [count])
    else:
        with kube_for(cluster) as kube:
            kube.batch.create_namespaced_job("default", count)
        run = kubedog(cluster, "rollout", "track", "job/count", "--logs-since", "all", "--timeout", "45s")
    assert run.code == 0, run
    assert run.verdicts() == {"job/count": "ready"}
    assert run.logs("main") == [f"line {n}" for n in range(1, 2001)], run.err
    assert injected(cluster)["log-cut"] >= 5, injected(cluster)


def test_a_restarting_container_is_followed_and_its_crash_shown(faulty: Callable[..., SimCluster],
                                                                tmp_path: Path) -> None:
    cluster = faulty()
    never_ready = {"readinessProbe": {"exec": {"command": ["sh", "-c", "exit 0"]}, "initialDelaySeconds": 3000}}
    crashing = pod_spec('echo "run 1"; sleep 30; echo "run 2"; sleep 30; echo "run 3"; exit 1', **never_ready)
    run = apply_and_track(cluster, tmp_path, [deployment("crash", crashing)], "--failures-allowed-per-replica", "2")
    assert run.code == 1, run
    assert run.headline("deploy/crash").endswith("[app] Error: exited with code 1"), run
    block = run.block("deploy/crash")
    assert "  restarts:  2" in block and "  budget:    3 failures counted, 2 allowed" in " ".join(block), run
    title = next(i for i, line in enumerate(block) if line.startswith("  last 3 log lines of app ("))
    assert block[title + 1:title + 4] == ["    | run 1", "    | run 2", "    | run 3"], run
    # Each instance runs 1.2s: the first is followed from its start, the next two after their restarts.
    assert run.logs("app") == ["run 1", "run 2", "run 3"] * 3, run


# --- a tracked resource deleted ------------------------------------------------------------------------------------


def test_deleted_while_tracked_fails_the_run(faulty: Callable[..., SimCluster]) -> None:
    cluster = faulty("watch-drop=300ms")
    with kube_for(cluster) as kube:
        kube.apps.create_namespaced_deployment("default", deployment("doomed", annotations=SLOW_PULL,
                                                                     spec=pod_spec(image="registry.example/doomed:1")))
        tracking = start(cluster, "rollout", "track", "deploy/doomed", "--timeout", "45s")
        tracking.wait_for(lambda line: line.startswith("deploy/doomed progressing"), "the progressing status")
        kube.apps.delete_namespaced_deployment("doomed", "default")
        run = tracking.finish(timeout=20)
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/doomed": "FAILED"}
    assert run.headline("deploy/doomed") == \
        'deploy/doomed FAILED: Deleted: deployment "doomed" was deleted while tracked'


def test_deleted_while_followed_is_reported_and_followed_on(faulty: Callable[..., SimCluster]) -> None:
    cluster = faulty("watch-drop=300ms")
    with kube_for(cluster) as kube:
        kube.apps.create_namespaced_deployment("default", deployment("doomed", annotations=SLOW_PULL,
                                                                     spec=pod_spec(image="registry.example/doomed:1")))
        following = start(cluster, "follow", "deploy/doomed")
        following.wait_for(lambda line: line.startswith("deploy/doomed progressing"), "the progressing status")
        kube.apps.delete_namespaced_deployment("doomed", "default")
        following.wait_for(lambda line: line.startswith("deploy/doomed progressing: deployment \"doomed\" was "
                                                        "deleted"), "the deletion")
        assert following.process.poll() is None, "follow must not end on a deletion"
        following.process.send_signal(signal.SIGINT)
        run = following.finish(timeout=20)
    assert run.code == 0, run
    assert run.verdicts() == {"deploy/doomed": "progressing"}
    assert "interrupted by SIGINT" in run.out


# --- cluster errors ------------------------------------------------------------------------------------------------


def closed_port_kubeconfig(path: Path) -> str:
    """A kubeconfig whose server is a local port nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "x", "user": {}}], "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}))
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("command", [["rollout", "track", "deploy/web"], ["apply-and-track", "-f", "-"]])
def test_an_unreachable_api_server_is_a_cluster_error_after_the_api_timeout(command: list[str],
                                                                             tmp_path: Path) -> None:
    server = closed_port_kubeconfig(tmp_path / "kubeconfig")
    began = time.monotonic()
    done = subprocess.run([*KUBEDOG, *command, "--kubeconfig", str(tmp_path / "kubeconfig"), "--api-timeout", "2s"],
                          input=yaml.safe_dump(deployment("web")), capture_output=True, text=True, timeout=30)
    took = time.monotonic() - began
    assert done.returncode == 5, done
    assert 2 <= took < 10, took
    message = done.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith(f"kubedog: cannot discover the served resource types: the Kubernetes API server at "
                              f"{server} has not answered successfully for "), message
    assert "(API timeout 2s)" in message and "Connection refused" in message, message


@pytest.mark.parametrize("command", [["rollout", "track", "deploy/web"], ["apply-and-track", "-f", "-"]])
def test_unauthorized_names_the_refused_request(command: list[str], sim_factory: Callable[..., SimCluster],
                                                tmp_path: Path) -> None:
    cluster = sim_factory(token="the-right-token")
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    config["users"][0]["user"] = {"token": "a-wrong-token"}
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    done = subprocess.run([*KUBEDOG, *command, "--kubeconfig", str(kubeconfig)],
                          input=yaml.safe_dump(deployment("web")), capture_output=True, text=True, timeout=30)
    assert done.returncode == 5, done
    assert done.stderr.strip() == (f"kubedog: the Kubernetes API server at {cluster.url} refused to discover the "
                                   "served resource types (401 Unauthorized): Unauthorized"), done


@pytest.mark.parametrize("verb", ["list", "watch"])
def test_forbidden_watch_names_the_verb_resource_and_namespace(verb: str, sim_factory: Callable[..., SimCluster],
                                                               ) -> None:
    cluster = sim_factory(deny=(DenyRule(verb, "deployments.apps", "default"),))
    with kube_for(cluster) as kube:
        kube.apps.create_namespaced_deployment("default", deployment("web", annotations=SLOW_PULL,
                                                                     spec=pod_spec(image="registry.example/web:1")))
    run = kubedog(cluster, "rollout", "track", "deploy/web", "--timeout", "45s")
    assert run.code == 5, run
    assert run.err.strip() == (
        f'kubedog: the Kubernetes API server at {cluster.url} refused to {verb} deployments.apps "web" in namespace '
        f'"default" (403 Forbidden): deployments.apps "web" is forbidden: User "system:admin" cannot {verb} resource '
        f'"deployments" in API group "apps" in the namespace "default"'), run
    assert "Traceback" not in run.err


# --- signals -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_with_a_summary_and_a_junit_report(signum: int, code: int,
                                                                  faulty: Callable[..., SimCluster],
                                                                  tmp_path: Path) -> None:
    cluster = faulty("watch-drop=300ms")
    chatty = pod_spec("i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done", **LATE_READY)
    with kube_for(cluster) as kube:
        kube.apps.create_namespaced_deployment("default", deployment("chatty", chatty))
        kube.apps.create_namespaced_deployment("default", deployment("slow", annotations=SLOW_PULL,
                                                                     spec=pod_spec(image="registry.example/slow:1")))
    report = tmp_path / "junit.xml"
    tracking = start(cluster, "rollout", "track", "deploy/chatty", "deploy/slow", "--timeout", "45s",
                     "--junit", str(report))
    tracking.wait_for(lambda line: line.startswith("deploy/chatty ready"), "chatty ready (and still logging)")
    tracking.process.send_signal(signum)
    sent = time.monotonic()
    run = tracking.finish(timeout=20)
    assert time.monotonic() - sent < 3, run  # every thread stopped: nothing held the exit back
    assert run.code == code, run
    assert f"interrupted by {signal.Signals(signum).name}" in run.out
    assert run.verdicts() == {"deploy/chatty": "ready", "deploy/slow": "progressing"}, run
    assert "Traceback" not in run.err
    junit_schema.validate(str(report))
    assert report.read_text().count('type="Cancelled"') == 1


def test_a_second_sigint_exits_at_once(faulty: Callable[..., SimCluster]) -> None:
    cluster = faulty()
    with kube_for(cluster) as kube:
        kube.apps.create_namespaced_deployment("default", deployment("slow", annotations=SLOW_PULL,
                                                                     spec=pod_spec(image="registry.example/slow:1")))
    tracking = start(cluster, "rollout", "track", "deploy/slow", "--timeout", "45s")
    tracking.wait_for(lambda line: line.startswith("deploy/slow progressing"), "the progressing status")
    tracking.process.send_signal(signal.SIGINT)
    tracking.process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    run = tracking.finish(timeout=20)
    assert time.monotonic() - sent < 2, run
    assert run.code == 130, run
    assert "Traceback" not in run.err


# --- many at once, and everything at once -------------------------------------------------------------------------


def test_five_hundred_resources_under_watch_drops_and_http_errors(faulty: Callable[..., SimCluster]) -> None:
    cluster = faulty("watch-drop=300ms,http-error=0.1", node_pods=250)
    api, labels, broken = cluster.api, {"batch": "many"}, {7, 57, 107, 157, 207}
    for n in range(250):
        image = NOT_FOUND_IMAGE if n in broken else "busybox:1.36"
        body = deployment(f"web{n}", pod_spec(image=image))
        body["metadata"]["labels"] = labels
        api.create(api.rt("apps/deployments"), "default", body)
        api.create(api.rt("/pods"), "default", {"apiVersion": "v1", "kind": "Pod",
                                                "metadata": {"name": f"po{n}", "labels": labels},
                                                "spec": pod_spec(image=image)})
    run = kubedog(cluster, "rollout", "track", "deploy,po", "-l", "batch=many", "--no-fail-fast", "-q",
                  "--timeout", "60s", timeout=90)
    assert run.code == 1, run
    verdicts = run.verdicts()
    assert len(verdicts) == 500, run
    failed = {target for target, verdict in verdicts.items() if verdict != "ready"}
    assert failed == {f"{kind}/{prefix}{n}" for kind, prefix in (("deploy", "web"), ("po", "po")) for n in broken}, run
    assert all(verdicts[target] == "FAILED" for target in failed), run
    assert injected(cluster)["watch-drop"] >= 4 and injected(cluster)["http-error"] >= 1, injected(cluster)


def test_all_faults_at_once_judge_right_and_print_every_line_once(tmp_path: Path) -> None:
    """One trial of tests/bench/fault_matrix.py, every fault injected together."""
    result = fault_matrix.trial(fault_matrix.FAULTS["all"], tmp_path)
    assert (result["wrong_verdicts"], result["lost_lines"], result["duplicate_lines"], result["in_order"]) == \
        (0, 0, 0, True), result
    assert set(result["injected"]) >= {"watch-drop", "gone", "http-error", "latency"}, result  # log-cut: see above
