"""A container's environment, resolved the way the kubelet's makeEnvironmentVariables does it.

Service links come first, then envFrom, then env with $(VAR) expansion; a missing ConfigMap, Secret or key
fails with the kubelet's own error text, which becomes the CreateContainerConfigError message.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterator, Mapping
from fractions import Fraction

from kubedog_ci.sim.quantity import Quantity
from kubedog_ci.sim.store import Store

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_SOURCES = {"configMap": ("/configmaps", "configmap", "ConfigMap"), "secret": ("/secrets", "secret", "Secret")}


class ConfigError(Exception):
    """generateContainerConfig failed; str() is the kubelet's message."""


def parse_quantity(text: str | int | float) -> Fraction:
    """A resource.Quantity's exact amount (cores, bytes): exact, so that dividing 1001m by a 1m divisor gives
    1001 and not the 1002 that binary floating point rounds up to."""
    return Quantity.parse(text).value


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """third_party/forked/golang/expansion.Expand: $(VAR) from mapping, $$ escapes, unknown refs stay."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    out.append(mapping[name] if name in mapping else text[i:end + 1])
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def _service_vars(service: dict) -> Iterator[tuple[str, str]]:
    """envvars.FromServices for one Service with a cluster IP."""
    spec = service.get("spec") or {}
    ip, ports = spec.get("clusterIP"), spec.get("ports") or []
    if not ip or ip == "None" or not ports:
        return
    prefix = _env_name(service["metadata"]["name"])
    yield f"{prefix}_SERVICE_HOST", ip
    yield f"{prefix}_SERVICE_PORT", str(ports[0].get("port"))
    for port in ports:
        if port.get("name"):
            yield f"{prefix}_SERVICE_PORT_{_env_name(port['name'])}", str(port.get("port"))
    for index, port in enumerate(ports):
        protocol = port.get("protocol") or "TCP"
        url = f"{protocol.lower()}://{ip}:{port.get('port')}"
        if index == 0:
            yield f"{prefix}_PORT", url
        port_prefix = f"{prefix}_PORT_{port.get('port')}_{protocol.upper()}"
        yield port_prefix, url
        yield f"{port_prefix}_PROTO", protocol.lower()
        yield f"{port_prefix}_PORT", str(port.get("port"))
        yield f"{port_prefix}_ADDR", ip


def service_env(store: Store, namespace: str, links: bool) -> dict[str, str]:
    """Service links of the pod's namespace (enableServiceLinks) plus the master service, always."""
    selected = {s["metadata"]["name"]: s for s in store.list("/services", namespace)[0]} if links else {}
    master = store.get("/services", "default", "kubernetes")
    if master is not None:
        selected.setdefault("kubernetes", master)
    env: dict[str, str] = {}
    for service in selected.values():
        env.update(_service_vars(service))
    return env


def _source(store: Store, kind: str, namespace: str, name: str) -> dict:
    key, singular, _ = _SOURCES[kind]
    obj = store.get(key, namespace, name)
    if obj is None:
        raise LookupError(f'{singular} "{name}" not found')
    return obj


def decoded(value: str) -> str:
    """A base64 value of a Secret (or ConfigMap binaryData) as text; one that is not base64 stays as it is."""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return value


def _data(kind: str, obj: dict) -> dict[str, str]:
    data = obj.get("data") or {}
    return {key: decoded(value) for key, value in data.items()} if kind == "secret" else dict(data)


def _quoted_map(values: Mapping[str, str]) -> str:
    """fieldpath.FormatMap."""
    return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))


