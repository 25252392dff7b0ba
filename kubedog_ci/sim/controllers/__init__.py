"""The simulated control plane: one module per controller, each exporting CONTROLLERS (classes)."""

from __future__ import annotations

import importlib

from kubedog_ci.sim.controllers.base import Context, Controller

MODULES = (
    "namespace",
    "tokens",
    "rbac",
    "gc",
    "crd",
    "storage",
    "quota",
    "service",
    "deployment",
    "replicaset",
    "statefulset",
    "daemonset",
    "job",
    "scheduler",
    "kubelet",
)


def build_controllers(ctx: Context) -> list[Controller]:
    """Instantiate every controller of every module, in MODULES order."""
    controllers: list[Controller] = []
    for name in MODULES:
        module = importlib.import_module(f"kubedog_ci.sim.controllers.{name}")
        controllers.extend(cls(ctx) for cls in module.CONTROLLERS)
    return controllers
