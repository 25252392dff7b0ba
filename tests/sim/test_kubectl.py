"""The real kubectl against the simulated cluster: what it prints, waits for and exits with, as on a real one.

One module-scoped cluster serves every test; each test works in a namespace of its own. A shared "workloads"
namespace holds one of each workload kind, rolled out once, for the read-only checks (tables, describe, events).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from tests.support import KUBECTL, namespace_name, requires_kubectl, running_cluster, wait_until

pytestmark = [pytest.mark.kubectl, requires_kubectl]

WORKLOADS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:16"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "busybox:1.36", command: [sh, -c, "echo agent up; sleep 3600"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: "busybox:1.36", command: [sh, -c, "echo migrating; echo done"]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wg]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color, priority: 1}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
"""


class Kubectl:
    """Runs the real kubectl against one cluster, with a discovery cache of its own."""

    def __init__(self, kubeconfig: str, cache: Path) -> None:
        self.base = [KUBECTL or "kubectl", "--kubeconfig", kubeconfig, "--cache-dir", str(cache)]

    def run(self, *args: str, stdin: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.base, *args], input=stdin, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if check and done.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        return self.run(*args, stdin=stdin).stdout

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimCluster]:
    path = tmp_path_factory.mktemp("kubectl") / "kubeconfig"
    with running_cluster(kubeconfig_path=path) as sim:
        yield sim


@pytest.fixture(scope="module")
def kubectl(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kube-cache"))


@pytest.fixture
def ns(kubectl: Kubectl, request: pytest.FixtureRequest) -> str:
    name = namespace_name(request)
    kubectl("create", "namespace", name)
    return name


@pytest.fixture(scope="module")
def workloads(kubectl: Kubectl) -> str:
    """Namespace "workloads" with every kind rolled out (the Job complete, the claim bound)."""
    kubectl("create", "namespace", "workloads")
    kubectl("apply", "--server-side", "--validate=false", "-n", "workloads", "-f", "-", stdin=WORKLOADS)
    for target in ("deploy/web", "sts/db", "ds/agent"):
        kubectl("rollout", "status", "-n", "workloads", target, "--timeout=60s")
    kubectl("wait", "-n", "workloads", "--for=condition=complete", "job/once", "--timeout=60s")
    kubectl("wait", "-n", "workloads", "--for=jsonpath={.status.phase}=Bound", "pvc/data", "--timeout=60s")
    return "workloads"


def table(output: str) -> list[list[str]]:
    """kubectl's column output as rows of cells (columns are two or more spaces apart)."""
    return [re.split(r"\s{2,}", line.strip()) for line in output.splitlines() if line.strip()]


def row(output: str, name: str) -> list[str]:
    return next(r for r in table(output)[1:] if r[0] == name)


# --- apply -------------------------------------------------------------------------------------------------


def test_server_side_apply_and_an_idempotent_second_apply(kubectl: Kubectl, ns: str) -> None:
    manifest = WORKLOADS.split("---")[0] + "---" + WORKLOADS.split("---")[1]
    first = kubectl.run("apply", "--server-side", "--validate=false", "-n", ns, "-f", "-", stdin=manifest)
    assert first.stdout == "deployment.apps/web serverside-applied\nservice/web serverside-applied\n"
    assert first.stderr == ""
    before = kubectl("get", "svc", "web", "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}")
    second = kubectl.run("apply", "--server-side", "--validate=false", "-n", ns, "-f", "-", stdin=manifest)
    assert second.stdout == first.stdout
    assert kubectl("get", "svc", "web", "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}") == before
    managers = kubectl.json("get", "svc", "web", "-n", ns, "--show-managed-fields")["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"]) for m in managers] == [("kubectl", "Apply")]


def test_client_side_apply_and_create_with_validation_left_to_the_server(kubectl: Kubectl, ns: str) -> None:
    manifest = WORKLOADS.split("---")[1]
    assert kubectl("apply", "-n", ns, "-f", "-", stdin=manifest) == "service/web created\n"
    assert kubectl("apply", "-n", ns, "-f", "-", stdin=manifest) == "service/web unchanged\n"
    again = kubectl.run("create", "-n", ns, "-f", "-", stdin=manifest, check=False)
    assert again.returncode == 1
    assert again.stderr.strip() == ('Error from server (AlreadyExists): error when creating "STDIN": '
                                    'services "web" already exists')


