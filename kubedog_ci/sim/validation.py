"""Validation that answers 422 Invalid with the real field causes and messages.

Covers what manifests get wrong in practice: invalid names, a selector that does not match the template's
labels, missing containers or images, a restartPolicy the workload kind does not allow, and changes to
immutable fields. Messages follow k8s.io/apimachinery's field.Error rendering.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from kubedog_ci.sim.resources import ResourceType
from kubedog_ci.sim.selectors import matches_label_selector

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
APISERVICES = "apiregistration.k8s.io/apiservices"

LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                 "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")

Cause = dict


def go_value(value: object) -> str:
    """Render a value as Go's %#v would for the types that appear in these messages."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{inner}}}"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def invalid_value(field: str, value: object, detail: str) -> Cause:
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {go_value(value)}: {detail}", "field": field}


def required(field: str, detail: str = "") -> Cause:
    return {"reason": "FieldValueRequired", "message": "Required value" + (f": {detail}" if detail else ""),
            "field": field}


def unsupported(field: str, value: object, supported: list[str]) -> Cause:
    quoted = ", ".join(json.dumps(s) for s in supported)
    return {"reason": "FieldValueNotSupported",
            "message": f"Unsupported value: {go_value(value)}: supported values: {quoted}", "field": field}


def forbidden(field: str, detail: str) -> Cause:
    return {"reason": "FieldValueForbidden", "message": f"Forbidden: {detail}", "field": field}


def _label_selector_go(selector: dict) -> str:
    labels = go_value(selector.get("matchLabels") or {}) if selector.get("matchLabels") else "map[string]string(nil)"
    exprs = "[]v1.LabelSelectorRequirement(nil)" if not selector.get("matchExpressions") else \
        json.dumps(selector["matchExpressions"], separators=(",", ":"))
    return f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}"


def _name(rt: ResourceType, obj: dict) -> list[Cause]:
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not name:
        return [required("metadata.name", "name or generateName is required")]
    if rt.group == "rbac.authorization.k8s.io":  # ValidateRBACName: any path segment (system:basic-user)
        problems = [f"may not be '{name}'"] if name in (".", "..") else []
        problems += [f"may not contain '{c}'" for c in "/%" if c in name]
        return [invalid_value("metadata.name", name, problem) for problem in problems]
    if rt.key == APISERVICES:
        problems = _apiservice_name(obj, name)
    else:
        if rt.key == "/namespaces":
            limit, pattern, msg = 63, _DNS1123_LABEL, LABEL_MSG
        elif rt.key == "/services":
            limit, pattern, msg = 63, _DNS1035_LABEL, DNS1035_MSG
        else:
            limit, pattern, msg = 253, _DNS1123_SUBDOMAIN, SUBDOMAIN_MSG
        # IsDNS1123Label & co. report the length and the format as separate errors
        problems = [f"must be no more than {limit} characters"] if len(name) > limit else []
        problems += [] if pattern.match(name) else [msg]
    if problems:
        return [invalid_value("metadata.name", name, problem) for problem in problems]
    for key, value in (meta.get("labels") or {}).items():
        if not isinstance(value, str):
            return [invalid_value(f"metadata.labels.{key}", value, "label values must be strings")]
    return []


def _containers(spec: dict, path: str) -> list[Cause]:
    causes: list[Cause] = []
    containers = spec.get("containers")
    if not containers:
        return [required(f"{path}.containers")]
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or []):
            field = f"{path}.{group}[{index}]"
            name = container.get("name")
            if not name:
                causes.append(required(f"{field}.name"))
            elif not _DNS1123_LABEL.match(name):
                causes.append(invalid_value(f"{field}.name", name, LABEL_MSG))
            elif name in seen:
                causes.append({"reason": "FieldValueDuplicate", "message": f"Duplicate value: {json.dumps(name)}",
                               "field": f"{field}.name"})
            seen.add(name or "")
            if not container.get("image"):
                causes.append(required(f"{field}.image"))
    return causes


