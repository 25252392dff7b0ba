"""pod.status as the kubelet generates it (kubelet_pods.go generateAPIPodStatus, status/generate.go).

Container statuses follow convertToAPIContainerStatuses (the latest instance is the state, the one before it
the lastState, a cached start failure turns a restartable container into waiting), the phase follows
getPhase, and the kubelet-owned conditions are regenerated on every write while conditions owned by others
are kept, all with the real reasons and messages.
"""

from __future__ import annotations

from kubedog_ci.sim.kubelet.state import Container, PodState
from kubedog_ci.sim.pods import is_terminal, pod_condition

KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def should_restart(container: Container, pod: dict) -> bool:
    """kubecontainer.ShouldContainerBeRestarted."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    inst = container.instance
    if inst is None:
        return True
    if inst.running:
        return False
    policy = "Always" if container.sidecar else (pod.get("spec") or {}).get("restartPolicy", "Always")
    if policy == "Never":
        return False
    return not (policy == "OnFailure" and inst.exit_code == 0)


def _user(spec: dict, container: dict) -> dict:
    context = {**(spec.get("securityContext") or {}), **(container.get("securityContext") or {})}
    gid = context.get("runAsGroup", 0)
    groups = [gid, *[g for g in (spec.get("securityContext") or {}).get("supplementalGroups") or [] if g != gid]]
    return {"linux": {"uid": context.get("runAsUser", 0), "gid": gid, "supplementalGroups": groups}}


def _resources(container: dict) -> dict | None:
    spec = container.get("resources") or {}
    out = {kind: {k: v for k, v in (spec.get(kind) or {}).items() if k in _RESOURCES}
           for kind in ("limits", "requests")}
    out = {k: v for k, v in out.items() if v}
    return out or None


def _volume_mounts(container: dict) -> list[dict]:
    mounts = []
    for mount in container.get("volumeMounts") or []:
        entry = {"name": mount.get("name"), "mountPath": mount.get("mountPath")}
        if mount.get("readOnly"):
            entry.update(readOnly=True, recursiveReadOnly="Disabled")
        mounts.append(entry)
    return mounts


def container_status(container: Container, pod: dict, default_reason: str) -> dict:
    spec = container.spec
    status: dict = {"name": container.name, "image": spec.get("image", ""), "imageID": "", "lastState": {},
                    "ready": False, "restartCount": 0, "started": False,
                    "state": {"waiting": {"reason": default_reason}}}
    inst = container.instance
    if inst is not None:
        status.update(image=inst.image.full, imageID=inst.image.image_id, containerID=inst.container_id,
                      restartCount=inst.restart_count, user=_user(pod.get("spec") or {}, spec))
        if inst.running:
            status.update(state={"running": {"startedAt": inst.started_at}}, ready=container.ready,
                          started=container.started)
            resources = _resources(spec)
            if resources:
                status["resources"] = resources
        else:
            status["state"] = {"terminated": inst.terminated()}
    if container.previous is not None:
        status["lastState"] = {"terminated": container.previous.terminated()}
    completed_init = container.init and inst is not None and not inst.running and inst.exit_code == 0
    if container.reason and not completed_init and should_restart(container, pod):
        if "terminated" in status["state"]:
            status["lastState"] = status["state"]
        reason, message = container.reason
        status["state"] = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
    if container.init and not container.sidecar:
        terminated = status["state"].get("terminated")
        status["ready"] = bool(terminated) and terminated["exitCode"] == 0
    mounts = _volume_mounts(spec)
    if mounts:
        status["volumeMounts"] = mounts
    return status


def _state(status: dict) -> str:
    return next(iter(status["state"]))


def _restarting(status: dict) -> bool:
    return "terminated" in status["lastState"]


def _regular_started(pod: dict, statuses: dict[str, dict]) -> bool:
    """kubecontainer.HasAnyRegularContainerStarted."""
    return any(_state(statuses[c["name"]]) != "waiting"
               for c in (pod.get("spec") or {}).get("containers") or [] if c["name"] in statuses)


def get_phase(pod: dict, statuses: dict[str, dict], terminal: bool) -> str:
    """kubelet_pods.go getPhase."""
    spec = pod.get("spec") or {}
    pending_init = failed_init = 0
    unknown = running = waiting = stopped = succeeded = 0
    for container in spec.get("initContainers") or []:
        status = statuses.get(container["name"])
        sidecar = container.get("restartPolicy") == "Always"
        state = _state(status) if status else ""
        if not sidecar:
            if state == "terminated":
                failed_init += status["state"]["terminated"]["exitCode"] != 0  # type: ignore[index]
            elif state == "waiting" and _restarting(status):  # type: ignore[arg-type]
                failed_init += status["lastState"]["terminated"]["exitCode"] != 0  # type: ignore[index]
            else:
                pending_init += 1
        elif status is None:
            unknown += 1
        elif state == "running":
            pending_init += not status.get("started")
            running += 1
        elif state == "waiting" and not _restarting(status):
            pending_init += 1
            waiting += 1
    for container in spec.get("containers") or []:
        status = statuses.get(container["name"])
        if status is None:
            unknown += 1
            continue
        state = _state(status)
        if state == "running":
            running += 1
        elif state == "terminated":
            stopped += 1
            succeeded += status["state"]["terminated"]["exitCode"] == 0
        elif _restarting(status):
            stopped += 1
        else:
            waiting += 1
    policy = spec.get("restartPolicy", "Always")
    if failed_init and policy == "Never":
        return "Failed"
    if (pending_init and not _regular_started(pod, statuses)) or waiting:
        return "Pending"
    if running and not unknown:
        return "Running"
    if not running and stopped and not unknown:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def _names(names: list[str]) -> str:
    """Go's %s of a []string."""
    return "[" + " ".join(names) + "]"


