"""CustomResourceDefinitions and their custom resources, as apiextensions-apiserver handles them.

- Create/update: defaulting and the validation users trip over (422, apiextensions validation.go), and the
  status PrepareForCreate leaves (empty acceptedNames, storedVersions = the storage version).
- The naming controller accepts the names unless another CRD of the group holds them (NamesAccepted,
  Established "Installing"); shortly after, the establishing controller sets Established, and the served
  versions join the Registry, so discovery, kubectl and the Python client see them.
- Delete: the CRD gets the customresourcecleanup finalizer and Terminating; the finalizer controller
  deletes every instance, then lets the CRD go and drops it from discovery.
- Custom resources are served generically; annotations under the simulator's prefix give them the status
  an operator would write (READY_AFTER, FAIL_AFTER, FAIL_MESSAGE below).
"""

from __future__ import annotations

import re

from kubedog_ci.sim import apiservices, errors
from kubedog_ci.sim.api import Admission
from kubedog_ci.sim.config import ANNOTATION_PREFIX, annotation_seconds
from kubedog_ci.sim.controllers.base import Context, Controller
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.resources import BUILTIN, ResourceType
from kubedog_ci.sim.store import Change, clone
from kubedog_ci.sim.validation import Cause, invalid_value, required, unsupported

CRDS = "apiextensions.k8s.io/customresourcedefinitions"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
ESTABLISH_SECONDS = 0.5
"""Between NamesAccepted and Established, as the establishing controller lags the naming controller."""
READY_AFTER = ANNOTATION_PREFIX + "ready-after-seconds"
"""On a custom resource: N simulated seconds after each generation is seen, status.conditions Ready=True
(reason Ready) and status.observedGeneration = that generation."""
FAIL_AFTER = ANNOTATION_PREFIX + "fail-after-seconds"
"""On a custom resource: N simulated seconds after each generation is seen, Ready=False (reason Failed)."""
FAIL_MESSAGE = ANNOTATION_PREFIX + "fail-message"
"""On a custom resource: the message of the Failed condition (default "simulated failure")."""
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_BUILTIN_KEYS = frozenset(rt.key for rt in BUILTIN)


# --- pure helpers --------------------------------------------------------------------------------------------

def version_priority(name: str) -> tuple:
    """Kube-aware version order: GA before beta before alpha, higher numbers first, others alphabetically last."""
    match = _VERSION.match(name)
    if not match:
        return (3, 0, 0, name)
    major, level, minor = match.groups()
    return ({None: 0, "beta": 1, "alpha": 2}[level], -int(major), -int(minor or 0), name)


