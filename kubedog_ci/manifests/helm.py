"""Helm releases as Helm stores them in the cluster, read back: which stored object holds which revision, the
release decoded, and the objects it deployed as manifests.

The format is Helm's (helm/helm pkg/storage/driver: secrets.go, cfgmaps.go, util.go; pkg/storage/storage.go;
pkg/release/v1), which Helm 3, Helm 4 and werf's nelm share. Revision N of release NAME is the object
`sh.helm.release.v1.NAME.vN` in the release's namespace, labeled `owner=helm`, `name=NAME`, `status=STATUS`,
`version=N`: a Secret of type `helm.sh/release.v1` by default, a ConfigMap with `HELM_DRIVER=configmap`. Its
`data.release` is `encodeRelease`'s string: the release as JSON, gzipped, base64-encoded; a Secret base64-encodes
that string once more on the wire, a ConfigMap holds it as is. Releases stored before Helm compressed them are not
gzipped: as `decodeRelease` does, the gzip magic bytes decide. The JSON's `manifest` is the rendered non-hook
objects as one multi-document YAML stream, each document after a `# Source: CHART/templates/FILE` comment;
`hooks[]` holds the hooks, each with its own `manifest`, `kind`, `name`, `path` and `events`.

Pure: the cluster is read by the caller (kubedog_ci.cli.helm_release).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass

from kubedog_ci.manifests.reader import Manifest, ManifestError, Source, read_text

STORAGE_PREFIX = "sh.helm.release.v1."
"""pkg/storage/storage.go HelmStorageType, the prefix of every stored revision's name."""
SECRET_TYPE = "helm.sh/release.v1"
OWNER_LABEL = "owner=helm"
DRIVERS = {"": "secrets", "secret": "secrets", "secrets": "secrets", "configmap": "configmaps",
           "configmaps": "configmaps"}
"""HELM_DRIVER values (pkg/action/action.go) whose storage lives in the cluster -> the resource holding it."""
GZIP_MAGIC = b"\x1f\x8b\x08"
MAX_RELEASE_BYTES = 256 * 1024 * 1024
"""The most a release may decompress to: far above a real one (a Secret holds at most 1 MiB of it compressed),
far below what would exhaust memory."""
_SOURCE = re.compile(r"^# Source: (.+?)\s*$")


class HelmError(ValueError):
    """A stored release that cannot be read: the message names the object it was read from."""


@dataclass(frozen=True)
class Hook:
    """One hook of a release (pkg/release/v1 Hook)."""

    name: str
    kind: str
    path: str
    """The chart-relative path of its template (`web/templates/migrate.yaml`)."""
    manifest: str
    events: tuple[str, ...]
    delete_policies: tuple[str, ...]
    last_phase: str
    """How its last run ended (Succeeded, Failed, Running, Unknown), or "" if it never ran."""


@dataclass(frozen=True)
class Release:
    """One revision of a release, as decoded from its stored object."""

    name: str
    namespace: str
    revision: int
    status: str
    manifest: str
    hooks: tuple[Hook, ...]

    @property
    def label(self) -> str:
        """`helm:web/3`: how sources and messages name this revision."""
        return f"helm:{self.name}/{self.revision}"


@dataclass(frozen=True)
class ReleaseObject:
    """An object the release deployed, and the hook it is, if it is one."""

    manifest: Manifest
    hook: Hook | None = None


def storage_name(release: str, revision: int) -> str:
    """The stored object's name (pkg/storage/storage.go makeKey)."""
    return f"{STORAGE_PREFIX}{release}.v{revision}"


def selector(release: str | None = None) -> str:
    """The label selector Helm lists a release's history with (or, without a name, every release)."""
    return f"{OWNER_LABEL},name={release}" if release else OWNER_LABEL


def driver_resource(driver: str) -> str:
    """`secrets` or `configmaps` for a HELM_DRIVER value; a ValueError for one that is not in the cluster."""
    resource = DRIVERS.get(driver.strip().lower())
    if resource is None:
        raise ValueError(f'HELM_DRIVER "{driver}" does not keep releases in the cluster; use secret (the default) or '
                         "configmap")
    return resource


def revision_of(item: dict) -> int | None:
    """A stored object's revision: its `version` label (a string holding a number), else its name's `.vN`."""
    meta = item.get("metadata") or {}
    version = str((meta.get("labels") or {}).get("version") or "")
    if version.isdigit():
        return int(version)
    found = re.search(r"\.v(\d+)$", meta.get("name") or "")
    return int(found.group(1)) if found else None


