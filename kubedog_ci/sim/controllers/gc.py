"""The garbage collector, after pkg/controller/garbagecollector (attemptToDeleteItem, processDeletingDependentsItem,
orphanDependents).

It keeps the same dependency graph the real one does (owner uid -> dependents, from every object's
ownerReferences, custom resources included) and reacts to the same transitions:
- an owner disappeared (Background deletion, the default): a dependent none of whose owners is left is deleted;
  one that still has a live owner only loses the references to the gone ones;
- an owner carries `foregroundDeletion`: its dependents are deleted (those that have dependents themselves in
  the foreground too), and once no dependent with blockOwnerDeletion remains the finalizer is removed;
- an owner carries `orphan`: the references to it are removed from its dependents, then the finalizer.
Pods go through `api.delete`, so the kubelet still terminates them gracefully.
"""

from __future__ import annotations

from kubedog_ci.sim.controllers.base import Context, Controller
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.store import Change, clone

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
RETRY_SECONDS = 1.0
_IGNORED_KEYS = frozenset({"/events"})

Ident = tuple[str, str, str]
"""(storage key, namespace, name) of a stored object."""
Work = tuple[str, object]
"""("dependent", uid) to attempt deleting, or ("owner", Ident) to process a deleting owner."""


def _finalizers(obj: dict) -> list[str]:
    return list(obj["metadata"].get("finalizers") or [])


def _refs(obj: dict) -> tuple[dict, ...]:
    return tuple(obj["metadata"].get("ownerReferences") or ())


def set_metadata_list(meta: dict, key: str, values: list) -> None:
    """Metadata lists are omitted when empty, as the API serializes them."""
    if values:
        meta[key] = values
    else:
        meta.pop(key, None)


