"""Reading -f and -k inputs: files, directories (with and without -R), stdin, URLs and kustomizations."""

from __future__ import annotations

import functools
import http.server
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubedog_ci.manifests.inputs import kustomize_command, read_inputs
from kubedog_ci.manifests.reader import ManifestError


def config_map(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n"


def names(filenames: list[str], *, recursive: bool = False) -> list[str]:
    return [m.obj["metadata"]["name"] for m in read_inputs(filenames, recursive=recursive)]


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_files_multi_document_json_and_lists_in_order(tmp_path: Path) -> None:
    write(tmp_path, {
        "b.yaml": config_map("one") + "---\n" + config_map("two"),
        "a.json": '{"apiVersion": "v1", "kind": "List", "items": ['
                  '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "three"}}]}',
    })
    found = read_inputs([str(tmp_path / "b.yaml"), str(tmp_path / "a.json")])
    assert [(m.obj["metadata"]["name"], m.source.line) for m in found] == [("one", 1), ("two", 5), ("three", 1)]
    assert found[0].source.path == str(tmp_path / "b.yaml")


TREE = {
    "b.yaml": config_map("b"),
    "a.yml": config_map("a"),
    "c.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}',
    "notes.txt": "not a manifest",
    "kustomization.yaml.orig": config_map("orig"),
    ".hidden.yaml": config_map("hidden"),
    ".git/x.yaml": config_map("in-dot-dir"),
    "a-z.yaml": config_map("a-z"),
    "a/sub.yaml": config_map("a-sub"),
    "sub/z.yaml": config_map("sub-z"),
    "sub/deeper/y.yaml": config_map("sub-deeper-y"),
}


@pytest.mark.parametrize(("recursive", "expected"), [
    (False, ["a-z", "a", "b", "c"]),
    (True, ["a-sub", "a-z", "a", "b", "c", "sub-deeper-y", "sub-z"]),
])
def test_directories_in_name_order(tmp_path: Path, recursive: bool, expected: list[str]) -> None:
    write(tmp_path, TREE)
    assert names([str(tmp_path)], recursive=recursive) == expected


@pytest.mark.parametrize(("files", "recursive", "message"), [
    ({"README.md": "x"}, False, "no .yaml, .yml or .json files"),
    ({"sub/a.yaml": config_map("a")}, False,
     "no .yaml, .yml or .json files (it has subdirectories: -R reads them too)"),
    ({"sub/a.txt": "x", ".git/a.yaml": config_map("a")}, True, "no .yaml, .yml or .json files"),
])
def test_directories_without_manifests(tmp_path: Path, files: dict[str, str], recursive: bool, message: str) -> None:
    write(tmp_path, files)
    with pytest.raises(ManifestError) as error:
        read_inputs([str(tmp_path)], recursive=recursive)
    assert str(error.value) == f"{tmp_path}: {message}"


def test_stdin_once(tmp_path: Path) -> None:
    found = read_inputs(["-"], stdin=io.StringIO(config_map("x") + "---\n" + config_map("y")))
    assert [str(m.source) for m in found] == ["<stdin>:1", "<stdin>:5"]
    with pytest.raises(ManifestError, match="more than once"):
        read_inputs(["-", "-"], stdin=io.StringIO(config_map("x")))


@pytest.mark.parametrize(("files", "message"), [
    ({}, "nope.yaml: no such file"),
    ({"nope.yaml": ""}, "no objects in "),
    ({"nope.yaml": "# only a comment\n---\n"}, "no objects in "),
    ({"nope.yaml": "a: [1\n"}, "nope.yaml:2:1: invalid YAML"),
])
def test_file_errors(tmp_path: Path, files: dict[str, str], message: str) -> None:
    write(tmp_path, files)
    with pytest.raises(ManifestError, match=message.replace(".", r"\.")):
        read_inputs([str(tmp_path / "nope.yaml")])


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"kind: x\n\xff\x00")
    with pytest.raises(ManifestError, match=r"bin.yaml:2: not UTF-8 text \(byte 8 is 0xff\)"):
        read_inputs([str(tmp_path / "bin.yaml")])


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A local HTTP server over a directory: (directory, base URL)."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_urls(web_root: tuple[Path, str]) -> None:
    root, base = web_root
    write(root, {"app.yaml": "---\n" + config_map("web")})
    found = read_inputs([f"{base}/app.yaml"])
    assert [str(m.source) for m in found] == [f"{base}/app.yaml:2"]
    with pytest.raises(ManifestError) as error:
        read_inputs([f"{base}/missing.yaml"])
    assert str(error.value) == f"{base}/missing.yaml: HTTP 404 File not found"


def test_unreachable_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ManifestError, match=rf"^http://127\.0\.0\.1:{port}/a\.yaml: cannot fetch: .*refused"):
        read_inputs([f"http://127.0.0.1:{port}/a.yaml"])


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(0o755)


ECHO_ARGS = "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: built}\\ndata: {args: \"%s\"}\\n' \"$*\""


@pytest.mark.parametrize(("tools", "args"), [
    (["kubectl", "kustomize"], "kustomize overlay"),
    (["kustomize"], "build overlay"),
])
def test_kustomizations_prefer_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: list[str],
                                       args: str) -> None:
    for tool in tools:
        fake_tool(tmp_path / "bin", tool, ECHO_ARGS)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    write(tmp_path, {"app.yaml": config_map("plain")})
    found = read_inputs([str(tmp_path / "app.yaml")], kustomizations=["overlay"])
    assert [m.obj["metadata"]["name"] for m in found] == ["plain", "built"]
    assert found[1].obj["data"]["args"] == args
    assert str(found[1].source) == "overlay (kustomize):1"


def test_kustomize_command_follows_the_path_given(tmp_path: Path) -> None:
    fake_tool(tmp_path / "both", "kubectl", "true")
    fake_tool(tmp_path / "both", "kustomize", "true")
    fake_tool(tmp_path / "one", "kustomize", "true")
    assert kustomize_command("k", str(tmp_path / "both")) == [str(tmp_path / "both" / "kubectl"), "kustomize", "k"]
    assert kustomize_command("k", str(tmp_path / "one")) == [str(tmp_path / "one" / "kustomize"), "build", "k"]
    with pytest.raises(ManifestError) as error:
        kustomize_command("k", str(tmp_path / "none"))
    assert str(error.value) == ("-k k: building a kustomization needs `kubectl` (kubectl kustomize) or `kustomize` "
                                "on PATH; neither was found")


def test_kustomize_failure_carries_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tool(tmp_path / "bin", "kustomize", "echo 'Error: accumulating resources: missing.yaml' >&2\n"
                                             "echo 'second line' >&2\nexit 1")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(ManifestError) as error:
        read_inputs([], kustomizations=["overlay"])
    assert str(error.value) == ("-k overlay: `kustomize build overlay` failed (exit 1): Error: accumulating "
                                "resources: missing.yaml; second line")


def test_no_objects_names_every_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tool(tmp_path / "bin", "kubectl", "exit 0")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    write(tmp_path, {"empty.yaml": "---\n"})
    with pytest.raises(ManifestError) as error:
        read_inputs([str(tmp_path / "empty.yaml"), "-"], kustomizations=["base"], stdin=io.StringIO(""))
    assert str(error.value) == f"no objects in {tmp_path / 'empty.yaml'}, <stdin>, -k base"
