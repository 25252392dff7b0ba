"""The simulated control plane: one module per controller, each exporting CONTROLLERS (classes)."""

from __future__ import annotations

from kubedog_ci.sim.controllers import (
    crd,
    daemonset,
    deployment,
    gc,
    job,
    kubelet,
    namespace,
    quota,
    rbac,
    replicaset,
    scheduler,
    service,
    statefulset,
    storage,
    tokens,
)
from kubedog_ci.sim.controllers.base import Context, Controller

MODULES = (
    namespace,
    tokens,
    rbac,
    gc,
    crd,
    storage,
    quota,
    service,
    deployment,
    replicaset,
    statefulset,
    daemonset,
    job,
    scheduler,
    kubelet,
)


def build_controllers(ctx: Context) -> list[Controller]:
    """Instantiate every controller of every module, in MODULES order."""
    controllers: list[Controller] = []
    for module in MODULES:
        controllers.extend(cls(ctx) for cls in module.CONTROLLERS)
    return controllers