def _workload(rt: ResourceType, obj: dict, old: dict | None, restart: list[str] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if rt.key != "batch/jobs" or spec.get("manualSelector"):
        if not selector:
            causes.append(required("spec.selector"))
        elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
            causes.append(invalid_value("spec.selector", {}, "empty selector is invalid for deployment"))
    if selector and not matches_label_selector(selector, labels):
        causes.append(invalid_value("spec.template.metadata.labels", labels,
                                    "`selector` does not match template `labels`"))
    pod_spec = template.get("spec") or {}
    causes += _containers(pod_spec, "spec.template.spec")
    policy = pod_spec.get("restartPolicy")
    if restart is not None and policy not in restart:
        if policy is None:
            causes.append(required("spec.template.spec.restartPolicy",
                                   "valid values: " + ", ".join(json.dumps(r) for r in restart)))
        else:
            causes.append(unsupported("spec.template.spec.restartPolicy", policy, restart))
    if old is not None and rt.group in ("apps", "batch"):
        old_selector = (old.get("spec") or {}).get("selector")
        if old_selector and selector != old_selector:
            causes.append({"reason": "FieldValueInvalid", "field": "spec.selector",
                           "message": f"Invalid value: {_label_selector_go(selector or {})}: field is immutable"})
    return causes


def _deployment(rt: ResourceType, obj: dict, old: dict | None) -> list[Cause]:
    causes = _workload(rt, obj, old, ["Always"])
    replicas = (obj.get("spec") or {}).get("replicas", 0)
    if isinstance(replicas, int) and replicas < 0:
        causes.append(invalid_value("spec.replicas", replicas, "must be greater than or equal to 0"))
    return causes


def _job(rt: ResourceType, obj: dict, old: dict | None) -> list[Cause]:
    causes = _workload(rt, obj, old, ["OnFailure", "Never"])
    if old is not None:
        new_t, old_t = (obj.get("spec") or {}).get("template"), (old.get("spec") or {}).get("template")
        if new_t != old_t:
            causes.append({"reason": "FieldValueInvalid", "field": "spec.template",
                           "message": "Invalid value: core.PodTemplateSpec{...}: field is immutable"})
    return causes


def _pod(rt: ResourceType, obj: dict, old: dict | None) -> list[Cause]:
    causes = _containers(obj.get("spec") or {}, "spec")
    if old is not None:
        mutable = {"activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "nodeName"}

        def frozen(spec: dict) -> dict:
            out = {k: v for k, v in spec.items() if k not in mutable}
            for group in ("containers", "initContainers"):
                if group in out:
                    out[group] = [{k: v for k, v in c.items() if k != "image"} for c in out[group]]
            return out

        if frozen(obj.get("spec") or {}) != frozen(old.get("spec") or {}):
            causes.append(forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`"
                                    ",`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                                    "`spec.tolerations` (only additions to existing tolerations),"
                                    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                                    "previously negative)"))
    return causes


def _pvc(rt: ResourceType, obj: dict, old: dict | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    if not spec.get("accessModes"):
        causes.append(required("spec.accessModes"))
    if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
        causes.append(required("spec.resources[storage]"))
    if old is not None:
        def frozen(s: dict) -> dict:
            out = {k: v for k, v in s.items() if k not in ("resources", "volumeName", "volumeAttributesClassName")}
            if not (old.get("spec") or {}).get("storageClassName"):
                out.pop("storageClassName", None)  # the default StorageClass may still be filled in
            return out

        if frozen(spec) != frozen(old.get("spec") or {}):
            causes.append(forbidden("spec", "spec is immutable after creation except resources.requests and "
                                    "volumeAttributesClassName for bound claims"))
    return causes


def _service(rt: ResourceType, obj: dict, old: dict | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    if spec.get("type") not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        causes.append(unsupported("spec.type", spec.get("type"), ["ClusterIP", "ExternalName", "LoadBalancer",
                                                                  "NodePort"]))
    if spec.get("type") != "ExternalName" and not spec.get("ports") and spec.get("clusterIP") != "None":
        causes.append(required("spec.ports"))
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if old_ip and spec.get("clusterIP") != old_ip:
            causes.append(invalid_value("spec.clusterIPs[0]", spec.get("clusterIP"), "may not change once set"))
    return causes


def _apiservice_name(obj: dict, name: str) -> list[str]:
    """ValidateAPIService's name rule: a valid path segment, and exactly spec.version + "." + spec.group."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    problems = [f"may not contain '{c}'" for c in "/%" if c in name]
    if problems:
        return problems
    spec = obj.get("spec") or {}
    wanted = f"{spec.get('version') or ''}.{spec.get('group') or ''}"
    return [] if name == wanted else [f'must be `spec.version+"."+spec.group`: {json.dumps(wanted)}']


def _apiservice(rt: ResourceType, obj: dict, old: dict | None) -> list[Cause]:
    """kube-aggregator's ValidateAPIService (pkg/apis/apiregistration/validation), after the name."""
    spec = obj.get("spec") or {}
    group, version = spec.get("group") or "", spec.get("version") or ""
    causes: list[Cause] = []
    if not group and version != "v1":
        causes.append(required("spec.group", "only v1 may have an empty group and it better be legacy kube"))
    if group:
        problems = ["must be no more than 253 characters"] if len(group) > 253 else []
        problems += [] if _DNS1123_SUBDOMAIN.match(group) else [SUBDOMAIN_MSG]
        causes += [invalid_value("spec.group", group, p) for p in problems]
    problems = ["must be no more than 63 characters"] if len(version) > 63 else []
    problems += [] if _DNS1035_LABEL.match(version) else [DNS1035_MSG]
    causes += [invalid_value("spec.version", version, p) for p in problems]
    for field, limit in (("groupPriorityMinimum", 20000), ("versionPriority", 1000)):
        value = spec.get(field) or 0
        if not isinstance(value, int) or not 0 < value <= limit:
            causes.append(invalid_value(f"spec.{field}", value, f"must be positive and less than {limit}"))
    service = spec.get("service")  # null or absent: served by this API server itself
    ca_bundle = spec.get("caBundle") or ""
    skip_verify = spec.get("insecureSkipTLSVerify") is True
    if not isinstance(service, dict):
        if ca_bundle:
            causes.append(invalid_value("spec.caBundle", f"{_base64_length(ca_bundle)} bytes",
                                        "local APIServices may not have a caBundle"))
        if skip_verify:
            causes.append(invalid_value("spec.insecureSkipTLSVerify", True,
                                        "local APIServices may not have insecureSkipTLSVerify"))
        return causes
    if not service.get("namespace"):
        causes.append(required("spec.service.namespace"))
    if not service.get("name"):
        causes.append(required("spec.service.name"))
    if skip_verify and ca_bundle:
        causes.append(invalid_value("spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present"))
    return causes


def _base64_length(text: str) -> int:
    """The length of the bytes a []byte field's base64 text decodes to."""
    return len(text) * 3 // 4 - text.count("=", -2) if text else 0


_VALIDATORS: dict[str, Callable[[ResourceType, dict, dict | None], list[Cause]]] = {
    "apps/deployments": _deployment,
    "apps/replicasets": _deployment,
    "apps/statefulsets": lambda rt, o, old: _workload(rt, o, old, ["Always"]),
    "apps/daemonsets": lambda rt, o, old: _workload(rt, o, old, ["Always"]),
    "batch/jobs": _job,
    "/pods": _pod,
    "/persistentvolumeclaims": _pvc,
    "/services": _service,
    APISERVICES: _apiservice,
}


def validate(rt: ResourceType, obj: dict, old: dict | None) -> list[Cause]:
    """All field causes for one object; an empty list means valid."""
    causes = _name(rt, obj)
    validator = _VALIDATORS.get(rt.key)
    if validator:
        causes += validator(rt, obj, old)
    return causes
