"""Read Kubernetes manifests from files and stdin, remembering where each object came from.

Multi-document YAML and JSON are read document by document; `kind: List` (and `*List`) documents are flattened;
empty and comment-only documents are skipped. Every object keeps its file and the line its document (or List
item) starts on, so errors, diagnoses and CI annotations can point at it. A syntax error names file, line and
column.

Input is untrusted (a CI job applies what a pull request wrote), so every way it can be malformed or hostile ends
in a ManifestError naming the file and, where there is one, the line, within bounded time and memory: at most
MAX_INPUT_BYTES are read from one input; UTF-8 is expected and UTF-16/32 with a byte-order mark is decoded;
each document's node graph is checked before it is turned into Python objects, for aliases that would expand it
past MAX_ALIAS_NODES (a "billion laughs" YAML bomb) or refer back to themselves, nesting past MAX_DEPTH,
duplicate mapping keys (which Kubernetes' strict decoding rejects) and values that have no JSON form.
Timestamps stay strings, as kubectl reads them.
"""

from __future__ import annotations

import codecs
import itertools
import math
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import yaml
from yaml.constructor import SafeConstructor
from yaml.reader import Reader

STDIN = "-"
MAX_INPUT_BYTES = 64 * 1024 * 1024
"""The most read from one file, URL or stdin: far above any real input, far below what would exhaust memory."""
MAX_ALIAS_NODES = 1_000_000
"""The most nodes YAML aliases may add to one input once expanded; a YAML bomb adds billions."""
MAX_DEPTH = 256
"""The most mappings and lists nested in each other (aliases expanded). A CRD's schema rarely passes 60; Python
code that walks a document recursively (JSON encoding, the API client) stays well inside the recursion limit."""

_YAML_TAG = "tag:yaml.org,2002:"
_JSON_TAGS = frozenset(_YAML_TAG + name for name in ("str", "int", "float", "bool", "null", "map", "seq", "merge",
                                                      "timestamp"))
"""The tags of values that have a JSON form (timestamps are read as strings); others are rejected by name."""
_SCALAR_CHECKS = frozenset(_YAML_TAG + name for name in ("int", "float", "bool"))
"""Scalar tags whose text can fail to convert (an explicit `!!int abc`, `.nan`), checked before construction."""
_MAX_NUMBER_LENGTH = 100
_MERGE = _YAML_TAG + "merge"
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
"""Byte-order marks and their codecs, UTF-32 before UTF-16 (whose little-endian mark begins UTF-32's)."""


def safe_loader(base: type) -> type:
    """A safe loader on `base` (libyaml's, or the pure-Python one the tests also run), with timestamps kept as
    the strings they are in a Kubernetes object."""
    loader = type("Loader", (base,), {})
    loader.add_constructor(_YAML_TAG + "timestamp", loader.construct_yaml_str)
    return loader


_Loader = safe_loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader))
"""libyaml's parser when PyYAML was built with it: several times faster than the pure-Python one."""


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
        text = read_stream(sys.stdin, STDIN) if path == STDIN else read_file(path)
        manifests.extend(read_text(text, path))
    return manifests


def read_file(path: str) -> str:
    """One file's text, with a one-line ManifestError for each way reading it can fail."""
    try:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            if stat.S_ISREG(info.st_mode) and info.st_size > MAX_INPUT_BYTES:
                raise ManifestError(_too_big(path))
            data = file.read(MAX_INPUT_BYTES + 1)  # a device or FIFO has no size to check first
    except FileNotFoundError as err:
        raise ManifestError(f"{path}: no such file") from err
    except IsADirectoryError as err:
        raise ManifestError(f"{path}: is a directory; give the manifest files") from err
    except OSError as err:
        raise ManifestError(f"{path}: {err.strerror}") from err
    return decode(data, path)


def read_stream(stream: IO[str] | IO[bytes], path: str) -> str:
    """A stream's text (stdin's bytes when it has them, so they are decoded as a file's are), read no further
    than MAX_INPUT_BYTES."""
    data = getattr(stream, "buffer", stream).read(MAX_INPUT_BYTES + 1)
    if isinstance(data, bytes):
        return decode(data, path)
    if len(data) > MAX_INPUT_BYTES:
        raise ManifestError(_too_big(path))
    return data