def default_crd(crd: dict) -> None:
    """SetDefaults: singular and listKind from kind, conversion strategy None."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})


def validate_crd(crd: dict) -> list[Cause]:
    """The ValidateCustomResourceDefinition checks manifests get wrong."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    causes: list[Cause] = []
    name = crd["metadata"].get("name", "")
    if name != f"{names.get('plural', '')}.{spec.get('group', '')}":
        causes.append(invalid_value("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not spec.get("group"):
        causes.append(required("spec.group"))
    elif "." not in spec["group"]:
        causes.append(invalid_value("spec.group", spec["group"], "should be a domain with at least one dot"))
    if spec.get("scope") not in ("Cluster", "Namespaced"):
        causes.append(required("spec.scope") if not spec.get("scope") else
                      unsupported("spec.scope", spec["scope"], ["Cluster", "Namespaced"]))
    if not spec.get("versions"):
        causes.append({"reason": "FieldValueInvalid", "field": "spec.versions",
                       "message": "Invalid value: []apiextensions.CustomResourceDefinitionVersion(nil): "
                                  "must have exactly one version marked as storage version"})
    for field in ("plural", "singular", "kind", "listKind"):
        if not names.get(field):
            causes.append(required(f"spec.names.{field}"))
    return causes


def storage_version(crd: dict) -> str | None:
    return next((v["name"] for v in (crd.get("spec") or {}).get("versions") or [] if v.get("storage")), None)


def resource_types(crd: dict) -> list[ResourceType]:
    """One ResourceType per served version, preferred version first."""
    spec = crd["spec"]
    names = spec["names"]
    served = sorted((v for v in spec.get("versions") or [] if v.get("served", True)),
                    key=lambda v: version_priority(v["name"]))
    return [ResourceType(spec["group"], v["name"], names["kind"], names["plural"],
                         namespaced=spec.get("scope") == "Namespaced",
                         short_names=tuple(names.get("shortNames") or ()),
                         categories=tuple(names.get("categories") or ()),
                         subresources=tuple(s for s in ("status", "scale") if s in (v.get("subresources") or {})),
                         printer_columns=tuple(v.get("additionalPrinterColumns") or ()))
            for v in served]


def set_condition(now: str, status: dict, condition: dict) -> None:
    """SetCRDCondition: replace by type, keeping lastTransitionTime while the status is unchanged (else `now`)."""
    conditions = status.setdefault("conditions", [])
    old = next((c for c in conditions if c.get("type") == condition["type"]), None)
    entry = {"type": condition["type"], "status": condition["status"], "lastTransitionTime": now,
             "reason": condition.get("reason", ""), "message": condition.get("message", "")}
    if old is not None and old.get("status") == entry["status"]:
        entry["lastTransitionTime"] = old.get("lastTransitionTime", entry["lastTransitionTime"])
    status["conditions"] = [entry if c is old else c for c in conditions] if old else [*conditions, entry]


def condition_true(crd: dict, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


# --- admission ---------------------------------------------------------------------------------------------

def make_admission() -> Admission:
    """The CRD REST strategy: defaulting, validation, and storedVersions bookkeeping."""
    def admit(operation: str, rt: ResourceType, obj: dict, old: dict | None) -> None:
        if rt.key != CRDS:
            return
        default_crd(obj)
        causes = validate_crd(obj)
        if causes:
            raise errors.invalid(rt, obj["metadata"].get("name", ""), causes)
        stored = storage_version(obj)
        if operation == "CREATE":
            obj["status"] = {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": [stored]}
        elif stored and stored not in obj.setdefault("status", {}).setdefault("storedVersions", []):
            obj["status"]["storedVersions"].append(stored)
    return admit


# --- controllers -------------------------------------------------------------------------------------------

class CRDController(Controller):
    """Naming, establishing and finalizing controllers in one; keys are ("", crd name)."""

    name = "apiextensions-controllers"
    watches = (CRDS,)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        ctx.api.admission.append(make_admission())
        ctx.api.delete_hooks[CRDS] = self._begin_delete
        self._served: dict[str, tuple[str, str]] = {}
        self._establishing: set[str] = set()

    def sync(self, namespace: str, name: str) -> None:
        crd = self.store.get(CRDS, "", name)
        if crd is None:
            self._unserve(name)
            return
        if crd["metadata"].get("deletionTimestamp"):
            self._finalize(crd)
            return
        status = clone(crd.get("status") or {})
        self._name(crd, status)
        if status != crd.get("status"):
            self._write_status(crd, status)
            return
        if condition_true(crd, "Established"):
            self._serve(crd)
        elif condition_true(crd, "NamesAccepted") and name not in self._establishing:
            self._establishing.add(name)
            self.loop.call_later(ESTABLISH_SECONDS, self._establish, name, crd["metadata"]["uid"])

    def _name(self, crd: dict, status: dict) -> None:
        """NamingConditionController: accept the names unless another CRD of the group already has them."""
        spec = crd["spec"]
        names = spec["names"]
        taken_plurals, taken_kinds = set(), set()
        for other in self.store.list(CRDS)[0]:
            accepted = (other.get("status") or {}).get("acceptedNames") or {}
            if other["metadata"]["name"] != crd["metadata"]["name"] and other["spec"].get("group") == spec["group"]:
                taken_plurals.add(accepted.get("plural"))
                taken_kinds.add(accepted.get("kind"))
        if names["plural"] in taken_plurals:
            accepted = {"type": "NamesAccepted", "status": "False", "reason": "PluralConflict",
                        "message": f'"{names["plural"]}" is already in use'}
        elif names["kind"] in taken_kinds:
            accepted = {"type": "NamesAccepted", "status": "False", "reason": "KindConflict",
                        "message": f'"{names["kind"]}" is already in use'}
        else:
            accepted = {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                        "message": "no conflicts found"}
            status["acceptedNames"] = clone(names)
        self._set_condition(status, accepted)
        if condition_true({"status": status}, "Established"):
            return
        if accepted["status"] == "True":
            self._set_condition(status, {"type": "Established", "status": "False", "reason": "Installing",
                                         "message": "the initial names have been accepted"})
        else:
            self._set_condition(status, {"type": "Established", "status": "False", "reason": "NotAccepted",
                                         "message": "not all names are accepted"})

    def _set_condition(self, status: dict, condition: dict) -> None:
        set_condition(self.loop.clock.stamp(), status, condition)

    def _establish(self, name: str, uid: str) -> None:
        self._establishing.discard(name)
        crd = self.store.get(CRDS, "", name)
        if crd is None or crd["metadata"]["uid"] != uid or not condition_true(crd, "NamesAccepted"):
            return
        status = clone(crd.get("status") or {})
        self._set_condition(status, {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                                     "message": "the initial names have been accepted"})
        self._write_status(crd, status)

    def _serve(self, crd: dict) -> None:
        """(Re)register the served versions; renamed or dropped versions leave discovery."""
        name = crd["metadata"]["name"]
        registry = self.api.registry
        before = self._custom_group_versions()
        if name in self._served:
            registry.remove_group_resource(*self._served[name])
        types = resource_types(crd)
        for rt in types:
            registry.add(rt)
        self._served[name] = (crd["spec"]["group"], crd["spec"]["names"]["plural"])
        self._sync_apiservices(before)

    def _unserve(self, name: str) -> None:
        if name in self._served:
            before = self._custom_group_versions()
            self.api.registry.remove_group_resource(*self._served.pop(name))
            self._sync_apiservices(before)

    def _custom_group_versions(self) -> set[tuple[str, str]]:
        return {(rt.group, rt.version) for rt in self.api.registry.all() if not rt.builtin}

    def _sync_apiservices(self, before: set[tuple[str, str]]) -> None:
        """The crdRegistrationController: each group version CRDs serve has its APIService, and only those."""
        after = self._custom_group_versions()
        for group, version in sorted(before ^ after):
            apiservices.sync_custom(self.api, group, version, (group, version) in after)

    # --- deletion -----------------------------------------------------------------------------------------

    def _begin_delete(self, crd: dict, grace: int | None) -> bool:
        """The CRD registry's Delete: mark it deleting with the cleanup finalizer and Terminating."""
        updated = clone(crd)
        meta = updated["metadata"]
        meta["deletionTimestamp"] = self.loop.clock.stamp()
        meta["deletionGracePeriodSeconds"] = 0
        if CLEANUP_FINALIZER not in meta.setdefault("finalizers", []):
            meta["finalizers"].append(CLEANUP_FINALIZER)
        self._set_condition(updated.setdefault("status", {}), {
            "type": "Terminating", "status": "True", "reason": "InstanceDeletionInProgress",
            "message": "CustomResource deletion is in progress"})
        self.store.replace(CRDS, updated)
        return True

    def _finalize(self, crd: dict) -> None:
        """CRDFinalizer: delete every instance, then release the CRD."""
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return
        status = clone(crd.get("status") or {})
        if condition_true(crd, "Established"):
            if self._delete_instances(crd):
                self.enqueue(("", crd["metadata"]["name"]), after=1.0)
                return
            self._set_condition(status, {"type": "Terminating", "status": "False",
                                         "reason": "InstanceDeletionCompleted", "message": "removed all instances"})
        else:
            self._set_condition(status, {"type": "Terminating", "status": "False", "reason": "NeverEstablished",
                                         "message": "resource was never established"})
        crd = self._write_status(crd, status) or crd
        released = clone(crd)
        released["metadata"]["finalizers"] = [f for f in crd["metadata"]["finalizers"] if f != CLEANUP_FINALIZER]
        try:
            self.api.update(self.api.rt(CRDS), "", crd["metadata"]["name"], released)
        except ApiError:
            return
        if self.store.get(CRDS, "", crd["metadata"]["name"]) is None:
            self._unserve(crd["metadata"]["name"])

    def _delete_instances(self, crd: dict) -> bool:
        """Delete all custom resources of the CRD; True while some still exist (their finalizers run)."""
        key = f"{crd['spec']['group']}/{crd['spec']['names']['plural']}"
        try:
            rt = self.api.rt(key)
        except KeyError:
            return False
        remaining = self.store.list(key)[0]
        for obj in remaining:
            if obj["metadata"].get("deletionTimestamp"):
                continue
            try:
                self.api.delete(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            except ApiError:
                continue
        return bool(self.store.list(key)[0])

    def _write_status(self, crd: dict, status: dict) -> dict | None:
        updated = clone(crd)
        updated["status"] = status
        try:
            return self.api.update(self.api.rt(CRDS), "", crd["metadata"]["name"], updated, subresource="status")
        except ApiError:
            return None


class CustomResourceStatusController(Controller):
    """Writes the Ready condition the READY_AFTER / FAIL_AFTER annotations ask for, per generation."""

    name = "custom-resource-status"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._timers: set[tuple] = set()

    def start(self) -> None:
        self.store.add_listener(self._on_change)

    def _on_change(self, change: Change) -> None:
        """Under the store lock: only note custom resources that carry one of the annotations."""
        if change.type == "DELETED" or change.key in _BUILTIN_KEYS:
            return
        annotations = change.obj["metadata"].get("annotations") or {}
        if READY_AFTER in annotations or FAIL_AFTER in annotations:
            meta = change.obj["metadata"]
            self.loop.call_soon(self._observe, change.key, meta.get("namespace", ""), meta["name"])

    def _observe(self, key: str, namespace: str, name: str) -> None:
        obj = self.store.get(key, namespace, name)
        if obj is None:
            return
        meta = obj["metadata"]
        generation = meta.get("generation") or 1
        for annotation, outcome in ((READY_AFTER, "Ready"), (FAIL_AFTER, "Failed")):
            seconds = annotation_seconds(obj, annotation)
            timer = (key, namespace, name, meta["uid"], generation, outcome)
            if seconds is None or timer in self._timers:
                continue
            self._timers.add(timer)
            self.loop.call_later(seconds, self._complete, timer)

    def _complete(self, timer: tuple) -> None:
        key, namespace, name, uid, generation, outcome = timer
        obj = self.store.get(key, namespace, name)
        if obj is None or obj["metadata"]["uid"] != uid:
            self._timers = {t for t in self._timers if t[3] != uid}
            return
        if (obj["metadata"].get("generation") or 1) != generation:
            return
        updated = clone(obj)
        status = updated.setdefault("status", {})
        condition = {"type": "Ready", "status": "True" if outcome == "Ready" else "False",
                     "observedGeneration": generation, "lastTransitionTime": self.loop.clock.stamp(),
                     "reason": outcome,
                     "message": "" if outcome == "Ready" else (obj["metadata"].get("annotations") or {}).get(
                         FAIL_MESSAGE, "simulated failure")}
        old = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        if old is not None and old.get("status") == condition["status"]:
            condition["lastTransitionTime"] = old.get("lastTransitionTime", condition["lastTransitionTime"])
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"] + [condition]
        status["observedGeneration"] = generation
        try:
            rt = self.api.rt(key)
            self.api.update(rt, namespace, name, updated, subresource="status" if "status" in rt.subresources else "")
        except (ApiError, KeyError):
            return


CONTROLLERS = (CRDController, CustomResourceStatusController)
