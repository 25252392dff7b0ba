"""Server-side apply of validated objects, in apply order, each reported the way kubectl reports it.

Each object is read first, so the line can say `created`, `configured` or `unchanged` (an apply that changes
nothing leaves the resourceVersion as it was). A CustomResourceDefinition is waited on until Established, so
the custom resources after it in the same input find their type served. The first object the server rejects
stops the run: what was applied before it stays applied, and `ApplyRejected` lists it.

Requests go through `Requester`: a 429, 5xx or a dropped connection is retried with back-off (server-side apply
is idempotent) until the API timeout; a refusal (4xx) is the user's to fix and is reported at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from kubedog_ci.errors import ApplyError, ClusterError
from kubedog_ci.kube.connect import Cluster
from kubedog_ci.kube.http import ApiError, GiveUp, Requester
from kubedog_ci.manifests.validate import Planned
from kubedog_ci.rules import State
from kubedog_ci.rules import crd as crd_rule
from kubedog_ci.secrets import SECRETS

APPLY_PATCH = "application/apply-patch+yaml"
CRD_ESTABLISHED_TIMEOUT = 60.0
POLL = 0.1

T = TypeVar("T")


@dataclass(frozen=True)
class ApplyResult:
    """One object after its apply: what happened (`created`, `configured`, `unchanged`) and the server's copy."""

    planned: Planned
    action: str
    obj: dict
    dry_run: bool = False

    def line(self) -> str:
        """kubectl's line: `deployment.apps/web created`, `service/web unchanged (server dry run)`."""
        return f"{self.planned.label} {self.action}" + (" (server dry run)" if self.dry_run else "")


@dataclass(frozen=True)
class Rejection:
    """One object the API server refused, in its own words."""

    planned: Planned
    status: int
    reason: str
    message: str

    def line(self) -> str:
        return (f"{self.planned.source}: {self.planned.label} was rejected by the API server "
                f"({self.status} {self.reason}): {self.message}")


class ApplyRejected(ApplyError):
    """The server refused an object: nothing after it was applied, and `applied` is what was, before it. A
    server dry run goes through every object, so it may carry several rejections. Its message is `describe()`."""

    def __init__(self, rejections: list[Rejection], applied: list[ApplyResult], dry_run: bool = False) -> None:
        self.rejections = rejections
        self.applied = applied
        self.dry_run = dry_run
        super().__init__(self.describe())

    def describe(self) -> str:
        """The paragraph the CLI prints: each object, its file and line, the server's words, and the state left."""
        lines = [rejection.line() for rejection in self.rejections]
        if self.dry_run:
            total = len(self.rejections) + len(self.applied)
            lines.append(f"The server would reject {len(self.rejections)} of {total} objects (server dry run: "
                         "nothing was changed).")
        elif self.applied:
            lines.append(f"Applied before it ({len(self.applied)}), left in place: "
                         + ", ".join(applied.line() for applied in self.applied))
        else:
            lines.append("Nothing was applied.")
        return "\n".join(lines)


