"""Which Pods belong to a workload's current revision (the ones judged and whose logs are followed), as the kind
profiles find them in the engine's View; and the replicas that multiply the failure budget."""

from __future__ import annotations

import pytest

from kubedog_ci.engine.state import View
from kubedog_ci.rules import Stream, profile_for
from tests.engine.builders import obj, owner_ref, pod

REVISION = "deployment.kubernetes.io/revision"


def deployment(revision: str | None = "2", generation: int = 2, observed: int = 2) -> dict:
    return obj("apps/v1", "Deployment", "web", "d-1", generation=generation,
               annotations={REVISION: revision} if revision else {}, status={"observedGeneration": observed})


def replicaset(name: str, uid: str, revision: str, template_hash: str, owner: str = "d-1") -> dict:
    return obj("apps/v1", "ReplicaSet", name, uid, owner=owner_ref("Deployment", "web", owner),
               annotations={REVISION: revision}, labels={"pod-template-hash": template_hash})


def rs_pod(name: str, rs_uid: str, template_hash: str) -> dict:
    return pod(name, f"uid-{name}", owner=owner_ref("ReplicaSet", "x", rs_uid),
               labels={"pod-template-hash": template_hash})


RSS = [replicaset("web-aaa", "rs-1", "1", "aaa"), replicaset("web-bbb", "rs-2", "2", "bbb"),
       replicaset("other-ccc", "rs-3", "2", "ccc", owner="d-2")]
RS_PODS = [rs_pod("web-aaa-1", "rs-1", "aaa"), rs_pod("web-bbb-1", "rs-2", "bbb"), rs_pod("web-bbb-2", "rs-2", "bbb"),
           rs_pod("other-ccc-1", "rs-3", "ccc")]


def sts(update_revision: str = "db-2", generation: int = 3, observed: int = 3) -> dict:
    return obj("apps/v1", "StatefulSet", "db", "s-1", generation=generation,
               status={"observedGeneration": observed, "updateRevision": update_revision, "currentRevision": "db-1"})


def sts_pod(name: str, revision: str, owner: str = "s-1") -> dict:
    return pod(name, f"uid-{name}", owner=owner_ref("StatefulSet", "db", owner),
               labels={"controller-revision-hash": revision})


STS_PODS = [sts_pod("db-0", "db-1"), sts_pod("db-1", "db-2"), sts_pod("db-2", "db-2"), sts_pod("x-0", "db-2", "s-9")]


def daemonset(generation: int = 4, observed: int = 4, template_generation: str | None = None) -> dict:
    annotations = {"deprecated.daemonset.template.generation": template_generation} if template_generation else {}
    return obj("apps/v1", "DaemonSet", "agent", "ds-1", generation=generation, annotations=annotations,
               status={"observedGeneration": observed, "desiredNumberScheduled": 3})


def revision(name: str, number: int, revision_hash: str) -> dict:
    found = obj("apps/v1", "ControllerRevision", name, f"uid-{name}", owner=owner_ref("DaemonSet", "agent", "ds-1"),
                labels={"controller-revision-hash": revision_hash})
    found["revision"] = number
    return found


def ds_pod(name: str, revision_hash: str, template_generation: str = "1") -> dict:
    return pod(name, f"uid-{name}", owner=owner_ref("DaemonSet", "agent", "ds-1"),
               labels={"controller-revision-hash": revision_hash, "pod-template-generation": template_generation})


DS_REVISIONS = [revision("agent-old", 1, "old"), revision("agent-new", 2, "new")]
DS_PODS = [ds_pod("agent-a", "old"), ds_pod("agent-b", "new"), ds_pod("agent-c", "other", "4")]

JOB = obj("batch/v1", "Job", "migrate", "j-1")
JOB_PODS = [pod("migrate-a", "uid-a", labels={"batch.kubernetes.io/controller-uid": "j-1"}),
            pod("migrate-b", "uid-b", labels={"controller-uid": "j-1"}),
            pod("other-a", "uid-c", labels={"batch.kubernetes.io/controller-uid": "j-2"})]

OWN_RS = obj("apps/v1", "ReplicaSet", "web-bbb", "rs-2")
LONE_POD = pod("lone", "uid-lone")
SERVICE = obj("v1", "Service", "web", "svc-1")


