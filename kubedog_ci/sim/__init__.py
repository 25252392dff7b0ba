"""A simulated Kubernetes cluster behind the real REST API, so kubedog, kubectl and client libraries can be run
and tested without a real cluster (start one with `cluster.SimCluster`, or `kubedog sim`)."""