GENERATORS = {
    "namespace": ["create", "namespace", "extra-{ns}"],
    "configmap": ["create", "configmap", "settings", "--from-literal=mode=fast", "--from-literal=level=3"],
    "secret": ["create", "secret", "generic", "creds", "--from-literal=user=admin"],
    "deployment": ["create", "deployment", "api", "--image=nginx:1.27", "--replicas=0", "--port=8080"],
    "job": ["create", "job", "once", "--image=busybox:1.36", "--", "echo", "hi"],
    "cronjob": ["create", "cronjob", "nightly", "--image=busybox:1.36", "--schedule=@daily", "--", "date"],
    "service": ["create", "service", "nodeport", "front", "--tcp=80:8080"],
    "rolebinding": ["create", "rolebinding", "readers", "--clusterrole=view", "--user=alice"],
}


def contained(expected: object, actual: object) -> bool:
    """Every field kubectl meant to send is in the stored object (which may add defaults and server fields)."""
    if isinstance(expected, dict):
        skipped = ("creationTimestamp", "status")
        return isinstance(actual, dict) and all(key in skipped or contained(value, actual.get(key))
                                                for key, value in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(contained, expected, actual))
    return expected == actual


@pytest.mark.parametrize("generator", list(GENERATORS))
def test_create_generators_are_decoded_from_protobuf(kubectl: Kubectl, ns: str, generator: str) -> None:
    """`kubectl create <kind>` posts protobuf; the stored object must be what its --dry-run=client shows."""
    args = [a.format(ns=ns[-40:]) for a in GENERATORS[generator]]
    split = args.index("--") if "--" in args else len(args)
    flags, command = args[:split], args[split:]
    meant = json.loads(kubectl(*flags, "-n", ns, "--dry-run=client", "-o", "json", *command))
    kubectl(*flags, "-n", ns, *command)
    kind = f"{meant['kind'].lower()}.{meant['apiVersion'].split('/')[0]}" if "/" in meant["apiVersion"] \
        else meant["kind"].lower()
    stored = kubectl.json("get", kind, meant["metadata"]["name"], "-n", ns)
    assert contained(meant, stored), json.dumps({"meant": meant, "stored": stored}, indent=1)


# --- get: tables and raw output ----------------------------------------------------------------------------


HEADERS = {
    "pods": ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
    "deployments": ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
    "statefulsets": ["NAME", "READY", "AGE"],
    "daemonsets": ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
    "jobs": ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
    "services": ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
    "persistentvolumeclaims": ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS",
                               "VOLUMEATTRIBUTESCLASS", "AGE"],
    "events": ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
}


@pytest.mark.parametrize("resource", list(HEADERS))
def test_get_prints_the_real_columns(kubectl: Kubectl, workloads: str, resource: str) -> None:
    assert table(kubectl("get", resource, "-n", workloads))[0] == HEADERS[resource]


def test_get_rows_of_rolled_out_workloads(kubectl: Kubectl, workloads: str) -> None:
    get = lambda *what: kubectl("get", *what, "-n", workloads)  # noqa: E731
    assert row(get("deploy"), "web")[1:4] == ["2/2", "2", "2"]
    assert row(get("sts"), "db")[1] == "2/2"
    assert row(get("ds"), "agent")[1:7] == ["3", "3", "3", "3", "3", "<none>"]
    assert row(get("job"), "once")[1:3] == ["Complete", "1/1"]
    web = row(get("svc"), "web")
    assert web[1] == "ClusterIP" and re.fullmatch(r"10\.96\.\d+\.\d+", web[2]) and web[3:5] == ["<none>", "80/TCP"]
    data = row(get("pvc"), "data")
    assert data[1] == "Bound" and data[3:6] == ["1Gi", "RWO", "standard"]
    pods = {r[0]: r for r in table(get("pods"))[1:]}
    assert {"db-0", "db-1"} <= set(pods) and pods["db-0"][1:4] == ["1/1", "Running", "0"]
    assert next(r for name, r in pods.items() if name.startswith("once-"))[1:3] == ["0/1", "Completed"]
    wide = table(kubectl("get", "pods", "-o", "wide", "-n", workloads))
    assert wide[0] == HEADERS["pods"] + ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    assert all(r[6].startswith("sim-worker") for r in wide[1:])


