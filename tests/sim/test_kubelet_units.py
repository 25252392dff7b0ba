"""The kubelet's pure parts, table-driven: Go durations, back-off, image references, $(VAR) expansion,
exec probes, the files a container's mounts show and the pod phase."""

from __future__ import annotations

import base64

import pytest

from kubedog_ci.sim.kubelet import mounts
from kubedog_ci.sim.kubelet.backoff import Backoff, go_duration
from kubedog_ci.sim.kubelet.env import expand, parse_quantity
from kubedog_ci.sim.kubelet.images import InvalidImage, parse_normalized
from kubedog_ci.sim.kubelet.probes import exec_probe
from kubedog_ci.sim.kubelet.status import get_phase
from kubedog_ci.sim.store import Store


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (10, "10s"), (80, "1m20s"), (300, "5m0s"), (1.5, "1.5s"), (2.013, "2.013s"), (0.523, "523ms"),
    (3600, "1h0m0s"), (0.000002, "2µs"), (-10, "-10s")])
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_back_off_doubles_to_the_maximum_and_resets_after_ten_quiet_minutes() -> None:
    entry, delays, now = Backoff(), [], 0.0
    for _ in range(7):
        entry.next(now, now)
        delays.append(entry.delay)
        now += 1
    assert delays == [10, 20, 40, 80, 160, 300, 300]
    assert entry.in_backoff_since(now, now + 299) and not entry.in_backoff_since(now, now + 300)
    entry.next(now + 601 + 6, now + 700)
    assert entry.delay == 10


def test_image_back_off_counts_from_the_last_failure() -> None:
    entry = Backoff()
    assert not entry.in_backoff_since_update(0)
    entry.next(5, 5)
    assert entry.in_backoff_since_update(14.9) and not entry.in_backoff_since_update(15)


