"""What the engine keeps of the objects it watches: the fields the rules, the engine and the diagnoses read, and
nothing else, compactly. A rollout of a thousand Deployments keeps three thousand Pods; as the API serves them, most
of each (managedFields, tolerations, resources, images, IPs, timestamps of conditions) is read by no one, and each
copy of a key ("lastTransitionTime", "status") costs as much as the value it names.

A field read from a related object (a Pod, ReplicaSet, ControllerRevision or EndpointSlice) by a rule, by the engine
(engine/*.py) or by rules.objects must be kept here, and so must a field of a target's Pod template that
rules.objects reads: tests/rules/test_slim.py judges the fixtures both ways.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from kubedog_ci.rules.profile import Stream

_METADATA = ("name", "namespace", "uid", "labels", "annotations", "ownerReferences", "generation",
             "creationTimestamp", "deletionTimestamp", "resourceVersion")
_OWNER = ("kind", "name", "uid", "controller")
"""What is read of an owner reference: whose it is (objects.controller_uid) and its name (rules.service)."""
_CONDITION = ("type", "status", "reason", "message", "observedGeneration")
_POD_SPEC = ("containers", "initContainers", "ephemeralContainers", "restartPolicy", "volumes", "imagePullSecrets")
_CONTAINER = ("name", "env", "envFrom", "startupProbe", "livenessProbe", "readinessProbe")
"""A container's name, the Secrets it consumes (rules.objects.consumed_secrets) and its probes (kill_window)."""
_POD_STATUS_UNREAD = frozenset({"hostIP", "hostIPs", "podIP", "podIPs", "qosClass", "resize",
                                "resourceClaimStatuses", "nominatedNodeName"})
_CONTAINER_STATUS_UNREAD = frozenset({"image", "imageID", "user", "allocatedResources", "allocatedResourcesStatus",
                                      "resources", "volumeMounts", "stopSignal"})
_SHORT = 32
"""Strings up to this long are interned: condition types and statuses, reasons, phases, label values."""


