"""Service: readiness-rules.md ("Service", Recommended): a LoadBalancer waits for its ingress (Helm, Argo, kapp;
kstatus checks only clusterIP, which the API server always allocates); other types are ready at once by one
snapshot (`status --offline`).

Live, a Service with a selector is judged by its EndpointSlices too: ready once one endpoint is ready, since a
Service whose selector matches nothing leaves the application unreachable while every Deployment is ready (a typo,
`app: wbe` for Pods labelled `app: web`). When Pods match but none is ready, it waits and their workload's verdict
explains; when no Pod in the namespace matches at all for NO_MATCH_GRACE, it fails naming the selector and the
labels of the Pods that come closest. Services without a selector and ExternalName ones are done once applied."""

from __future__ import annotations

from kubedog_ci.reasons import Classification, ReasonClass
from kubedog_ci.rules import common
from kubedog_ci.rules.objects import labels, meta, uid
from kubedog_ci.rules.problems import Problem
from kubedog_ci.rules.profile import KindProfile, Related, Stream
from kubedog_ci.rules.selectors import NOTHING, Selector, by_labels
from kubedog_ci.rules.verdict import State, Verdict, progressing, ready

NO_MATCH_GRACE = 30
"""Seconds a selector may match no Pod before the Service fails: the Pods of a workload applied beside it are
created within a few seconds."""
NO_MATCHING_POD = Classification(
    ReasonClass.FATAL, NO_MATCH_GRACE,
    "The Service's selector matches no Pod in its namespace: it has no endpoints, and the application behind it "
    "is unreachable.")


def evaluate(obj: dict) -> Verdict:
    return common.precheck(obj) or _load_balancer(obj)


def _load_balancer(obj: dict) -> Verdict:
    spec, subject = common.spec(obj), common.subject(obj)
    kind = spec.get("type") or "ClusterIP"
    if kind != "LoadBalancer":
        return ready("Ready", f"{subject} ({kind}) is ready")
    # An entry of {} still means the provider answered (Argo counts it); externalIPs need no provider (Helm).
    ingress = common.load_balancer_ingress(obj)
    if ingress or spec.get("externalIPs"):
        shown = ", ".join(common.addresses(ingress) or spec.get("externalIPs") or [])
        return ready("LoadBalancerReady", f"{subject} has its load balancer" + (f" at {shown}" if shown else ""))
    return progressing("NoLoadBalancerIngress", f"Waiting for {subject} to be assigned a load balancer ingress...")


def _selector(obj: dict) -> dict[str, str]:
    """The Pods it sends traffic to; none for ExternalName and selector-less Services (endpoints by hand)."""
    spec = common.spec(obj)
    return {} if spec.get("type") == "ExternalName" else dict(spec.get("selector") or {})


def _tracked(obj: dict) -> bool:
    """A LoadBalancer has its ingress to wait for, a Service with a selector its endpoints."""
    return common.spec(obj).get("type") == "LoadBalancer" or bool(_selector(obj))


def _matches(selector: dict[str, str], pod: dict) -> bool:
    pod_labels = labels(pod)
    return all(pod_labels.get(key) == value for key, value in selector.items())


def _ready_endpoints(obj: dict, related: Related) -> int:
    """Endpoints its EndpointSlices call ready (an absent `ready` means ready, as the API documents)."""
    slices = related.owned(Stream.ENDPOINT_SLICES, meta(obj).get("namespace") or "", uid(obj))
    return sum(1 for piece in slices for endpoint in piece.get("endpoints") or []
               if (endpoint.get("conditions") or {}).get("ready") is not False)


def evaluate_live(obj: dict, related: Related) -> Verdict:
    verdict = evaluate(obj)
    selector = _selector(obj)
    if verdict.state is not State.READY or not selector:
        return verdict
    subject, shown = common.subject(obj), _shown(selector)
    count = _ready_endpoints(obj, related)
    if count:
        return ready(verdict.reason, f"{verdict.message}; {count} ready endpoint{'' if count == 1 else 's'}",
                     *verdict.warnings)
    matching = [pod for pod in related.in_namespace(Stream.PODS, meta(obj).get("namespace") or "")
                if _matches(selector, pod)]
    if matching:
        return progressing("NoReadyEndpoints", f"Waiting for {subject} to have a ready endpoint: {len(matching)} "
                           f"Pod{'' if len(matching) == 1 else 's'} match {shown}, none is ready yet")
    return progressing("NoMatchingPods", f"Waiting for {subject} to have endpoints: selector {shown} matches no Pod")


