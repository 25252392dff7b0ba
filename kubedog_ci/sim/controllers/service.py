"""Services: LoadBalancer ingress from a simulated cloud provider, and the Endpoints/EndpointSlices of selectors.

The LoadBalancer part follows staging/src/k8s.io/cloud-provider/controllers/service/controller.go: the
service-controller records EnsuringLoadBalancer, adds the service.kubernetes.io/load-balancer-cleanup
finalizer, asks the cloud (here: a short simulated delay that hands out 172.18.255.x with ipMode VIP),
records EnsuredLoadBalancer and writes status.loadBalancer; failures are Warning SyncLoadBalancerFailed and
retried with back-off (5s doubling to 300s); deletion or a type change away from LoadBalancer gives
DeletingLoadBalancer / DeletedLoadBalancer and removes the finalizer. Annotations under the documented
prefix change the simulated cloud (see LB_* below).

Endpoints (pkg/controller/endpoint) and EndpointSlices (pkg/controller/endpointslice) list the pods the
selector matches that have an IP and are not terminal: ready ones as addresses, the rest as
notReadyAddresses (EndpointSlices keep terminating pods too, with their ready/serving/terminating
conditions), each port resolved against the pod's named container ports.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from kubedog_ci.sim.config import ANNOTATION_PREFIX, annotation_seconds
from kubedog_ci.sim.controllers.base import Context, Controller, Key
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.owners import new_controller_ref
from kubedog_ci.sim.pods import is_pod_ready, is_terminal
from kubedog_ci.sim.selectors import matches_label_selector
from kubedog_ci.sim.store import Change, clone

SERVICE_CONTROLLER = "service-controller"
LB_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
LB_SECONDS = 2.0
"""How long the simulated cloud takes to create a load balancer."""
LB_RETRY_MIN, LB_RETRY_MAX = 5.0, 300.0
LB_DELAY_ANNOTATION = ANNOTATION_PREFIX + "load-balancer-delay-seconds"
"""Seconds (simulated) the cloud takes for this service instead of LB_SECONDS."""
LB_ERROR_ANNOTATION = ANNOTATION_PREFIX + "load-balancer-error"
"""Every attempt fails with this text: Warning SyncLoadBalancerFailed, no ingress."""
LB_HOSTNAME_ANNOTATION = ANNOTATION_PREFIX + "load-balancer-hostname"
"""The ingress gets this hostname instead of an IP (as AWS ELBs report)."""
LB_PENDING_ANNOTATION = ANNOTATION_PREFIX + "load-balancer-pending"
""""true": no cloud provider answers, as on a bare cluster: no events, EXTERNAL-IP stays <pending>."""
_LB_POOL = [str(ipaddress.IPv4Address("172.18.255.0") + n) for n in (*range(200, 255), *range(1, 200))]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
_SERVICES, _PODS, _ENDPOINTS, _SLICES = "/services", "/pods", "/endpoints", "discovery.k8s.io/endpointslices"


# --- the cloud provider's service controller -------------------------------------------------------------

class LoadBalancerController(Controller):
    """service-controller: status.loadBalancer for type LoadBalancer services without a loadBalancerClass."""

    name = SERVICE_CONTROLLER
    watches = (_SERVICES,)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._addresses: dict[str, str] = {}
        self._ensured: dict[str, tuple] = {}
        self._in_flight: set[str] = set()
        self._failures: dict[str, int] = {}

    def sync(self, namespace: str, name: str) -> None:
        service = self.store.get(_SERVICES, namespace, name)
        if service is None:
            return
        uid = service["metadata"]["uid"]
        if not _wants_load_balancer(service):
            if LB_FINALIZER in (service["metadata"].get("finalizers") or []):
                self._delete_load_balancer(service)
            return
        annotations = service["metadata"].get("annotations") or {}
        if annotations.get(LB_PENDING_ANNOTATION) == "true" or uid in self._in_flight:
            return
        if self._ensured.get(uid) == _fingerprint(service) and (service.get("status") or {}).get("loadBalancer"):
            return
        self._event(service, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer")
        if LB_FINALIZER not in (service["metadata"].get("finalizers") or []):
            updated = clone(service)
            updated["metadata"].setdefault("finalizers", []).append(LB_FINALIZER)
            service = self._update(updated, "") or service
        self._in_flight.add(uid)
        delay = annotation_seconds(service, LB_DELAY_ANNOTATION)
        self.loop.call_later(LB_SECONDS if delay is None else delay, self._ensured_by_cloud, namespace, name, uid)

    def _ensured_by_cloud(self, namespace: str, name: str, uid: str) -> None:
        self._in_flight.discard(uid)
        service = self.store.get(_SERVICES, namespace, name)
        if service is None or service["metadata"]["uid"] != uid or not _wants_load_balancer(service):
            self.enqueue((namespace, name))
            return
        annotations = service["metadata"].get("annotations") or {}
        error = annotations.get(LB_ERROR_ANNOTATION)
        if error:
            failures = self._failures.get(uid, 0) + 1
            self._failures[uid] = failures
            self._event(service, "Warning", "SyncLoadBalancerFailed",
                        f"Error syncing load balancer: failed to ensure load balancer: {error}")
            self.enqueue((namespace, name), after=min(LB_RETRY_MIN * 2 ** (failures - 1), LB_RETRY_MAX))
            return
        self._failures.pop(uid, None)
        hostname = annotations.get(LB_HOSTNAME_ANNOTATION)
        ingress = {"hostname": hostname} if hostname else {"ip": self._address(uid), "ipMode": "VIP"}
        self._event(service, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
        updated = clone(service)
        updated.setdefault("status", {})["loadBalancer"] = {"ingress": [ingress]}
        if updated.get("status") != service.get("status"):
            self._update(updated, "status")
        self._ensured[uid] = _fingerprint(service)
        self.enqueue((namespace, name))

    def _delete_load_balancer(self, service: dict) -> None:
        meta = service["metadata"]
        self._event(service, "Normal", "DeletingLoadBalancer", "Deleting load balancer")
        self._addresses.pop(meta["uid"], None)
        self._ensured.pop(meta["uid"], None)
        if not meta.get("deletionTimestamp") and (service.get("status") or {}).get("loadBalancer"):
            cleared = clone(service)
            cleared["status"]["loadBalancer"] = {}
            service = self._update(cleared, "status") or service
        updated = clone(service)
        updated["metadata"]["finalizers"] = [f for f in meta.get("finalizers") or [] if f != LB_FINALIZER]
        self._update(updated, "")
        self._event(service, "Normal", "DeletedLoadBalancer", "Deleted load balancer")

    def _address(self, uid: str) -> str:
        if uid not in self._addresses:
            taken = set(self._addresses.values())
            self._addresses[uid] = next((ip for ip in _LB_POOL if ip not in taken), _LB_POOL[0])
        return self._addresses[uid]

    def _event(self, service: dict, event_type: str, reason: str, message: str) -> None:
        self.ctx.events.record(service, event_type, reason, message, SERVICE_CONTROLLER)

    def _update(self, service: dict, subresource: str) -> dict | None:
        meta = service["metadata"]
        try:
            return self.api.update(self.api.rt(_SERVICES), meta["namespace"], meta["name"], service,
                                   subresource=subresource)
        except ApiError:
            return None


def _wants_load_balancer(service: dict) -> bool:
    spec = service.get("spec") or {}
    return (spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")
            and not service["metadata"].get("deletionTimestamp"))


def _fingerprint(service: dict) -> tuple:
    """What needsUpdate compares: a change to any of these makes the controller ensure the LB again."""
    spec = service.get("spec") or {}
    return (repr(spec.get("ports")), repr(service["metadata"].get("annotations")), spec.get("loadBalancerIP"),
            spec.get("externalTrafficPolicy"), repr(spec.get("loadBalancerSourceRanges")),
            spec.get("sessionAffinity"), repr(spec.get("externalIPs")))


# --- endpoints ---------------------------------------------------------------------------------------------

def _selected(service: dict, pod: dict) -> bool:
    selector = (service.get("spec") or {}).get("selector")
    return bool(selector) and matches_label_selector({"matchLabels": selector}, pod["metadata"].get("labels"))


def in_endpoints(pod: dict, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not terminal, has an IP, not deleting unless terminating pods are wanted."""
    status = pod.get("status") or {}
    if is_terminal(pod) or not (status.get("podIP") or status.get("podIPs")):
        return False
    return include_terminating or not pod["metadata"].get("deletionTimestamp")


