"""Starting, running and stopping containers: kuberuntime's startContainer, the image manager and the prober.

A start attempt goes through the same gates as the real kubelet (crash-loop back-off, image pull with its
own back-off, container config), records the same events, and on success runs the container's program on
the simulation loop: output goes to the pod log, sleeps become timers, the exit code ends the instance.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Protocol

from kubedog_ci.sim import shell
from kubedog_ci.sim.config import ANNOTATION_PREFIX, annotation_seconds
from kubedog_ci.sim.kubelet import env as envmod
from kubedog_ci.sim.kubelet import images, mounts, probes
from kubedog_ci.sim.kubelet.backoff import Backoff, go_duration
from kubedog_ci.sim.kubelet.state import Container, Instance, PodState, ProbeWorker

if TYPE_CHECKING:  # Host's annotation only: the controllers package imports controllers.kubelet, which imports us
    from kubedog_ci.sim.controllers.base import Context

PULL_SECONDS = 2.0
"""A first pull of an image on a node, unless the pod's pull-seconds annotation says otherwise."""
REPULL_SECONDS = 0.5
"""imagePullPolicy Always on a node that already has the image: only the manifest is fetched."""
ERROR_RESYNC_SECONDS = 2.0
"""How soon the pod worker retries after a failed pull (then it finds the image back-off)."""
CONFIG_RESYNC_SECONDS = 10.0
"""The pod worker's back-off after other start errors (InvalidImageName, CreateContainerConfigError…)."""
MIN_GRACE_SECONDS = 2.0
"""minimumGracePeriodInSeconds: every kill gives the container at least this long."""
_EPSILON = 1e-3
_STEPS_PER_TURN = 256
_LOG_TAIL_LINES, _LOG_TAIL_BYTES = 80, 2048


class Host(Protocol):
    """What the runtime needs from the kubelet controller."""

    ctx: Context

    def now(self) -> float: ...
    def event(self, st: PodState, kind: str, reason: str, message: str, field_path: str | None = None) -> None: ...
    def mark_dirty(self, st: PodState) -> None: ...
    def resync(self, st: PodState, after: float) -> None: ...
    def block(self, st: PodState) -> None: ...
    def container_exited(self, st: PodState) -> None: ...
    def allocatable(self, st: PodState) -> dict[str, str]: ...


