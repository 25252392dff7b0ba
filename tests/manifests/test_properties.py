"""Property: whatever the input, reading it gives objects that can be sent as JSON, or a ManifestError naming
the input; never another exception, and never slowly.

Inputs: arbitrary text and bytes, and YAML made from generated structures (some shaped like Kubernetes objects)
then damaged by random insertions of YAML's own punctuation and random deletions. Derandomized and without an
example database, so CI runs the same examples every time and leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from kubedog_ci.manifests.inputs import read_inputs
from kubedog_ci.manifests.reader import Manifest, ManifestError, read_text

# Even without an example database Hypothesis caches (the constants it finds in the code under test, Unicode
# tables) in .hypothesis under the working directory: keep them out of the checkout.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "kubedog-ci-hypothesis")
PROPERTY = settings(max_examples=300, deadline=500, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
KEYS = st.text(max_size=12) | st.sampled_from(["apiVersion", "kind", "metadata", "name", "items", "<<", "spec"])
STRUCTURES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                          | st.dictionaries(KEYS, inner, max_size=5), max_leaves=30)
NAMES = st.text(min_size=1, max_size=8)
OBJECTS = st.recursive(st.fixed_dictionaries({
    "apiVersion": st.sampled_from(["v1", "v1", "apps/v1", 1]),
    "kind": st.sampled_from(["ConfigMap", "ConfigMap", "Deployment", ["x"]]),
    "metadata": st.fixed_dictionaries({"name": NAMES}, optional={"labels": STRUCTURES}) | STRUCTURES,
}, optional={"spec": STRUCTURES, "data": STRUCTURES}), lambda inner: st.fixed_dictionaries({
    "apiVersion": st.just("v1"), "kind": st.sampled_from(["List", "ConfigMapList"]),
    "items": st.lists(inner, max_size=3) | STRUCTURES}), max_leaves=4)
"""Mostly well-formed objects, some in Lists, with wrong types here and there."""
PIECES = st.sampled_from([":", ": ", "-", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "&b ", "*b", "<<: *a", "!!",
                          "!!binary ", "!x ", "#", "\n", "  ", "\t", "'", '"', "|", ">", "?", "%YAML 1.1\n", "---\n",
                          "...\n", "\\", "\ufeff", "\x00", "é", "1e+999", ".nan", "9" * 50, "~"])
EDITS = st.lists(st.tuples(st.floats(0, 1), st.booleans(), PIECES), max_size=4)


def damaged(text: str, edits: list[tuple[float, bool, str]]) -> str:
    """The text with each edit applied: at a relative position, insert a piece, or delete that many characters."""
    for where, insert, piece in edits:
        at = int(where * len(text))
        text = text[:at] + piece + text[at:] if insert else text[:at] + text[at + len(piece):]
    return text


def holds_for(read: Callable[[], list[Manifest]], name: str) -> None:
    """The property, for one input read by `read()`: the error names the input."""
    try:
        manifests = read()
    except ManifestError as err:
        assert name in str(err)
        return
    for manifest in manifests:
        json.dumps(manifest.obj, allow_nan=False)
        assert manifest.source.line >= 1


@PROPERTY
@given(st.text())
def test_any_text(text: str) -> None:
    holds_for(lambda: list(read_text(text, "p.yaml")), "p.yaml")


@PROPERTY
@given(st.binary())
def test_any_bytes(data: bytes) -> None:
    holds_for(lambda: read_inputs(["-"], stdin=io.BytesIO(data)), "<stdin>")


@PROPERTY
@given(st.lists(STRUCTURES | OBJECTS, min_size=1, max_size=3), EDITS)
def test_damaged_yaml(documents: list[object], edits: list[tuple[float, bool, str]]) -> None:
    text = damaged(yaml.safe_dump_all(documents), edits)
    holds_for(lambda: list(read_text(text, "p.yaml")), "p.yaml")


@PROPERTY
@given(st.lists(OBJECTS, min_size=1, max_size=3), EDITS)
def test_damaged_json(documents: list[dict], edits: list[tuple[float, bool, str]]) -> None:
    text = damaged("\n".join(json.dumps(document) for document in documents), edits)
    holds_for(lambda: list(read_text(text, "p.json")), "p.json")
