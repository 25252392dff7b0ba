"""SimCluster: the whole simulated cluster, started and stopped as one, with a kubeconfig that points at it.

    with SimCluster(time_scale=0.05) as cluster:
        subprocess.run(["kubectl", "--kubeconfig", cluster.kubeconfig, "get", "nodes"])

It seeds what a fresh real cluster has (the default namespaces, nodes, the `kubernetes` Service, a default
StorageClass, the Local APIServices of the built-in group versions, the bootstrap RBAC policy), starts the
controllers on the simulation loop and serves the API on 127.0.0.1: plain HTTP, or with `tls=True` HTTPS with a
certificate made at start, whose CA the kubeconfig carries. The kubeconfig's user is the all-powerful admin;
`service_account_kubeconfig` writes one for a ServiceAccount with just the permissions a test grants it (see
access.py).
"""

from __future__ import annotations

import base64
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from kubedog_ci.sim import apiservices
from kubedog_ci.sim.access import service_account_kubeconfig, write_config
from kubedog_ci.sim.api import Api
from kubedog_ci.sim.authn import TokenIssuer
from kubedog_ci.sim.bootstrap_policy import cluster_role_bindings, cluster_roles
from kubedog_ci.sim.clock import Clock
from kubedog_ci.sim.config import SimConfig
from kubedog_ci.sim.controllers import build_controllers
from kubedog_ci.sim.controllers.base import Context, Manager
from kubedog_ci.sim.events import EventRecorder
from kubedog_ci.sim.logs import LogStore
from kubedog_ci.sim.loop import SimLoop
from kubedog_ci.sim.rbac import CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES
from kubedog_ci.sim.resources import Registry
from kubedog_ci.sim.server import SimHTTPServer
from kubedog_ci.sim.store import Store
from kubedog_ci.sim.tls import Certificates, generate

KUBELET_VERSION = "v1.34.0"


def node_names(count: int) -> list[str]:
    """kind's naming: sim-control-plane is not schedulable here, so workers are sim-worker, sim-worker2, …"""
    return ["sim-worker" if n == 1 else f"sim-worker{n}" for n in range(1, count + 1)]


