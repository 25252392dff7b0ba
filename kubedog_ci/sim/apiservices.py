"""The APIServices the aggregator registers by itself: one Local APIService per group version served here.

kube-apiserver's autoregister controller creates `v1.`, `v1.apps`, … for each built-in group version it has a
priority for (pkg/controlplane/apiserver/aggregator.go and pkg/controlplane/aggregator.go), labelled
automanaged=onstart; the crdRegistrationController adds one for each group version a CRD serves (priority
1000/100, automanaged=true) and removes it once no CRD serves that group version any more. A Local APIService
has no spec.service and is Available at once (see defaults.py). The group's own apiregistration.k8s.io has no
priority and so no APIService, as on a real cluster.
"""

from __future__ import annotations

from kubedog_ci.sim.api import Api
from kubedog_ci.sim.errors import ApiError

KEY = "apiregistration.k8s.io/apiservices"
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("batch", "v1"): (17400, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
}
"""(group, version) -> (groupPriorityMinimum, versionPriority) of the built-in group versions the simulator serves."""
CRD_PRIORITY = (1000, 100)


def local_apiservice(group: str, version: str, priority: tuple[int, int], managed: str) -> dict:
    spec: dict = {"group": group} if group else {}  # group is omitempty
    spec |= {"version": version, "groupPriorityMinimum": priority[0], "versionPriority": priority[1]}
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": f"{version}.{group}", "labels": {AUTOMANAGED: managed}}, "spec": spec}


def register_builtin(api: Api) -> None:
    """The autoregister controller's start: an APIService for each served built-in group version."""
    rt = api.rt(KEY)
    for group, versions in api.registry.groups().items():
        for version in versions:
            priority = PRIORITIES.get((group, version))
            if priority is not None:
                api.create(rt, None, local_apiservice(group, version, priority, "onstart"))


def sync_custom(api: Api, group: str, version: str, served: bool) -> None:
    """The crdRegistrationController for one group version: present while a CRD serves it, else removed (only
    one it manages: an APIService a user created for that group version is left alone)."""
    rt = api.rt(KEY)
    name = f"{version}.{group}"
    existing = api.store.get(KEY, "", name)
    try:
        if served and existing is None:
            api.create(rt, None, local_apiservice(group, version, CRD_PRIORITY, "true"))
        elif not served and existing is not None and existing["metadata"].get("labels", {}).get(AUTOMANAGED) == "true":
            api.delete(rt, "", name)
    except ApiError:  # a concurrent writer got there first; the next change of the CRD syncs again
        pass
