"""kubedog-ci: apply Kubernetes manifests and track every resource until it is ready or has failed."""

__version__ = "0.1.0"