def field_value(path: str, pod: dict, pod_ip: str, host_ip: str) -> str:
    """A downward API fieldRef, for env and volumes alike; raises ConfigError for a path the kubelet lacks."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    simple = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
              "metadata.uid": meta.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
              "spec.serviceAccountName": spec.get("serviceAccountName", ""), "status.hostIP": host_ip,
              "status.hostIPs": host_ip, "status.podIP": pod_ip, "status.podIPs": pod_ip,
              "metadata.labels": _quoted_map(meta.get("labels") or {}),
              "metadata.annotations": _quoted_map(meta.get("annotations") or {})}
    if path in simple:
        return simple[path]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return (meta.get(match.group(1)) or {}).get(match.group(2), "")
    raise ConfigError(f"unsupported fieldPath: {path}")


def resource_value(ref: dict, container: dict, node_allocatable: Mapping[str, str]) -> str:
    """containerResourceRuntimeValue: a request or limit (a missing limit is the node's allocatable)."""
    kind, _, resource = str(ref.get("resource", "")).partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(resource)
    if value is None and kind == "requests":
        value = (resources.get("limits") or {}).get(resource)
    if value is None:
        value = node_allocatable.get(resource, "0")
    divisor = parse_quantity(ref.get("divisor") or 1)
    return str(math.ceil(parse_quantity(value) / divisor))


def resolve(store: Store, pod: dict, container: dict, pod_ip: str, host_ip: str,
            node_allocatable: Mapping[str, str]) -> dict[str, str]:
    """The environment a container starts with; raises ConfigError with the kubelet's message."""
    namespace = pod["metadata"]["namespace"]
    spec = pod.get("spec") or {}
    services = service_env(store, namespace, spec.get("enableServiceLinks", True) is not False)
    env: dict[str, str] = {}
    try:
        for source in container.get("envFrom") or []:
            kind = "configMap" if "configMapRef" in source else "secret"
            ref = source.get(f"{kind}Ref") or {}
            try:
                data = _data(kind, _source(store, kind, namespace, ref.get("name", "")))
            except LookupError:
                if ref.get("optional"):
                    continue
                raise
            for key, value in data.items():
                name = source.get("prefix", "") + key
                if _ENV_NAME.match(name):
                    env[name] = value
        for var in container.get("env") or []:
            name = var.get("name", "")
            value = var.get("value") or ""
            if value:
                value = expand(value, {**services, **env})
            elif var.get("valueFrom"):
                value = _value_from(store, var["valueFrom"], pod, container, pod_ip, host_ip, node_allocatable)
                if value is None:
                    continue
            services.pop(name, None)
            env[name] = value
    except LookupError as err:
        raise ConfigError(err.args[0]) from err
    return {**services, **env}


def _value_from(store: Store, source: dict, pod: dict, container: dict, pod_ip: str, host_ip: str,
                node_allocatable: Mapping[str, str]) -> str | None:
    """One env[].valueFrom; None when an optional source or key is missing."""
    if "fieldRef" in source:
        return field_value(source["fieldRef"].get("fieldPath", ""), pod, pod_ip, host_ip)
    if "resourceFieldRef" in source:
        return resource_value(source["resourceFieldRef"], container, node_allocatable)
    namespace = pod["metadata"]["namespace"]
    kind = "configMap" if "configMapKeyRef" in source else "secret"
    ref = source.get(f"{kind}KeyRef") or {}
    name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
    try:
        data = _data(kind, _source(store, kind, namespace, name))
    except LookupError:
        if optional:
            return None
        raise
    if key not in data:
        if optional:
            return None
        raise LookupError(f"couldn't find key {key} in {_SOURCES[kind][2]} {namespace}/{name}")
    return data[key]


def references(pod: dict) -> set[tuple[str, str, str]]:
    """(storage key, namespace, name) of every ConfigMap, Secret and PVC the pod's start depends on."""
    namespace = pod["metadata"]["namespace"]
    spec = pod.get("spec") or {}
    refs: set[tuple[str, str, str]] = set()
    for volume in spec.get("volumes") or []:
        if "persistentVolumeClaim" in volume:
            refs.add(("/persistentvolumeclaims", namespace, volume["persistentVolumeClaim"].get("claimName", "")))
        sources = [volume, *((volume.get("projected") or {}).get("sources") or [])]
        for source in sources:
            if "configMap" in source:
                refs.add(("/configmaps", namespace, source["configMap"].get("name", "")))
            if "secret" in source:
                secret = source["secret"]
                refs.add(("/secrets", namespace, secret.get("secretName") or secret.get("name", "")))
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for source in container.get("envFrom") or []:
            for field, key in (("configMapRef", "/configmaps"), ("secretRef", "/secrets")):
                if field in source:
                    refs.add((key, namespace, source[field].get("name", "")))
        for var in container.get("env") or []:
            value_from = var.get("valueFrom") or {}
            for field, key in (("configMapKeyRef", "/configmaps"), ("secretKeyRef", "/secrets")):
                if field in value_from:
                    refs.add((key, namespace, value_from[field].get("name", "")))
    return refs