def _containers_condition(reason: str, unknown: list[str], pending: list[str], pending_state: str
                          ) -> tuple[str, str, str]:
    """The shared tail of the Initialized and ContainersReady generators: False with `reason` and both lists
    named while any container has no status or is still `pending_state`, else True."""
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_names(unknown)}")
    if pending:
        messages.append(f"containers with {pending_state} status: {_names(pending)}")
    if messages:
        return "False", reason, ", ".join(messages)
    return "True", "", ""


def _unready(pod: dict, statuses: dict[str, dict], phase: str) -> tuple[str, str, str]:
    """GenerateContainersReadyCondition as (status, reason, message)."""
    spec = pod.get("spec") or {}
    watched = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    watched += spec.get("containers") or []
    unknown = [c["name"] for c in watched if c["name"] not in statuses]
    unready = [c["name"] for c in watched if c["name"] in statuses and not statuses[c["name"]]["ready"]]
    if phase == "Succeeded" and not unknown:
        return "False", "PodCompleted", ""
    if phase == "Failed":
        return "False", "PodFailed", ""
    return _containers_condition("ContainersNotReady", unknown, unready, "unready")


def _ready(pod: dict, conditions: list[dict], containers_ready: tuple[str, str, str]) -> tuple[str, str, str]:
    """GeneratePodReadyCondition, readiness gates included."""
    if containers_ready[0] != "True":
        return containers_ready
    by_type = {c.get("type"): c for c in conditions}
    messages = []
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        kind = gate.get("conditionType")
        condition = by_type.get(kind)
        if condition is None:
            messages.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
        elif condition.get("status") != "True":
            messages.append(f'the status of pod readiness gate "{kind}" is not "True", but {condition.get("status")}')
    if messages:
        return "False", "ReadinessGatesNotReady", ", ".join(messages)
    return "True", "", ""


def _initialized(pod: dict, statuses: dict[str, dict], phase: str) -> tuple[str, str, str]:
    """GeneratePodInitializedCondition."""
    spec = pod.get("spec") or {}
    unknown, incomplete = [], []
    for container in spec.get("initContainers") or []:
        status = statuses.get(container["name"])
        if status is None:
            unknown.append(container["name"])
        elif not (status.get("started") if container.get("restartPolicy") == "Always" else status["ready"]):
            incomplete.append(container["name"])
    if phase == "Succeeded" and not unknown:
        return "True", "PodCompleted", ""
    if _regular_started(pod, statuses):
        return "True", "", ""
    return _containers_condition("ContainersNotInitialized", unknown, incomplete, "incomplete")


def _condition(kind: str, value: tuple[str, str, str], old: dict[str, dict], generation: int | None,
               now: str) -> dict:
    return pod_condition(kind, *value, old.get(kind), generation, now)


def build(pod: dict, st: PodState, now: str) -> dict:
    """The whole pod.status the kubelet would write at `now` (the cluster clock's metav1.Time)."""
    old = pod.get("status") or {}
    default = "PodInitializing" if st.init else "ContainerCreating"
    init = [container_status(c, pod, default) for c in st.init]
    apps = [container_status(c, pod, default) for c in st.apps]
    statuses = {s["name"]: s for s in init + apps}
    phase = get_phase(pod, statuses, st.terminal)
    if st.evicted:
        phase = "Failed"
    if is_terminal(pod):
        phase = old["phase"]
    generation = pod["metadata"].get("generation")
    old_conditions = {c.get("type"): c for c in old.get("conditions") or []}
    conditions = [c for c in old.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    containers_ready = _unready(pod, statuses, phase)
    conditions += [
        _condition("PodReadyToStartContainers", ("True" if st.sandbox == "ready" else "False", "", ""),
                   old_conditions, generation, now),
        _condition("Initialized", _initialized(pod, statuses, phase), old_conditions, generation, now),
        _condition("Ready", _ready(pod, conditions, containers_ready), old_conditions, generation, now),
        _condition("ContainersReady", containers_ready, old_conditions, generation, now),
        old_conditions.get("PodScheduled") or _condition("PodScheduled", ("True", "", ""), {}, generation, now),
    ]
    status: dict = {"phase": phase, "conditions": conditions, "hostIP": st.host_ip,
                    "hostIPs": [{"ip": st.host_ip}], "startTime": st.start_time}
    if st.evicted:
        status["reason"], status["message"] = st.evicted
    if st.pod_ip:
        status.update(podIP=st.pod_ip, podIPs=[{"ip": st.pod_ip}])
    if init:
        status["initContainerStatuses"] = init
    status["containerStatuses"] = apps
    if old.get("qosClass"):
        status["qosClass"] = old["qosClass"]
    if generation is not None:
        status["observedGeneration"] = generation
    return status
