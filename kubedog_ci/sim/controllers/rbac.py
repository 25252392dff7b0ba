"""clusterrole-aggregation-controller, after pkg/controller/clusterroleaggregation.

A ClusterRole with an aggregationRule (admin, edit, view, or a user's) holds the rules of every ClusterRole its
selectors match, kept up to date as those change: a CRD's chart that labels its role
`rbac.authorization.k8s.io/aggregate-to-edit: "true"` extends `edit` on a real cluster, and so here.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubedog_ci.sim.bootstrap_policy import aggregated_rules
from kubedog_ci.sim.controllers.base import Controller, Key
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.rbac import CLUSTER_ROLES
from kubedog_ci.sim.store import Change, clone


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation-controller"
    watches = (CLUSTER_ROLES,)

    def keys_for(self, change: Change) -> Iterable[Key]:
        """Any ClusterRole's change may concern every aggregated one (its labels, or its rules, may be selected)."""
        roles, _ = self.store.list(CLUSTER_ROLES)
        return [("", r["metadata"]["name"]) for r in roles if r.get("aggregationRule")]

    def sync(self, namespace: str, name: str) -> None:
        role = self.store.get(CLUSTER_ROLES, "", name)
        if role is None or not role.get("aggregationRule"):
            return
        roles, _ = self.store.list(CLUSTER_ROLES)
        rules = aggregated_rules(role, roles)
        if rules == (role.get("rules") or []):
            return
        updated = clone(role)
        updated["rules"] = rules
        try:
            self.api.update(self.api.rt(CLUSTER_ROLES), "", name, updated)
        except ApiError:
            self.enqueue(("", name), after=1.0)


CONTROLLERS = (ClusterRoleAggregationController,)
