"""Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for, with the real columns.

Column sets follow pkg/printers/internalversion/printers.go for the kinds users look at while a rollout runs;
every other kind gets NAME and AGE, and custom resources their additionalPrinterColumns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from kubedog_ci.sim.loop import parse_time
from kubedog_ci.sim.resources import ResourceType
from kubedog_ci.sim.selectors import field_value, selector_to_string

Column = tuple[str, str, int]
"""(name, type, priority): priority 1 columns show only with `-o wide`."""


def human_age(timestamp: str | None, now: datetime | None = None) -> str:
    """kubectl's duration.HumanDuration of the time since `timestamp`."""
    if not timestamp:
        return "<unknown>"
    seconds = int(((now or datetime.now(UTC)) - parse_time(timestamp)).total_seconds())
    if seconds < 0:
        return "<invalid>"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"


def _age(obj: dict) -> str:
    return human_age(obj["metadata"].get("creationTimestamp"))


def _pod_status(pod: dict) -> tuple[str, int, str]:
    """(READY "1/2", RESTARTS, STATUS) computed as kubectl's printPod does."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    restarts, ready = 0, 0
    total = len(spec.get("containers") or [])
    initializing = False
    init_total = len(spec.get("initContainers") or [])
    for index, entry in enumerate(status.get("initContainerStatuses") or []):
        restarts += entry.get("restartCount", 0)
        state = entry.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        initializing = True
        if term:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{index}/{init_total}"
        break
    if not initializing:
        has_running = False
        for entry in reversed(status.get("containerStatuses") or []):
            restarts += entry.get("restartCount", 0)
            state = entry.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated"):
                term = state["terminated"]
                reason = term.get("reason") or (f"Signal:{term['signal']}" if term.get("signal") else
                                                f"ExitCode:{term.get('exitCode')}")
            elif state.get("running") and entry.get("ready"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return f"{ready}/{total}", restarts, reason


def _pod(pod: dict) -> list:
    ready, restarts, status = _pod_status(pod)
    spec, st = pod.get("spec") or {}, pod.get("status") or {}
    return [pod["metadata"]["name"], ready, status, str(restarts), _age(pod), st.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>", "<none>"]


def _containers_images(obj: dict) -> tuple[str, str]:
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _selector(obj: dict) -> str:
    return selector_to_string((obj.get("spec") or {}).get("selector")) or "<none>"


def _deployment(obj: dict) -> list:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _containers_images(obj)
    return [obj["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), _age(obj), names, images, _selector(obj)]


def _replicaset(obj: dict) -> list:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _containers_images(obj)
    return [obj["metadata"]["name"], spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0),
            _age(obj), names, images, _selector(obj)]


def _statefulset(obj: dict) -> list:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _containers_images(obj)
    return [obj["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", _age(obj),
            names, images]


def _daemonset(obj: dict) -> list:
    st = obj.get("status") or {}
    names, images = _containers_images(obj)
    node_selector = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    return [obj["metadata"]["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "<none>", _age(obj), names, images,
            _selector(obj)]


def _job(obj: dict) -> list:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    if conditions.get("Complete") == "True":
        state = "Complete"
    elif conditions.get("Failed") == "True":
        state = "Failed"
    elif conditions.get("FailureTarget") == "True" or conditions.get("SuccessCriteriaMet") == "True":
        state = "Terminating" if conditions.get("FailureTarget") == "True" else "Complete"
    elif spec.get("suspend"):
        state = "Suspended"
    else:
        state = "Running"
    completions = spec.get("completions")
    done = f"{st.get('succeeded', 0)}/{completions}" if completions is not None else f"{st.get('succeeded', 0)}/1 of {spec.get('parallelism', 1)}"
    duration = ""
    if st.get("startTime"):
        end = parse_time(st["completionTime"]) if st.get("completionTime") else datetime.now(UTC)
        duration = human_age(st["startTime"], end)
    names, images = _containers_images(obj)
    return [obj["metadata"]["name"], state, done, duration, _age(obj), names, images, _selector(obj)]


def _service(obj: dict) -> list:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    kind = spec.get("type", "ClusterIP")
    ingress = (st.get("loadBalancer") or {}).get("ingress") or []
    if kind == "LoadBalancer":
        external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or "<pending>"
    elif kind == "ExternalName":
        external = spec.get("externalName", "<none>")
    else:
        external = ",".join(spec.get("externalIPs") or []) or "<none>"
    ports = ",".join(
        f"{p.get('port')}" + (f":{p['nodePort']}" if p.get("nodePort") else "") + f"/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []) or "<none>"
    return [obj["metadata"]["name"], kind, spec.get("clusterIP") or "<none>", external, ports, _age(obj),
            ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>"]


def _pvc(obj: dict) -> list:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    capacity = (st.get("capacity") or {}).get("storage", "")
    modes = ",".join({"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                      "ReadWriteOncePod": "RWOP"}.get(m, m) for m in st.get("accessModes") or [])
    return [obj["metadata"]["name"], st.get("phase", "Pending"), spec.get("volumeName", ""), capacity, modes,
            spec.get("storageClassName") or "<unset>", "<unset>", _age(obj), spec.get("volumeMode", "")]


def _event(obj: dict) -> list:
    last = obj.get("lastTimestamp") or obj.get("eventTime") or obj.get("deprecatedLastTimestamp")
    first = obj.get("firstTimestamp") or obj.get("eventTime")
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    count = obj.get("count") or obj.get("deprecatedCount") or 1
    source = obj.get("source") or {}
    return [human_age(last), obj.get("type", ""), obj.get("reason", ""),
            f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
            obj.get("message") or obj.get("note") or "", involved.get("fieldPath", ""),
            ", ".join(v for v in (source.get("component"), source.get("host")) if v),
            human_age(first), count, obj["metadata"]["name"]]


def _namespace(obj: dict) -> list:
    return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", ""), _age(obj)]


def _node(obj: dict) -> list:
    conditions = {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []}
    info = (obj.get("status") or {}).get("nodeInfo") or {}
    roles = ",".join(sorted(k.split("/", 1)[1] for k in obj["metadata"].get("labels") or {}
                            if k.startswith("node-role.kubernetes.io/"))) or "<none>"
    return [obj["metadata"]["name"], "Ready" if conditions.get("Ready") == "True" else "NotReady", roles,
            _age(obj), info.get("kubeletVersion", "")]


def _data_count(obj: dict) -> list:
    count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    if obj.get("kind") == "Secret":
        return [obj["metadata"]["name"], obj.get("type", "Opaque"), count, _age(obj)]
    return [obj["metadata"]["name"], count, _age(obj)]


_COLUMNS: dict[str, tuple[list[Column], Callable[[dict], list]]] = {
    "/pods": ([("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0),
               ("Restarts", "string", 0), ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1),
               ("Nominated Node", "string", 1), ("Readiness Gates", "string", 1)], _pod),
    "apps/deployments": ([("Name", "string", 0), ("Ready", "string", 0), ("Up-to-date", "integer", 0),
                          ("Available", "integer", 0), ("Age", "string", 0), ("Containers", "string", 1),
                          ("Images", "string", 1), ("Selector", "string", 1)], _deployment),
    "apps/replicasets": ([("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0),
                          ("Ready", "integer", 0), ("Age", "string", 0), ("Containers", "string", 1),
                          ("Images", "string", 1), ("Selector", "string", 1)], _replicaset),
    "apps/statefulsets": ([("Name", "string", 0), ("Ready", "string", 0), ("Age", "string", 0),
                           ("Containers", "string", 1), ("Images", "string", 1)], _statefulset),
    "apps/daemonsets": ([("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0),
                         ("Ready", "integer", 0), ("Up-to-date", "integer", 0), ("Available", "integer", 0),
                         ("Node Selector", "string", 0), ("Age", "string", 0), ("Containers", "string", 1),
                         ("Images", "string", 1), ("Selector", "string", 1)], _daemonset),
    "batch/jobs": ([("Name", "string", 0), ("Status", "string", 0), ("Completions", "string", 0),
                    ("Duration", "string", 0), ("Age", "string", 0), ("Containers", "string", 1),
                    ("Images", "string", 1), ("Selector", "string", 1)], _job),
    "/services": ([("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0),
                   ("External-IP", "string", 0), ("Port(s)", "string", 0), ("Age", "string", 0),
                   ("Selector", "string", 1)], _service),
    "/persistentvolumeclaims": ([("Name", "string", 0), ("Status", "string", 0), ("Volume", "string", 0),
                                 ("Capacity", "string", 0), ("Access Modes", "string", 0),
                                 ("StorageClass", "string", 0), ("VolumeAttributesClass", "string", 0),
                                 ("Age", "string", 0), ("VolumeMode", "string", 1)], _pvc),
    "/events": ([("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
                 ("Object", "string", 0), ("Message", "string", 0), ("Subobject", "string", 1),
                 ("Source", "string", 1), ("First Seen", "string", 1), ("Count", "string", 1),
                 ("Name", "string", 1)], _event),
    "/namespaces": ([("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)], _namespace),
    "/nodes": ([("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0), ("Age", "string", 0),
                ("Version", "string", 0)], _node),
    "/configmaps": ([("Name", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)], _data_count),
    "/secrets": ([("Name", "string", 0), ("Type", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)],
                 _data_count),
}


def _custom_columns(rt: ResourceType) -> tuple[list[Column], Callable[[dict], list]] | None:
    columns = rt.printer_columns
    if not columns:
        return None
    defs: list[Column] = [("Name", "string", 0)]
    paths = []
    for col in columns:
        defs.append((col["name"], col.get("type", "string"), col.get("priority", 0)))
        paths.append((col.get("jsonPath", "").lstrip("."), col.get("type") == "date"))

    def row(obj: dict) -> list:
        cells: list = [obj["metadata"]["name"]]
        for path, is_date in paths:
            value = field_value(obj, path)
            cells.append(human_age(value) if is_date and value else value or "<none>")
        return cells

    return defs, row


def to_table(rt: ResourceType, objects: list[dict], include_object: str, resource_version: str,
             continue_token: str = "") -> dict:
    """A Table of `objects`; rows carry PartialObjectMetadata (or the object, or nothing) as asked."""
    spec = _COLUMNS.get(rt.key) or _custom_columns(rt)
    if spec is None:
        spec = ([("Name", "string", 0), ("Age", "string", 0)], lambda o: [o["metadata"]["name"], _age(o)])
    columns, row = spec
    definitions = [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": "",
                    "priority": p} for n, t, p in columns]
    rows = []
    for obj in objects:
        entry: dict = {"cells": row(obj)}
        if include_object == "Object":
            entry["object"] = obj
        elif include_object != "None":
            entry["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                               "metadata": obj["metadata"]}
        rows.append(entry)
    meta: dict = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": definitions,
            "rows": rows}
