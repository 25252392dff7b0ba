"""Read Kubernetes manifests from files and stdin, remembering where each object came from.

Multi-document YAML and JSON are read document by document; `kind: List` (and `*List`) documents are flattened;
empty and comment-only documents are skipped. Every object keeps its file and the line its document (or List
item) starts on, so errors, diagnoses and CI annotations can point at it. A syntax error names file, line and
column.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader

STDIN = "-"


@dataclass(frozen=True)
class Source:
    """Where an object was read from: a path (or "-" for stdin) and a 1-based line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{display_name(self.path)}:{self.line}"


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIN else path


@dataclass(frozen=True)
class Manifest:
    obj: dict
    source: Source


class ManifestError(ValueError):
    """Input that cannot be read as Kubernetes objects; the message starts with FILE:LINE[:COLUMN]."""


def read_paths(paths: list[str]) -> list[Manifest]:
    """Every object in the given files (or "-" for stdin), in order."""
    manifests: list[Manifest] = []
    for path in paths:
        text = sys.stdin.read() if path == STDIN else read_file(path)
        manifests.extend(read_text(text, path))
    return manifests


def read_file(path: str) -> str:
    """One file's text, with a one-line ManifestError for each way reading it can fail."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ManifestError(f"{path}: no such file") from err
    except IsADirectoryError as err:
        raise ManifestError(f"{path}: is a directory; give the manifest files") from err
    except UnicodeDecodeError as err:
        raise ManifestError(f"{path}: not UTF-8 text (byte {err.start})") from err
    except OSError as err:
        raise ManifestError(f"{path}: {err.strerror}") from err


def read_text(text: str, path: str) -> Iterator[Manifest]:
    """The objects of one YAML or JSON stream."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            line = node.start_mark.line + 1
            if data is None:
                continue
            yield from _objects(data, node, Source(path, line))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{display_name(path)}:{mark.line + 1}:{mark.column + 1}" if mark else display_name(path)
        raise ManifestError(f"{where}: invalid YAML: {err.problem or err.context}") from err
    except yaml.YAMLError as err:
        raise ManifestError(f"{display_name(path)}: invalid YAML: {err}") from err
    finally:
        loader.dispose()


def _objects(data: object, node: yaml.Node, source: Source) -> Iterator[Manifest]:
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: a document must be a mapping (a Kubernetes object), got "
                            f"{type(data).__name__}")
    kind = data.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        item_nodes = _items_nodes(node)
        for index, item in enumerate(data["items"]):
            line = item_nodes[index].start_mark.line + 1 if index < len(item_nodes) else source.line
            yield from _objects(item, item_nodes[index] if index < len(item_nodes) else node,
                                Source(source.path, line))
        return
    _check_identity(data, source)
    yield Manifest(data, source)


def _items_nodes(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "items" and isinstance(value, yaml.SequenceNode):
                return list(value.value)
    return []


def _check_identity(obj: dict, source: Source) -> None:
    """apiVersion, kind and metadata.name must be there for anything to be tracked or applied."""
    missing = [field for field in ("apiVersion", "kind") if not isinstance(obj.get(field), str) or not obj[field]]
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    if not (isinstance(meta.get("name"), str) and meta["name"]) and not meta.get("generateName"):
        missing.append("metadata.name")
    if missing:
        what = obj.get("kind") if isinstance(obj.get("kind"), str) else "object"
        raise ManifestError(f"{source}: {what} is missing {', '.join(missing)}")
