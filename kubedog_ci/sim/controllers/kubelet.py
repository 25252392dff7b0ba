"""The simulated kubelet of every node: it runs pods bound to a node and owns their status from then on.

Like the real pod worker it mounts volumes, creates the sandbox (pod IP from the node's podCIDR), runs init
containers in order and then the app containers, restarts them per restartPolicy with crash-loop back-off,
and on graceful deletion stops the containers within the grace period before removing the pod. Container
mechanics live in kubedog_ci.sim.kubelet.runtime, the status shape in kubedog_ci.sim.kubelet.status.
Everything is driven by store changes and loop timers: no threads, no polling.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from kubedog_ci.sim.controllers.base import Context, Controller, Key
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.kubelet import env as envmod
from kubedog_ci.sim.kubelet import volumes
from kubedog_ci.sim.kubelet.runtime import Runtime
from kubedog_ci.sim.kubelet.state import Container, PodState
from kubedog_ci.sim.kubelet.status import build, should_restart
from kubedog_ci.sim.pods import is_terminal
from kubedog_ci.sim.store import Change, clone

SANDBOX_SECONDS = 0.5
"""RunPodSandbox plus CNI: how long after binding the pod gets its IP."""
PLEG_SECONDS = 1.0
"""PLEG relist period: how soon the pod worker notices a container exit."""
MOUNT_INITIAL_SECONDS, MOUNT_MAX_SECONDS = 0.5, 122.0
"""The volume operation executor's exponential back-off (500ms doubling to 2m2s)."""
_DEPENDENCIES = ("/configmaps", "/secrets", "/persistentvolumeclaims")


