"""What the engine keeps of an object (rules.slim) judges as the whole object does: every Pod, workload and
ReplicaSet of the rule tables, judged both ways, and every accessor the engine reads related objects with."""

from __future__ import annotations

import pytest

from kubedog_ci.rules import evaluate, profile_for, slim
from kubedog_ci.rules.objects import consumed_secrets, container_statuses, is_pod_ready, kill_window
from kubedog_ci.rules.problems import pod_problems, replicaset_problems
from tests.rules import test_daemonset, test_deployment, test_pod, test_replicaset, test_statefulset
from tests.rules.test_consumed_secrets import SPEC

PROBES = {"startupProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5, "failureThreshold": 30},
          "livenessProbe": {"exec": {"command": ["true"]}, "initialDelaySeconds": 3}}


def _objects(cases: list) -> list:
    return [pytest.param(case.values[0], id=case.id) for case in cases]


def _with_owner_and_noise(obj: dict) -> dict:
    """The object as an API server would serve it: managedFields, owners, what no one reads."""
    found = {**obj, "metadata": {**obj["metadata"], "uid": "u-1", "resourceVersion": "42", "managedFields": [
        {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:status": {}}}],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-7c9f", "uid": "rs-1",
                             "controller": True, "blockOwnerDeletion": True}]}}
    spec = found.get("spec")
    if isinstance(spec, dict):
        found["spec"] = {**spec, "tolerations": [{"operator": "Exists"}], "nodeName": "n1", "dnsPolicy": "Default"}
    return found


@pytest.mark.parametrize("obj", _objects(test_pod.CASES))
def test_a_slim_pod_is_judged_as_the_whole_one(obj: dict) -> None:
    whole = _with_owner_and_noise(obj)
    whole["spec"] = {**whole["spec"], **SPEC, "containers": [{**container, **PROBES} for container in
                                                              whole["spec"]["containers"]] + SPEC["containers"]}
    status = whole.get("status") or {}
    for group in ("containerStatuses", "initContainerStatuses"):
        if status.get(group):
            status[group] = [{**entry, "image": "registry.example/api:v2", "imageID": "sha256:0"}
                             for entry in status[group]]
    kept = slim.pod(whole)
    profile = profile_for("", "Pod")
    assert evaluate(kept) == evaluate(whole)
    assert profile.live(kept, None) == profile.live(whole, None)  # type: ignore[arg-type]
    assert pod_problems(kept) == pod_problems(whole)
    assert pod_problems(kept, job_pod=True) == pod_problems(whole, job_pod=True)
    assert profile.progress(kept) == profile.progress(whole)
    assert profile.replicas(kept) == profile.replicas(whole)
    assert container_statuses(kept) == [{key: value for key, value in entry.items() if key not in ("image", "imageID")}
                                        for entry in container_statuses(whole)]
    assert (is_pod_ready(kept), kill_window(kept), consumed_secrets(kept)) == (
        is_pod_ready(whole), kill_window(whole), consumed_secrets(whole))
    assert kept["metadata"]["ownerReferences"] == [{"kind": "ReplicaSet", "name": "api-7c9f", "uid": "rs-1",
                                                   "controller": True}]
    assert "managedFields" not in kept["metadata"] and "tolerations" not in kept["spec"]


@pytest.mark.parametrize("obj", [*_objects(test_deployment.CASES), *_objects(test_statefulset.CASES),
                                 *_objects(test_daemonset.CASES), *_objects(test_replicaset.CASES)])
def test_a_slim_target_is_judged_as_the_whole_one(obj: dict) -> None:
    whole = _with_owner_and_noise(obj)
    whole["spec"] = {**whole.get("spec", {}), "template": {"metadata": {"labels": {"app": "api"}}, "spec": {
        **SPEC, "tolerations": [{"operator": "Exists"}], "affinity": {"nodeAffinity": {}}}}}
    kept = slim.target(whole)
    group = whole["apiVersion"].rpartition("/")[0]
    profile = profile_for(group, whole["kind"])
    assert evaluate(kept) == evaluate(whole)
    assert (profile.progress(kept), profile.replicas(kept)) == (profile.progress(whole), profile.replicas(whole))
    assert consumed_secrets(kept) == consumed_secrets(whole) == {"registry", "init-env", "db", "dbg", "tls",
                                                                 "projected"}
    assert "managedFields" not in kept["metadata"] and "affinity" not in kept["spec"]["template"]["spec"]


@pytest.mark.parametrize("obj", _objects(test_replicaset.CASES))
def test_a_slim_replicaset_keeps_what_its_deployment_reads(obj: dict) -> None:
    whole = _with_owner_and_noise({**obj, "metadata": {**obj["metadata"], "labels": {"pod-template-hash": "7c9f"},
                                                       "annotations": {"deployment.kubernetes.io/revision": "3"}}})
    kept = slim.replicaset(whole)
    assert replicaset_problems(kept) == replicaset_problems(whole)
    for key in ("labels", "annotations", "ownerReferences", "uid", "name", "namespace"):
        assert (kept["metadata"].get(key) is None) == (whole["metadata"].get(key) is None), key
    assert "spec" not in kept


def test_a_slim_endpoint_slice_keeps_each_endpoints_readiness() -> None:
    whole = {"kind": "EndpointSlice", "metadata": {"name": "web-x", "namespace": "n", "uid": "e", "labels": {
        "kubernetes.io/service-name": "web"}, "ownerReferences": [{"kind": "Service", "name": "web", "uid": "s",
                                                                     "controller": True}]},
             "addressType": "IPv4", "ports": [{"port": 80}],
             "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "nodeName": "n1"},
                           {"addresses": ["10.0.0.2"], "conditions": {"ready": False}}, {"addresses": ["10.0.0.3"]}]}
    assert slim.endpoint_slice(whole)["endpoints"] == [{"conditions": {"ready": True}},
                                                       {"conditions": {"ready": False}}, {"conditions": {}}]


def test_what_a_watcher_remembers_identifies_the_object_and_nothing_more() -> None:
    whole = _with_owner_and_noise(test_pod.pod())
    assert slim.metadata_only({"kind": "Pod", "apiVersion": "v1", **whole}) == {
        "kind": "Pod", "apiVersion": "v1", "metadata": {"name": "api-7c9f-x2k", "namespace": "default", "uid": "u-1",
                                                        "resourceVersion": "42"}}


def test_keys_and_short_strings_are_shared_between_objects() -> None:
    first, second = (slim.pod(_with_owner_and_noise(test_pod.pod())) for _ in range(2))
    key = next(iter(first["status"]["conditions"][0]))
    other = next(iter(second["status"]["conditions"][0]))
    assert key == other and key is other
    assert first["status"]["conditions"][0]["status"] is second["status"]["conditions"][0]["status"]
