"""The hostile-input corpus (hostile/README.md's table) and the big inputs generated instead of stored, shared by
the reader's tests and the end-to-end ones."""

from __future__ import annotations

import re
from pathlib import Path

HOSTILE = Path(__file__).parent / "hostile"
_ROW = re.compile(r"^\| (\S+) \| (read|check) \| `(.+)` \|$")
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"


def corpus(stage: str | None = None) -> list[tuple[str, str]]:
    """(file, expected error) for each row of the table, of one stage ("read" or "check") or all."""
    rows = [_ROW.match(line) for line in (HOSTILE / "README.md").read_text().splitlines()]
    return [(row[1], row[3]) for row in rows if row and (stage is None or row[2] == stage)]


def bomb(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs" in a ConfigMap's data: each level an anchored list of `width` aliases of the one
    before, width**levels strings once expanded, in about 600 bytes."""
    lines = ["  a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return CONFIG_MAP + "data:\n" + "\n".join(lines) + "\n"


def alias_chain(length: int) -> str:
    """Each anchored list holds the one before: `length` levels deep once expanded, one line per level."""
    lines = ["  a0: &a0 [x]"] + [f"  a{i}: &a{i} [*a{i - 1}]" for i in range(1, length)]
    return CONFIG_MAP + "data:\n" + "\n".join(lines) + "\n"


def nested(levels: int) -> str:
    """A ConfigMap whose data holds `levels` nested flow mappings."""
    return CONFIG_MAP + "data: " + "{a: " * levels + "1" + "}" * levels + "\n"


def flow_nesting(levels: int = 100_000) -> str:
    """`levels` unclosed "[": past any parser's nesting limit."""
    return "[" * levels
