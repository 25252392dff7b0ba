"""Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for, with the real columns.

Column sets follow pkg/printers/internalversion/printers.go for the kinds users look at while a rollout runs;
every other kind gets NAME and AGE, and custom resources their additionalPrinterColumns.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

from kubedog_ci.sim.clock import parse_time
from kubedog_ci.sim.resources import ResourceType
from kubedog_ci.sim.selectors import field_value, selector_to_string

Column = tuple[str, str, int]
"""(name, type, priority): priority 1 columns show only with `-o wide`."""


_NOW: ContextVar[datetime | None] = ContextVar("table_now", default=None)
"""The cluster clock's now while to_table renders: ages are measured against the server's (shifted) clock, as the
real server prints them, without passing the time through every column function."""


def human_age(timestamp: str | None, now: datetime | None = None) -> str:
    """kubectl's duration.HumanDuration of the time since `timestamp`."""
    if not timestamp:
        return "<unknown>"
    seconds = int(((now or _NOW.get() or datetime.now(UTC)) - parse_time(timestamp)).total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
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
    if days < 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def _age(obj: dict) -> str:
    return human_age(obj["metadata"].get("creationTimestamp"))


def _restartable(spec: dict) -> set[str]:
    """Init containers with restartPolicy Always (sidecars) count as app containers in READY."""
    return {c.get("name") for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"}


def _finished_at(entry: dict) -> str:
    return ((entry.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""


def _condition_true(status: dict, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or [])


def _init_reason(index: int, entry: dict, total: int) -> str | None:
    """STATUS while init container `index` has not succeeded yet; None once it has."""
    state = entry.get("state") or {}
    term, wait = state.get("terminated"), state.get("waiting")
    if term and term.get("exitCode") == 0:
        return None
    if term:
        if term.get("reason"):
            return "Init:" + term["reason"]
        return f"Init:Signal:{term['signal']}" if term.get("signal") else f"Init:ExitCode:{term.get('exitCode')}"
    if wait and wait.get("reason") and wait["reason"] != "PodInitializing":
        return "Init:" + wait["reason"]
    return f"Init:{index}/{total}"


def _pod_status(pod: dict) -> tuple[str, str, str]:
    """(READY "1/2", RESTARTS "2 (5s ago)", STATUS) exactly as printPod computes them."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in status.get("conditions") or []):
        reason = "SchedulingGated"
    sidecars = _restartable(spec)
    total = len(spec.get("containers") or []) + len(sidecars)
    restarts = ready = sidecar_restarts = 0
    last_restart = sidecar_last = ""
    initializing = False
    for index, entry in enumerate(status.get("initContainerStatuses") or []):
        restarts += entry.get("restartCount", 0)
        last_restart = max(last_restart, _finished_at(entry))
        if entry.get("name") in sidecars:
            sidecar_restarts += entry.get("restartCount", 0)
            sidecar_last = max(sidecar_last, _finished_at(entry))
            if entry.get("started"):
                ready += 1 if entry.get("ready") else 0
                continue
        init_reason = _init_reason(index, entry, len(spec.get("initContainers") or []))
        if init_reason is None:
            continue
        reason, initializing = init_reason, True
        break
    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, sidecar_last
        has_running = False
        for entry in reversed(status.get("containerStatuses") or []):
            restarts += entry.get("restartCount", 0)
            last_restart = max(last_restart, _finished_at(entry))
            state = entry.get("state") or {}
            term = state.get("terminated")
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode')}"
            elif entry.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"
    if pod["metadata"].get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    shown = str(restarts)
    if restarts and last_restart:
        shown = f"{restarts} ({human_age(last_restart)} ago)"
    return f"{ready}/{total}", shown, reason


def _pod(pod: dict) -> list:
    ready, restarts, status = _pod_status(pod)
    spec, st = pod.get("spec") or {}, pod.get("status") or {}
    ips = st.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    conditions = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    passed = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
    return [pod["metadata"]["name"], ready, status, restarts, _age(pod), (ips[0].get("ip") if ips else "") or "<none>",
            spec.get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>",
            f"{passed}/{len(gates)}" if gates else "<none>"]


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
    elif obj["metadata"].get("deletionTimestamp"):
        state = "Terminating"
    elif conditions.get("Suspended") == "True":
        state = "Suspended"
    elif conditions.get("FailureTarget") == "True":
        state = "FailureTarget"
    else:
        state = "Running"
    succeeded, parallelism = st.get("succeeded", 0), spec.get("parallelism") or 0
    if spec.get("completions") is not None:
        done = f"{succeeded}/{spec['completions']}"
    else:
        done = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    duration = ""
    if st.get("startTime"):
        end = parse_time(st["completionTime"]) if st.get("completionTime") else None
        duration = human_age(st["startTime"], end)
    names, images = _containers_images(obj)
    return [obj["metadata"]["name"], state, done, duration, _age(obj), names, images, _selector(obj)]


def _external_ip(spec: dict, status: dict) -> str:
    """getServiceExternalIP of printers.go, as the server prints it (wide, so never clipped)."""
    kind, external = spec.get("type", "ClusterIP"), spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        balancers = sorted({i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")})
        return ",".join(balancers + external) or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _service(obj: dict) -> list:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = ",".join(f"{p.get('port')}" + (f":{p['nodePort']}" if p.get("nodePort") else "")
                     + f"/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    return [obj["metadata"]["name"], spec.get("type", "ClusterIP"), ips[0] if ips else "<none>",
            _external_ip(spec, st), ports or "<none>", _age(obj),
            ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>"]


_ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _access_modes(modes: list[str]) -> str:
    """helper.GetAccessModesAsString: a fixed order, each mode once."""
    present = set(modes or [])
    return ",".join(short for mode, short in _ACCESS_MODES.items() if mode in present)


def _storage_class(obj: dict) -> str:
    annotations = obj["metadata"].get("annotations") or {}
    return (obj.get("spec") or {}).get("storageClassName") or \
        annotations.get("volume.beta.kubernetes.io/storage-class", "")


def _pvc(obj: dict) -> list:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    phase = "Terminating" if obj["metadata"].get("deletionTimestamp") else st.get("phase", "")
    bound = bool(spec.get("volumeName"))
    capacity = (st.get("capacity") or {}).get("storage", "") if bound else ""
    return [obj["metadata"]["name"], phase, spec.get("volumeName", ""), capacity,
            _access_modes(st.get("accessModes")) if bound else "", _storage_class(obj),
            spec.get("volumeAttributesClassName") or "<unset>", _age(obj), spec.get("volumeMode") or "<unset>"]


def _pv(obj: dict) -> list:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    claim = spec.get("claimRef")
    phase = "Terminating" if obj["metadata"].get("deletionTimestamp") else st.get("phase", "")
    return [obj["metadata"]["name"], (spec.get("capacity") or {}).get("storage", ""),
            _access_modes(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy", ""), phase,
            f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "", _storage_class(obj),
            spec.get("volumeAttributesClassName") or "<unset>", st.get("reason", ""), _age(obj),
            spec.get("volumeMode") or "<unset>"]


def _storageclass(obj: dict) -> list:
    annotations = obj["metadata"].get("annotations") or {}
    default = "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"),
                         annotations.get("storageclass.beta.kubernetes.io/is-default-class"))
    return [obj["metadata"]["name"] + (" (default)" if default else ""), obj.get("provisioner", ""),
            obj.get("reclaimPolicy") or "Delete", obj.get("volumeBindingMode") or "Immediate",
            bool(obj.get("allowVolumeExpansion")), _age(obj)]


def _event(obj: dict) -> list:
    """printEvent, wide (the server always prints wide): core/v1 fields, or their events.k8s.io/v1 names."""
    first_stamp = obj.get("firstTimestamp") or obj.get("deprecatedFirstTimestamp")
    first = human_age(first_stamp or obj.get("eventTime"))
    last_stamp = obj.get("lastTimestamp") or obj.get("deprecatedLastTimestamp")
    last = human_age(last_stamp) if last_stamp else first
    count = obj.get("count") or obj.get("deprecatedCount") or 1
    if obj.get("series"):
        last = human_age(obj["series"].get("lastObservedTime"))
        count = obj["series"].get("count", count)
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = obj.get("source") or obj.get("deprecatedSource") or {}
    component = source.get("component") or obj.get("reportingComponent") or obj.get("reportingController") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    return [last, obj.get("type", ""), obj.get("reason", ""), target, involved.get("fieldPath", ""),
            f"{component}, {instance}" if instance else component,
            str(obj.get("message") or obj.get("note") or "").strip(), first, int(count), obj["metadata"]["name"]]


def _namespace(obj: dict) -> list:
    return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", ""), _age(obj)]


def _node(obj: dict) -> list:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    ready = next((c.get("status") for c in st.get("conditions") or [] if c.get("type") == "Ready"), None)
    status = ["Unknown" if ready is None else "Ready" if ready == "True" else "NotReady"]
    if spec.get("unschedulable"):
        status.append("SchedulingDisabled")
    labels = obj["metadata"].get("labels") or {}
    roles = {k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1]}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    info = st.get("nodeInfo") or {}
    addresses = st.get("addresses") or []

    def address(kind: str) -> str:
        return next((a["address"] for a in addresses if a.get("type") == kind), "<none>")

    return [obj["metadata"]["name"], ",".join(status), ",".join(sorted(roles)) or "<none>", _age(obj),
            info.get("kubeletVersion", ""), address("InternalIP"), address("ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def _data_count(obj: dict) -> list:
    count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    if obj.get("kind") == "Secret":
        return [obj["metadata"]["name"], obj.get("type", "Opaque"), len(obj.get("data") or {}), _age(obj)]
    return [obj["metadata"]["name"], count, _age(obj)]


def _apiservice(obj: dict) -> list:
    """The aggregator's own table (pkg/registry/apiservice/etcd): where it is served from and Available."""
    service = (obj.get("spec") or {}).get("service")
    where = f"{service.get('namespace', '')}/{service.get('name', '')}" if isinstance(service, dict) else "Local"
    available = "Unknown"
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Available":
            status, reason = condition.get("status", ""), condition.get("reason")
            available = f"{status} ({reason})" if status != "True" and reason else status
    return [obj["metadata"]["name"], where, available, _age(obj)]


_TEMPLATE_WIDE: tuple[Column, ...] = (("Containers", "string", 1), ("Images", "string", 1))
"""The pod template's container names and images, which workload tables show with `-o wide`."""
_SELECTOR_WIDE: Column = ("Selector", "string", 1)

_COLUMNS: dict[str, tuple[list[Column], Callable[[dict], list]]] = {
    "/pods": ([("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0),
               ("Restarts", "string", 0), ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1),
               ("Nominated Node", "string", 1), ("Readiness Gates", "string", 1)], _pod),
    "apps/deployments": ([("Name", "string", 0), ("Ready", "string", 0), ("Up-to-date", "string", 0),
                          ("Available", "string", 0), ("Age", "string", 0), *_TEMPLATE_WIDE, _SELECTOR_WIDE],
                         _deployment),
    "apps/replicasets": ([("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0),
                          ("Ready", "integer", 0), ("Age", "string", 0), *_TEMPLATE_WIDE, _SELECTOR_WIDE],
                         _replicaset),
    "apps/statefulsets": ([("Name", "string", 0), ("Ready", "string", 0), ("Age", "string", 0), *_TEMPLATE_WIDE],
                          _statefulset),
    "apps/daemonsets": ([("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0),
                         ("Ready", "integer", 0), ("Up-to-date", "integer", 0), ("Available", "integer", 0),
                         ("Node Selector", "string", 0), ("Age", "string", 0), *_TEMPLATE_WIDE, _SELECTOR_WIDE],
                        _daemonset),
    "batch/jobs": ([("Name", "string", 0), ("Status", "string", 0), ("Completions", "string", 0),
                    ("Duration", "string", 0), ("Age", "string", 0), *_TEMPLATE_WIDE, _SELECTOR_WIDE], _job),
    "/services": ([("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0),
                   ("External-IP", "string", 0), ("Port(s)", "string", 0), ("Age", "string", 0),
                   ("Selector", "string", 1)], _service),
    "/persistentvolumeclaims": ([("Name", "string", 0), ("Status", "string", 0), ("Volume", "string", 0),
                                 ("Capacity", "string", 0), ("Access Modes", "string", 0),
                                 ("StorageClass", "string", 0), ("VolumeAttributesClass", "string", 0),
                                 ("Age", "string", 0), ("VolumeMode", "string", 1)], _pvc),
    "/persistentvolumes": ([("Name", "string", 0), ("Capacity", "string", 0), ("Access Modes", "string", 0),
                            ("Reclaim Policy", "string", 0), ("Status", "string", 0), ("Claim", "string", 0),
                            ("StorageClass", "string", 0), ("VolumeAttributesClass", "string", 0),
                            ("Reason", "string", 0), ("Age", "string", 0), ("VolumeMode", "string", 1)], _pv),
    "storage.k8s.io/storageclasses": ([("Name", "string", 0), ("Provisioner", "string", 0),
                                       ("ReclaimPolicy", "string", 0), ("VolumeBindingMode", "string", 0),
                                       ("AllowVolumeExpansion", "string", 0), ("Age", "string", 0)],
                                      _storageclass),
    "/events": ([("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
                 ("Object", "string", 0), ("Subobject", "string", 1), ("Source", "string", 1),
                 ("Message", "string", 0), ("First Seen", "string", 1), ("Count", "string", 1),
                 ("Name", "string", 1)], _event),
    "/namespaces": ([("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)], _namespace),
    "/nodes": ([("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0), ("Age", "string", 0),
                ("Version", "string", 0), ("Internal-IP", "string", 1), ("External-IP", "string", 1),
                ("OS-Image", "string", 1), ("Kernel-Version", "string", 1), ("Container-Runtime", "string", 1)],
               _node),
    "/configmaps": ([("Name", "string", 0), ("Data", "string", 0), ("Age", "string", 0)], _data_count),
    "/secrets": ([("Name", "string", 0), ("Type", "string", 0), ("Data", "string", 0), ("Age", "string", 0)],
                 _data_count),
    "apiregistration.k8s.io/apiservices": ([("Name", "string", 0), ("Service", "string", 0),
                                            ("Available", "string", 0), ("Age", "string", 0)], _apiservice),
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
             continue_token: str = "", now: datetime | None = None) -> dict:
    """A Table of `objects` with ages as of `now` (default: this machine's clock); rows carry
    PartialObjectMetadata (or the object, or nothing) as asked."""
    token = _NOW.set(now)
    try:
        return _table(rt, objects, include_object, resource_version, continue_token)
    finally:
        _NOW.reset(token)


def _table(rt: ResourceType, objects: list[dict], include_object: str, resource_version: str,
           continue_token: str) -> dict:
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
