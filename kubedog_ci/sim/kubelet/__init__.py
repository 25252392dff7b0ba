"""The simulated kubelet's parts; `kubedog_ci.sim.controllers.kubelet` wires them into one controller."""