def decode(data: bytes, path: str) -> str:
    """An input's text: UTF-8, or UTF-16/32 with a byte-order mark; an error naming the line of a bad byte."""
    if len(data) > MAX_INPUT_BYTES:
        raise ManifestError(_too_big(path))
    encoding = next((codec for bom, codec in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        name = "UTF-8" if encoding == "utf-8" else encoding.upper()
        raise ManifestError(f"{display_name(path)}:{line}: not {name} text (byte {err.start} is "
                            f"0x{data[err.start]:02x}); is it a binary file?") from err


def _too_big(path: str) -> str:
    return (f"{display_name(path)}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB, the most kubedog reads from "
            "one input; split it into several files")


def read_text(text: str, path: str) -> Iterator[Manifest]:
    """The objects of one YAML or JSON stream."""
    name = display_name(path)
    if bad := Reader.NON_PRINTABLE.search(text):
        line, column = _position(text, bad.start())
        raise ManifestError(f"{name}:{line}:{column}: invalid YAML: character {ord(bad.group()):#06x} is not allowed "
                            "(control characters are not); is it a binary file?")
    loader = _Loader(text)
    alias_budget = MAX_ALIAS_NODES  # for the whole input: many small bombs are stopped as one big one is
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            alias_budget -= _check_graph(loader, node, name, alias_budget)
            data = loader.construct_document(node)
            if data is None:
                continue
            yield from _objects(data, node, Source(path, node.start_mark.line + 1))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        said = err.problem or err.context
        if err.problem and err.context and err.context_mark:
            said += f" ({err.context} at line {err.context_mark.line + 1})"
        raise ManifestError(f"{where}: invalid YAML: {said}") from err
    except yaml.YAMLError as err:
        raise ManifestError(f"{name}: invalid YAML: {err}") from err
    except RecursionError as err:  # the pure-Python parser recurses once per level of nesting
        raise ManifestError(f"{name}: invalid YAML: nested too deeply to be read (at most {MAX_DEPTH} "
                            "levels)") from err
    finally:
        loader.dispose()


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    """A collection's nodes: a sequence's items, a mapping's keys and values."""
    return itertools.chain.from_iterable(node.value) if isinstance(node, yaml.MappingNode) else iter(node.value)


def _check_graph(loader: SafeConstructor, root: yaml.Node, name: str, alias_budget: int) -> int:
    """Reject a document before it is constructed, or return how many nodes its aliases add once expanded.

    A node graph is linear in the input (an alias is a shared node) while its expansion is not, so the expansion
    is counted on the graph, each node once, and only when some node is shared. Iterative, so no nesting can
    exhaust the interpreter's stack."""
    _check_node(loader, root, name)
    if not isinstance(root, yaml.CollectionNode):
        return 0
    seen = {id(root)}
    walking = [root]  # the collections from the root to the one being walked
    walking_ids = {id(root)}
    children = [_children(root)]
    order: list[yaml.Node] = []  # the collections, each after those it holds
    shared = False
    deepest = 1
    while children:
        for child in children[-1]:
            if id(child) in seen:
                if id(child) in walking_ids:
                    raise ManifestError(f"{_where(name, child)}: a YAML alias refers to the node that contains it "
                                        "(a recursive structure has no JSON form)")
                shared = True
                continue
            seen.add(id(child))
            _check_node(loader, child, name)
            if isinstance(child, yaml.CollectionNode):
                walking.append(child)
                walking_ids.add(id(child))
                children.append(_children(child))
                deepest = max(deepest, len(walking))
                break
        else:
            children.pop()
            order.append(walking.pop())
            walking_ids.discard(id(order[-1]))
    if not shared and deepest <= MAX_DEPTH:
        return 0
    cap = len(seen) + alias_budget + 1
    size: dict[int, int] = {}  # expanded nodes under a collection, itself included; a scalar is 1
    depth: dict[int, int] = {}  # collections nested in a collection, itself included; a scalar is 0
    for node in order:
        held = list(_children(node))
        size[id(node)] = min(cap, 1 + sum(size.get(id(child), 1) for child in held))
        depth[id(node)] = 1 + max((depth.get(id(child), 0) for child in held), default=0)
    added = size[id(root)] - len(seen)
    if added > alias_budget:
        raise ManifestError(f"{_where(name, root)}: the document expands to more than {MAX_ALIAS_NODES} nodes "
                            "through YAML aliases (a YAML bomb?)")
    if depth[id(root)] > MAX_DEPTH:
        node = root
        for _ in range(MAX_DEPTH):
            node = max(_children(node), key=lambda child: depth.get(id(child), 0))
        raise ManifestError(f"{_where(name, node)}: nested deeper than {MAX_DEPTH} levels")
    return added


def _check_node(loader: SafeConstructor, node: yaml.Node, name: str) -> None:
    """One node's own problems: a tag without a JSON form, a scalar that does not convert, a repeated key."""
    if node.tag not in _JSON_TAGS:
        shown = node.tag.replace(_YAML_TAG, "!!", 1)
        raise ManifestError(f"{_where(name, node)}: the YAML tag {shown} is not allowed in a Kubernetes manifest (only "
                            "values JSON can carry: strings, numbers, booleans, null, mappings and lists)")
    if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_CHECKS and not _json_scalar(loader, node):
        value = node.value if len(node.value) <= 40 else node.value[:40] + "…"
        raise ManifestError(f'{_where(name, node)}: "{value}" is not a valid {node.tag.removeprefix(_YAML_TAG)} in '
                            "JSON (quote it if it is a string)")
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], yaml.Node] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE:
                first = seen.setdefault((key.tag, key.value), key)
                if first is not key:
                    raise ManifestError(f'{_where(name, key)}: mapping key "{key.value}" already '
                                        f"defined at line {first.start_mark.line + 1}")


