"""Helm releases read back from their stored Secrets and ConfigMaps (kubedog_ci.manifests.helm), built exactly as
Helm stores them (tests/helm_support.py): gzip and plain, both drivers, revisions, hooks, sources."""

from __future__ import annotations

import base64
import gzip

import pytest

from kubedog_ci.manifests.helm import (
    HelmError,
    decode_release,
    decode_stored,
    driver_resource,
    newest,
    objects,
    release_name_of,
    revision_of,
    selector,
    storage_name,
)
from tests.helm_support import HookSpec, encode_release, go_json, release, stored_configmap, stored_secret

DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
          "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "other"},
          "data": {"html": "<p>a & b</p>"}}
MIGRATE = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "web-migrate", "annotations": {"helm.sh/hook": "pre-install,pre-upgrade",
                                                               "helm.sh/hook-delete-policy": "hook-succeeded"}},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "migrate", "image": "busybox:1.36"}]}}}}
DOCS = [("web/templates/configmap.yaml", CONFIG), ("web/templates/service.yaml", SERVICE),
        ("web/templates/deployment.yaml", DEPLOY)]


def shop_release(**fields: object) -> dict:
    return release("web", "shop", 3, DOCS, hooks=[HookSpec(MIGRATE, "web/templates/migrate.yaml",
                                                             delete_policies=["hook-succeeded"])], **fields)


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "before-compression"])
@pytest.mark.parametrize("store", [stored_secret, stored_configmap], ids=["secret", "configmap"])
def test_a_stored_release_decodes(store, compressed: bool) -> None:  # type: ignore[no-untyped-def]
    stored = store(shop_release(status="failed"), compressed=compressed)
    resource = "secrets" if stored["kind"] == "Secret" else "configmaps"
    decoded = decode_stored(stored, resource)
    assert (decoded.name, decoded.namespace, decoded.revision, decoded.status) == ("web", "shop", 3, "failed")
    assert decoded.label == "helm:web/3"
    assert decoded.manifest.startswith("---\n# Source: web/templates/configmap.yaml\napiVersion: v1\n")
    (hook,) = decoded.hooks
    assert (hook.name, hook.kind, hook.path, hook.events, hook.delete_policies, hook.last_phase) == (
        "web-migrate", "Job", "web/templates/migrate.yaml", ("pre-install", "pre-upgrade"), ("hook-succeeded",),
        "Succeeded")


def test_the_secret_holds_base64_of_the_base64_of_gzip() -> None:
    rls = shop_release()
    stored = stored_secret(rls)
    inner = base64.b64decode(stored["data"]["release"])
    assert gzip.decompress(base64.b64decode(inner)) == go_json(rls)
    assert b"\\u003cp\\u003ea \\u0026 b\\u003c/p\\u003e" in go_json(rls)  # Go escapes HTML characters
    assert decode_release(inner.decode()).manifest == rls["manifest"]


def test_objects_come_in_manifest_order_with_their_templates() -> None:
    decoded = decode_stored(stored_secret(shop_release()), "secrets")
    found = objects(decoded)
    assert [(o.manifest.obj["kind"], str(o.manifest.source), o.hook) for o in found] == [
        ("ConfigMap", "helm:web/3:web/templates/configmap.yaml:1", None),
        ("Service", "helm:web/3:web/templates/service.yaml:1", None),
        ("Deployment", "helm:web/3:web/templates/deployment.yaml:1", None)]
    assert found[0].manifest.obj["metadata"]["namespace"] == "other"
    assert found[2].manifest.obj == DEPLOY


def test_hooks_come_last_only_when_asked_for() -> None:
    decoded = decode_stored(stored_secret(shop_release()), "secrets")
    assert all(o.hook is None for o in objects(decoded))
    *_, last = objects(decoded, hooks=True)
    assert last.hook is not None and last.hook.name == "web-migrate"
    assert last.manifest.obj == MIGRATE and str(last.manifest.source) == "helm:web/3:web/templates/migrate.yaml:1"