class GarbageCollector(Controller):
    """Deletes and orphans dependents by their ownerReferences; see the module docstring."""

    name = "garbage-collector"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._where: dict[str, Ident] = {}
        """Dependent uid -> where it is stored."""
        self._owners_of: dict[str, tuple[dict, ...]] = {}
        self._dependents: dict[str, set[str]] = {}
        """Owner uid -> uids of the objects that reference it."""
        self._queued: set[Work] = set()
        ctx.store.add_listener(self._notify)

    def _notify(self, change: Change) -> None:
        """Every storage key, custom resources included: called under the store lock, so only schedule."""
        if change.key not in _IGNORED_KEYS:
            self.loop.call_soon(self._observe, change)

    # --- the graph ------------------------------------------------------------------------------------

    def _observe(self, change: Change) -> None:
        meta = change.obj["metadata"]
        uid = meta.get("uid", "")
        ident = (change.key, meta.get("namespace", ""), meta["name"])
        previous = self._owners_of.get(uid, ())
        if change.type == "DELETED":
            self._index(uid, ident, ())
            for dependent in self._dependents.get(uid, set()).copy():
                self._schedule(("dependent", dependent))
            self._schedule_owners(ident[1], previous)
            return
        refs = _refs(change.obj)
        if refs != previous:
            self._index(uid, ident, refs)
            self._schedule_owners(ident[1], previous)
            if refs:
                self._schedule(("dependent", uid))
        if meta.get("deletionTimestamp") and {FOREGROUND, ORPHAN} & set(_finalizers(change.obj)):
            self._schedule(("owner", ident))

    def _index(self, uid: str, ident: Ident, refs: tuple[dict, ...]) -> None:
        for ref in self._owners_of.pop(uid, ()):
            dependents = self._dependents.get(ref.get("uid", ""))
            if dependents is not None:
                dependents.discard(uid)
                if not dependents:
                    del self._dependents[ref.get("uid", "")]
        self._where.pop(uid, None)
        if refs:
            self._owners_of[uid] = refs
            self._where[uid] = ident
            for ref in refs:
                self._dependents.setdefault(ref.get("uid", ""), set()).add(uid)

    def _owner_ident(self, namespace: str, ref: dict) -> Ident | None:
        rt = self.api.registry.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        if rt is None:
            return None
        return rt.key, namespace if rt.namespaced else "", ref.get("name", "")

    def _schedule_owners(self, namespace: str, refs: tuple[dict, ...]) -> None:
        """A dependent went away or dropped a reference: a foreground-deleting owner may now be free."""
        for ref in refs:
            ident = self._owner_ident(namespace, ref)
            if ident is not None:
                self._schedule(("owner", ident))

    def _schedule(self, work: Work, after: float = 0.0) -> None:
        if after > 0:
            self.loop.call_later(after, self._schedule, work)
        elif work not in self._queued:
            self._queued.add(work)
            self.loop.call_soon(self._run_work, work)

    def _run_work(self, work: Work) -> None:
        self._queued.discard(work)
        kind, target = work
        try:
            if kind == "dependent":
                self._attempt_to_delete(target)  # type: ignore[arg-type]
            else:
                self._process_owner(target)  # type: ignore[arg-type]
        except ApiError:
            self._schedule(work, after=RETRY_SECONDS)
        except KeyError:
            return  # the kind stopped being served (its CRD was deleted): nothing left to collect

    def _get(self, ident: Ident) -> dict | None:
        return self.store.get(*ident)

    def _live_dependents(self, owner_uid: str) -> list[tuple[dict, dict]]:
        """(dependent, its reference to the owner) for every stored object still pointing at the owner."""
        found = []
        for uid in self._dependents.get(owner_uid, set()).copy():
            obj = self._get(self._where[uid])
            if obj is None or obj["metadata"].get("uid") != uid:
                continue
            for ref in _refs(obj):
                if ref.get("uid") == owner_uid:
                    found.append((obj, ref))
                    break
        return found

    # --- dependents -----------------------------------------------------------------------------------

    def _attempt_to_delete(self, uid: str) -> None:
        """attemptToDeleteItem: delete a dependent left without owners, or drop its dangling references."""
        ident = self._where.get(uid)
        obj = self._get(ident) if ident else None
        if obj is None or ident is None or obj["metadata"].get("uid") != uid:
            return
        if obj["metadata"].get("deletionTimestamp"):
            if FOREGROUND in _finalizers(obj):
                self._process_owner(ident)
            return
        solid, gone, waiting = self._classify(ident[1], obj)
        if solid:
            if gone or waiting:
                self._drop_references(ident, gone | waiting)
            return
        if not gone and not waiting:
            return
        if waiting and self._live_dependents(uid):
            policy = "Foreground"
        elif ORPHAN in _finalizers(obj):
            policy = "Orphan"
        elif FOREGROUND in _finalizers(obj):
            policy = "Foreground"
        else:
            policy = "Background"
        try:
            self.api.delete(self.api.rt(ident[0]), ident[1], ident[2], propagation=policy)
        except ApiError as err:
            if err.code != 404:
                raise

    def _classify(self, namespace: str, obj: dict) -> tuple[bool, set[str], set[str]]:
        """classifyReferences: any solid owner, the uids of gone owners and of owners deleting in the foreground.

        A reference to a kind the server does not serve counts as solid: nothing proves its owner gone.
        """
        solid, gone, waiting = False, set(), set()
        for ref in _refs(obj):
            ident = self._owner_ident(namespace, ref)
            owner = self._get(ident) if ident else None
            if ident is None:
                solid = True
            elif owner is None or owner["metadata"].get("uid") != ref.get("uid"):
                gone.add(ref.get("uid", ""))
            elif owner["metadata"].get("deletionTimestamp") and FOREGROUND in _finalizers(owner):
                waiting.add(ref.get("uid", ""))
            else:
                solid = True
        return solid, gone, waiting

    def _drop_references(self, ident: Ident, owner_uids: set[str]) -> None:
        obj = self._get(ident)
        if obj is None:
            return
        updated = clone(obj)
        kept = [r for r in _refs(obj) if r.get("uid") not in owner_uids]
        set_metadata_list(updated["metadata"], "ownerReferences", kept)
        try:
            self.api.update(self.api.rt(ident[0]), ident[1], ident[2], updated)
        except ApiError as err:
            if err.code != 404:
                raise

    # --- owners being deleted -------------------------------------------------------------------------

    def _process_owner(self, ident: Ident) -> None:
        owner = self._get(ident)
        if owner is None or not owner["metadata"].get("deletionTimestamp"):
            return
        uid = owner["metadata"]["uid"]
        finalizers = _finalizers(owner)
        if ORPHAN in finalizers:
            for dependent, _ in self._live_dependents(uid):
                meta = dependent["metadata"]
                self._drop_references(self._where[meta["uid"]], {uid})
            self._remove_finalizer(ident, ORPHAN)
        elif FOREGROUND in finalizers:
            dependents = self._live_dependents(uid)
            if not any(ref.get("blockOwnerDeletion") for _, ref in dependents):
                self._remove_finalizer(ident, FOREGROUND)
                return
            for dependent, _ in dependents:
                if not dependent["metadata"].get("deletionTimestamp"):
                    self._schedule(("dependent", dependent["metadata"]["uid"]))

    def _remove_finalizer(self, ident: Ident, finalizer: str) -> None:
        owner = self._get(ident)
        if owner is None or finalizer not in _finalizers(owner):
            return
        updated = clone(owner)
        set_metadata_list(updated["metadata"], "finalizers", [f for f in _finalizers(owner) if f != finalizer])
        try:
            self.api.update(self.api.rt(ident[0]), ident[1], ident[2], updated)
        except ApiError as err:
            if err.code != 404:
                raise


CONTROLLERS = (GarbageCollector,)
