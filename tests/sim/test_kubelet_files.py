"""Containers read the files of their Secret, ConfigMap and projected volumes, as the kubelet lays them out.

Secret data is decoded (stringData arrives as data), items put keys at their paths, a subPath mounts one file
of the volume; everything is read when the container starts. Exec probes see the same files.
"""

from __future__ import annotations

import base64

from tests.sim.kubelet_support import LOOP, container, create, pod, wait_event, wait_pod
from tests.support import Kube

SCRIPT = """\
cat /etc/creds/password; echo
cat /etc/creds/user
cat /etc/cfg/conf/app.yaml
[ -e /etc/cfg/mode ] || echo "no mode: only the listed item is there"
ls /etc/cfg /etc/projected
echo "pw=$(cat /etc/pw) name=$(cat /etc/projected/name)"
cat /etc/creds/token || echo "status $?"
"""

EXPECTED_LOG = """\
s3cret
admin
level: 3
retries: 5
no mode: only the listed item is there
/etc/cfg:
conf

/etc/projected:
app.yaml
mode
name
pw
pw=s3cret name=reads-mounts
cat: /etc/creds/token: No such file or directory
status 1
"""


def _objects(kc: Kube) -> None:
    kc.core.create_namespaced_secret("default", {
        "metadata": {"name": "db-creds"},
        "data": {"password": base64.b64encode(b"s3cret").decode()},
        "stringData": {"user": "admin\n"},
    })
    kc.core.create_namespaced_config_map("default", {
        "metadata": {"name": "app-cfg"}, "data": {"app.yaml": "level: 3\nretries: 5\n", "mode": "fast"},
    })


def test_a_script_cats_its_mounted_files(kc: Kube) -> None:
    _objects(kc)
    projected = {"sources": [
        {"secret": {"name": "db-creds", "items": [{"key": "password", "path": "pw"}]}},
        {"configMap": {"name": "app-cfg"}},
        {"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
    ]}
    volumes = [
        {"name": "creds", "secret": {"secretName": "db-creds"}},
        {"name": "cfg", "configMap": {"name": "app-cfg", "items": [{"key": "app.yaml", "path": "conf/app.yaml"}]}},
        {"name": "all", "projected": projected},
    ]
    mounts = [
        {"name": "creds", "mountPath": "/etc/creds", "readOnly": True},
        {"name": "cfg", "mountPath": "/etc/cfg"},
        {"name": "all", "mountPath": "/etc/projected"},
        {"name": "all", "mountPath": "/etc/pw", "subPath": "pw"},
    ]
    create(kc, pod("reads-mounts", container(script=SCRIPT, volumeMounts=mounts), volumes=volumes,
                   restartPolicy="Never"))
    wait_pod(kc, "reads-mounts", lambda p: p.status.phase == "Succeeded", "reads-mounts Succeeded")
    assert kc.core.read_namespaced_pod_log("reads-mounts", "default") == EXPECTED_LOG


def test_an_exec_probe_reads_a_mounted_file(kc: Kube) -> None:
    kc.core.create_namespaced_config_map("default", {"metadata": {"name": "probe-cfg"}, "data": {"ready": "no"}})
    probe = {"exec": {"command": ["sh", "-c", 'test "$(cat /etc/probe/ready)" = yes || cat /etc/probe/state']},
             "periodSeconds": 1}
    app = container(script=LOOP, readinessProbe=probe,
                    volumeMounts=[{"name": "cfg", "mountPath": "/etc/probe"}])
    create(kc, pod("probe-reads", app, volumes=[{"name": "cfg", "configMap": {"name": "probe-cfg"}}]))
    wait_event(kc, "probe-reads", "Unhealthy",
               "Readiness probe failed: cat: /etc/probe/state: No such file or directory\n")
