"""What `-f` and `-k` name, read as kubectl reads it: files, directories, URLs, stdin and kustomizations.

A directory gives its `.yaml`, `.yml` and `.json` files; with `-R` its subdirectories too. Entries are taken in
name order and a subdirectory's files come where its name sorts, as `kubectl apply -R` walks them, so the
order is stable across machines. Names starting with "." are skipped. A kustomization is built by
`kubectl kustomize` (or `kustomize build` without kubectl), and its objects are read from the output.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from kubedog_ci.manifests.reader import (
    MAX_INPUT_BYTES,
    STDIN,
    Manifest,
    ManifestError,
    decode,
    display_name,
    read_file,
    read_stream,
    read_text,
)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
FETCH_TIMEOUT = 30.0
STDERR_LINES = 5


def read_inputs(filenames: list[str], *, recursive: bool = False, kustomizations: Sequence[str] = (),
                stdin: IO[str] | IO[bytes] | None = None) -> list[Manifest]:
    """Every object the inputs hold: the filenames' in their order, then each kustomization's."""
    manifests: list[Manifest] = []
    stdin_read = False
    for name in filenames:
        if name == STDIN:
            if stdin_read:
                raise ManifestError('"-" (stdin) is given more than once; stdin can be read only once')
            stdin_read = True
            manifests.extend(read_text(read_stream(stdin or sys.stdin, STDIN), STDIN))
        elif is_url(name):
            manifests.extend(read_text(fetch(name), name))
        elif Path(name).is_dir():
            for path in manifest_files(name, recursive=recursive):
                manifests.extend(read_text(read_file(path), path))
        else:
            manifests.extend(read_text(read_file(name), name))
    for directory in kustomizations:
        manifests.extend(read_text(build_kustomization(directory), f"{directory} (kustomize)"))
    if not manifests:
        inputs = [display_name(name) for name in filenames] + [f"-k {directory}" for directory in kustomizations]
        raise ManifestError(f"no objects in {', '.join(inputs)}")
    return manifests


def is_url(name: str) -> bool:
    return name.startswith(("http://", "https://"))


def fetch(url: str) -> str:
    """The body of a URL as text, read no further than MAX_INPUT_BYTES; any failure is one line naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
            body: bytes = response.read(MAX_INPUT_BYTES + 1)
    except urllib.error.HTTPError as err:
        raise ManifestError(f"{url}: HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        raise ManifestError(f"{url}: cannot fetch: {err.reason}") from err
    except (OSError, http.client.HTTPException) as err:
        raise ManifestError(f"{url}: cannot fetch: {str(err) or type(err).__name__}") from err
    return decode(body, url)


def manifest_files(directory: str, *, recursive: bool) -> list[str]:
    """The manifest files in a directory, in walk order; an error when there are none."""
    files = list(_walk(Path(directory), recursive))
    if not files:
        hint = ""
        if not recursive and any(entry.is_dir() and not entry.name.startswith(".") for entry in _entries(directory)):
            hint = " (it has subdirectories: -R reads them too)"
        raise ManifestError(f"{directory}: no .yaml, .yml or .json files{hint}")
    return files


def _walk(directory: Path, recursive: bool) -> Iterator[str]:
    for entry in _entries(str(directory)):
        if entry.name.startswith("."):
            continue
        # Symlinked directories are not descended into, as with kubectl: a link to a parent would never end.
        if entry.is_dir():
            if recursive and not entry.is_symlink():
                yield from _walk(entry, recursive)
        elif entry.suffix in MANIFEST_SUFFIXES:
            yield str(entry)


def _entries(directory: str) -> list[Path]:
    try:
        return sorted(Path(directory).iterdir(), key=lambda entry: entry.name)
    except OSError as err:
        raise ManifestError(f"{directory}: {err.strerror}") from err


def kustomize_command(directory: str, path: str | None = None) -> list[str]:
    """The command that builds a kustomization, from the executables on `path` (default: $PATH)."""
    if kubectl := shutil.which("kubectl", path=path):
        return [kubectl, "kustomize", directory]
    if kustomize := shutil.which("kustomize", path=path):
        return [kustomize, "build", directory]
    raise ManifestError(f"-k {directory}: building a kustomization needs `kubectl` (kubectl kustomize) or "
                        "`kustomize` on PATH; neither was found")


def build_kustomization(directory: str) -> str:
    """The YAML a kustomization builds to; a failed build is an error carrying the tool's own first lines. The
    output goes to a temporary file, so no more than MAX_INPUT_BYTES of it is ever held in memory."""
    command = kustomize_command(directory)
    with tempfile.TemporaryFile() as output:
        try:
            done = subprocess.run(command, stdout=output, stderr=subprocess.PIPE, check=False)
        except OSError as err:
            raise ManifestError(f"-k {directory}: cannot run {command[0]}: {err.strerror}") from err
        output.seek(0)
        built = output.read(MAX_INPUT_BYTES + 1)
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        said = "; ".join(lines[:STDERR_LINES]) or "no error output"
        shown = " ".join([Path(command[0]).name, *command[1:]])
        raise ManifestError(f"-k {directory}: `{shown}` failed (exit {done.returncode}): {said}")
    return decode(built, f"-k {directory}")
