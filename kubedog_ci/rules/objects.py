"""Small accessors for Kubernetes objects as the API serves them (dicts), shared by the rules and the engine."""

from __future__ import annotations

from collections.abc import Iterable

REVISION_HASH_LABEL = "controller-revision-hash"
"""The StatefulSet and DaemonSet controllers' label naming a Pod's ControllerRevision."""
JOB_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
"""The Job controller's label on its Pods; the unprefixed one is what clusters before 1.27 set."""


def meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def uid(obj: dict) -> str:
    return meta(obj).get("uid") or ""


def labels(obj: dict) -> dict:
    return meta(obj).get("labels") or {}


def annotations(obj: dict) -> dict:
    return meta(obj).get("annotations") or {}


def controller_uid(obj: dict) -> str | None:
    """The uid of the object's controlling owner (ownerReferences with controller: true), if any."""
    return next((ref.get("uid") for ref in meta(obj).get("ownerReferences") or [] if ref.get("controller")), None)


def is_observed(obj: dict) -> bool:
    """True when the controller's status describes the object's latest spec (observedGeneration caught up)."""
    observed = (obj.get("status") or {}).get("observedGeneration")
    generation = meta(obj).get("generation")
    return generation is None or (observed is not None and observed >= generation)


def is_pod_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def container_statuses(pod: dict) -> list[dict]:
    """The Pod's container statuses, init containers first: when one fails, it is the root cause of whatever the
    app containers show, and it is the one that started first."""
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def oldest_first(objects: Iterable[dict]) -> list[dict]:
    """By creation time, then name: a stable order for output and for the search of a failure's root cause."""
    return sorted(objects, key=lambda obj: (meta(obj).get("creationTimestamp") or "", meta(obj).get("name") or ""))


def controlled_by(owner: dict, objects: Iterable[dict]) -> list[dict]:
    """The objects `owner` controls, oldest first."""
    return oldest_first(obj for obj in objects if controller_uid(obj) == uid(owner))


def owner_uids(obj: dict) -> set[str]:
    """Whose the object is: its controlling owner, and the Job its labels name (a Job's Pods carry its uid even
    when adopted)."""
    found = {controller_uid(obj), *(labels(obj).get(label) for label in JOB_UID_LABELS)}
    return {owner for owner in found if owner}


def pod_spec(obj: dict) -> dict | None:
    """The Pod spec an object runs: a Pod's own, a workload's template (a CronJob's through its Job template)."""
    spec = obj.get("spec") or {}
    if "containers" in spec:
        return spec
    template = spec.get("template") or ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    return (template or {}).get("spec") if isinstance(template, dict) else None


def consumed_secrets(obj: dict) -> set[str]:
    """The names of the Secrets a Pod, or the Pods of a workload, consume: env keys (secretKeyRef), envFrom,
    secret volumes, projected volume sources and image pull secrets, in every kind of container."""
    spec = pod_spec(obj) or {}
    names: set[str] = {ref.get("name") for ref in spec.get("imagePullSecrets") or []}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
                      *(spec.get("ephemeralContainers") or [])]:
        names |= {((entry.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
                  for entry in container.get("env") or []}
        names |= {(entry.get("secretRef") or {}).get("name") for entry in container.get("envFrom") or []}
    for volume in spec.get("volumes") or []:
        names.add((volume.get("secret") or {}).get("secretName"))
        names |= {(source.get("secret") or {}).get("name")
                  for source in (volume.get("projected") or {}).get("sources") or []}
    return {name for name in names if isinstance(name, str) and name}


def probe_window(probe: dict | None) -> int:
    """How long the kubelet gives a probe before it acts (marks not ready, or kills the container):
    initialDelaySeconds + periodSeconds x failureThreshold (the API defaults are 0, 10 and 3); 0 without one."""
    if not probe:
        return 0
    return int(probe.get("initialDelaySeconds") or 0) + int(probe.get("periodSeconds") or 10) * int(
        probe.get("failureThreshold") or 3)


def kill_window(pod: dict) -> int:
    """Seconds after a container's start in which its own probes can still have it killed: the startup probe's
    window, then the liveness probe's, for its slowest container."""
    containers = (pod.get("spec") or {}).get("containers") or []
    return max((probe_window(c.get("startupProbe")) + probe_window(c.get("livenessProbe")) for c in containers),
               default=0)