def _json_scalar(loader: SafeConstructor, node: yaml.ScalarNode) -> bool:
    """Whether a number or boolean converts, to a value JSON can carry. Long numbers are refused unread: their
    conversion takes time quadratic in their length (a sexagesimal `1:1:1:…`), and none is that long in JSON."""
    if len(node.value) > _MAX_NUMBER_LENGTH:
        return False
    try:
        value = loader.yaml_constructors[node.tag](loader, node)
    except (ValueError, KeyError):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def _where(name: str, node: yaml.Node) -> str:
    return f"{name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _objects(data: object, node: yaml.Node, source: Source) -> Iterator[Manifest]:
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: a document must be a mapping (a Kubernetes object), got {_kind_of(data)}")
    kind = data.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in data:
        items = data["items"]
        if items is None:
            return
        if not isinstance(items, list):
            raise ManifestError(f"{source}: {kind}: items must be a list of objects, got {_kind_of(items)}")
        item_nodes = _items_nodes(node)
        for index, item in enumerate(items):
            item_node = item_nodes[index] if index < len(item_nodes) else node
            yield from _objects(item, item_node, Source(source.path, item_node.start_mark.line + 1))
        return
    _check_identity(data, source)
    yield Manifest(data, source)


def _items_nodes(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "items" and isinstance(value, yaml.SequenceNode):
                return list(value.value)
    return []


def _kind_of(value: object) -> str:
    """A value's type in the words of YAML, for messages."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string"}.get(type(value), type(value).__name__)


def _check_identity(obj: dict, source: Source) -> None:
    """apiVersion, kind and metadata.name must be there, as strings, for anything to be tracked or applied."""
    missing: list[str] = []
    wrong: list[str] = []
    for field in ("apiVersion", "kind"):
        value = obj.get(field)
        if value in (None, ""):
            missing.append(field)
        elif not isinstance(value, str):
            wrong.append(f"{field} must be a string, got {_kind_of(value)}")
    meta = obj.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        wrong.append(f"metadata must be a mapping, got {_kind_of(meta)}")
    else:
        meta = meta or {}
        for field in ("name", "generateName"):
            if meta.get(field) not in (None, "") and not isinstance(meta[field], str):
                wrong.append(f"metadata.{field} must be a string, got {_kind_of(meta[field])}")
        if meta.get("name") in (None, "") and meta.get("generateName") in (None, ""):
            missing.append("metadata.name")
    if missing or wrong:
        what = obj["kind"] if isinstance(obj.get("kind"), str) and obj["kind"] else "object"
        said = "; ".join(([f" is missing {', '.join(missing)}"] if missing else []) + wrong)
        raise ManifestError(f"{source}: {what}{said if missing else ': ' + said}")
