"""The files a container can read: what its volume mounts show it, read-only.

Only the volumes the kubelet writes itself (Secret, ConfigMap, projected, downwardAPI) are known through and
through, so below their mount points a name that is not there is missing. Everything else (the image's files,
an emptyDir, a claim, whatever the script wrote) is unknown: reading it succeeds silently and tests of it are
false, as they always were.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Literal

Tree = Mapping[str, str | None]
"""A volume's files by their path inside it, with their text (None: the file exists, its content is unknown);
the key "" is the mount point itself, when a subPath mounts a single file."""

Kind = Literal["file", "dir", "missing"]


def _relative(path: str) -> str:
    """A path without ``.``, ``..``, repeated or outer slashes, as seen from the root."""
    return posixpath.normpath("/" + path).lstrip("/")


class Files:
    """Mount points and the trees they show; a mount nested in another one hides what is below it."""

    def __init__(self, mounts: Mapping[str, Tree | None] | None = None) -> None:
        """``mounts``: absolute mount path -> the files there, or None when they are unknown."""
        self._mounts = {
            "/" + _relative(path): None if tree is None else {_relative(key): text for key, text in tree.items()}
            for path, tree in (mounts or {}).items()
            if path.startswith("/")
        }

    def _locate(self, path: str) -> tuple[str, Tree, str] | None:
        """The normalised path, the tree it falls in and its path there; None when unknown (relative paths
        too, as the working directory is unknown)."""
        if not path.startswith("/"):
            return None
        path = "/" + _relative(path)
        inside = [mount for mount in self._mounts if path == mount or path.startswith(mount.rstrip("/") + "/")]
        if not inside:
            return None
        mount = max(inside, key=len)
        tree = self._mounts[mount]
        return None if tree is None else (path, tree, path[len(mount) :].strip("/"))

    def _below(self, path: str) -> list[str]:
        """Mount points nested below a path, relative to it."""
        return [mount[len(path) :].strip("/") for mount in self._mounts if mount.startswith(path.rstrip("/") + "/")]

    def kind(self, path: str) -> Kind | None:
        """What the path is; None when it is unknown."""
        found = self._locate(path)
        if found is None:
            return None
        path, tree, inner = found
        if inner in tree:
            return "file"
        if inner == "" or any(key.startswith(inner + "/") for key in tree) or self._below(path):
            return "dir"
        return "missing"

    def read(self, path: str) -> str | None:
        """A known file's text; None when the path is not a file or its content is unknown."""
        found = self._locate(path)
        return None if found is None else found[1].get(found[2])

    def entries(self, path: str) -> list[str]:
        """The sorted names in a known directory, nested mount points included."""
        found = self._locate(path)
        if found is None:
            return []
        path, tree, inner = found
        prefix = inner + "/" if inner else ""
        names = [key[len(prefix) :] for key in tree if key.startswith(prefix) and key] + self._below(path)
        return sorted({name.split("/", 1)[0] for name in names})


NO_FILES = Files()
"""Nothing is known: a program run without a container's mounts."""