class Applier:
    """Applies planned objects one by one with one field manager; `report` hears each ApplyResult as it happens."""

    def __init__(self, cluster: Cluster, *, field_manager: str = "kubedog", force_conflicts: bool = False,
                 dry_run: bool = False, api_timeout: float = 60.0, stop: threading.Event | None = None,
                 report: Callable[[ApplyResult], None] = lambda applied: None) -> None:
        self.requester = Requester(cluster.api, stop or threading.Event(), api_timeout)
        self.field_manager = field_manager
        self.force_conflicts = force_conflicts
        self.dry_run = dry_run
        self.report = report

    def apply_all(self, ordered: list[Planned]) -> list[ApplyResult]:
        """Apply in the given order; raises ApplyRejected at the first refusal."""
        done: list[ApplyResult] = []
        rejected: list[Rejection] = []
        new_types: set[tuple[str, str]] = set()
        new_namespaces: set[str] = set()
        """What a dry run did not create (CRDs' types, Namespaces): objects that need them cannot be checked."""
        for planned in ordered:
            resource = planned.resource
            if (resource.group, resource.plural) in new_types or planned.namespace in new_namespaces:
                self.report(ApplyResult(planned, "not checked: it needs an object the dry run did not create",
                                    planned.obj, dry_run=True))
                continue
            try:
                applied = self.apply(planned)
            except ApiError as err:
                rejected.append(Rejection(planned, err.status, err.reason, _redact(err.message, planned.obj)))
                if self.dry_run:
                    continue
                raise ApplyRejected(rejected, done) from err
            if self.dry_run and applied.action == "created":
                if planned.kind == "CustomResourceDefinition":
                    new_types.add(_crd_type(planned.obj))
                elif planned.kind == "Namespace" and not resource.group:
                    new_namespaces.add(planned.name)
            elif planned.kind == "CustomResourceDefinition" and not self.dry_run:
                self._wait_established(planned, done)
            done.append(applied)
            self.report(applied)
        if rejected:
            raise ApplyRejected(rejected, done, dry_run=True)
        return done

    def apply(self, planned: Planned) -> ApplyResult:
        """Read, then server-side apply one object; raises ApiError for a refusal."""
        path = planned.resource.path(planned.namespace, planned.name)
        what = f"{planned.label}" + (f' in namespace "{planned.namespace}"' if planned.namespace else "")
        before = self._call(lambda: self._get(path), "get", what)
        query = {"fieldManager": self.field_manager}
        if self.force_conflicts:
            query["force"] = "true"
        if self.dry_run:
            query["dryRun"] = "All"
        body = json.dumps(planned.obj).encode()
        _, after = self._call(lambda: self.requester.send("PATCH", path, query, body, APPLY_PATCH), "apply", what)
        if before is None:
            action = "created"
        elif _version(after) == _version(before):
            action = "unchanged"
        else:
            action = "configured"
        return ApplyResult(planned, action, after, self.dry_run)

    def _get(self, path: str) -> dict | None:
        try:
            return self.requester.get_json(path)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def _call(self, request: Callable[[], T], verb: str, what: str) -> T:
        """`request` under the one retry policy (Requester.retrying); a refusal (4xx, a conflict) is raised as
        ApiError for the caller, bad credentials (401) and a server that stays away as ClusterError."""
        try:
            return self.requester.retrying(request, verb, what)
        except ApiError as err:
            if err.status == 401:
                raise ClusterError(self.requester.refusal(err, verb, what)) from err
            raise
        except GiveUp as err:
            raise ClusterError(err.message) from err

    def _wait_established(self, planned: Planned, done: list[ApplyResult]) -> None:
        """Until the CRD is ready by its rule (Established); a failure (NamesAccepted=False, a name clash) is a
        rejection."""
        path = planned.resource.path("", planned.name)
        deadline = time.monotonic() + CRD_ESTABLISHED_TIMEOUT
        while True:
            verdict = crd_rule.evaluate(self._call(lambda: self._get(path), "get", planned.label) or {})
            if verdict.state is State.READY:
                return
            if verdict.state is State.FAILED:  # the names clash with another CRD's
                raise ApplyRejected([Rejection(planned, 422, verdict.reason, verdict.message)], done)
            if time.monotonic() >= deadline:
                raise ApplyRejected([Rejection(planned, 504, "NotEstablished",
                                               f"not Established after {CRD_ESTABLISHED_TIMEOUT:g}s")], done)
            self.requester.sleep(POLL)


def _version(obj: dict) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _crd_type(crd: dict) -> tuple[str, str]:
    spec = crd.get("spec") or {}
    return str(spec.get("group") or ""), str((spec.get("names") or {}).get("plural") or "")


def _redact(message: str, obj: dict) -> str:
    """The server's words on one line, without a Secret's values: the server may quote them (as written, or
    base64-decoded), and a line break would let the rest of its message start a line of our output."""
    SECRETS.add_secret(obj)
    return " ".join(SECRETS.redact(message).splitlines())