def test_get_cluster_scoped_tables(kubectl: Kubectl) -> None:
    nodes = table(kubectl("get", "nodes"))
    assert nodes[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [r[:3] for r in nodes[1:]] == [["sim-worker", "Ready", "<none>"], ["sim-worker2", "Ready", "<none>"],
                                          ["sim-worker3", "Ready", "<none>"]]
    namespaces = table(kubectl("get", "ns"))
    assert namespaces[0] == ["NAME", "STATUS", "AGE"]
    assert row(kubectl("get", "ns"), "default")[:2] == ["default", "Active"]
    classes = table(kubectl("get", "storageclass"))
    assert classes[0] == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION",
                          "AGE"]
    assert classes[1][:5] == ["standard (default)", "rancher.io/local-path", "Delete", "Immediate", "false"]


def test_get_yaml_and_json(kubectl: Kubectl, workloads: str) -> None:
    deploy = yaml.safe_load(kubectl("get", "deploy", "web", "-n", workloads, "-o", "yaml"))
    assert (deploy["apiVersion"], deploy["kind"], deploy["metadata"]["name"]) == ("apps/v1", "Deployment", "web")
    assert deploy["status"]["readyReplicas"] == 2 and "managedFields" not in deploy["metadata"]
    listed = kubectl.json("get", "deploy,svc", "-n", workloads)
    assert listed["kind"] == "List"
    assert [(i["kind"], i["metadata"]["name"]) for i in listed["items"]] == [("Deployment", "web"),
                                                                             ("Service", "web")]


def test_get_events(kubectl: Kubectl, workloads: str) -> None:
    events = table(kubectl("get", "events", "-n", workloads, "--field-selector", "involvedObject.kind=Deployment"))
    assert events[0] == HEADERS["events"]
    scaled = [r for r in events[1:] if r[2] == "ScalingReplicaSet"]
    assert scaled and scaled[0][1] == "Normal" and scaled[0][3] == "deployment/web"
    assert re.fullmatch(r"Scaled up replica set web-[a-z0-9]+ from 0 to 2", scaled[0][4])


def test_get_raw_and_api_resources(kubectl: Kubectl) -> None:
    groups = json.loads(kubectl("get", "--raw", "/apis"))
    assert groups["kind"] == "APIGroupList"
    assert {"apps", "batch", "apiextensions.k8s.io", "events.k8s.io"} <= {g["name"] for g in groups["groups"]}
    resources = {(r[0], r[-3]): r for r in table(kubectl("api-resources"))[1:]}
    expected = [
        ["pods", "po", "v1", "true", "Pod"],
        ["namespaces", "ns", "v1", "false", "Namespace"],
        ["nodes", "no", "v1", "false", "Node"],
        ["persistentvolumeclaims", "pvc", "v1", "true", "PersistentVolumeClaim"],
        ["services", "svc", "v1", "true", "Service"],
        ["deployments", "deploy", "apps/v1", "true", "Deployment"],
        ["statefulsets", "sts", "apps/v1", "true", "StatefulSet"],
        ["daemonsets", "ds", "apps/v1", "true", "DaemonSet"],
        ["replicasets", "rs", "apps/v1", "true", "ReplicaSet"],
        ["jobs", "batch/v1", "true", "Job"],
        ["cronjobs", "cj", "batch/v1", "true", "CronJob"],
        ["customresourcedefinitions", "crd,crds", "apiextensions.k8s.io/v1", "false", "CustomResourceDefinition"],
        ["storageclasses", "sc", "storage.k8s.io/v1", "false", "StorageClass"],
        ["events", "ev", "events.k8s.io/v1", "true", "Event"],
    ]
    for line in expected:
        assert resources[(line[0], line[-3])] == line


# --- describe and logs -------------------------------------------------------------------------------------


def test_describe_deployment(kubectl: Kubectl, workloads: str) -> None:
    text = kubectl("describe", "deploy", "web", "-n", workloads)
    assert re.search(r"^Replicas:\s+2 desired \| 2 updated \| 2 total \| 2 available \| 0 unavailable$", text, re.M)
    assert re.search(r"^\s+Available\s+True\s+MinimumReplicasAvailable$", text, re.M)
    assert re.search(r"^\s+Progressing\s+True\s+NewReplicaSetAvailable$", text, re.M)
    assert re.search(r"^NewReplicaSet:\s+web-[a-z0-9]+ \(2/2 replicas created\)$", text, re.M)
    events = text.split("\nEvents:", 1)[1]
    assert re.search(r"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+"
                     r"Scaled up replica set web-[a-z0-9]+ from 0 to 2", events)


