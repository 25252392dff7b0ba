"""What every simulated controller shares: the context it works in and a keyed, de-duplicated work queue.

Controllers run only on the simulation loop's thread. The store notifies them of every change (under its
lock, so they only enqueue), `keys_for` maps a change to the primary objects to reconcile, and `sync` does
one reconcile pass by reading the store and writing through the Api, like a real controller's informer,
work queue and sync handler.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kubedog_ci.sim.api import Api
from kubedog_ci.sim.authn import TokenIssuer
from kubedog_ci.sim.config import SimConfig
from kubedog_ci.sim.events import EventRecorder
from kubedog_ci.sim.logs import LogStore
from kubedog_ci.sim.loop import SimLoop
from kubedog_ci.sim.owners import controller_of
from kubedog_ci.sim.selectors import matches_label_selector
from kubedog_ci.sim.store import Change, Store

Key = tuple[str, str]
"""(namespace, name) of a primary object; namespace is "" for cluster-scoped ones."""


@dataclass
class Context:
    """Everything a controller may touch."""

    api: Api
    store: Store
    loop: SimLoop
    events: EventRecorder
    logs: LogStore
    config: SimConfig
    tokens: TokenIssuer = field(default_factory=TokenIssuer)
    """Signs ServiceAccount tokens (the token controller's, in Secrets); the API server checks them."""
    shared: dict = field(default_factory=dict)
    """Cross-controller state that is not API state (the ReplicaSet controller's queued keys), by name."""


class Controller:
    """Base class: subclasses set `watches` (storage keys) and implement `keys_for` and `sync`."""

    name = "controller"
    watches: tuple[str, ...] = ()

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.api = ctx.api
        self.store = ctx.store
        self.loop = ctx.loop
        self._pending: set[Key] = set()

    def keys_for(self, change: Change) -> Iterable[Key]:
        """The primary objects a change concerns; default: the changed object itself."""
        meta = change.obj["metadata"]
        return [(meta.get("namespace", ""), meta["name"])]

    def sync(self, namespace: str, name: str) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Called once on the loop thread after every controller is registered."""

    def on_change(self, change: Change) -> None:
        for key in self.keys_for(change):
            self.enqueue(key)

    def enqueue(self, key: Key, after: float = 0.0) -> None:
        """Reconcile `key` soon (or after `after` simulated seconds); repeated requests collapse into one."""
        if after > 0:
            self.loop.call_later(after, self.enqueue, key)
            return
        if key in self._pending:
            return
        self._pending.add(key)
        self.loop.call_soon(self._run, key)

    def _run(self, key: Key) -> None:
        self._pending.discard(key)
        self.sync(*key)

    def adopters(self, owner_key: str, orphan: dict) -> list[Key]:
        """Objects of `owner_key` in the orphan's namespace whose selector matches its labels: those that may
        adopt it."""
        namespace = orphan["metadata"].get("namespace", "")
        labels = orphan["metadata"].get("labels") or {}
        owners, _ = self.store.list(owner_key, namespace)
        return [(namespace, o["metadata"]["name"]) for o in owners
                if matches_label_selector((o.get("spec") or {}).get("selector"), labels)]

    def owner_key(self, obj: dict, kind: str) -> Key | None:
        """(namespace, name) of the controlling owner of `obj` when that owner is of `kind`."""
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != kind:
            return None
        return obj["metadata"].get("namespace", ""), ref["name"]


class Manager:
    """Routes store changes to the controllers that watch their keys, on the loop thread."""

    def __init__(self, ctx: Context, controllers: list[Controller]) -> None:
        self.ctx = ctx
        self.controllers = controllers
        self._by_key: dict[str, list[Controller]] = {}
        for controller in controllers:
            for key in controller.watches:
                self._by_key.setdefault(key, []).append(controller)
        ctx.store.add_listener(self._notify)

    def _notify(self, change: Change) -> None:
        targets = self._by_key.get(change.key)
        if targets:
            self.ctx.loop.call_soon(self._dispatch, targets, change)

    @staticmethod
    def _dispatch(targets: list[Controller], change: Change) -> None:
        for controller in targets:
            controller.on_change(change)

    def start(self) -> None:
        for controller in self.controllers:
            self.ctx.loop.call_soon(controller.start)
