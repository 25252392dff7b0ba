"""What the account may do, asked of the API server itself: one SelfSubjectAccessReview per permission, which any
authenticated user may create, and which the server answers from the same authorizer that judges its requests."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from kubedog_ci.errors import ClusterError
from kubedog_ci.kube.connect import Cluster
from kubedog_ci.kube.http import ApiError, GiveUp, Requester

REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


@dataclass(frozen=True, order=True)
class Permission:
    """One verb on one resource (with its subresource, as `pods/log`), in a namespace ("" for cluster scope)."""

    namespace: str
    group: str
    resource: str
    verb: str

    @property
    def qualified(self) -> str:
        """`deployments.apps`, `pods/log`: how kubectl and the API's messages name the resource."""
        plural, _, sub = self.resource.partition("/")
        return (f"{plural}.{self.group}" if self.group else plural) + (f"/{sub}" if sub else "")


def allowed(cluster: Cluster, permission: Permission) -> tuple[bool, str]:
    """Whether the account has the permission, and the authorizer's reason (often empty)."""
    plural, _, sub = permission.resource.partition("/")
    attributes = {"verb": permission.verb, "group": permission.group, "resource": plural,
                  **({"subresource": sub} if sub else {}),
                  **({"namespace": permission.namespace} if permission.namespace else {})}
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes}}
    requests = Requester(cluster.api, threading.Event(), cluster.api_timeout)
    what = f"whether it may {permission.verb} {permission.qualified}"
    try:
        _, answer = requests.retrying(
            lambda: requests.send("POST", REVIEWS, None, json.dumps(body).encode()), "ask", what)
    except ApiError as err:
        raise ClusterError(requests.refusal(err, "ask", what)) from err
    except GiveUp as err:
        raise ClusterError(err.message) from err
    status = answer.get("status") or {}
    return bool(status.get("allowed")) and not status.get("denied"), str(status.get("reason") or "")