def test_describe_pod(kubectl: Kubectl, workloads: str) -> None:
    text = kubectl("describe", "pod", "db-0", "-n", workloads)
    assert re.search(r"^Status:\s+Running$", text, re.M)
    assert re.search(r"^Node:\s+sim-worker\d?/172\.18\.0\.\d+$", text, re.M)
    assert re.search(r"^\s+Ready\s+True\s*$", text, re.M)
    events = text.split("\nEvents:", 1)[1]
    for reason, source, message in (
            ("Scheduled", "default-scheduler", rf"Successfully assigned {workloads}/db-0 to sim-worker\d?"),
            ("Pulling", "kubelet", 'Pulling image "postgres:16"'),
            ("Created", "kubelet", "Created container: db"),
            ("Started", "kubelet", "Started container db")):
        # kubectl (not the Event) puts the involved object's fieldPath before a kubelet message
        prefix = r"(spec\.containers\{db\}: )?" if source == "kubelet" else ""
        assert re.search(rf"Normal\s+{reason}\s+\S+\s+{source}\s+{prefix}{message}", events), reason


def test_logs_follow_ends_with_the_container(kubectl: Kubectl, ns: str) -> None:
    kubectl("run", "talker", "-n", ns, "--image=busybox:1.36", "--restart=Never", "--",
            "sh", "-c", "for i in 1 2 3; do echo hello $i; sleep 1; done")
    wait_until(lambda: kubectl.run("logs", "talker", "-n", ns, check=False).returncode == 0,
               message="the container started")
    followed = kubectl.run("logs", "-f", "talker", "-n", ns, timeout=30)
    assert followed.stdout == "hello 1\nhello 2\nhello 3\n" and followed.returncode == 0
    assert kubectl("logs", "talker", "-n", ns, "--tail=1") == "hello 3\n"


def test_logs_of_a_workload(kubectl: Kubectl, workloads: str) -> None:
    assert kubectl("logs", "job/once", "-n", workloads) == "migrating\ndone\n"
    assert kubectl("logs", "ds/agent", "-n", workloads) == "agent up\n"


# --- rollouts and waiting ----------------------------------------------------------------------------------


def test_rollout_status_of_each_workload(kubectl: Kubectl, workloads: str) -> None:
    status = lambda target: kubectl("rollout", "status", target, "-n", workloads, "--timeout=30s")  # noqa: E731
    assert status("deploy/web").splitlines()[-1] == 'deployment "web" successfully rolled out'
    assert status("sts/db").splitlines()[-1] in ("partitioned roll out complete: 2 new pods have been updated...",
                                                 "statefulset rolling update complete 2 pods at revision "
                                                 + kubectl("get", "sts/db", "-n", workloads, "-o",
                                                           "jsonpath={.status.currentRevision}") + "...")
    assert status("ds/agent").splitlines()[-1] == 'daemon set "agent" successfully rolled out'