def compact(value: object) -> object:
    """JSON-shaped data rebuilt with every key, and every short string, interned: the decoder makes a new copy of
    each key for each object it decodes, and thousands of Pods repeat the same few dozen."""
    if isinstance(value, dict):
        return {sys.intern(key): compact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [compact(item) for item in value]
    if isinstance(value, str) and len(value) <= _SHORT:
        return sys.intern(value)
    return value


def _metadata(obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    kept = {key: meta[key] for key in _METADATA if key in meta}
    if isinstance(kept.get("ownerReferences"), list):
        kept["ownerReferences"] = [{key: ref[key] for key in _OWNER if key in ref}
                                   for ref in kept["ownerReferences"] if isinstance(ref, dict)]
    return kept


def _conditions(status: dict) -> dict:
    """The status with its conditions' type, status, reason, message and observedGeneration only."""
    if isinstance(status.get("conditions"), list):
        status = {**status, "conditions": [{key: entry[key] for key in _CONDITION if key in entry}
                                           for entry in status["conditions"] if isinstance(entry, dict)]}
    return status


def _typed(obj: dict, **parts: object) -> dict:
    found = {key: obj[key] for key in ("kind", "apiVersion") if key in obj}
    found["metadata"] = _metadata(obj)
    found.update((key, value) for key, value in parts.items() if value is not None)
    return compact(found)  # type: ignore[return-value]


def _container(container: dict) -> dict:
    kept = {key: container[key] for key in _CONTAINER if key in container}
    if "env" in kept:  # only the Secret references: values are never read (a Secret's own values are redacted)
        kept["env"] = [{"name": entry.get("name"), "valueFrom": entry["valueFrom"]}
                       for entry in kept["env"] or [] if isinstance(entry, dict) and entry.get("valueFrom")]
    return kept


def _volume(volume: dict) -> dict | None:
    """A Secret or projected volume (the Secrets it mounts); other volumes are never read."""
    kept = {key: volume[key] for key in ("secret", "projected") if key in volume}
    return {"name": volume.get("name"), **kept} if kept else None


def pod_spec(spec: dict) -> dict:
    """A Pod spec (a Pod's, or a workload's template's) as read: its containers' names, probes and Secret
    references, its Secret volumes and image pull secrets, restartPolicy."""
    kept: dict = {key: spec[key] for key in _POD_SPEC if key in spec}
    for group in ("containers", "initContainers", "ephemeralContainers"):
        if isinstance(kept.get(group), list):
            kept[group] = [_container(container) for container in kept[group] if isinstance(container, dict)]
    if isinstance(kept.get("volumes"), list):
        kept["volumes"] = [found for volume in kept["volumes"] if isinstance(volume, dict)
                           and (found := _volume(volume)) is not None]
    return kept


def pod(obj: dict) -> dict:
    """A Pod as the engine keeps it: metadata, its spec as read (pod_spec), and its status without addresses,
    images and the timestamps of its conditions."""
    status = obj.get("status")
    kept_status = None
    if isinstance(status, dict):
        kept_status = _conditions({key: value for key, value in status.items() if key not in _POD_STATUS_UNREAD})
        for group in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
            if isinstance(kept_status.get(group), list):
                kept_status[group] = [{key: value for key, value in entry.items()
                                       if key not in _CONTAINER_STATUS_UNREAD}
                                      for entry in kept_status[group] if isinstance(entry, dict)]
    spec = obj.get("spec")
    return _typed(obj, spec=pod_spec(spec) if isinstance(spec, dict) else None, status=kept_status)


def replicaset(obj: dict) -> dict:
    """A Deployment's ReplicaSet: its metadata (revision, pod-template-hash, controller) and status (ReplicaFailure);
    its Pod template, as big as the Deployment's, is the Deployment's business."""
    status = obj.get("status")
    return _typed(obj, status=_conditions(status) if isinstance(status, dict) else None)


def controller_revision(obj: dict) -> dict:
    """A DaemonSet's ControllerRevision: its metadata and revision number, not the template it stores."""
    return _typed(obj, revision=obj.get("revision"))


def endpoint_slice(obj: dict) -> dict:
    """A Service's EndpointSlice: its metadata and each endpoint's conditions (ready or not)."""
    endpoints = [{"conditions": endpoint.get("conditions") or {}} for endpoint in obj.get("endpoints") or []
                 if isinstance(endpoint, dict)]
    return _typed(obj, endpoints=endpoints)


RELATED: dict[Stream, Callable[[dict], dict]] = {
    Stream.PODS: pod,
    Stream.REPLICASETS: replicaset,
    Stream.CONTROLLER_REVISIONS: controller_revision,
    Stream.ENDPOINT_SLICES: endpoint_slice,
}
"""What is kept of an object of each related type that is no target's own object."""


def target(obj: dict) -> dict:
    """A target's own object: all of it (its kind's rule may read any field, a custom resource's any condition)
    but metadata.managedFields, and a workload's Pod template as pod_spec keeps it (only the Secrets its Pods
    consume are read of it); a Pod's spec is kept whole (`kubedog follow` compares it to see a new revision)."""
    found = dict(obj)
    meta = found.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        found["metadata"] = {key: value for key, value in meta.items() if key != "managedFields"}
    spec = found.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        found["spec"] = {**spec, "template": {**template, "spec": pod_spec(template["spec"])}}
    return compact(found)  # type: ignore[return-value]


def metadata_only(obj: dict) -> dict:
    """Its kind, apiVersion, name, namespace, uid and resourceVersion: what a watcher needs to know an object again
    and to report it deleted."""
    meta = obj.get("metadata") or {}
    found = {key: obj[key] for key in ("kind", "apiVersion") if key in obj}
    found["metadata"] = {key: meta[key] for key in ("name", "namespace", "uid", "resourceVersion") if key in meta}
    return compact(found)  # type: ignore[return-value]
