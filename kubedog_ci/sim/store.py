"""The object store: objects by storage key, one resourceVersion counter, and watch fan-out with a history window.

Every write gets the next resourceVersion and becomes a `Change` that is appended to its key's history and
pushed, under the same lock, to each matching watcher and to the internal listeners (the controllers), so every
consumer sees changes in resourceVersion order. Stored objects are never mutated in place: writers hand over a
fresh dict and readers must `clone` before changing one.

Two reads exist so that controllers scale with what they own rather than with the cluster: `owned` answers
"which objects does this controller own" from an index by controlling owner uid (the informer indexer a real
controller would use), and `changes_since` replays one key's history so a cache can catch up on what changed
instead of listing everything again.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubedog_ci.sim.owners import controller_uid

Predicate = Callable[[dict], bool]


def clone(value):
    """Deep copy of JSON-shaped data, several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


@dataclass(frozen=True)
class Change:
    """One committed write: the object after it (the last state for DELETED) and before it."""

    rv: int
    key: str
    type: str
    obj: dict
    old: dict | None


class Expired(Exception):
    """The requested resourceVersion is older than the history window (the API's 410 Gone)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")


class Watcher:
    """A subscription to one storage key; `next` returns the next matching Change, or None when closed."""

    def __init__(self, store: Store, key: str, predicate: Predicate) -> None:
        self._store = store
        self.key = key
        self.predicate = predicate
        self._queue: queue.SimpleQueue[tuple[str, Change] | None] = queue.SimpleQueue()
        self.closed = False

    def offer(self, change: Change) -> None:
        """Translate a Change into what this watcher sees (selector transitions become ADDED/DELETED)."""
        new_match = self.predicate(change.obj)
        old_match = change.old is not None and self.predicate(change.old)
        if change.type == "ADDED":
            kind = "ADDED" if new_match else None
        elif change.type == "DELETED":
            kind = "DELETED" if new_match else None
        elif new_match:
            kind = "MODIFIED" if old_match else "ADDED"
        else:
            kind = "DELETED" if old_match else None
        if kind:
            self._queue.put((kind, change))

    def next(self, timeout: float | None) -> tuple[str, Change] | None:
        """The next (event type, change); raises queue.Empty on timeout; None once closed."""
        return self._queue.get(timeout=timeout)

    def empty(self) -> bool:
        """No change is waiting to be read (call under the store lock to make that hold until released)."""
        return self._queue.empty()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._store._unwatch(self)
            self._queue.put(None)


class Store:
    """Objects by storage key and (namespace, name), with a global resourceVersion."""

    def __init__(self, history_window: int = 10_000) -> None:
        self._lock = threading.RLock()
        self._objects: dict[str, dict[tuple[str, str], dict]] = {}
        self._owned: dict[tuple[str, str, str | None], dict[tuple[str, str], dict]] = {}
        """(storage key, namespace, controller uid or None) -> the objects there, by (namespace, name)."""
        self._history: dict[str, deque[Change]] = {}
        self._dropped_rv: dict[str, int] = {}
        self._watchers: dict[str, set[Watcher]] = {}
        self._listeners: list[Callable[[Change], None]] = []
        self._window = history_window
        self._rv = 1

    @property
    def lock(self) -> threading.RLock:
        """Held by callers that need a read-then-write to be atomic (admission checks, apply)."""
        return self._lock

    @property
    def resource_version(self) -> int:
        return self._rv

    def add_listener(self, listener: Callable[[Change], None]) -> None:
        """Called under the store lock for every change; must only enqueue work."""
        with self._lock:
            self._listeners.append(listener)

    def get(self, key: str, namespace: str, name: str) -> dict | None:
        with self._lock:
            return self._objects.get(key, {}).get((namespace, name))

    def list(self, key: str, namespace: str | None = None) -> tuple[list[dict], int]:
        """Objects of a key (in one namespace, or all), sorted by namespace and name, and the list's rv."""
        with self._lock:
            bucket = self._objects.get(key, {})
            selected = bucket.items() if namespace is None else [e for e in bucket.items() if e[0][0] == namespace]
            return [obj for _, obj in sorted(selected)], self._rv

    def list_at(self, key: str, namespace: str | None, rv: int) -> list[dict]:
        """The objects of a key as they were at resourceVersion `rv` (the etcd snapshot a paginated list's
        continue token reads), sorted like `list`: the current ones with every later change of the key undone.
        Raises Expired when the history window no longer reaches back to `rv` (etcd compacted it)."""
        with self._lock:
            bucket = dict(self._objects.get(key, {}))
            for change in reversed(self.changes_since(key, rv)):
                meta = change.obj["metadata"]
                ident = (meta.get("namespace", ""), meta["name"])
                if change.type == "ADDED":
                    bucket.pop(ident, None)
                elif change.old is not None:
                    bucket[ident] = change.old
            selected = bucket.items() if namespace is None else [e for e in bucket.items() if e[0][0] == namespace]
            return [obj for _, obj in sorted(selected)]

    def owned(self, key: str, namespace: str, *owner_uids: str | None) -> list[dict]:
        """Objects of a key in `namespace` whose controlling owner has one of `owner_uids` (None: objects with
        no controlling owner), sorted by name like `list`; costs what they are, not the whole key. A uid that
        is not a string (a malformed reference's) owns nothing, as in `controller_uid`."""
        with self._lock:
            found: dict[tuple[str, str], dict] = {}
            for uid in owner_uids:
                if uid is None or isinstance(uid, str):
                    found.update(self._owned.get((key, namespace, uid), {}))
            return [obj for _, obj in sorted(found.items())]

    def changes_since(self, key: str, rv: int) -> list[Change]:
        """The changes of a key after resourceVersion `rv`, oldest first; raises Expired when the history
        window no longer holds all of them."""
        with self._lock:
            if rv < self._dropped_rv.get(key, 0):
                history = self._history.get(key)
                raise Expired(rv, (history[0].rv if history else self._rv) - 1)
            newer: list[Change] = []
            for change in reversed(self._history.get(key, ())):
                if change.rv <= rv:
                    break
                newer.append(change)
            newer.reverse()
            return newer

    def count(self, key: str, namespace: str | None = None) -> int:
        with self._lock:
            bucket = self._objects.get(key, {})
            if namespace is None:
                return len(bucket)
            return sum(1 for ns, _ in bucket if ns == namespace)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._objects)

    def create(self, key: str, obj: dict) -> dict:
        """Store a new object (KeyError when one of that name exists): an ADDED change."""
        return self._put(key, obj, exists=False)

    def replace(self, key: str, obj: dict) -> dict:
        """Store a new version of an existing object (KeyError when there is none): a MODIFIED change."""
        return self._put(key, obj, exists=True)

    def delete(self, key: str, namespace: str, name: str) -> dict:
        with self._lock:
            old = self._objects.get(key, {}).pop((namespace, name), None)
            if old is None:
                raise KeyError((namespace, name))
            final = self._stamp(old)
            self._commit(key, "DELETED", final, old)
            return final

    def watch(self, key: str, since: int | None, predicate: Predicate) -> tuple[Watcher, list[tuple[str, Change]]]:
        """Register a watcher; with `since`, also return the buffered changes after it (raises Expired)."""
        with self._lock:
            watcher = Watcher(self, key, predicate)
            backlog: list[tuple[str, Change]] = []
            if since is not None:
                for change in self.changes_since(key, since):
                    watcher.offer(change)
                while True:
                    try:
                        item = watcher._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        backlog.append(item)
            self._watchers.setdefault(key, set()).add(watcher)
            return watcher, backlog

    def watcher_count(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._watchers.values())

    def close_watchers(self, keys: Iterable[str] | None = None) -> None:
        with self._lock:
            targets = [w for k, ws in self._watchers.items() if keys is None or k in keys for w in ws]
        for watcher in targets:
            watcher.close()

    def _unwatch(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers.get(watcher.key, set()).discard(watcher)

    def _put(self, key: str, obj: dict, exists: bool) -> dict:
        with self._lock:
            meta = obj["metadata"]
            ident = (meta.get("namespace", ""), meta["name"])
            bucket = self._objects.setdefault(key, {})
            old = bucket.get(ident)
            if (old is not None) != exists:
                raise KeyError(ident)
            stored = self._stamp(obj)
            bucket[ident] = stored
            self._commit(key, "MODIFIED" if exists else "ADDED", stored, old)
            return stored

    def _stamp(self, obj: dict) -> dict:
        """A copy of `obj` with the next resourceVersion."""
        stored = clone(obj)
        self._rv += 1
        stored["metadata"]["resourceVersion"] = str(self._rv)
        return stored

    def _index(self, key: str, kind: str, obj: dict, old: dict | None) -> None:
        """Keep the owner index in step with one write, under the lock like the objects themselves."""
        ident = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        deleted = kind == "DELETED"
        owner = None if deleted else controller_uid(obj)
        if old is not None:
            previous = controller_uid(old)
            if deleted or previous != owner:
                bucket_key = (key, ident[0], previous)
                bucket = self._owned.get(bucket_key)
                if bucket is not None:
                    bucket.pop(ident, None)
                    if not bucket:
                        del self._owned[bucket_key]
        if not deleted:
            self._owned.setdefault((key, ident[0], owner), {})[ident] = obj

    def _commit(self, key: str, kind: str, obj: dict, old: dict | None) -> None:
        self._index(key, kind, obj, old)
        change = Change(self._rv, key, kind, obj, old)
        history = self._history.setdefault(key, deque())
        history.append(change)
        if len(history) > self._window:
            self._dropped_rv[key] = history.popleft().rv
        for watcher in self._watchers.get(key, ()):
            watcher.offer(change)
        for listener in self._listeners:
            listener(change)