def test_a_template_of_several_documents_and_comments_counts_lines_under_its_source() -> None:
    text = ("---\n# Source: web/templates/all.yaml\n# a comment the template keeps\napiVersion: v1\nkind: ConfigMap\n"
            "metadata:\n  name: a\n---\n# Source: web/templates/all.yaml\napiVersion: v1\nkind: ConfigMap\n"
            "metadata:\n  name: b\n")
    rls = {"name": "web", "namespace": "shop", "version": 1, "info": {"status": "deployed"}, "manifest": text}
    found = objects(decode_release(encode_release(rls)))
    assert [str(o.manifest.source) for o in found] == ["helm:web/1:web/templates/all.yaml:2",
                                                        "helm:web/1:web/templates/all.yaml:1"]


def test_a_manifest_without_source_comments_counts_its_own_lines() -> None:
    rls = {"name": "web", "namespace": "shop", "version": 2, "info": {"status": "deployed"},
           "manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"}
    (found,) = objects(decode_release(encode_release(rls, compressed=False)))
    assert str(found.manifest.source) == "helm:web/2:1"


def items(*revisions: tuple[int, str]) -> list[dict]:
    return [stored_secret(release("web", "shop", number, DOCS, status=status)) for number, status in revisions]


def test_the_newest_revision_is_the_highest_number_whatever_its_status() -> None:
    stored = items((9, "superseded"), (10, "failed"), (2, "superseded"))
    assert revision_of(newest(stored) or {}) == 10
    assert revision_of(newest(stored, 9) or {}) == 9
    assert newest(stored, 4) is None and newest([]) is None


def test_revision_and_name_from_labels_else_from_the_object_name() -> None:
    (item,) = items((12, "deployed"))
    assert (revision_of(item), release_name_of(item)) == (12, "web")
    del item["metadata"]["labels"]
    assert (revision_of(item), release_name_of(item)) == (12, "web")
    assert storage_name("web", 12) == item["metadata"]["name"] == "sh.helm.release.v1.web.v12"


def test_selectors_and_drivers() -> None:
    assert selector("web") == "owner=helm,name=web" and selector() == "owner=helm"
    assert [driver_resource(d) for d in ("", "secret", "Secrets", "configmap", "configmaps")] == [
        "secrets", "secrets", "secrets", "configmaps", "configmaps"]
    with pytest.raises(ValueError, match='HELM_DRIVER "sql" does not keep releases in the cluster'):
        driver_resource("sql")


@pytest.mark.parametrize(("data", "message"), [
    (None, 'Secret "sh.helm.release.v1.web.v1" holds no release (data.release is missing)'),
    ("not base64!", 'Secret "sh.helm.release.v1.web.v1": data.release is not base64'),
    (base64.b64encode(b"%%%").decode(), 'Secret "sh.helm.release.v1.web.v1": the release is not base64'),
    (base64.b64encode(base64.b64encode(b"\x1f\x8b\x08garbage")).decode(),
     'Secret "sh.helm.release.v1.web.v1": the release is not valid gzip'),
    (base64.b64encode(base64.b64encode(b"{not json")).decode(),
     'Secret "sh.helm.release.v1.web.v1": the release is not JSON'),
    (base64.b64encode(base64.b64encode(b"[1]")).decode(),
     'Secret "sh.helm.release.v1.web.v1": the release is not a JSON object'),
])
def test_an_unreadable_release_names_its_object(data: str | None, message: str) -> None:
    item = {"metadata": {"name": "sh.helm.release.v1.web.v1"}, "type": "helm.sh/release.v1",
            "data": {} if data is None else {"release": data}}
    with pytest.raises(HelmError) as error:
        decode_stored(item, "secrets")
    assert str(error.value).startswith(message)


def test_a_bad_manifest_is_an_error_naming_the_revision() -> None:
    rls = {"name": "web", "namespace": "shop", "version": 4, "info": {"status": "failed"},
           "manifest": "---\n# Source: web/templates/x.yaml\nkind: [\n"}
    with pytest.raises(HelmError, match=r"^helm:web/4:\d+:\d+: invalid YAML"):
        objects(decode_release(encode_release(rls)))


def test_a_gzip_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubedog_ci.manifests import helm

    monkeypatch.setattr(helm, "MAX_RELEASE_BYTES", 1000)
    data = base64.b64encode(gzip.compress(b" " * 5000)).decode()
    with pytest.raises(HelmError, match="decompresses to more than"):
        decode_release(data)