class Runtime:
    """Container lifecycle for every pod of every simulated node."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.ctx = host.ctx
        self.loop = host.ctx.loop
        self.images: dict[str, set[str]] = {}
        self._pulls: dict[tuple[str, str], float] = {}

    # --- start attempts ---------------------------------------------------------------------------------

    def start(self, st: PodState, c: Container) -> None:
        """One start attempt (SyncPod's start helper): back-off, image, config, then run."""
        now = self.host.now()
        if c.backoff_image != c.spec.get("image", ""):
            c.backoff_image = c.spec.get("image", "")
            c.crash, c.pull, c.pull_error = Backoff(), Backoff(), ""
        inst = c.instance
        if inst is not None and not inst.running:
            if c.crash.in_backoff_since(inst.finished, now):
                self.host.event(st, "Warning", "BackOff", f"Back-off restarting failed container {c.name} in pod "
                                f"{st.uid_name}", c.field_path)
                c.reason = ("CrashLoopBackOff", f"back-off {go_duration(c.crash.delay)} restarting failed "
                            f"container={c.name} pod={st.uid_name}")
                self.host.mark_dirty(st)
                self.host.resync(st, inst.finished + c.crash.delay - now + _EPSILON)
                return
            c.crash.next(inst.finished, now)
        self._ensure_image(st, c)

    def _failed(self, st: PodState, c: Container, reason: str, message: str, event: str, retry: float) -> None:
        """startContainer's error path: the Failed event, the reason cache, and a later retry."""
        self.host.event(st, "Warning", "Failed", event, c.field_path)
        c.reason = (reason, message)
        self.host.mark_dirty(st)
        self.host.resync(st, retry)

    def _ensure_image(self, st: PodState, c: Container) -> None:
        """image_manager.go EnsureImageExists."""
        image = c.spec.get("image", "")
        policy = c.spec.get("imagePullPolicy", "IfNotPresent")
        try:
            ref = images.parse_normalized(image)
        except images.InvalidImage as err:
            message = f'Failed to apply default image tag "{image}": {err}'
            self.host.event(st, "Warning", "InspectFailed", message, c.field_path)
            self._failed(st, c, "InvalidImageName", message, "Error: InvalidImageName", CONFIG_RESYNC_SECONDS)
            return
        present = ref.full in self.images.get(st.node, ())
        if present and policy != "Always":
            self.host.event(st, "Normal", "Pulled", f'Container image "{image}" already present on machine',
                            c.field_path)
            self._create(st, c, ref, image)
            return
        if policy == "Never":
            message = f'Container image "{image}" is not present with pull policy of Never'
            self.host.event(st, "Warning", "ErrImageNeverPull", message, c.field_path)
            self._failed(st, c, "ErrImageNeverPull", message, "Error: ErrImageNeverPull", CONFIG_RESYNC_SECONDS)
            return
        now = self.host.now()
        if c.pull.in_backoff_since_update(now):
            message = f'Back-off pulling image "{image}"'
            self.host.event(st, "Normal", "BackOff", message, c.field_path)
            message += f": {c.pull_error}" if c.pull_error else ""
            retry = (c.pull.last_update or now) + c.pull.delay - now + _EPSILON
            self._failed(st, c, "ImagePullBackOff", message, "Error: ImagePullBackOff", retry)
            return
        c.pull_error = ""
        self.host.event(st, "Normal", "Pulling", f'Pulling image "{image}"', c.field_path)
        c.busy = True
        seconds = annotation_seconds(st.pod, ANNOTATION_PREFIX + "pull-seconds")
        seconds = (PULL_SECONDS if seconds is None else seconds) * random.uniform(0.85, 1.15)
        if present:
            seconds = min(seconds, REPULL_SECONDS)
        done = self._pulls.setdefault((st.node, ref.full), now + seconds)
        self.loop.call_later(done - now, self._pulled, st, c, image, ref, now)

    def _pulled(self, st: PodState, c: Container, image: str, ref: images.Reference, began: float) -> None:
        """The pull of `image` (the spec's image when it began) finished."""
        now = self.host.now()
        key = (st.node, ref.full)
        if self._pulls.get(key, 0.0) <= now + _EPSILON:
            self._pulls.pop(key, None)
        if st.gone or st.terminating or not c.busy:
            return
        c.busy = False
        if images.fails_to_pull(image, self.ctx.config.failing_images):
            error = images.pull_error(ref)
            self.host.event(st, "Warning", "Failed", f'Failed to pull image "{image}": {error}', c.field_path)
            c.pull.next(now, now)
            c.pull_error = f"ErrImagePull: {error}"
            self._failed(st, c, "ErrImagePull", error, "Error: ErrImagePull", ERROR_RESYNC_SECONDS)
            return
        self.images.setdefault(st.node, set()).add(ref.full)
        took = go_duration(round(now - began, 3))
        self.host.event(st, "Normal", "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including '
                        f"waiting). Image size: {ref.size} bytes.", c.field_path)
        self._create(st, c, ref, image)

    def _create(self, st: PodState, c: Container, ref: images.Reference, image: str) -> None:
        """generateContainerConfig, CreateContainer and StartContainer."""
        pod, spec = st.pod, c.spec
        try:
            variables = envmod.resolve(self.ctx.store, pod, spec, st.pod_ip, st.host_ip, self.host.allocatable(st))
        except envmod.ConfigError as err:
            self.host.block(st)
            self._failed(st, c, "CreateContainerConfigError", str(err), f"Error: {err}", CONFIG_RESYNC_SECONDS)
            return
        hostname = (pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"][:63]
        variables = {"PATH": envmod.DEFAULT_PATH, "HOSTNAME": hostname, **variables}
        command = [envmod.expand(part, variables) for part in spec.get("command") or []]
        args = [envmod.expand(part, variables) for part in spec.get("args") or []]
        program = shell.container_program(command or None, args or None)
        files = mounts.files(self.ctx.store, pod, spec, variables, self.host.allocatable(st))
        restart_count = c.instance.restart_count + 1 if c.instance else 0
        steps = shell.run(program, variables, files=files) if program is not None else None
        started_at = self.host.ctx.loop.clock.stamp()
        inst = Instance(ref, image, restart_count, variables, self.host.now(), started_at, steps, files)
        self.host.event(st, "Normal", "Created", f"Created container: {c.name}", c.field_path)
        self.host.event(st, "Normal", "Started", f"Started container {c.name}", c.field_path)
        c.reason = None
        if c.instance is not None:
            c.previous = c.instance
        c.instance = inst
        c.started = "startupProbe" not in spec
        c.ready = c.started and "readinessProbe" not in spec
        self.ctx.logs.start(st.uid, c.name)
        if steps is not None:
            self.loop.call_soon(self._step, st, c, inst)
        elif c.init and not c.sidecar:
            self.loop.call_soon(self._exited, st, c, inst, 0, "Completed")
        oom = self._oom_seconds(pod, c.name)
        if oom is not None:
            self.loop.call_later(oom, self._exited, st, c, inst, 137, "OOMKilled")
        self._start_probes(st, c, inst)
        self.host.mark_dirty(st)

    @staticmethod
    def _oom_seconds(pod: dict, name: str) -> float | None:
        own = annotation_seconds(pod, f"{ANNOTATION_PREFIX}oom-after-seconds.{name}")
        return own if own is not None else annotation_seconds(pod, ANNOTATION_PREFIX + "oom-after-seconds")

    # --- running ----------------------------------------------------------------------------------------

    @staticmethod
    def _current(st: PodState, c: Container, inst: Instance) -> bool:
        return not st.gone and c.instance is inst and inst.running

    def _step(self, st: PodState, c: Container, inst: Instance) -> None:
        """Pull the program's next steps: output to the log, a sleep to a timer, the exit to _exited."""
        if not self._current(st, c, inst) or inst.steps is None:
            return
        for _ in range(_STEPS_PER_TURN):
            try:
                step = next(inst.steps)
            except StopIteration:
                step = shell.Exit(0)
            if isinstance(step, shell.Output):
                self.ctx.logs.write(st.uid, c.name, step.text)
                continue
            if isinstance(step, shell.Sleep):
                if not math.isinf(step.seconds):
                    self.loop.call_later(step.seconds, self._step, st, c, inst)
                return
            self._exited(st, c, inst, step.code, "Completed" if step.code == 0 else "Error")
            return
        self.loop.call_soon(self._step, st, c, inst)

    def _exited(self, st: PodState, c: Container, inst: Instance, code: int, reason: str) -> None:
        if not self._current(st, c, inst):
            return
        inst.running = False
        inst.exit_code, inst.reason = code, reason
        inst.finished, inst.finished_at = self.host.now(), self.host.ctx.loop.clock.stamp()
        self.ctx.logs.finish(st.uid, c.name)
        if code != 0 and c.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            tail = "".join(f"{line}\n" for line in self.ctx.logs.lines(st.uid, c.name)[-_LOG_TAIL_LINES:])
            inst.message = tail[-_LOG_TAIL_BYTES:]
        c.ready = c.started = False
        self.host.container_exited(st)

    def kill(self, st: PodState, c: Container, message: str, grace: float) -> None:
        """killContainer: the Killing event, then SIGTERM; a known program ignores it (PID 1) until SIGKILL."""
        inst = c.instance
        if inst is None or not inst.running or inst.stopping:
            return
        inst.stopping = True
        self.host.event(st, "Normal", "Killing", message, c.field_path)
        if inst.steps is None:
            self.loop.call_soon(self._exited, st, c, inst, 0, "Completed")
        else:
            self.loop.call_later(max(grace, MIN_GRACE_SECONDS), self._exited, st, c, inst, 137, "Error")

    # --- probes -----------------------------------------------------------------------------------------

    def _start_probes(self, st: PodState, c: Container, inst: Instance) -> None:
        """One worker per probe; only exec probes can fail, so the others stop once they have succeeded."""
        for field, kind in probes.PROBES:
            spec = c.spec.get(field)
            if spec and (kind != "Liveness" or "exec" in spec):
                worker = ProbeWorker(kind, spec, inst)
                self.loop.call_later(float(spec.get("initialDelaySeconds", 0)), self._probe, st, c, worker)

    def _probe(self, st: PodState, c: Container, worker: ProbeWorker) -> None:
        """One tick of a probe worker (worker.go doProbe)."""
        inst = worker.instance
        if not self._current(st, c, inst) or (worker.kind == "Startup" and c.started):
            return
        period = float(worker.spec.get("periodSeconds", 10))
        if inst.stopping or (worker.kind != "Startup" and not c.started):
            self.loop.call_later(period, self._probe, st, c, worker)
            return
        success, output = probes.run_probe(worker.spec, c.spec, inst.env, inst.files)
        if not success:
            self.host.event(st, "Warning", "Unhealthy", f"{worker.kind} probe failed: {output}", c.field_path)
        result = probes.observe(worker, success)
        if result is not None and not self._apply(st, c, worker, result):
            return
        if result and "exec" not in worker.spec:
            return
        self.loop.call_later(period, self._probe, st, c, worker)

    def _apply(self, st: PodState, c: Container, worker: ProbeWorker, result: bool) -> bool:
        """Act on a probe result; False when the worker stops (container started or being killed)."""
        if worker.kind == "Readiness":
            if c.ready != result:
                c.ready = result
                self.host.mark_dirty(st)
            return True
        if result:
            if worker.kind == "Startup":
                c.started, c.ready = True, "readinessProbe" not in c.spec
                self.host.mark_dirty(st)
                self.host.resync(st, 0.0)
                return False
            return True
        message = f"Container {c.name} failed {worker.kind.lower()} probe"
        if (st.pod.get("spec") or {}).get("restartPolicy", "Always") != "Never" or c.sidecar:
            message += ", will be restarted"
        grace = worker.spec.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = (st.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        self.kill(st, c, message, float(grace))
        return False
