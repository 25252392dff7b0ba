"""Defaulting, as the API server's SetDefaults_* functions and defaulting admission plugins do it.

Real clients read these defaults back (`kubectl get -o yaml`, rollout strategies, probe periods), and the
simulated controllers rely on them being present, so they are applied on every create and update.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
from collections.abc import Callable

from kubedog_ci.sim.resources import ResourceType

_FIRST_CLUSTER_IP = ipaddress.IPv4Address("10.96.0.10")
_cluster_ip_offsets = itertools.count()
_node_ports = itertools.cycle(range(30000, 32768))
"""Allocators shared by every cluster in the process. Each cluster calls them under its own store lock, so two
clusters may call them at once: plain itertools objects are safe for that, a generator is not."""


def _image_pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _probe(probe: dict | None) -> None:
    if not probe:
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if "httpGet" in probe:
        probe["httpGet"].setdefault("scheme", "HTTP")
        probe["httpGet"].setdefault("path", "/")


def _container(container: dict) -> None:
    container.setdefault("imagePullPolicy", _image_pull_policy(str(container.get("image", ""))))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(container.get(probe))


def pod_spec(spec: dict, restart_policy: str | None = "Always") -> None:
    """SetDefaults_PodSpec and SetDefaults_Container."""
    if restart_policy:
        spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        _container(container)
    for volume in spec.get("volumes") or []:
        for source in ("configMap", "secret"):
            if source in volume:
                volume[source].setdefault("defaultMode", 420)


def _template(obj: dict, restart_policy: str | None = "Always") -> None:
    template = obj.setdefault("spec", {}).setdefault("template", {})
    template.setdefault("metadata", {})
    pod_spec(template.setdefault("spec", {}), restart_policy)


def _pod(obj: dict, old: dict | None, now: str) -> None:
    spec = obj.setdefault("spec", {})
    pod_spec(spec)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("priority", 0)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    for taint in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == taint for t in tolerations):
            tolerations.append({"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    if old is None:
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}


def qos_class(spec: dict) -> str:
    """Guaranteed / Burstable / BestEffort from the containers' requests and limits."""
    containers = spec.get("containers") or []
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).get(k) and (r.get("requests") or {}).get(k, (r.get("limits") or {}).get(k))
        == (r.get("limits") or {}).get(k) for r in resources for k in ("cpu", "memory"))
    return "Guaranteed" if guaranteed else "Burstable"


def _deployment(obj: dict, old: dict | None, now: str) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(obj)


def _replicaset(obj: dict, old: dict | None, now: str) -> None:
    obj.setdefault("spec", {}).setdefault("replicas", 1)
    _template(obj)


def _statefulset(obj: dict, old: dict | None, now: str) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    for claim in spec.get("volumeClaimTemplates") or []:
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        claim.setdefault("status", {"phase": "Pending"})
    _template(obj)
    if old is None:
        obj["status"] = {"replicas": 0, "availableReplicas": 0}


def _daemonset(obj: dict, old: dict | None, now: str) -> None:
    spec = obj.setdefault("spec", {})
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(obj)
    _template_generation(obj, old)
    if old is None:
        obj["status"] = dict.fromkeys(("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                                       "numberReady"), 0)


def _template_generation(obj: dict, old: dict | None) -> None:
    """The DaemonSet strategy's spec.templateGeneration, served in apps/v1 as this annotation: 1 on create,
    +1 whenever the template changes, whatever the client sent."""
    key = "deprecated.daemonset.template.generation"
    generation = 1
    if old is not None:
        previous = ((old.get("metadata") or {}).get("annotations") or {}).get(key, "1")
        generation = int(previous) if str(previous).isdigit() else 1
        generation += obj["spec"].get("template") != (old.get("spec") or {}).get("template")
    obj["metadata"].setdefault("annotations", {})[key] = str(generation)


def _job(obj: dict, old: dict | None, now: str) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    uid = obj["metadata"].get("uid")
    if old is None and uid and not spec.get("manualSelector") and not spec.get("selector"):
        name = obj["metadata"]["name"]
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
        labels.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                       "controller-uid": uid, "job-name": name})
    _template(obj, restart_policy=None)


def _cronjob(obj: dict, old: dict | None, now: str) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_spec = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
    job_spec.setdefault("backoffLimit", 6)
    template = job_spec.setdefault("template", {})
    template.setdefault("metadata", {})
    pod_spec(template.setdefault("spec", {}), None)


def _service(obj: dict, old: dict | None, now: str) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] == "ExternalName":
        return
    old_ports = {p.get("port"): p.get("nodePort") for p in ((old or {}).get("spec") or {}).get("ports") or []}
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        if spec["type"] in ("NodePort", "LoadBalancer"):
            port.setdefault("nodePort", old_ports.get(port.get("port")) or next(_node_ports))
    previous_ip = ((old or {}).get("spec") or {}).get("clusterIP")
    if not spec.get("clusterIP"):
        spec["clusterIP"] = previous_ip or str(_FIRST_CLUSTER_IP + next(_cluster_ip_offsets))
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if old is None:
        obj["status"] = {"loadBalancer": {}}


def _pvc(obj: dict, old: dict | None, now: str) -> None:
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    if old is None:
        obj["status"] = {"phase": "Pending"}


def _namespace(obj: dict, old: dict | None, now: str) -> None:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    if old is None:
        obj["status"] = {"phase": "Active"}


def _secret(obj: dict, old: dict | None, now: str) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _apiservice(obj: dict, old: dict | None, now: str) -> None:
    """SetDefaults_ServiceReference (port 443), and the strategy's PrepareForCreate: the status starts empty,
    except that a local APIService (no service) is Available at once."""
    service = obj.setdefault("spec", {}).get("service")
    if isinstance(service, dict):
        service.setdefault("port", 443)
    if old is None:
        obj["status"] = {} if isinstance(service, dict) else {"conditions": [{
            "type": "Available", "status": "True", "lastTransitionTime": now, "reason": "Local",
            "message": "Local APIServices are always available"}]}


_DEFAULTERS: dict[str, Callable[[dict, dict | None, str], None]] = {
    "/pods": _pod,
    "apps/deployments": _deployment,
    "apps/replicasets": _replicaset,
    "apps/statefulsets": _statefulset,
    "apps/daemonsets": _daemonset,
    "batch/jobs": _job,
    "batch/cronjobs": _cronjob,
    "/services": _service,
    "/persistentvolumeclaims": _pvc,
    "/namespaces": _namespace,
    "/secrets": _secret,
    "apiregistration.k8s.io/apiservices": _apiservice,
}


def apply_defaults(rt: ResourceType, obj: dict, old: dict | None, now: str) -> None:
    """Fill in the defaults of one object in place (no-op for kinds without defaults); `now` is the cluster's
    time, for the timestamps a defaulter writes."""
    defaulter = _DEFAULTERS.get(rt.key)
    if defaulter:
        defaulter(obj, old, now)