@pytest.mark.parametrize(("image", "full"), [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25"),
    ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
    ("index.docker.io/nginx", "docker.io/library/nginx:latest"),
    ("ghcr.io/org/app:v1", "ghcr.io/org/app:v1"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("nginx:1.25@sha256:" + "a" * 64, "docker.io/library/nginx@sha256:" + "a" * 64),
])
def test_images_are_normalized_like_containerd(image: str, full: str) -> None:
    assert parse_normalized(image).full == full


@pytest.mark.parametrize(("image", "reason"), [
    ("Nginx", "invalid reference format: repository name (library/Nginx) must be lowercase"),
    ("nginx:1.25:x", "invalid reference format"),
    ("nginx@sha256:abc", "invalid reference format"),
    ("nginx@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("nginx@sha256:" + "a" * 40, "invalid checksum digest length"),
    ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings"),
    ("", "invalid reference format"),
])
def test_invalid_images_carry_the_parser_message(image: str, reason: str) -> None:
    with pytest.raises(InvalidImage) as raised:
        parse_normalized(image)
    assert str(raised.value) == f'couldn\'t parse image name "{image}": {reason}'


@pytest.mark.parametrize(("text", "expanded"), [
    ("$(A)-$(B)", "1-2"), ("$$(A)", "$(A)"), ("$(MISSING)", "$(MISSING)"), ("$(A", "$(A"), ("a$", "a$"),
    ("plain", "plain")])
def test_expand(text: str, expanded: str) -> None:
    assert expand(text, {"A": "1", "B": "2"}) == expanded


@pytest.mark.parametrize(("text", "value"), [("500m", 0.5), ("2", 2), ("1Gi", 2**30), ("128M", 128e6)])
def test_parse_quantity(text: str, value: float) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(("script", "result"), [
    ("exit 0", (True, "")), ("echo bad; exit 1", (False, "bad\n")), ("echo hi", (True, "hi\n")),
    ("sleep 5", (False, 'command "sh -c sleep 5" timed out')),
    ("while true; do :; done", (False, 'command "sh -c while true; do :; done" timed out'))])
def test_exec_probe(script: str, result: tuple[bool, str]) -> None:
    assert exec_probe(["sh", "-c", script], {}, 1.0) == result


def _status(state: str, exit_code: int = 0, last: bool = False, ready: bool = False) -> dict:
    body = {"waiting": {}} if state == "waiting" else {"running": {}} if state == "running" else \
        {"terminated": {"exitCode": exit_code}}
    return {"state": body, "lastState": {"terminated": {"exitCode": 1}} if last else {}, "ready": ready}


def _pod(policy: str = "Always", init: bool = False) -> dict:
    spec: dict = {"restartPolicy": policy, "containers": [{"name": "app"}]}
    if init:
        spec["initContainers"] = [{"name": "init"}]
    return {"spec": spec}



def test_mounts_show_the_kubelets_volumes() -> None:
    store = Store()
    store.create("/configmaps", {"metadata": {"namespace": "ns", "name": "cfg"}, "data": {"a": "1"},
                                 "binaryData": {"blob": base64.b64encode(b"\x00b").decode()}})
    store.create("/secrets", {"metadata": {"namespace": "ns", "name": "tls"},
                              "data": {"tls.crt": base64.b64encode(b"CERT").decode(), "raw": "not base64!"}})
    items = [{"key": "tls.crt", "path": "certs/./tls.crt"}, {"key": "absent", "path": "x"}]
    downward = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu", "divisor": "1m"}},
    ]
    projected = {"sources": [{"secret": {"name": "tls", "items": items, "optional": True}},
                             {"serviceAccountToken": {"path": "token"}}, {"downwardAPI": {"items": downward}}]}
    volumes = [
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "tls", "secret": {"secretName": "tls"}},
        {"name": "gone", "secret": {"secretName": "absent", "optional": True}},
        {"name": "all", "projected": projected},
        {"name": "scratch", "emptyDir": {}},
    ]
    pod = {"metadata": {"namespace": "ns", "name": "p", "labels": {"app": "web", "tier": "db"}},
           "spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": "250m"}}}], "volumes": volumes}}
    container = {"name": "app", "volumeMounts": [
        {"name": "cfg", "mountPath": "/etc/cfg"},
        {"name": "tls", "mountPath": "/etc/tls"},
        {"name": "gone", "mountPath": "/etc/gone"},
        {"name": "all", "mountPath": "/var/run/all/"},
        {"name": "all", "mountPath": "/etc/tls.crt", "subPathExpr": "$(DIR)/tls.crt"},
        {"name": "all", "mountPath": "/etc/nothing", "subPath": "no/such"},
        {"name": "scratch", "mountPath": "/scratch"},
        {"name": "undeclared", "mountPath": "/etc/undeclared"},
    ]}
    files = mounts.files(store, pod, container, {"DIR": "certs"}, {"cpu": "4"})
    assert [files.read("/etc/cfg/a"), files.read("/etc/cfg/blob")] == ["1", "\x00b"]
    assert [files.read("/etc/tls/tls.crt"), files.read("/etc/tls/raw")] == ["CERT", "not base64!"]
    assert (files.kind("/etc/gone"), files.entries("/etc/gone")) == ("dir", [])
    assert files.entries("/var/run/all") == ["certs", "cpu", "labels", "token"]
    assert [files.read("/var/run/all/cpu"), files.read("/var/run/all/labels")] == ["250", 'app="web"\ntier="db"']
    assert (files.kind("/var/run/all/token"), files.read("/var/run/all/token")) == ("file", None)
    assert (files.kind("/etc/tls.crt"), files.read("/etc/tls.crt")) == ("file", "CERT")
    paths = ("/etc/nothing/x", "/scratch/x", "/etc/undeclared/x", "/etc/cfg/x")
    assert [files.kind(path) for path in paths] == [None, None, None, "missing"]


@pytest.mark.parametrize(("pod", "statuses", "terminal", "phase"), [
    (_pod(), {"app": _status("waiting")}, False, "Pending"),
    (_pod(), {"app": _status("running")}, False, "Running"),
    (_pod(), {"app": _status("waiting", last=True)}, False, "Running"),
    (_pod(), {"app": _status("terminated", 0)}, True, "Succeeded"),
    (_pod(), {"app": _status("terminated", 137)}, True, "Failed"),
    (_pod("Never"), {"app": _status("terminated", 0)}, False, "Succeeded"),
    (_pod("Never"), {"app": _status("terminated", 2)}, False, "Failed"),
    (_pod("OnFailure"), {"app": _status("terminated", 2)}, False, "Running"),
    (_pod(init=True), {"init": _status("running"), "app": _status("waiting")}, False, "Pending"),
    (_pod("Never", init=True), {"init": _status("terminated", 1), "app": _status("waiting")}, False, "Failed"),
    (_pod(), {}, False, "Pending"),
])
def test_get_phase(pod: dict, statuses: dict, terminal: bool, phase: str) -> None:
    assert get_phase(pod, statuses, terminal) == phase