STREAMS = {"Pod": Stream.PODS, "ReplicaSet": Stream.REPLICASETS, "ControllerRevision": Stream.CONTROLLER_REVISIONS}


def _profile(target: dict):
    return profile_for(target["apiVersion"].rpartition("/")[0], target["kind"])


def current_pods(target: dict, related: View) -> list[dict]:
    return _profile(target).current_pods(target, related)


def replicas(target: dict) -> int:
    return _profile(target).replicas(target)


def view(*objects: dict) -> View:
    found = View()
    for item in objects:
        found.apply(STREAMS[item["kind"]], "ADDED", item)
    return found


@pytest.mark.parametrize(("target", "related", "expected"), [
    pytest.param(deployment(), RSS + RS_PODS, ["web-bbb-1", "web-bbb-2"], id="deployment-newest-revision"),
    pytest.param(deployment(revision="1"), RSS + RS_PODS, ["web-aaa-1"], id="deployment-rolled-back"),
    pytest.param(deployment(observed=1), RSS + RS_PODS, [], id="deployment-spec-not-observed"),
    pytest.param(deployment(revision=None), RSS + RS_PODS, [], id="deployment-without-revision"),
    pytest.param(deployment(revision="3"), RSS + RS_PODS, [], id="deployment-replicaset-not-seen-yet"),
    pytest.param(sts(), STS_PODS, ["db-1", "db-2"], id="statefulset-update-revision-partition"),
    pytest.param(sts(observed=2), STS_PODS, [], id="statefulset-not-observed"),
    pytest.param(daemonset(), DS_REVISIONS + DS_PODS, ["agent-b", "agent-c"], id="daemonset-hash-or-generation"),
    pytest.param(daemonset(template_generation="1"), DS_REVISIONS + DS_PODS, ["agent-a", "agent-b"],
                 id="daemonset-template-generation-annotation"),
    pytest.param(daemonset(observed=3), DS_REVISIONS + DS_PODS, [], id="daemonset-not-observed"),
    pytest.param(JOB, JOB_PODS, ["migrate-a", "migrate-b"], id="job-by-controller-uid-label"),
    pytest.param(OWN_RS, RS_PODS, ["web-bbb-1", "web-bbb-2"], id="replicaset-owned"),
    pytest.param(LONE_POD, [], ["lone"], id="pod-itself"),
    pytest.param(SERVICE, RS_PODS, [], id="no-pods-for-other-kinds"),
])
def test_current_revision_pods(target: dict, related: list[dict], expected: list[str]) -> None:
    names = [p["metadata"]["name"] for p in current_pods(target, view(*related))]
    assert sorted(names) == expected


def test_pods_of_other_namespaces_are_not_current() -> None:
    elsewhere = rs_pod("web-bbb-9", "rs-2", "bbb")
    elsewhere["metadata"]["namespace"] = "staging"
    names = [p["metadata"]["name"] for p in current_pods(deployment(), view(*RSS, *RS_PODS, elsewhere))]
    assert sorted(names) == ["web-bbb-1", "web-bbb-2"]


def test_deleted_pods_leave_the_view() -> None:
    found = view(*RSS, *RS_PODS)
    found.apply(Stream.PODS, "DELETED", RS_PODS[1])
    assert [p["metadata"]["name"] for p in current_pods(deployment(), found)] == ["web-bbb-2"]


@pytest.mark.parametrize(("target", "expected"), [
    (obj("apps/v1", "Deployment", "w", "1", spec={"replicas": 3}), 3),
    (obj("apps/v1", "Deployment", "w", "1"), 1),
    (obj("apps/v1", "StatefulSet", "w", "1", spec={"replicas": 0}), 0),
    (daemonset(), 3),
    (obj("batch/v1", "Job", "j", "1", spec={"parallelism": 4}), 4),
    (obj("batch/v1", "Job", "j", "1"), 1),
    (pod(restart_policy="Never"), 0),
    (pod(restart_policy="OnFailure"), 1),
    (SERVICE, 0),
])
def test_replicas_multiply_the_budget(target: dict, expected: int) -> None:
    assert replicas(target) == expected
