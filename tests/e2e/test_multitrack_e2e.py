"""`kubedog multitrack` end to end: kubedog's multitrack spec on stdin, the CLI as a process against the simulated
cluster (time scale 0.02). The specs are kubedog's own documented ones (werf/kubedog doc/usage.md and the
command's example in cmd/kubedog/main.go), in the test's namespace instead of `myns`."""

from __future__ import annotations

import json
import subprocess

from kubedog_ci.sim.cluster import SimCluster
from tests import support
from tests.e2e.test_rollout_track import LATE_READY, deployment, pod_spec, statefulset
from tests.manifests.test_multitrack import CLI_EXAMPLE, README_SPEC
from tests.support import CliRun, Kube

SCALE = ["--grace-scale", "0.02", "--color", "never"]
FOREVER = "while true; do sleep 5; done"


def multitrack(cluster: SimCluster | None, spec: str, *args: str) -> CliRun:
    config = ["--kubeconfig", cluster.kubeconfig] if cluster else []
    done = subprocess.run([*support.KUBEDOG, "multitrack", *config, "--timeout", "30s", *SCALE, *args], input=spec,
                          capture_output=True, text=True, timeout=60)
    return CliRun.of(done)


def test_the_spec_of_kubedogs_readme(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_stateful_set(ns, statefulset("mysts1"))
    kc.apps.create_namespaced_deployment(ns, deployment("mydeploy22"))
    run = multitrack(shared_cluster, README_SPEC.replace('"myns"', json.dumps(ns)))
    assert run.code == 0, run
    assert run.verdicts() == {"deploy/mydeploy22": "ready", "sts/mysts1": "ready"}, run


def test_the_example_of_kubedogs_command(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    containers = [{"name": name, "image": "busybox:1.36", "command": ["sh", "-c", f"echo from {name}; {FOREVER}"],
                   **LATE_READY} for name in ("one", "two", "three")]
    kc.apps.create_namespaced_deployment(ns, deployment("mydeploy", spec=pod_spec(**LATE_READY)))
    kc.apps.create_namespaced_deployment(ns, deployment("myresource", spec={"containers": containers}))
    kc.apps.create_namespaced_stateful_set(ns, statefulset("mysts"))
    run = multitrack(shared_cluster, CLI_EXAMPLE.replace('"myns"', json.dumps(ns)), "--logs-since", "all")
    assert run.code == 0, run
    assert run.verdicts() == {"deploy/mydeploy": "ready", "deploy/myresource": "ready", "sts/mysts": "ready"}, run
    shown = {line.split("] | ")[1] for line in run.lines if line.startswith("deploy/myresource po/") and "] | " in line}
    assert shown == {"from one"}, run  # SkipLogsForContainers: two, three


def test_fields_take_effect_and_unknown_ones_are_warned_about(shared_cluster: SimCluster, kc: Kube,
                                                              ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web"))
    kc.apps.create_namespaced_deployment(ns, deployment("broken", spec=pod_spec(
        image="registry.example/broken:does-not-exist")))
    kc.apps.create_namespaced_deployment(ns, deployment("slow", annotations={
        "sim.kubedog-ci.io/pull-seconds": "100000"}, spec=pod_spec(image=f"registry.example/{ns}/slow:1")))
    spec = {
        "Deployments": [{"ResourceName": "web", "Namespace": ns, "Replicas": 3},
                        {"ResourceName": "broken", "Namespace": ns, "FailMode": "IgnoreAndContinueDeployProcess",
                         "ShowServiceMessages": True}],
        "Generics": [{"Name": "slow", "Namespace": ns, "Timeout": 2_000_000_000,
                      "GroupVersionKind": {"Group": "apps", "Version": "v1", "Kind": "Deployment"}}],
        "Pods": []}
    run = multitrack(shared_cluster, json.dumps(spec), "--no-fail-fast")
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/web": "ready", "deploy/broken": "ignored", "deploy/slow": "FAILED"}, run
    assert run.headline("deploy/slow").startswith("deploy/slow FAILED: Timeout: no verdict after 2s: "), run
    for warning in ("multitrack spec: Pods: unknown field, ignored",
                    "multitrack spec: Deployments[0].Replicas: unknown field, ignored",
                    "multitrack spec: Deployments[1].ShowServiceMessages: kubedog's, not used here"):
        assert f"kubedog: {warning}" in run.out, run


def test_kubedogs_own_flags(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.apps.create_namespaced_deployment(ns, deployment("web"))
    spec = json.dumps({"Deployments": [{"ResourceName": "web"}]})
    done = subprocess.run([*support.KUBEDOG, "multitrack", "--kube-config", shared_cluster.kubeconfig, "-n", ns,
                           "-t", "30", *SCALE], input=spec, capture_output=True, text=True, timeout=60)
    run = CliRun.of(done)
    assert run.code == 0, run
    assert run.verdicts() == {"deploy/web": "ready"}, run


def test_bad_json_exits_2_with_where_it_is() -> None:
    run = multitrack(None, '{"Deployments": [{"ResourceName": "web"\n  "Namespace": "x"}]}')
    assert run.code == 2, run
    assert run.err.strip() == "kubedog: <stdin>:2:3: not valid JSON: Expecting ',' delimiter", run
    empty = multitrack(None, "")
    assert empty.code == 2 and "kubedog: <stdin>: empty; expected kubedog's multitrack spec" in empty.err, empty
    assert "Traceback" not in run.err + empty.err