def node_object(name: str, index: int, config: SimConfig) -> dict:
    capacity = {"cpu": config.node_cpu, "memory": config.node_memory, "pods": str(config.node_pods),
                "ephemeral-storage": "100Gi"}
    conditions = [
        {"type": t, "status": "False", "reason": r, "message": m}
        for t, r, m in (("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"))
    ] + [{"type": "Ready", "status": "True", "reason": "KubeletReady",
          "message": "kubelet is posting ready status"}]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}},
        "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]},
        "status": {
            "capacity": capacity, "allocatable": dict(capacity), "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": f"172.18.0.{index + 2}"},
                          {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                         "operatingSystem": "linux", "architecture": "amd64",
                         "containerRuntimeVersion": "containerd://2.1.0", "osImage": "kubedog-ci simulator",
                         "kernelVersion": "6.1.0", "machineID": f"{index:032x}", "systemUUID": f"{index:032x}",
                         "bootID": f"{index:032x}"},
        },
    }


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class SimCluster:
    """The simulated cluster as a context manager (see the module docstring)."""

    def __init__(self, config: SimConfig | None = None, *, port: int = 0, host: str = "127.0.0.1",
                 kubeconfig_path: str | os.PathLike | None = None, tls: bool = False) -> None:
        self.config = config or SimConfig()
        self.store = Store(self.config.history_window)
        self.registry = Registry.builtin()
        self.loop = SimLoop(self.config.time_scale, Clock(self.config.clock_offset))
        self.api = Api(self.store, self.registry, self.loop)
        self.logs = LogStore(self.loop.clock)
        self.events = EventRecorder(self.api)
        self.tokens = TokenIssuer(self.loop.clock)
        self.ctx = Context(self.api, self.store, self.loop, self.events, self.logs, self.config, self.tokens)
        self.manager = Manager(self.ctx, build_controllers(self.ctx))
        self._host, self._port = host, port
        self.tls = tls
        self.certificates: Certificates | None = None
        """With TLS: the CA and the server's certificate, made at start."""
        self._kubeconfig_path = Path(kubeconfig_path) if kubeconfig_path else None
        self._tmpdir: tempfile.TemporaryDirectory | None = None
        self.server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "the cluster is not started"
        return f"{'https' if self.tls else 'http'}://{self._host}:{self.server.server_address[1]}"

    @property
    def kubeconfig(self) -> str:
        assert self._kubeconfig_path is not None, "the cluster is not started"
        return str(self._kubeconfig_path)

    def start(self) -> SimCluster:
        context = None
        if self.tls:  # first: a missing openssl fails the start before anything runs
            self.certificates = generate(tuple(dict.fromkeys((self._host, "127.0.0.1", "localhost"))))
            context = self.certificates.server_context()
            self.tokens.ca_pem = self.certificates.ca
        self._seed()
        self.loop.start()
        self.manager.start()
        self.server = SimHTTPServer((self._host, self._port), self.api, self.logs, self.config, context, self.tokens)
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="sim-http", daemon=True)
        self._thread.start()
        if self._kubeconfig_path is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="kubedog-sim-")
            self._kubeconfig_path = Path(self._tmpdir.name) / "kubeconfig"
        self.write_kubeconfig(self._kubeconfig_path)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stopping.set()
            self.store.close_watchers()
            self.server.shutdown()
            self.server.server_close()
        self.loop.stop()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kubeconfig_dict(self) -> dict:
        user: dict = {"token": self.config.token} if self.config.token else {}
        cluster = {"server": self.url}
        if self.certificates is not None:
            cluster["certificate-authority-data"] = _base64(self.certificates.ca)
            user |= {"client-certificate-data": _base64(self.certificates.client_cert),
                     "client-key-data": _base64(self.certificates.client_key)}
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": "kubedog-sim", "preferences": {},
            "clusters": [{"name": "kubedog-sim", "cluster": cluster}],
            "users": [{"name": "kubedog-sim", "user": user}],
            "contexts": [{"name": "kubedog-sim",
                          "context": {"cluster": "kubedog-sim", "user": "kubedog-sim", "namespace": "default"}}],
        }

    def write_kubeconfig(self, path: str | os.PathLike) -> None:
        write_config(path, self.kubeconfig_dict())

    def service_account_kubeconfig(self, namespace: str, name: str, *, role: str | None = None,
                                   rules: list[dict] | None = None, cluster_wide: bool = False,
                                   namespaces: Iterable[str] | None = None,
                                   path: str | os.PathLike | None = None) -> str:
        """A kubeconfig for ServiceAccount `namespace/name` granted `role` or `rules` (see access.py)."""

        return service_account_kubeconfig(self, namespace, name, role=role, rules=rules, cluster_wide=cluster_wide,
                                          namespaces=namespaces, path=path)

    def _seed(self) -> None:
        ns_rt, node_rt = self.api.rt("/namespaces"), self.api.rt("/nodes")
        for namespace in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.api.create(ns_rt, None, {"metadata": {"name": namespace}})
        for index, name in enumerate(node_names(self.config.nodes)):
            self.api.create(node_rt, None, node_object(name, index, self.config))
        self.api.create(self.api.rt("/services"), "default", {
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443}]}})
        self.api.create(self.api.rt("storage.k8s.io/storageclasses"), None, {
            "metadata": {"name": "standard",
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate"})
        apiservices.register_builtin(self.api)
        for role in cluster_roles():
            self.api.create(self.api.rt(CLUSTER_ROLES), None, role)
        for binding in cluster_role_bindings():
            self.api.create(self.api.rt(CLUSTER_ROLE_BINDINGS), None, binding)
