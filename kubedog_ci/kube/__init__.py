"""Talking to the cluster: the client from kubeconfig, discovery and KIND/NAME resolution."""
