"""Decoding of the Kubernetes protobuf encoding, for the bodies kubectl's typed clients send.

`kubectl create namespace|configmap|secret|deployment|job|cronjob|service|serviceaccount` post their object as
`application/vnd.kubernetes.protobuf`, which a real API server accepts for built-in kinds. The wire format is
the "k8s\\0" magic, then a runtime.Unknown {typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2} whose raw bytes are
the object encoded per k8s.io/api's generated.proto. Field numbers below are those files'. A kind or field this
table does not know is refused (415) instead of being guessed.

gogo-protobuf writes every non-pointer scalar, zero or not, where JSON's omitempty would leave it out; so zero
values are dropped unless the Go field is a pointer (marked `ptr`), where 0 or false were set on purpose.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    """A body this decoder cannot turn into the JSON object the client meant."""


# (json name, type, flags): type is a scalar ("str", "bytes", "int", "bool"), a special ("time", "quantity",
# "intorstr"), "map:<value type>", or a message name; flags "rep" (repeated) and "ptr" (keep zero values).
Field = tuple[str, str, str]

_META: dict[str, dict[int, Field]] = {
    "ObjectMeta": {1: ("name", "str", ""), 2: ("generateName", "str", ""), 3: ("namespace", "str", ""),
                   4: ("selfLink", "str", ""), 5: ("uid", "str", ""), 6: ("resourceVersion", "str", ""),
                   7: ("generation", "int", ""), 8: ("creationTimestamp", "time", ""),
                   9: ("deletionTimestamp", "time", ""), 10: ("deletionGracePeriodSeconds", "int", "ptr"),
                   11: ("labels", "map:str", ""), 12: ("annotations", "map:str", ""),
                   13: ("ownerReferences", "OwnerReference", "rep"), 14: ("finalizers", "str", "rep")},
    "OwnerReference": {1: ("kind", "str", ""), 3: ("name", "str", ""), 4: ("uid", "str", ""),
                       5: ("apiVersion", "str", ""), 6: ("controller", "bool", "ptr"),
                       7: ("blockOwnerDeletion", "bool", "ptr")},
    "LabelSelector": {1: ("matchLabels", "map:str", ""), 2: ("matchExpressions", "LabelSelectorRequirement", "rep")},
    "LabelSelectorRequirement": {1: ("key", "str", ""), 2: ("operator", "str", ""), 3: ("values", "str", "rep")},
}

_CORE: dict[str, dict[int, Field]] = {
    "Namespace": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "NamespaceSpec", ""),
                  3: ("status", "Status", "")},
    "NamespaceSpec": {1: ("finalizers", "str", "rep")},
    "ConfigMap": {1: ("metadata", "ObjectMeta", ""), 2: ("data", "map:str", ""), 3: ("binaryData", "map:bytes", ""),
                  4: ("immutable", "bool", "ptr")},
    "Secret": {1: ("metadata", "ObjectMeta", ""), 2: ("data", "map:bytes", ""), 3: ("type", "str", ""),
               4: ("stringData", "map:str", ""), 5: ("immutable", "bool", "ptr")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta", ""), 2: ("secrets", "ObjectReference", "rep"),
                       3: ("imagePullSecrets", "LocalObjectReference", "rep"),
                       4: ("automountServiceAccountToken", "bool", "ptr")},
    "ObjectReference": {1: ("kind", "str", ""), 2: ("namespace", "str", ""), 3: ("name", "str", ""),
                        4: ("uid", "str", ""), 5: ("apiVersion", "str", ""), 6: ("resourceVersion", "str", ""),
                        7: ("fieldPath", "str", "")},
    "LocalObjectReference": {1: ("name", "str", "")},
    "Service": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "ServiceSpec", ""), 3: ("status", "Status", "")},
    "ServiceSpec": {1: ("ports", "ServicePort", "rep"), 2: ("selector", "map:str", ""), 3: ("clusterIP", "str", ""),
                    4: ("type", "str", ""), 5: ("externalIPs", "str", "rep"), 7: ("sessionAffinity", "str", ""),
                    8: ("loadBalancerIP", "str", ""), 9: ("loadBalancerSourceRanges", "str", "rep"),
                    10: ("externalName", "str", ""), 11: ("externalTrafficPolicy", "str", ""),
                    12: ("healthCheckNodePort", "int", ""), 13: ("publishNotReadyAddresses", "bool", ""),
                    17: ("ipFamilyPolicy", "str", "ptr"), 18: ("clusterIPs", "str", "rep"),
                    19: ("ipFamilies", "str", "rep"), 20: ("allocateLoadBalancerNodePorts", "bool", "ptr"),
                    21: ("loadBalancerClass", "str", "ptr"), 22: ("internalTrafficPolicy", "str", "ptr")},
    "ServicePort": {1: ("name", "str", ""), 2: ("protocol", "str", ""), 3: ("port", "int", ""),
                    4: ("targetPort", "intorstr", ""), 5: ("nodePort", "int", ""), 6: ("appProtocol", "str", "ptr")},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "PodSpec", "")},
    "PodSpec": {2: ("containers", "Container", "rep"), 3: ("restartPolicy", "str", ""),
                4: ("terminationGracePeriodSeconds", "int", "ptr"), 5: ("activeDeadlineSeconds", "int", "ptr"),
                6: ("dnsPolicy", "str", ""), 7: ("nodeSelector", "map:str", ""),
                8: ("serviceAccountName", "str", ""), 9: ("serviceAccount", "str", ""), 10: ("nodeName", "str", ""),
                11: ("hostNetwork", "bool", ""), 12: ("hostPID", "bool", ""), 13: ("hostIPC", "bool", ""),
                14: ("securityContext", "PodSecurityContext", ""),
                15: ("imagePullSecrets", "LocalObjectReference", "rep"), 16: ("hostname", "str", ""),
                17: ("subdomain", "str", ""), 19: ("schedulerName", "str", ""),
                20: ("initContainers", "Container", "rep"), 21: ("automountServiceAccountToken", "bool", "ptr"),
                24: ("priorityClassName", "str", ""), 25: ("priority", "int", "ptr"),
                30: ("enableServiceLinks", "bool", "ptr")},
    "PodSecurityContext": {},
    "Container": {1: ("name", "str", ""), 2: ("image", "str", ""), 3: ("command", "str", "rep"),
                  4: ("args", "str", "rep"), 5: ("workingDir", "str", ""), 6: ("ports", "ContainerPort", "rep"),
                  7: ("env", "EnvVar", "rep"), 8: ("resources", "ResourceRequirements", ""),
                  13: ("terminationMessagePath", "str", ""), 14: ("imagePullPolicy", "str", ""),
                  16: ("stdin", "bool", ""), 17: ("stdinOnce", "bool", ""), 18: ("tty", "bool", ""),
                  20: ("terminationMessagePolicy", "str", ""), 24: ("restartPolicy", "str", "ptr")},
    "ContainerPort": {1: ("name", "str", ""), 2: ("hostPort", "int", ""), 3: ("containerPort", "int", ""),
                      4: ("protocol", "str", ""), 5: ("hostIP", "str", "")},
    "EnvVar": {1: ("name", "str", ""), 2: ("value", "str", "")},
    "ResourceRequirements": {1: ("limits", "map:quantity", ""), 2: ("requests", "map:quantity", "")},
}

_APPS_BATCH: dict[str, dict[int, Field]] = {
    "Deployment": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "DeploymentSpec", ""),
                   3: ("status", "Status", "")},
    "DeploymentSpec": {1: ("replicas", "int", "ptr"), 2: ("selector", "LabelSelector", ""),
                       3: ("template", "PodTemplateSpec", ""), 4: ("strategy", "DeploymentStrategy", ""),
                       5: ("minReadySeconds", "int", ""), 6: ("revisionHistoryLimit", "int", "ptr"),
                       7: ("paused", "bool", ""), 9: ("progressDeadlineSeconds", "int", "ptr")},
    "DeploymentStrategy": {1: ("type", "str", ""), 2: ("rollingUpdate", "RollingUpdateDeployment", "")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "intorstr", ""), 2: ("maxSurge", "intorstr", "")},
    "Job": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "JobSpec", ""), 3: ("status", "Status", "")},
    "JobSpec": {1: ("parallelism", "int", "ptr"), 2: ("completions", "int", "ptr"),
                3: ("activeDeadlineSeconds", "int", "ptr"), 4: ("selector", "LabelSelector", ""),
                5: ("manualSelector", "bool", "ptr"), 6: ("template", "PodTemplateSpec", ""),
                7: ("backoffLimit", "int", "ptr"), 8: ("ttlSecondsAfterFinished", "int", "ptr"),
                9: ("completionMode", "str", "ptr"), 10: ("suspend", "bool", "ptr"),
                12: ("backoffLimitPerIndex", "int", "ptr"), 13: ("maxFailedIndexes", "int", "ptr"),
                14: ("podReplacementPolicy", "str", "ptr"), 15: ("managedBy", "str", "ptr")},
    "CronJob": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "CronJobSpec", ""), 3: ("status", "Status", "")},
    "CronJobSpec": {1: ("schedule", "str", ""), 2: ("startingDeadlineSeconds", "int", "ptr"),
                    3: ("concurrencyPolicy", "str", ""), 4: ("suspend", "bool", "ptr"),
                    5: ("jobTemplate", "JobTemplateSpec", ""), 6: ("successfulJobsHistoryLimit", "int", "ptr"),
                    7: ("failedJobsHistoryLimit", "int", "ptr"), 8: ("timeZone", "str", "ptr")},
    "JobTemplateSpec": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "JobSpec", "")},
}

_RBAC_POLICY: dict[str, dict[int, Field]] = {
    "Role": {1: ("metadata", "ObjectMeta", ""), 2: ("rules", "PolicyRule", "rep")},
    "ClusterRole": {1: ("metadata", "ObjectMeta", ""), 2: ("rules", "PolicyRule", "rep")},
    "PolicyRule": {1: ("verbs", "str", "rep"), 2: ("apiGroups", "str", "rep"), 3: ("resources", "str", "rep"),
                   4: ("resourceNames", "str", "rep"), 5: ("nonResourceURLs", "str", "rep")},
    "RoleBinding": {1: ("metadata", "ObjectMeta", ""), 2: ("subjects", "Subject", "rep"),
                    3: ("roleRef", "RoleRef", "")},
    "ClusterRoleBinding": {1: ("metadata", "ObjectMeta", ""), 2: ("subjects", "Subject", "rep"),
                           3: ("roleRef", "RoleRef", "")},
    "Subject": {1: ("kind", "str", ""), 2: ("apiGroup", "str", ""), 3: ("name", "str", ""),
                4: ("namespace", "str", "")},
    "RoleRef": {1: ("apiGroup", "str", ""), 2: ("kind", "str", ""), 3: ("name", "str", "")},
    "PodDisruptionBudget": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "PodDisruptionBudgetSpec", ""),
                            3: ("status", "Status", "")},
    "PodDisruptionBudgetSpec": {1: ("minAvailable", "intorstr", ""), 2: ("selector", "LabelSelector", ""),
                                3: ("maxUnavailable", "intorstr", ""), 4: ("unhealthyPodEvictionPolicy", "str", "ptr")},
}

_AUTH: dict[str, dict[int, Field]] = {
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "SelfSubjectAccessReviewSpec", ""),
                                3: ("status", "Status", "")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", ""),
                                    2: ("nonResourceAttributes", "NonResourceAttributes", "")},
    "ResourceAttributes": {1: ("namespace", "str", ""), 2: ("verb", "str", ""), 3: ("group", "str", ""),
                           4: ("version", "str", ""), 5: ("resource", "str", ""), 6: ("subresource", "str", ""),
                           7: ("name", "str", ""), 8: ("fieldSelector", "SelectorAttributes", ""),
                           9: ("labelSelector", "SelectorAttributes", "")},
    "SelectorAttributes": {1: ("rawSelector", "str", ""), 2: ("requirements", "LabelSelectorRequirement", "rep")},
    "NonResourceAttributes": {1: ("path", "str", ""), 2: ("verb", "str", "")},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "SelfSubjectRulesReviewSpec", ""),
                               3: ("status", "Status", "")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "str", "")},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta", ""), 2: ("status", "Status", "")},
    "TokenRequest": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "TokenRequestSpec", ""),
                     3: ("status", "Status", "")},
    "TokenRequestSpec": {1: ("audiences", "str", "rep"), 3: ("boundObjectRef", "BoundObjectReference", ""),
                         4: ("expirationSeconds", "int", "ptr")},
    "BoundObjectReference": {1: ("kind", "str", ""), 2: ("apiVersion", "str", ""), 3: ("name", "str", ""),
                             4: ("uid", "str", "")},
}
"""`kubectl auth can-i`, `auth whoami` and `create token` post these (k8s.io/api authorization/v1 and
authentication/v1 generated.proto)."""

SCHEMAS: dict[str, dict[int, Field]] = {**_META, **_CORE, **_APPS_BATCH, **_RBAC_POLICY, **_AUTH}
_RBAC = "rbac.authorization.k8s.io/v1"
_AUTHZ, _AUTHN = "authorization.k8s.io/v1", "authentication.k8s.io/v1"
TOP_LEVEL = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "Service"),
             ("apps/v1", "Deployment"), ("batch/v1", "Job"), ("batch/v1", "CronJob"), (_RBAC, "Role"),
             (_RBAC, "ClusterRole"), (_RBAC, "RoleBinding"), (_RBAC, "ClusterRoleBinding"),
             ("policy/v1", "PodDisruptionBudget"), (_AUTHZ, "SelfSubjectAccessReview"),
             (_AUTHZ, "SelfSubjectRulesReview"), (_AUTHN, "SelfSubjectReview"), (_AUTHN, "TokenRequest")}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field on the wire: an int for varints, bytes for length-delimited ones."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field")
            yield number, data[pos:pos + length]
            pos += length
        else:
            raise ProtobufError(f"unexpected wire type {wire}")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _parts(data: bytes) -> dict[int, int | bytes]:
    """The fields of a small message by number (the last one wins, as for any non-repeated field)."""
    return dict(_fields(data))


def _text(parts: dict[int, int | bytes], number: int) -> str:
    value = parts.get(number, b"")
    if not isinstance(value, bytes):
        raise ProtobufError(f"field {number} is not a string")
    return value.decode()


def _number(parts: dict[int, int | bytes], number: int) -> int:
    value = parts.get(number, 0)
    if not isinstance(value, int):
        raise ProtobufError(f"field {number} is not a number")
    return _signed(value)


def _scalar(kind: str, value: int | bytes) -> object:
    if isinstance(value, bytes):
        if kind == "str":
            return value.decode()
        if kind == "bytes":
            return base64.b64encode(value).decode()
        return _special(kind, value)
    if kind == "int":
        return _signed(value)
    if kind == "bool":
        return bool(value)
    raise ProtobufError(f"a varint where {kind} was expected")


def _special(kind: str, data: bytes) -> object:
    if kind == "quantity":
        return _text(_parts(data), 1)
    if kind == "intorstr":
        parts = _parts(data)
        return _text(parts, 3) if _number(parts, 1) == 1 else _number(parts, 2)
    if kind == "time":
        seconds = _number(_parts(data), 1)
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if seconds else None
    return decode_message(kind, data)


def _map_entry(kind: str, data: bytes) -> tuple[str, object]:
    entry = _parts(data)
    raw = entry.get(2, b"")
    if not isinstance(raw, bytes):
        raise ProtobufError("malformed map entry")
    return _text(entry, 1), _scalar(kind, raw)


def _zero(value: object) -> bool:
    return value in ("", 0, False, None) and not isinstance(value, dict)


def decode_message(name: str, data: bytes) -> dict:
    """One message of SCHEMAS as the JSON object the API would have received."""
    if name == "Status":
        return {}  # an object's status: the API server resets it on create, so its (zero) fields do not matter
    schema = SCHEMAS.get(name)
    if schema is None:
        raise ProtobufError(f"unsupported protobuf message {name}")
    out: dict = {}
    for number, value in _fields(data):
        if number not in schema:
            raise ProtobufError(f"unsupported field {number} of protobuf message {name}")
        key, kind, flags = schema[number]
        if kind.startswith("map:"):
            if not isinstance(value, bytes):
                raise ProtobufError(f"field {key} of {name} is not a map")
            entry_key, entry_value = _map_entry(kind[4:], value)
            out.setdefault(key, {})[entry_key] = entry_value
        elif "rep" in flags:
            out.setdefault(key, []).append(_scalar(kind, value))
        else:
            decoded = _scalar(kind, value)
            if "ptr" in flags or not _zero(decoded):
                out[key] = decoded
    return out


def decode(body: bytes) -> dict:
    """A whole request body (magic + runtime.Unknown) as a JSON object with apiVersion and kind."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the protobuf body lacks the k8s magic prefix")
    envelope = _parts(body[len(MAGIC):])
    raw_meta, raw = envelope.get(1, b""), envelope.get(2, b"")
    if not isinstance(raw_meta, bytes) or not isinstance(raw, bytes):
        raise ProtobufError("malformed runtime.Unknown envelope")
    type_meta = _parts(raw_meta)
    api_version, kind = _text(type_meta, 1), _text(type_meta, 2)
    if (api_version, kind) not in TOP_LEVEL:
        raise ProtobufError(f"the simulator cannot decode {kind or 'objects'} ({api_version}) sent as protobuf")
    return {"apiVersion": api_version, "kind": kind, **decode_message(kind, raw)}