def release_name_of(item: dict) -> str:
    """The release a stored object belongs to: its `name` label, else what its object name says."""
    meta = item.get("metadata") or {}
    name = (meta.get("labels") or {}).get("name")
    if name:
        return str(name)
    return re.sub(r"\.v\d+$", "", str(meta.get("name") or "")).removeprefix(STORAGE_PREFIX)


def newest(items: list[dict], revision: int | None = None) -> dict | None:
    """The stored object of `revision`, or (None) of the highest revision, compared as numbers, whatever its
    status (Helm's `Last`); None when there is none."""
    numbered = [(number, item) for item in items if (number := revision_of(item)) is not None]
    if revision is not None:
        return next((item for number, item in numbered if number == revision), None)
    return max(numbered, key=lambda pair: pair[0], default=(0, None))[1]


def decode_stored(item: dict, resource: str) -> Release:
    """The release a stored object of `resource` (secrets or configmaps, as driver_resource says) holds; a
    HelmError naming the object when it cannot be read."""
    secret = resource == "secrets"
    where = f'{"Secret" if secret else "ConfigMap"} "{(item.get("metadata") or {}).get("name")}"'
    data = (item.get("data") or {}).get("release")
    if not isinstance(data, str) or not data:
        raise HelmError(f"{where} holds no release (data.release is missing)")
    try:
        if secret:  # the Secret's own base64 first
            data = base64.b64decode(data, validate=True).decode("ascii")
        return decode_release(data)
    except (binascii.Error, UnicodeDecodeError) as err:
        raise HelmError(f"{where}: data.release is not base64 ({err})") from err
    except HelmError as err:
        raise HelmError(f"{where}: {err}") from err


def decode_release(data: str) -> Release:
    """decodeRelease: base64, gunzip when the gzip magic bytes are there, JSON."""
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error as err:
        raise HelmError(f"the release is not base64 ({err})") from err
    if raw[:3] == GZIP_MAGIC:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, MAX_RELEASE_BYTES)
        except zlib.error as err:
            raise HelmError(f"the release is not valid gzip ({err})") from err
        if inflater.unconsumed_tail:
            raise HelmError(f"the release decompresses to more than {MAX_RELEASE_BYTES // (1024 * 1024)} MiB")
    try:
        release = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as err:
        raise HelmError(f"the release is not JSON ({err})") from err
    if not isinstance(release, dict):
        raise HelmError("the release is not a JSON object")
    return _release(release)


def _release(data: dict) -> Release:
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    hooks = []
    for entry in data.get("hooks") or []:
        if not isinstance(entry, dict):
            continue
        last_run = entry.get("last_run") if isinstance(entry.get("last_run"), dict) else {}
        hooks.append(Hook(str(entry.get("name") or ""), str(entry.get("kind") or ""), str(entry.get("path") or ""),
                          str(entry.get("manifest") or ""), tuple(str(e) for e in entry.get("events") or []),
                          tuple(str(p) for p in entry.get("delete_policies") or []),
                          str(last_run.get("phase") or "")))
    version = data.get("version")
    return Release(str(data.get("name") or ""), str(data.get("namespace") or ""),
                   version if isinstance(version, int) else 0, str(info.get("status") or "unknown"),
                   str(data.get("manifest") or ""), tuple(hooks))


def objects(release: Release, *, hooks: bool = False) -> list[ReleaseObject]:
    """The objects the release deployed, in its manifest's order, then (`hooks`) its hooks' objects. Each
    remembers its template as `helm:NAME/REVISION:TEMPLATE:LINE`, LINE counted from the first line under the
    template's `# Source:` comment (in a hook, from the first line of its manifest)."""
    found = [ReleaseObject(manifest) for manifest in _read(release.manifest, release.label)]
    if hooks:
        for hook in release.hooks:
            for manifest in _read(hook.manifest, f"{release.label}:{hook.path or hook.name}", sourced=False):
                found.append(ReleaseObject(manifest, hook))
    return found


def _read(text: str, label: str, *, sourced: bool = True) -> list[Manifest]:
    """The objects of one YAML stream; with `sourced`, each named after the `# Source:` comment above it."""
    try:
        manifests = list(read_text(text, label))
    except ManifestError as err:
        raise HelmError(str(err)) from err
    if not sourced:
        return manifests
    sources = [(number, match.group(1)) for number, line in enumerate(text.splitlines(), 1)
               if (match := _SOURCE.match(line))]
    named = []
    for manifest in manifests:
        line = manifest.source.line
        above = [(number, path) for number, path in sources if number < line]
        if above:
            number, path = above[-1]
            source = Source(f"{label}:{path}", line - number)
        else:
            source = manifest.source
        named.append(Manifest(manifest.obj, source))
    return named
