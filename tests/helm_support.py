"""Helm releases stored exactly as Helm stores them, for the tests that read them back.

Written from Helm's source (helm/helm at its 2026-08 snapshot): pkg/release/v1 (release.go, info.go, hook.go:
the JSON fields, in their struct order, with Go's omitempty), pkg/action/action.go (the manifest: one
`---\\n# Source: PATH\\n%s\\n` per rendered document, hooks split out by pkg/release/v1/util/manifest_sorter.go,
each document trimmed as SplitManifests trims it), pkg/storage/driver/util.go (encodeRelease: json.Marshal,
gzip at BestCompression, base64.StdEncoding; decodeRelease skips gunzip without the magic bytes, as releases
stored before compression have none), secrets.go and cfgmaps.go (the stored object: name sh.helm.release.v1.NAME.vN,
labels name, owner, status, version and createdAt, Secret type helm.sh/release.v1, data.release) and labels.go.
Go's json.Marshal writes no spaces and escapes <, > and & as \\u003c, \\u003e and \\u0026; so do these.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field

import yaml

DEPLOYED_AT = "2026-08-20T15:58:20.123456789Z"


@dataclass
class HookSpec:
    """A hook as the chart declares it: its object (with the helm.sh/hook annotation) and its template."""

    obj: dict
    path: str
    events: list[str] = field(default_factory=lambda: ["pre-install", "pre-upgrade"])
    delete_policies: list[str] = field(default_factory=list)
    phase: str = "Succeeded"


def go_json(value: object) -> bytes:
    """json.Marshal's bytes: compact, HTML characters escaped, other text as UTF-8."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                          ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode()


def document(obj: dict) -> str:
    """One rendered document, trimmed as SplitManifests trims it."""
    return yaml.safe_dump(obj, sort_keys=False).strip()


def manifest(docs: list[tuple[str, dict]]) -> str:
    """The release's manifest: each (template path, object) after its `# Source:` comment."""
    return "".join(f"---\n# Source: {path}\n{document(obj)}\n" for path, obj in docs)


def release(name: str, namespace: str, revision: int, docs: list[tuple[str, dict]], *, status: str = "deployed",
            hooks: list[HookSpec] | None = None, chart: str = "web") -> dict:
    """The release as pkg/release/v1 marshals it (fields in struct order, omitempty ones left out when empty)."""
    info: dict[str, object] = {"first_deployed": DEPLOYED_AT, "last_deployed": DEPLOYED_AT,
                               "description": "Install complete" if revision == 1 else "Upgrade complete",
                               "status": status}
    templates = [{"name": path.removeprefix(f"{chart}/"), "data": base64.b64encode(document(obj).encode()).decode()}
                 for path, obj in docs]
    out: dict[str, object] = {
        "name": name,
        "info": info,
        "chart": {"metadata": {"name": chart, "version": "0.1.0", "description": "A chart <for> tests & more",
                               "apiVersion": "v2", "appVersion": "1.0.0", "type": "application"},
                  "lock": None, "templates": templates, "values": {"replicaCount": 1}, "schema": None,
                  "schemamodtime": "0001-01-01T00:00:00Z", "files": None},
        "config": {"image": {"tag": "v2"}},
        "manifest": manifest(docs),
    }
    if hooks:
        out["hooks"] = [_hook(spec) for spec in hooks]
    out["version"] = revision
    out["namespace"] = namespace
    out["apply_method"] = "ssa"
    return out


def _hook(spec: HookSpec) -> dict:
    hook: dict[str, object] = {"name": spec.obj["metadata"]["name"], "kind": spec.obj["kind"], "path": spec.path,
                               "manifest": document(spec.obj)}
    if spec.events:
        hook["events"] = spec.events
    hook["last_run"] = {"started_at": DEPLOYED_AT, "completed_at": DEPLOYED_AT, "phase": spec.phase}
    if spec.delete_policies:
        hook["delete_policies"] = spec.delete_policies
    return hook


def encode_release(rls: dict, *, compressed: bool = True) -> str:
    """encodeRelease (and, with compressed False, what a release stored before Helm compressed them holds)."""
    data = go_json(rls)
    if compressed:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    return base64.b64encode(data).decode()


def labels(rls: dict) -> dict[str, str]:
    return {"createdAt": "1786982300", "name": rls["name"], "owner": "helm", "status": rls["info"]["status"],
            "version": str(rls["version"])}


def stored_secret(rls: dict, *, compressed: bool = True) -> dict:
    """newSecretsObject, as the API returns it: data.release is the Secret's base64 of encodeRelease's string."""
    encoded = encode_release(rls, compressed=compressed)
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": f"sh.helm.release.v1.{rls['name']}.v{rls['version']}", "labels": labels(rls)},
            "type": "helm.sh/release.v1", "data": {"release": base64.b64encode(encoded.encode()).decode()}}


def stored_configmap(rls: dict, *, compressed: bool = True) -> dict:
    """newConfigMapsObject: data.release is encodeRelease's string."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"sh.helm.release.v1.{rls['name']}.v{rls['version']}", "labels": labels(rls)},
            "data": {"release": encode_release(rls, compressed=compressed)}}
