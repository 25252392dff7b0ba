"""The bytes on the wire, as a real API server writes them: Go's JSON encoding (a newline after each document,
HTML-safe escapes, UTF-8), and list items without apiVersion/kind while single objects and watch events have
them. Raw HTTP where the bytes matter, the official client and kubectl where what they make of it does."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from kubernetes import client, watch

from kubedog_ci.sim.cluster import SimCluster
from kubedog_ci.sim.server import VERSION_INFO
from tests.support import Kube, kubectl, requires_kubectl

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def raw(cluster: SimCluster, path: str, method: str = "GET", body: object = None,
        accept: str = "application/json") -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(cluster.url + path, data=data, method=method,
                                     headers={"Accept": accept, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def one_document_and_a_newline(body: bytes) -> dict:
    assert body.endswith(b"}\n") and not body.endswith(b"\n\n"), body[-40:]
    assert b"\n" not in body[:-1]  # compact, as json.Encoder writes it
    return json.loads(body)


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


# --- the trailing newline ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1",
                                  "/api/v1/namespaces", "/api/v1/namespaces/default",
                                  "/apis/apps/v1/namespaces/default/deployments"])
def test_discovery_objects_and_lists_end_with_one_newline(shared_cluster: SimCluster, path: str) -> None:
    code, body = raw(shared_cluster, path)
    assert code == 200
    one_document_and_a_newline(body)


def test_tables_and_status_errors_end_with_one_newline(shared_cluster: SimCluster, ns: str) -> None:
    code, body = raw(shared_cluster, "/api/v1/namespaces", accept=TABLE)
    assert code == 200 and one_document_and_a_newline(body)["kind"] == "Table"
    code, body = raw(shared_cluster, f"/api/v1/namespaces/{ns}/configmaps/missing")
    assert code == 404 and one_document_and_a_newline(body)["reason"] == "NotFound"
    path = f"/api/v1/namespaces/{ns}/configmaps"
    assert raw(shared_cluster, path, "POST", configmap("twice"))[0] == 201
    code, body = raw(shared_cluster, path, "POST", configmap("twice"))
    assert code == 409 and one_document_and_a_newline(body)["reason"] == "AlreadyExists"
    code, body = raw(shared_cluster, path, "POST", configmap("Not_Valid"))
    assert code == 422 and one_document_and_a_newline(body)["reason"] == "Invalid"
    code, body = raw(shared_cluster, "/apis/nothing.example.com/v1")
    assert code == 404 and one_document_and_a_newline(body)["code"] == 404
    code, body = raw(shared_cluster, f"{path}/twice", "DELETE")
    assert code == 200 and one_document_and_a_newline(body)["status"] == "Success"


def test_version_and_openapi_are_written_without_a_newline(shared_cluster: SimCluster) -> None:
    """/version is WriteRawJSON (json.MarshalIndent) and /openapi/v3 kube-openapi's json.Marshal bytes."""
    code, body = raw(shared_cluster, "/version")
    assert code == 200 and body == json.dumps(VERSION_INFO, indent=2).encode()
    code, body = raw(shared_cluster, "/openapi/v3")
    assert code == 200 and body.endswith(b"}}") and b"\n" not in body


def test_watch_events_are_one_document_a_line(shared_cluster: SimCluster, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for name in ("a", "b"):
        raw(shared_cluster, path, "POST", configmap(name))
    code, body = raw(shared_cluster, f"{path}?watch=true&timeoutSeconds=1")
    assert code == 200 and body.endswith(b"}\n") and b"\n\n" not in body
    events = [json.loads(line) for line in body.split(b"\n")[:-1]]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "a"), ("ADDED", "b")]