def resolve_ports(service: dict, pod: dict) -> tuple[tuple, ...] | None:
    """Each service port with its targetPort resolved on the pod (FindPort); None when a named port is
    missing, which leaves the pod out."""
    ports = []
    containers = (pod.get("spec") or {}).get("containers") or []
    for port in (service.get("spec") or {}).get("ports") or []:
        target, protocol = port.get("targetPort", port.get("port")), port.get("protocol", "TCP")
        if isinstance(target, str) and not target.isdigit():
            found = [p["containerPort"] for c in containers for p in c.get("ports") or []
                     if p.get("name") == target and p.get("protocol", "TCP") == protocol]
            if not found:
                return None
            target = found[0]
        ports.append((port.get("name", ""), int(target), protocol, port.get("appProtocol")))
    return tuple(sorted(ports))


def _port_dicts(ports: tuple[tuple, ...], keep_empty_name: bool) -> list[dict]:
    out = []
    for name, number, protocol, app_protocol in ports:
        entry: dict = {"name": name} if name or keep_empty_name else {}
        entry.update({"port": number, "protocol": protocol})
        if app_protocol:
            entry["appProtocol"] = app_protocol
        out.append(entry)
    return out


def _target_ref(pod: dict) -> dict:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}


def _hostname(service: dict, pod: dict) -> str:
    spec = pod.get("spec") or {}
    return spec.get("hostname", "") if spec.get("subdomain") == service["metadata"]["name"] else ""


