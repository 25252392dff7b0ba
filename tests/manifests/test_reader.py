"""Reading manifests: documents, Lists, empty documents, and errors that name file, line and column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kubedog_ci.manifests.reader import ManifestError, read_paths, read_text

STREAM = """# leading comment
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
# a comment-only document
---

---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: s}
- apiVersion: v1
  kind: Service
  metadata: {name: svc}
---
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
"""


def test_objects_keep_their_file_and_line() -> None:
    found = [(m.obj["kind"], m.obj["metadata"]["name"], str(m.source)) for m in read_text(STREAM, "app.yaml")]
    assert found == [("ConfigMap", "a", "app.yaml:3"), ("Secret", "s", "app.yaml:14"),
                     ("Service", "svc", "app.yaml:17"), ("Pod", "p", "app.yaml:21")]


@pytest.mark.parametrize(("text", "message"), [
    ("a: [1, 2\n", "bad.yaml:2:1: invalid YAML: did not find expected ',' or ']'"),
    ("a: b\n  c: d\n", "bad.yaml:2:4: invalid YAML: mapping values are not allowed in this context"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {}\n", "bad.yaml:1: Pod is missing metadata.name"),
    ("kind: Pod\nmetadata: {name: x}\n", "bad.yaml:1: Pod is missing apiVersion"),
    ("---\napiVersion: v1\nmetadata: {name: x}\n", "bad.yaml:2: object is missing kind"),
    ("- 1\n- 2\n", "bad.yaml:1: a document must be a mapping (a Kubernetes object), got a list"),
    ("just text\n", "bad.yaml:1: a document must be a mapping (a Kubernetes object), got a string"),
    ("apiVersion: v1\nkind: List\nitems:\n- 3\n", "bad.yaml:4: a document must be a mapping"),
])
def test_errors_name_file_line_and_column(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as error:
        list(read_text(text, "bad.yaml"))
    assert str(error.value).startswith(message)


def test_generate_name_is_enough_and_files_are_read_in_order(tmp_path: Path) -> None:
    first = tmp_path / "1.yaml"
    first.write_text("apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-}\n")
    second = tmp_path / "2.json"
    second.write_text('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}')
    assert [m.obj["kind"] for m in read_paths([str(first), str(second)])] == ["Job", "ConfigMap"]


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: str(p / "nope.yaml"), "nope.yaml: no such file"),
    (lambda p: str(p), "is a directory"),
    (lambda p: (p / "bin.yaml").write_bytes(b"\x80\x00") and str(p / "bin.yaml"), "not UTF-8 text"),
])
def test_unreadable_files(tmp_path: Path, make: Callable[[Path], str], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        read_paths([make(tmp_path)])