def test_strings_are_encoded_as_go_encodes_them(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    """encoding/json escapes <, > and & (and U+2028/9) and writes other characters as UTF-8."""
    text = "<a & b> é \u2028"
    kc.core.create_namespaced_config_map(ns, configmap("html", text=text))
    code, body = raw(shared_cluster, f"/api/v1/namespaces/{ns}/configmaps/html")
    assert code == 200
    assert b'"text":"\\u003ca \\u0026 b\\u003e \xc3\xa9 \\u2028"' in body
    assert kc.core.read_namespaced_config_map("html", ns).data == {"text": text}


# --- apiVersion and kind -----------------------------------------------------------------------------------


def test_list_items_carry_no_apiversion_or_kind(shared_cluster: SimCluster, kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_config_map(ns, configmap("one", key="value"))
    _, body = raw(shared_cluster, f"/api/v1/namespaces/{ns}/configmaps")
    listed = json.loads(body)
    assert (listed["kind"], listed["apiVersion"]) == ("ConfigMapList", "v1")
    assert [sorted(item) for item in listed["items"]] == [["data", "metadata"]]
    typed = kc.core.list_namespaced_config_map(ns)
    assert (typed.kind, typed.api_version) == ("ConfigMapList", "v1")
    assert [(item.kind, item.api_version) for item in typed.items] == [(None, None)]
    read = kc.core.read_namespaced_config_map("one", ns)
    assert (read.kind, read.api_version) == ("ConfigMap", "v1")
    _, body = raw(shared_cluster, f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
    assert json.loads(body)["kind"] == "EventList"
    _, body = raw(shared_cluster, "/api/v1/nodes")
    assert all("kind" not in item and "apiVersion" not in item for item in json.loads(body)["items"])


def test_deleted_collection_items_carry_no_apiversion_or_kind(shared_cluster: SimCluster, kc: Kube,
                                                              ns: str) -> None:
    kc.core.create_namespaced_config_map(ns, configmap("gone", key="value"))
    code, body = raw(shared_cluster, f"/api/v1/namespaces/{ns}/configmaps", "DELETE")
    deleted = json.loads(body)
    assert code == 200 and deleted["kind"] == "ConfigMapList"
    assert [sorted(item) for item in deleted["items"]] == [["data", "metadata"]]


def test_watch_events_and_table_rows_carry_apiversion_and_kind(shared_cluster: SimCluster, kc: Kube,
                                                               ns: str) -> None:
    kc.core.create_namespaced_config_map(ns, configmap("seen"))
    stream = watch.Watch()
    events = list(stream.stream(kc.core.list_namespaced_config_map, ns, timeout_seconds=1))
    assert [(e["raw_object"]["kind"], e["raw_object"]["apiVersion"]) for e in events] == [("ConfigMap", "v1")]
    assert (events[0]["object"].kind, events[0]["object"].api_version) == ("ConfigMap", "v1")
    _, body = raw(shared_cluster, f"/api/v1/namespaces/{ns}/configmaps?includeObject=Object", accept=TABLE)
    [row] = json.loads(body)["rows"]
    assert (row["object"]["kind"], row["object"]["apiVersion"]) == ("ConfigMap", "v1")
    _, body = raw(shared_cluster, f"/api/v1/namespaces/{ns}/configmaps", accept=TABLE)
    [row] = json.loads(body)["rows"]
    assert (row["object"]["kind"], row["object"]["apiVersion"]) == ("PartialObjectMetadata", "meta.k8s.io/v1")


def test_custom_resource_list_items_keep_apiversion_and_kind(kube: Kube, eventually: Callable) -> None:
    """Custom resources are unstructured: a real server lists them with each item's apiVersion and kind."""
    version = {"name": "v1", "served": True, "storage": True,
               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    kube.extensions.create_custom_resource_definition({
        "metadata": {"name": "sprockets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "versions": [version],
                 "names": {"plural": "sprockets", "kind": "Sprocket"}}})

    def create() -> object:
        try:
            return kube.custom.create_namespaced_custom_object(
                "example.com", "v1", "default", "sprockets",
                {"apiVersion": "example.com/v1", "kind": "Sprocket", "metadata": {"name": "s"}})
        except client.ApiException:
            return None

    eventually(create, 10, message="the CRD to be served")
    listed = kube.custom.list_namespaced_custom_object("example.com", "v1", "default", "sprockets")
    assert listed["kind"] == "SprocketList"
    assert [(i["apiVersion"], i["kind"]) for i in listed["items"]] == [("example.com/v1", "Sprocket")]


@requires_kubectl
@pytest.mark.kubectl
def test_kubectl_lists_fill_in_the_kind_the_items_lack(kc: Kube, ns: str) -> None:
    kc.core.create_namespaced_config_map(ns, configmap("filled"))
    done = kubectl(kc, "get", "--raw", f"/api/v1/namespaces/{ns}/configmaps")
    assert done.returncode == 0 and "kind" not in json.loads(done.stdout)["items"][0]
    done = kubectl(kc, "get", "configmaps", "-n", ns, "-o", "json")
    assert done.returncode == 0, done.stderr
    [item] = json.loads(done.stdout)["items"]
    assert (item["kind"], item["apiVersion"]) == ("ConfigMap", "v1")
