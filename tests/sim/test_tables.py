"""Server-side printing, cell by cell, against pkg/printers/internalversion/printers.go and duration.HumanDuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubedog_ci.sim import tables
from kubedog_ci.sim.resources import Registry

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("seconds", "shown"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (185, "3m5s"), (600, "10m"),
    (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"), (8 * 3600 + 60, "8h"), (47 * 3600, "47h"),
    (2 * 86400 + 3600, "2d1h"), (7 * 86400, "7d"), (8 * 86400 + 3600, "8d"), (3 * 365 * 86400 + 86400, "3y1d"),
    (9 * 365 * 86400 + 86400, "9y"),
])
def test_human_age(seconds: int, shown: str) -> None:
    stamp = (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert tables.human_age(stamp, NOW) == shown


def container(name: str = "app", ready: bool = False, restarts: int = 0, finished: str | None = None,
              **state: dict) -> dict:
    entry: dict = {"name": name, "ready": ready, "restartCount": restarts, "state": state}
    if finished:
        entry["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": finished}}
    return entry


def pod_row(status: dict, spec: dict | None = None, deleting: bool = False) -> list:
    meta: dict = {"name": "p", "creationTimestamp": ago(30)}
    if deleting:
        meta["deletionTimestamp"] = ago(1)
    spec = spec or {"containers": [{"name": "app"}]}
    return tables._pod({"metadata": meta, "spec": spec, "status": status})[1:4]


READY = [{"type": "Ready", "status": "True"}]


@pytest.mark.parametrize(("status", "cells"), [
    ({"phase": "Pending"}, ["0/1", "Pending", "0"]),
    ({"phase": "Pending", "containerStatuses": [container(waiting={"reason": "ContainerCreating"})]},
     ["0/1", "ContainerCreating", "0"]),
    ({"phase": "Running", "conditions": READY, "containerStatuses": [container(ready=True, running={})]},
     ["1/1", "Running", "0"]),
    ({"phase": "Succeeded", "containerStatuses": [container(terminated={"exitCode": 0, "reason": "Completed"})]},
     ["0/1", "Completed", "0"]),
    ({"phase": "Failed", "containerStatuses": [container(terminated={"exitCode": 2, "reason": "Error"})]},
     ["0/1", "Error", "0"]),
    ({"phase": "Running", "containerStatuses": [container(terminated={"exitCode": 137, "signal": 9})]},
     ["0/1", "Signal:9", "0"]),
    ({"phase": "Pending", "reason": "Evicted"}, ["0/1", "Evicted", "0"]),
    ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]},
     ["0/1", "SchedulingGated", "0"]),
])
def test_pod_ready_status_and_restarts(status: dict, cells: list) -> None:
    assert pod_row(status) == cells


def test_pod_restarts_show_when_the_last_one_was() -> None:
    looping = container(restarts=3, finished=ago(4), waiting={"reason": "CrashLoopBackOff"})
    assert pod_row({"phase": "Running", "containerStatuses": [looping]}) == ["0/1", "CrashLoopBackOff", "3 (4s ago)"]


def test_pod_completed_container_beside_a_running_one() -> None:
    spec = {"containers": [{"name": "a"}, {"name": "b"}]}
    statuses = [container("a", terminated={"exitCode": 0, "reason": "Completed"}),
                container("b", ready=True, running={})]
    assert pod_row({"phase": "Running", "conditions": READY, "containerStatuses": statuses}, spec)[1] == "Running"
    assert pod_row({"phase": "Running", "containerStatuses": statuses}, spec)[1] == "NotReady"


def test_pod_init_containers() -> None:
    spec = {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "app"}]}
    first_done = [container("i1", terminated={"exitCode": 0}), container("i2", running={})]
    assert pod_row({"phase": "Pending", "initContainerStatuses": first_done}, spec)[1] == "Init:1/2"
    failing = [container("i1", restarts=2, waiting={"reason": "CrashLoopBackOff"})]
    assert pod_row({"phase": "Pending", "initContainerStatuses": failing}, spec)[1:] == ["Init:CrashLoopBackOff", "2"]
    errored = [container("i1", terminated={"exitCode": 3})]
    assert pod_row({"phase": "Pending", "initContainerStatuses": errored}, spec)[1] == "Init:ExitCode:3"


def test_pod_terminating_unless_finished() -> None:
    running = {"phase": "Running", "containerStatuses": [container(ready=True, running={})]}
    assert pod_row(running, deleting=True)[1] == "Terminating"
    assert pod_row({"phase": "Succeeded"}, deleting=True)[1] == "Succeeded"


@pytest.mark.parametrize(("spec", "status", "deleting", "cells"), [
    ({"completions": 1, "parallelism": 1}, {}, False, ["Running", "0/1", ""]),
    ({"parallelism": 3}, {"succeeded": 1}, False, ["Running", "1/1 of 3", ""]),
    ({"parallelism": 1}, {}, False, ["Running", "0/1", ""]),
    ({"completions": 2}, {"succeeded": 2, "startTime": "2026-01-01T00:00:00Z",
                          "completionTime": "2026-01-01T00:00:07Z",
                          "conditions": [{"type": "Complete", "status": "True"}]}, False, ["Complete", "2/2", "7s"]),
    ({"completions": 1}, {"conditions": [{"type": "Failed", "status": "True"}]}, True, ["Failed", "0/1", ""]),
    ({"completions": 1}, {}, True, ["Terminating", "0/1", ""]),
    ({"completions": 1}, {"conditions": [{"type": "Suspended", "status": "True"}]}, False, ["Suspended", "0/1", ""]),
    ({"completions": 1}, {"conditions": [{"type": "FailureTarget", "status": "True"}]}, False,
     ["FailureTarget", "0/1", ""]),
])
def test_job_status_completions_and_duration(spec: dict, status: dict, deleting: bool, cells: list) -> None:
    meta: dict = {"name": "j", "creationTimestamp": ago(10)}
    if deleting:
        meta["deletionTimestamp"] = ago(1)
    assert tables._job({"metadata": meta, "spec": spec, "status": status})[1:4] == cells


@pytest.mark.parametrize(("spec", "status", "cells"), [
    ({"type": "ClusterIP", "clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"],
      "ports": [{"port": 80, "protocol": "TCP"}]}, {}, ["ClusterIP", "10.96.0.5", "<none>", "80/TCP"]),
    ({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}, {}, ["ClusterIP", "None", "<none>",
                                                                             "<none>"]),
    ({"type": "NodePort", "clusterIPs": ["10.96.0.6"], "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                                                                 {"port": 53, "protocol": "UDP"}]},
     {}, ["NodePort", "10.96.0.6", "<none>", "80:30080/TCP,53/UDP"]),
    ({"type": "LoadBalancer", "clusterIPs": ["10.96.0.7"], "ports": [{"port": 443, "nodePort": 31000}]},
     {}, ["LoadBalancer", "10.96.0.7", "<pending>", "443:31000/TCP"]),
    ({"type": "LoadBalancer", "clusterIPs": ["10.96.0.7"], "externalIPs": ["1.2.3.4"]},
     {"loadBalancer": {"ingress": [{"ip": "172.18.255.201"}, {"hostname": "lb.example"}]}},
     ["LoadBalancer", "10.96.0.7", "172.18.255.201,lb.example,1.2.3.4", "<none>"]),
    ({"type": "ExternalName", "externalName": "db.example.com"}, {}, ["ExternalName", "<none>", "db.example.com",
                                                                      "<none>"]),
])
def test_service_cells(spec: dict, status: dict, cells: list) -> None:
    assert tables._service({"metadata": {"name": "s"}, "spec": spec, "status": status})[1:5] == cells


def test_event_row_wide_order_and_fallbacks() -> None:
    core = {"metadata": {"name": "web.1"}, "type": "Warning", "reason": "BackOff", "message": "  Back-off  \n",
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
            "source": {"component": "kubelet", "host": "sim-worker"}, "count": 4,
            "firstTimestamp": ago(60), "lastTimestamp": ago(5)}
    assert tables._event(core) == ["5s", "Warning", "BackOff", "pod/web", "spec.containers{app}",
                                   "kubelet, sim-worker", "Back-off", "60s", 4, "web.1"]
    new_style = {"metadata": {"name": "n.1"}, "type": "Normal", "reason": "Sync", "note": "done",
                 "regarding": {"kind": "Node"}, "reportingController": "ctl", "eventTime": ago(7)}
    assert tables._event(new_style) == ["7s", "Normal", "Sync", "node", "", "ctl", "done", "7s", 1, "n.1"]


def test_node_status_roles_and_addresses() -> None:
    node = {"metadata": {"name": "n", "labels": {"node-role.kubernetes.io/control-plane": "",
                                                 "kubernetes.io/role": "infra"}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "False"}],
                       "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                       "nodeInfo": {"kubeletVersion": "v1.34.0"}}}
    assert tables._node(node)[1:3] == ["NotReady,SchedulingDisabled", "control-plane,infra"]
    assert tables._node(node)[4:] == ["v1.34.0", "10.0.0.1", "<none>", "<unknown>", "<unknown>", "<unknown>"]


def test_claims_show_capacity_and_modes_only_once_bound() -> None:
    pending = {"metadata": {"name": "c"}, "spec": {"storageClassName": "standard"}, "status": {"phase": "Pending"}}
    assert tables._pvc(pending)[1:7] == ["Pending", "", "", "", "standard", "<unset>"]
    bound = {"metadata": {"name": "c"}, "spec": {"storageClassName": "standard", "volumeName": "pv-1",
                                                 "volumeMode": "Filesystem"},
             "status": {"phase": "Bound", "capacity": {"storage": "1Gi"},
                        "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}}
    assert tables._pvc(bound)[1:6] == ["Bound", "pv-1", "1Gi", "RWO,RWX", "standard"]
    assert tables._pvc(bound)[-1] == "Filesystem"


def test_table_shape_and_column_priorities() -> None:
    registry = Registry.builtin()
    deployment = registry.lookup("apps", "v1", "deployments")
    assert deployment is not None
    table = tables.to_table(deployment, [], "Metadata", "7")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Ready", "Up-to-date", "Available", "Age",
                                                              "Containers", "Images", "Selector"]
    assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert table["metadata"] == {"resourceVersion": "7"} and table["rows"] == []


def test_selector_cell_sorts_requirements_by_key() -> None:
    selector = {"matchLabels": {"z": "1", "a": "2"},
                "matchExpressions": [{"key": "m", "operator": "In", "values": ["y", "x"]},
                                     {"key": "b", "operator": "Exists"}, {"key": "c", "operator": "DoesNotExist"}]}
    row = tables._deployment({"metadata": {"name": "d"}, "spec": {"selector": selector}})
    assert row[-1] == "a=2,b,!c,m in (x,y),z=1"