def endpoint_subsets(service: dict, pods: Iterable[dict]) -> list[dict]:
    """Endpoints.subsets: addresses grouped by their resolved port set (RepackSubsets), sorted by IP."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for pod in pods:
        ports = resolve_ports(service, pod)
        if ports is None or not in_endpoints(pod, publish):
            continue
        address = {"ip": pod["status"]["podIP"]}
        if _hostname(service, pod):
            address["hostname"] = _hostname(service, pod)
        if pod["spec"].get("nodeName"):
            address["nodeName"] = pod["spec"]["nodeName"]
        address["targetRef"] = _target_ref(pod)
        kind = "addresses" if publish or is_pod_ready(pod) else "notReadyAddresses"
        groups.setdefault(ports, {}).setdefault(kind, []).append(address)
    subsets = []
    for ports, kinds in sorted(groups.items()):
        subset = {kind: sorted(addresses, key=lambda a: ipaddress.ip_address(a["ip"]))
                  for kind, addresses in sorted(kinds.items())}
        if ports:
            subset["ports"] = _port_dicts(ports, keep_empty_name=False)
        subsets.append(subset)
    return subsets


def slice_groups(service: dict, pods: Iterable[dict], nodes: dict[str, dict]) -> dict[tuple, list[dict]]:
    """EndpointSlice endpoints by port set; terminating pods stay, with their conditions."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    groups: dict[tuple, list[dict]] = {}
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        ports = resolve_ports(service, pod)
        if ports is None or not in_endpoints(pod, True):
            continue
        ready = publish or is_pod_ready(pod)
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        endpoint: dict = {"addresses": [pod["status"]["podIP"]],
                          "conditions": {"ready": publish or (ready and not terminating), "serving": ready,
                                         "terminating": terminating}}
        if _hostname(service, pod):
            endpoint["hostname"] = _hostname(service, pod)
        endpoint["targetRef"] = _target_ref(pod)
        node_name = pod["spec"].get("nodeName")
        if node_name:
            endpoint["nodeName"] = node_name
            zone = ((nodes.get(node_name) or {}).get("metadata", {}).get("labels") or {}).get(
                "topology.kubernetes.io/zone")
            if zone:
                endpoint["zone"] = zone
        groups.setdefault(ports, []).append(endpoint)
    return groups