def _problems(obj: dict, related: Related) -> list[Problem]:
    """No Pod matches its selector: a sign that fails it once it has lasted NO_MATCH_GRACE."""
    selector = _selector(obj)
    if not selector or _ready_endpoints(obj, related):
        return []
    namespace = meta(obj).get("namespace") or ""
    pods = related.in_namespace(Stream.PODS, namespace)
    if any(_matches(selector, pod) for pod in pods):
        return []
    message = f"selector {_shown(selector)} matches no Pod in namespace \"{namespace}\""
    closest = _closest(selector, pods)
    if closest:
        message += f"; {closest}"
    return [Problem((uid(obj), "", "selector"), "", "NoMatchingPods", message, "selector", NO_MATCHING_POD)]


SERVICE_NAME_LABEL = "kubernetes.io/service-name"
"""The EndpointSlice controller's label naming the Service a slice belongs to."""


def _selects(stream: Stream, name: str, obj: dict | None) -> Selector | None:
    """Its EndpointSlices by their service-name label; the Pods its selector matches (none without one). The
    closest labels of a NoMatchingPods diagnosis are looked for among the Pods the run watches anyway (those of
    the workloads tracked beside it), not among every Pod of the namespace."""
    if stream is Stream.ENDPOINT_SLICES:
        return by_labels({SERVICE_NAME_LABEL: name})
    if obj is None:
        return None
    selector = _selector(obj)
    return by_labels(selector) if selector else NOTHING


def _shown(selector: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))


def _closest(selector: dict[str, str], pods: list[dict]) -> str:
    """`Pods of deploy/web are labeled app=web`: the Pods sharing most of the selector's keys (a value typo), or
    else its values (a key typo), by their workload, with their labels for those keys."""
    def score(pod: dict) -> tuple[int, int]:
        pod_labels = labels(pod)
        return (sum(1 for key in selector if key in pod_labels),
                sum(1 for value in selector.values() if value in pod_labels.values()))

    best = max((score(pod) for pod in pods), default=(0, 0))
    if best == (0, 0):
        return ""
    found: dict[str, str] = {}
    for pod in pods:
        if score(pod) == best:
            pod_labels = labels(pod)
            keys = [key for key in selector if key in pod_labels] or sorted(pod_labels)
            found.setdefault(_workload(pod), ",".join(f"{key}={pod_labels[key]}" for key in keys))
    return "; ".join(f"Pods of {owner} are labeled {shown}" for owner, shown in sorted(found.items()))


def _workload(pod: dict) -> str:
    """The workload a Pod belongs to, as the output names it: deploy/web for a Deployment's ReplicaSet's Pod."""
    owner = next((ref for ref in meta(pod).get("ownerReferences") or [] if ref.get("controller")), None)
    if owner is None:
        return f"po/{meta(pod).get('name')}"
    kind, name = owner.get("kind") or "", owner.get("name") or ""
    template_hash = labels(pod).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
        return f"deploy/{name.removesuffix(f'-{template_hash}')}"
    short = {"ReplicaSet": "rs", "StatefulSet": "sts", "DaemonSet": "ds", "Job": "job"}
    return f"{short.get(kind, kind.lower())}/{name}"


PROFILE = KindProfile(evaluate, evaluate_live=evaluate_live, streams=(Stream.ENDPOINT_SLICES, Stream.PODS),
                      selects=_selects, object_problems=_problems, tracked=_tracked,
                      without={Stream.ENDPOINT_SLICES: "ready as soon as it is applied (a LoadBalancer once it has "
                               "its ingress): a selector that matches no Pod is not seen",
                               Stream.PODS: "a selector that matches no Pod is not told from Pods not ready yet"})