@dataclass
class _Pool:
    """host-local IPAM over a node's podCIDR: .1 is the gateway, addresses are handed out round-robin."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    used: set[str] = field(default_factory=set)
    cursor: int = 0

    def allocate(self) -> str:
        size = max(self.network.num_addresses - 3, 1)
        base = int(self.network.network_address) + 2
        for step in range(size):
            ip = str(ipaddress.ip_address(base + (self.cursor + step) % size))
            if ip not in self.used:
                self.cursor += step + 1
                self.used.add(ip)
                return ip
        self.cursor += 1
        return str(ipaddress.ip_address(base + (self.cursor - 1) % size))


class Kubelet(Controller):
    """Every node's kubelet in one controller: pod workers keyed by pod, one container runtime."""

    name = "kubelet"
    watches = ("/pods", *_DEPENDENCIES)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pods: dict[Key, PodState] = {}
        self.runtime = Runtime(self)
        self._rt = self.api.rt("/pods")
        self._blocked: dict[tuple[str, str, str], set[Key]] = {}
        self._pools: dict[str, _Pool] = {}
        self.api.delete_hooks["/pods"] = self._graceful_delete

    # --- what the runtime needs (runtime.Host) -----------------------------------------------------------

    def now(self) -> float:
        """Simulated seconds on a monotonic clock."""
        return time.monotonic() / max(self.loop.time_scale, 1e-9)

    def event(self, st: PodState, kind: str, reason: str, message: str, field_path: str | None = None) -> None:
        self.ctx.events.record(st.pod, kind, reason, message, "kubelet", host=st.node, field_path=field_path)

    def mark_dirty(self, st: PodState) -> None:
        if not st.dirty:
            st.dirty = True
            self.loop.call_soon(self._flush, st)

    def resync(self, st: PodState, after: float) -> None:
        self.enqueue(st.key, after=max(after, 0.0))

    def block(self, st: PodState) -> None:
        """Sync the pod again when any ConfigMap, Secret or PVC it references changes."""
        refs = frozenset(envmod.references(st.pod))
        if refs == st.blocked:
            return
        self._unblock(st)
        for ref in refs:
            self._blocked.setdefault(ref, set()).add(st.key)
        st.blocked = refs

    def allocatable(self, st: PodState) -> dict[str, str]:
        node = self.store.get("/nodes", "", st.node) or {}
        return dict((node.get("status") or {}).get("allocatable") or {})

    def container_exited(self, st: PodState) -> None:
        self.mark_dirty(st)
        if st.terminating:
            self._terminate_progress(st)
        elif st.finished:
            self._sandbox_down(st)
        else:
            self.enqueue(st.key, after=PLEG_SECONDS)

    # --- controller plumbing ----------------------------------------------------------------------------

    def keys_for(self, change: Change) -> Iterable[Key]:
        meta = change.obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if change.key != "/pods":
            return list(self._blocked.get((change.key, *key), ()))
        st = self.pods.get(key)
        if st is None:
            bound = bool((change.obj.get("spec") or {}).get("nodeName"))
            return [key] if bound and change.type != "DELETED" else []
        old = change.old
        if (change.type == "MODIFIED" and old is not None and meta.get("uid") == st.uid
                and old.get("spec") == change.obj.get("spec")
                and old["metadata"].get("deletionTimestamp") == meta.get("deletionTimestamp")):
            st.pod = change.obj
            if change.obj.get("status") != st.written:
                self.mark_dirty(st)
            return []
        return [key]

    def sync(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        pod = self.store.get("/pods", namespace, name)
        st = self.pods.get(key)
        if st is not None and (pod is None or pod["metadata"].get("uid") != st.uid):
            self._teardown(st)
            st = None
        if pod is None or not (pod.get("spec") or {}).get("nodeName"):
            return
        if st is None:
            st = self._track(pod)
            if st is None:
                return
        st.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            self._terminate(st)
        elif not (st.finished or st.terminating or self._past_deadline(st)):
            self._advance(st)

    def _track(self, pod: dict) -> PodState | None:
        """A pod newly bound to a node this kubelet runs."""
        node_name = pod["spec"]["nodeName"]
        node = self.store.get("/nodes", "", node_name)
        if node is None or is_terminal(pod):
            return None
        meta, spec = pod["metadata"], pod["spec"]
        addresses = (node.get("status") or {}).get("addresses") or []
        host_ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), "")
        st = PodState((meta["namespace"], meta["name"]), meta["uid"], node_name, pod, host_ip=host_ip,
                      start_time=self.loop.clock.stamp(), started=self.now())
        st.init = [Container(c, True, f"spec.initContainers{{{c['name']}}}") for c in spec.get("initContainers") or []]
        st.apps = [Container(c, False, f"spec.containers{{{c['name']}}}") for c in spec.get("containers") or []]
        self.pods[st.key] = st
        self.mark_dirty(st)
        return st

    def _flush(self, st: PodState) -> None:
        """Write the generated status when it differs from the stored one (the status manager)."""
        st.dirty = False
        pod = self.store.get("/pods", *st.key)
        if st.gone or pod is None or pod["metadata"].get("uid") != st.uid:
            return
        status = build(pod, st, self.loop.clock.stamp())
        if status != pod.get("status"):
            try:
                pod = self.api.update(self._rt, *st.key, {"status": status}, subresource="status")
            except ApiError:
                return
        st.pod = pod
        st.written = pod.get("status")

    # --- the pod worker ---------------------------------------------------------------------------------

    def _advance(self, st: PodState) -> None:
        """One SyncPod pass: volumes, sandbox, init containers, then app containers."""
        if not self._mounted(st):
            return
        if st.sandbox != "ready":
            if st.sandbox == "none":
                st.sandbox = "creating"
                self.loop.call_later(SANDBOX_SECONDS, self._sandbox_ready, st)
            return
        specs = {c["name"]: c for c in (st.pod["spec"].get("initContainers") or [])
                 + (st.pod["spec"].get("containers") or [])}
        for c in st.all:
            c.spec = specs.get(c.name, c.spec)
        if self._initialize(st):
            self._run_containers(st)

    def _mounted(self, st: PodState) -> bool:
        """WaitForAttachAndMount: FailedMount events with the operation executor's back-off."""
        if st.volumes_ready:
            return True
        check = volumes.check(self.store, st.pod)
        if check.ready:
            st.volumes_ready = True
            self._unblock(st)
            return True
        self.block(st)
        now = self.now()
        if check.failures and now >= st.mount_retry_at:
            for volume, error in check.failures:
                self.event(st, "Warning", "FailedMount", f'MountVolume.SetUp failed for volume "{volume}" : {error}')
            st.mount_delay = min(st.mount_delay * 2, MOUNT_MAX_SECONDS) if st.mount_delay else MOUNT_INITIAL_SECONDS
            st.mount_retry_at = now + st.mount_delay
            self.enqueue(st.key, after=st.mount_delay)
        return False

    def _sandbox_ready(self, st: PodState) -> None:
        if st.gone or st.terminating or st.sandbox != "creating":
            return
        st.sandbox = "ready"
        if st.pod["spec"].get("hostNetwork"):
            st.pod_ip = st.host_ip
        else:
            pool = self._pools.get(st.node)
            if pool is None:
                node = self.store.get("/nodes", "", st.node) or {}
                cidr = (node.get("spec") or {}).get("podCIDR") or "10.244.0.0/24"
                pool = self._pools[st.node] = _Pool(ipaddress.ip_network(cidr, strict=False))
            st.pod_ip = pool.allocate()
        self.mark_dirty(st)
        self.enqueue(st.key)

    def _initialize(self, st: PodState) -> bool:
        """Init containers one at a time; sidecars only need to have started. True once initialized."""
        pod = st.pod
        if st.initialized:
            for c in st.init:
                if c.sidecar and not c.busy and should_restart(c, pod):
                    self.runtime.start(st, c)
            return True
        for c in st.init:
            inst = c.instance
            if c.sidecar:
                if not c.running and not c.busy:
                    self.runtime.start(st, c)
                if c.running and c.started:
                    continue
                return False
            if inst is not None and not inst.running and inst.exit_code == 0:
                continue
            if c.busy or c.running:
                return False
            if inst is not None and pod["spec"].get("restartPolicy") == "Never":
                self._finish(st)
                return False
            self.runtime.start(st, c)
            return False
        st.initialized = True
        self.mark_dirty(st)
        return True

    def _run_containers(self, st: PodState) -> None:
        pod = st.pod
        grace = float(pod["spec"].get("terminationGracePeriodSeconds", 30))
        for c in st.apps:
            if c.busy:
                continue
            if c.instance is not None and c.running:
                if c.instance.spec_image != c.spec.get("image") and not c.instance.stopping:
                    self.runtime.kill(st, c, f"Container {c.name} definition changed, will be restarted", grace)
                continue
            if should_restart(c, pod):
                self.runtime.start(st, c)
        if not any(c.running or c.busy or should_restart(c, pod) for c in st.apps):
            self._finish(st)

    def _past_deadline(self, st: PodState) -> bool:
        """The active deadline handler: past spec.activeDeadlineSeconds the pod fails and is stopped."""
        deadline = st.pod["spec"].get("activeDeadlineSeconds")
        if deadline is None:
            return False
        remaining = st.started + float(deadline) - self.now()
        if remaining > 0:
            if st.deadline != deadline:
                st.deadline = deadline
                self.enqueue(st.key, after=remaining)
            return False
        st.evicted = ("DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
        self.event(st, "Normal", *st.evicted)
        self._finish(st, every=True)
        return True

    def _finish(self, st: PodState, every: bool = False) -> None:
        """KillPod for a pod whose containers are all done (or `every` one, for a failed pod): stop what
        still runs (the sidecars), then the sandbox."""
        st.finished = True
        self._stop(st, st.all if every else st.init, float(st.pod["spec"].get("terminationGracePeriodSeconds", 30)))
        self._sandbox_down(st)

    def _stop(self, st: PodState, containers: list[Container], grace: float) -> None:
        """Drop pending starts (an image pull in flight) and kill what runs, each within `grace` seconds."""
        for c in containers:
            c.busy = False
            if c.running:
                self.runtime.kill(st, c, f"Stopping container {c.name}", grace)

    def _sandbox_down(self, st: PodState) -> None:
        if not any(c.running for c in st.all):
            st.sandbox = "stopped"
            self.mark_dirty(st)

    # --- deletion ---------------------------------------------------------------------------------------

    def _graceful_delete(self, pod: dict, grace: int | None) -> bool:
        """The pod registry's CheckGracefulDelete: a running pod gets a deletionTimestamp, not removal.

        Called by Api.delete under the store lock, from any thread, so it only writes the store; the kubelet
        sees the deletionTimestamp through its watch and stops the containers.
        """
        spec = pod.get("spec") or {}
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        node = spec.get("nodeName")
        if (not node or grace is None or grace <= 0 or is_terminal(pod)
                or self.store.get("/nodes", "", node) is None):
            return False
        updated = clone(pod)
        updated["metadata"]["deletionTimestamp"] = self.loop.clock.stamp(later=grace)
        updated["metadata"]["deletionGracePeriodSeconds"] = grace
        self.store.replace("/pods", updated)
        return True

    def _terminate(self, st: PodState) -> None:
        """syncTerminatingPod: Killing events, stop every container within the grace period."""
        if st.terminating:
            return
        st.terminating = True
        self._unblock(st)
        self._stop(st, st.all, float(st.pod["metadata"].get("deletionGracePeriodSeconds") or 0))
        self._terminate_progress(st)

    def _terminate_progress(self, st: PodState) -> None:
        """Once nothing runs: the terminal status, then removal (the status manager's delete, grace 0)."""
        if any(c.running for c in st.all):
            return
        st.terminal = True
        st.sandbox = "stopped"
        self._flush(st)
        try:
            self.api.delete(self._rt, *st.key, grace_seconds=0, preconditions={"uid": st.uid})
        except ApiError:
            return

    def _teardown(self, st: PodState) -> None:
        """The pod is gone from the API: forget it; its timers find it gone and do nothing."""
        st.gone = True
        if self.pods.get(st.key) is st:
            del self.pods[st.key]
        self._unblock(st)
        pool = self._pools.get(st.node)
        if pool is not None and st.pod_ip:
            pool.used.discard(st.pod_ip)
        self.ctx.logs.forget(st.uid)

    def _unblock(self, st: PodState) -> None:
        for ref in st.blocked:
            keys = self._blocked.get(ref)
            if keys is not None:
                keys.discard(st.key)
                if not keys:
                    del self._blocked[ref]
        st.blocked = frozenset()


CONTROLLERS = (Kubelet,)
