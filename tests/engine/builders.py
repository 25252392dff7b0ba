"""Objects as the API serves them, built small: Pods with container statuses, owners, Events."""

from __future__ import annotations

from dataclasses import replace

from kubedog_ci.reasons import classify
from kubedog_ci.rules.problems import Problem

NS = "prod"


def owner_ref(kind: str, name: str, uid: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": True}


def obj(api_version: str, kind: str, name: str, uid: str, *, owner: dict | None = None, labels: dict | None = None,
        annotations: dict | None = None, spec: dict | None = None, status: dict | None = None,
        generation: int | None = None, created: str = "2024-05-01T12:00:00Z") -> dict:
    meta: dict = {"name": name, "namespace": NS, "uid": uid, "creationTimestamp": created,
                  "labels": labels or {}, "annotations": annotations or {}}
    if owner:
        meta["ownerReferences"] = [owner]
    if generation is not None:
        meta["generation"] = generation
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec or {}, "status": status or {}}


def running(name: str = "app", cid: str = "c1", restarts: int = 0, last: dict | None = None,
            ready: bool = True) -> dict:
    return {"name": name, "ready": ready, "restartCount": restarts, "containerID": cid,
            "state": {"running": {"startedAt": "2024-05-01T12:00:01Z"}},
            "lastState": {"terminated": last} if last else {}}


def waiting(name: str = "app", reason: str = "ContainerCreating", message: str = "", restarts: int = 0,
            last: dict | None = None) -> dict:
    return {"name": name, "ready": False, "restartCount": restarts,
            "state": {"waiting": {"reason": reason, **({"message": message} if message else {})}},
            "lastState": {"terminated": last} if last else {}}


def exited(code: int = 1, reason: str = "Error", cid: str = "c0", finished: str = "2024-05-01T12:00:05Z") -> dict:
    return {"exitCode": code, "reason": reason, "containerID": cid, "finishedAt": finished}


def terminated(name: str = "app", code: int = 1, reason: str = "Error", cid: str = "c0", restarts: int = 0) -> dict:
    return {"name": name, "ready": False, "restartCount": restarts, "containerID": cid,
            "state": {"terminated": exited(code, reason, cid)}, "lastState": {}}


def pod(name: str = "web-7c9f-x2k", uid: str = "pod-1", *containers: dict, owner: dict | None = None,
        labels: dict | None = None, init: tuple[dict, ...] = (), phase: str = "Running", ready: bool = False,
        conditions: tuple[dict, ...] = (), restart_policy: str = "Always", spec_containers: list | None = None,
        created: str = "2024-05-01T12:00:00Z") -> dict:
    conds = [{"type": "Ready", "status": "True" if ready else "False"}, *conditions]
    status = {"phase": phase, "conditions": conds, "containerStatuses": list(containers)}
    if init:
        status["initContainerStatuses"] = list(init)
    spec = {"restartPolicy": restart_policy,
            "containers": spec_containers or [{"name": c["name"], "image": "x"} for c in containers]}
    return obj("v1", "Pod", name, uid, owner=owner, labels=labels, spec=spec, status=status, created=created)


def event(reason: str, message: str, *, kind: str = "Pod", name: str = "web-7c9f-x2k", uid: str = "pod-1",
          type_: str = "Warning", field_path: str = "", stamp: str = "2030-01-01T00:00:00Z", count: int = 1,
          event_name: str = "") -> dict:
    involved = {"kind": kind, "name": name, "namespace": NS, "uid": uid}
    if field_path:
        involved["fieldPath"] = field_path
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": event_name or f"{name}.{reason}", "namespace": NS},
            "involvedObject": involved, "reason": reason, "message": message, "type": type_,
            "lastTimestamp": stamp, "firstTimestamp": stamp, "count": count}


def problem(reason: str = "CrashLoopBackOff", where: str = "waiting", message: str = "", *, key: tuple = ("p", "app",
            "c1"), source: str = "status", grace: int | None = None, **fields: object) -> Problem:
    classification = classify(where, reason, message)
    if grace is not None:
        classification = replace(classification, grace_seconds=grace)
    return Problem(key, "po/web-1", reason, message, where, classification, source=source,  # type: ignore[arg-type]
                   **fields)