class EndpointsController(Controller):
    """endpoint-controller and endpointslice-controller, keyed by service."""

    name = "endpoint-controller"
    watches = (_SERVICES, _PODS)

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.key == _SERVICES:
            return super().keys_for(change)
        namespace = change.obj["metadata"]["namespace"]
        pods = [change.obj] + ([change.old] if change.old else [])
        return [(namespace, s["metadata"]["name"]) for s in self.store.list(_SERVICES, namespace)[0]
                if any(_selected(s, p) for p in pods)]

    def sync(self, namespace: str, name: str) -> None:
        service = self.store.get(_SERVICES, namespace, name)
        if service is None:
            self._delete_all(namespace, name)
            return
        if not (service.get("spec") or {}).get("selector"):
            return
        pods = [p for p in self.store.list(_PODS, namespace)[0] if _selected(service, p)]
        self._sync_endpoints(service, pods)
        nodes = {n["metadata"]["name"]: n for n in self.store.list("/nodes")[0]}
        self._sync_slices(service, slice_groups(service, pods, nodes))

    def _labels(self, service: dict) -> dict:
        labels = dict(service["metadata"].get("labels") or {})
        if (service.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        return labels

    def _sync_endpoints(self, service: dict, pods: list[dict]) -> None:
        meta = service["metadata"]
        current = self.store.get(_ENDPOINTS, meta["namespace"], meta["name"])
        subsets = endpoint_subsets(service, pods)
        labels = self._labels(service)
        if current is not None and (current.get("subsets") or []) == subsets and (
                current["metadata"].get("labels") or {}) == labels:
            return
        body = clone(current) if current else {"apiVersion": "v1", "kind": "Endpoints",
                                               "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
        if labels:
            body["metadata"]["labels"] = labels
        else:
            body["metadata"].pop("labels", None)
        body["metadata"].setdefault("annotations", {})[TRIGGER_TIME] = self.loop.clock.stamp()
        if subsets:
            body["subsets"] = subsets
        else:
            body.pop("subsets", None)
        self._write(_ENDPOINTS, body, create=current is None)

    def _sync_slices(self, service: dict, groups: dict[tuple, list[dict]]) -> None:
        meta = service["metadata"]
        existing = [s for s in self.store.list(_SLICES, meta["namespace"])[0]
                    if (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == meta["name"]
                    and (s["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == SLICE_CONTROLLER]
        desired = [(_port_dicts(ports, keep_empty_name=True), endpoints) for ports, endpoints in sorted(
            groups.items())] or [([], [])]
        labels = {**self._labels(service), SERVICE_NAME_LABEL: meta["name"], MANAGED_BY_LABEL: SLICE_CONTROLLER}
        unused = list(existing)
        for ports, endpoints in desired:
            match = next((s for s in unused if (s.get("ports") or []) == ports), None) or (
                unused[0] if unused else None)
            if match is not None:
                unused.remove(match)
                if match.get("endpoints") == endpoints and match.get("ports", []) == ports and (
                        match["metadata"].get("labels") or {}) == labels:
                    continue
            body = clone(match) if match else self._new_slice(service)
            body["metadata"]["labels"] = labels
            body["metadata"].setdefault("annotations", {})[TRIGGER_TIME] = self.loop.clock.stamp()
            body["endpoints"] = endpoints
            if ports:
                body["ports"] = ports
            else:
                body.pop("ports", None)
            self._write(_SLICES, body, create=match is None)
        for stale in unused:
            self._delete(_SLICES, meta["namespace"], stale["metadata"]["name"])

    @staticmethod
    def _new_slice(service: dict) -> dict:
        meta = service["metadata"]
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"generateName": f"{meta['name']}-", "namespace": meta["namespace"],
                             "ownerReferences": [new_controller_ref(service)]}}

    def _delete_all(self, namespace: str, name: str) -> None:
        if self.store.get(_ENDPOINTS, namespace, name) is not None:
            self._delete(_ENDPOINTS, namespace, name)
        for stale in self.store.list(_SLICES, namespace)[0]:
            labels = stale["metadata"].get("labels") or {}
            if labels.get(SERVICE_NAME_LABEL) == name and labels.get(MANAGED_BY_LABEL) == SLICE_CONTROLLER:
                self._delete(_SLICES, namespace, stale["metadata"]["name"])

    def _write(self, key: str, body: dict, create: bool) -> None:
        rt = self.api.rt(key)
        meta = body["metadata"]
        try:
            if create:
                self.api.create(rt, meta["namespace"], body)
            else:
                self.api.update(rt, meta["namespace"], meta["name"], body)
        except ApiError:
            self.enqueue((meta["namespace"], (meta.get("labels") or {}).get(SERVICE_NAME_LABEL, meta.get("name"))),
                         after=1.0)

    def _delete(self, key: str, namespace: str, name: str) -> None:
        try:
            self.api.delete(self.api.rt(key), namespace, name)
        except ApiError:
            return


CONTROLLERS = (LoadBalancerController, EndpointsController)