def test_rollout_status_fails_past_the_progress_deadline(kubectl: Kubectl, ns: str) -> None:
    broken = yaml.safe_load(WORKLOADS.split("---")[0])
    broken["metadata"]["name"] = "stuck"
    broken["spec"]["progressDeadlineSeconds"] = 30
    broken["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/does-not-exist:1"
    kubectl("apply", "--server-side", "--validate=false", "-n", ns, "-f", "-", stdin=json.dumps(broken))
    done = kubectl.run("rollout", "status", "deploy/stuck", "-n", ns, "--timeout=60s", check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == 'error: deployment "stuck" exceeded its progress deadline'
    pods = table(kubectl("get", "pods", "-n", ns))
    assert {r[2] for r in pods[1:]} <= {"ErrImagePull", "ImagePullBackOff"}


def test_wait_for_a_job_to_complete(kubectl: Kubectl, ns: str) -> None:
    kubectl("create", "job", "count", "-n", ns, "--image=busybox:1.36", "--", "sh", "-c", "echo 1; echo 2")
    done = kubectl("wait", "--for=condition=complete", "job/count", "-n", ns, "--timeout=60s")
    assert done == "job.batch/count condition met\n"


# --- changes: scale, restart, patch, delete ----------------------------------------------------------------


@pytest.fixture
def web(kubectl: Kubectl, ns: str) -> str:
    """A rolled-out Deployment "web" (2 replicas) in the test's namespace."""
    kubectl("apply", "--server-side", "--validate=false", "-n", ns, "-f", "-", stdin=WORKLOADS.split("---")[0])
    kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=60s")
    return ns


def test_scale(kubectl: Kubectl, web: str) -> None:
    assert kubectl("scale", "deploy/web", "--replicas=3", "-n", web) == "deployment.apps/web scaled\n"
    kubectl("rollout", "status", "deploy/web", "-n", web, "--timeout=60s")
    assert row(kubectl("get", "deploy", "-n", web), "web")[1:4] == ["3/3", "3", "3"]


def test_rollout_restart_rolls_out_a_new_replica_set(kubectl: Kubectl, web: str) -> None:
    before = kubectl("get", "rs", "-n", web, "-o", "name")
    assert kubectl("rollout", "restart", "deploy/web", "-n", web) == "deployment.apps/web restarted\n"
    kubectl("rollout", "status", "deploy/web", "-n", web, "--timeout=60s")
    annotations = kubectl.json("get", "deploy", "web", "-n", web)["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    replica_sets = table(kubectl("get", "rs", "-n", web))
    assert len(replica_sets) == 3 and sorted(r[1] for r in replica_sets[1:]) == ["0", "2"]
    assert before.strip() in kubectl("get", "rs", "-n", web, "-o", "name")


def test_patch_strategic_merge_and_json(kubectl: Kubectl, web: str) -> None:
    strategic = '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}'
    assert kubectl("patch", "deploy", "web", "-n", web, "-p", strategic) == "deployment.apps/web patched\n"
    # kubectl compares the object it read with the patched one; a rollout still writing status would differ
    # there on a real cluster too, so let the rollout finish first.
    kubectl("rollout", "status", "deploy/web", "-n", web, "--timeout=60s")
    assert kubectl("patch", "deploy", "web", "-n", web, "-p", strategic) == "deployment.apps/web patched (no change)\n"
    kubectl("patch", "deploy", "web", "-n", web, "--type=merge", "-p", '{"metadata":{"labels":{"tier":"front"}}}')
    kubectl("patch", "deploy", "web", "-n", web, "--type=json",
            "-p", '[{"op":"replace","path":"/spec/replicas","value":1}]')
    got = kubectl.json("get", "deploy", "web", "-n", web)
    assert got["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert got["metadata"]["labels"] == {"app": "web", "tier": "front"} and got["spec"]["replicas"] == 1
    kubectl("rollout", "status", "deploy/web", "-n", web, "--timeout=60s")


def test_delete_returns_once_the_object_is_gone(kubectl: Kubectl, web: str) -> None:
    assert kubectl("delete", "deploy", "web", "-n", web) == f'deployment.apps "web" deleted from {web} namespace\n'
    missing = kubectl.run("get", "deploy", "web", "-n", web, check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): deployments.apps "web" not found'
    wait_until(lambda: kubectl("get", "pods", "-n", web, "-o", "name") == "", message="the pods collected")


# --- custom resources --------------------------------------------------------------------------------------


def test_custom_resource_with_printer_columns(kubectl: Kubectl, ns: str) -> None:
    applied = kubectl("apply", "--server-side", "--validate=false", "-f", "-", stdin=CRD)
    assert applied == "customresourcedefinition.apiextensions.k8s.io/widgets.example.com serverside-applied\n"
    kubectl("wait", "--for=condition=established", "crd/widgets.example.com", "--timeout=30s")
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: gear}\nspec: {size: 3, color: red}\n"
    assert kubectl("apply", "--server-side", "--validate=false", "-n", ns, "-f", "-",
                   stdin=widget) == "widget.example.com/gear serverside-applied\n"
    listed = table(kubectl("get", "widgets", "-n", ns))
    assert listed[0] == ["NAME", "SIZE", "AGE"] and listed[1][:2] == ["gear", "3"]
    wide = table(kubectl("get", "wg", "-n", ns, "-o", "wide"))
    assert wide[0] == ["NAME", "SIZE", "COLOR", "AGE"] and wide[1][:3] == ["gear", "3", "red"]
    assert kubectl.json("get", "widget", "gear", "-n", ns)["spec"] == {"size": 3, "color": "red"}
