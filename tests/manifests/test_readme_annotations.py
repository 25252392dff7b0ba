"""README's annotation table documents every tracking annotation the tool reads, with its werf or other alias."""

from __future__ import annotations

from pathlib import Path

from kubedog_ci.manifests.annotations import ANNOTATIONS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_lists_every_annotation_and_its_aliases() -> None:
    for annotation in ANNOTATIONS:
        row = next((line for line in README.splitlines() if line.startswith(f"| `{annotation.name}` |")), None)
        assert row is not None, annotation.name
        assert (f"`werf.io/{annotation.suffix}`" in row) == annotation.werf, row
        alias = row.rstrip(" |").rpartition("| ")[2]
        expected = [f"`werf.io/{annotation.suffix}`"] if annotation.werf else []
        expected += [f"`{annotation.alias}`"] if annotation.alias else []
        assert alias == (", ".join(expected) or "-"), row
