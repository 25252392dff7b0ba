"""A list-then-watch producer for one resource type in one namespace (or all): the engine's eyes on objects.

The engine decides verdicts from the stream of ObjectEvents, so the stream must be exactly what a
reader of the API would conclude, whatever the network does: every object of the initial list (as ADDED) and
then `Synced`; then every change once, in order. A watch that ends or drops resumes from the last
resourceVersion seen (bookmarks advance it), so nothing is replayed and nothing skipped. When the server no
longer holds that history (410 Gone) the informer lists again and emits only the difference from what it had
already reported, compared by uid and resourceVersion: a Deployment that turned Ready while the watch was away
is reported in its final state, and nothing unchanged is repeated. Transient failures are retried (see
kube.http); 401/403, or an API that stays away past `api_timeout`, end the thread with a `WatchFailed`. Each
resume and relist is told as an `ApiNote`, which only `-v` shows.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import threading
import time
from collections.abc import Callable

from kubernetes import client

from kubedog_ci.kube.discovery import Resource
from kubedog_ci.kube.http import (
    DEFAULT_API_TIMEOUT,
    TRANSPORT_ERRORS,
    ApiError,
    Backoff,
    GiveUp,
    Requester,
    Stopped,
    describe_error,
    resource_phrase,
)
from kubedog_ci.kube.messages import ApiNote, ObjectEvent, Synced, WatchFailed

WATCH_TIMEOUT_RANGE = (300, 600)
"""timeoutSeconds of each watch, drawn at random like client-go so many watchers do not all renew at once."""
STREAM_SILENCE = 90.0
"""Seconds without a byte after which a watch connection is presumed dead (the API server sends bookmarks about
every minute) and is resumed on a new connection."""
PAGE_SIZE = 500


class _Gone(Exception):
    """The watch's resourceVersion is too old (410): relist."""


class Informer(threading.Thread):
    """List then watch `resource` in `namespace` (None: all namespaces; ignored for a cluster-scoped type, but
    echoed in Synced and WatchFailed), putting ObjectEvent / Synced / WatchFailed / ApiNote on `out` until `stop` is set
    (nothing more is put then) or it gives up (WatchFailed is then the last thing it puts).

    Every object put on `out` carries `kind` and `apiVersion` (list items lack them). Event types are the
    informer's own view: ADDED for an object it had not reported, MODIFIED for a new resourceVersion of one it
    had, DELETED (with the last state it knew) for one that is gone or no longer matches the selectors.
    `relists` counts the lists after the first (410 Gone), for tests and diagnostics. `remember` picks what is kept
    of each object to compare a relist with (its resourceVersion) and to report it deleted with (default: all of
    it): a reader that needs an object only once, as the engine does Events, need not keep thousands of them.
    """

    def __init__(self, api: client.ApiClient, resource: Resource, namespace: str | None, out: queue.Queue, *,
                 label_selector: str | None = None, field_selector: str | None = None, stop: threading.Event,
                 api_timeout: float = DEFAULT_API_TIMEOUT, remember: Callable[[dict], dict] | None = None) -> None:
        where = f"{namespace}/" if namespace else ""
        super().__init__(name=f"informer {where}{resource.plural}", daemon=True)
        self.resource = resource
        self.namespace = namespace
        self.out = out
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.stop = stop
        self.relists = 0
        self._requests = Requester(api, stop, api_timeout)
        self._quiet_backoff = Backoff(0.05, 1.0)
        self._known: dict[str, dict] = {}
        self._remember = remember
        self._rv = ""
        self._what = resource_phrase(resource.plural, resource.group, namespace, resource.namespaced)

    def run(self) -> None:
        try:
            self._list_and_sync()
            while not self.stop.is_set():
                try:
                    self._watch_once()
                except _Gone:
                    self.relists += 1
                    self.out.put(ApiNote(f"watch {self._what}: resourceVersion too old (410 Gone); listing again"))
                    # A server that answers 410 even to the version it just listed would otherwise be listed
                    # in a busy loop; the delay is short unless watches keep bringing nothing.
                    self._requests.sleep(self._quiet_backoff.next())
                    self._list_and_sync()
        except Stopped:
            return
        except GiveUp as err:
            self.out.put(WatchFailed(self.resource, self.namespace, err.message, err.status))
        except Exception as err:  # a bug here must not leave the engine waiting for events that never come
            if not self.stop.is_set():
                self.out.put(WatchFailed(self.resource, self.namespace,
                                         f"internal error while watching {self._what}: {err!r}"))

    # --- list -----------------------------------------------------------------------------------------------

    def _selectors(self) -> dict[str, str]:
        query: dict[str, str] = {}
        if self.label_selector:
            query["labelSelector"] = self.label_selector
        if self.field_selector:
            query["fieldSelector"] = self.field_selector
        return query

    def _list_and_sync(self) -> None:
        """List (retrying), report the difference from what was reported before, then Synced."""
        while True:
            try:
                items, rv = self._list()
                break
            except (ApiError, *TRANSPORT_ERRORS, ValueError) as err:
                self._requests.failed(err, "list", self._what)
        self._requests.progressed()
        listed: dict[str, dict] = {}
        for obj in items:
            listed[self._key(obj)] = obj
        for key in [k for k in self._known if k not in listed]:
            self._emit("DELETED", self._known.pop(key))
        for key, obj in listed.items():
            before = self._known.get(key)
            if before is None or _rv_of(before) != _rv_of(obj):
                self._known[key] = self._remember(obj) if self._remember else obj
                self._emit("ADDED" if before is None else "MODIFIED", obj)
        self._rv = rv
        self.out.put(Synced(self.resource, self.namespace))

    def _list(self) -> tuple[list[dict], str]:
        """All pages of one consistent list; an expired continue token (410) starts the list over."""
        path = self.resource.path(self.namespace)
        while True:
            items: list[dict] = []
            query = {**self._selectors(), "limit": str(PAGE_SIZE)}
            rv = ""
            try:
                while True:
                    page = self._requests.get_json(path, query)
                    meta = page.get("metadata") or {}
                    rv = rv or str(meta.get("resourceVersion") or "")
                    for obj in page.get("items") or []:
                        obj.setdefault("kind", self.resource.kind)
                        obj.setdefault("apiVersion", self.resource.api_version)
                        items.append(obj)
                    token = meta.get("continue")
                    if not token:
                        return items, rv
                    query = {**query, "continue": str(token)}
            except ApiError as err:
                if err.status != 410 or "continue" not in query:
                    raise

    # --- watch ----------------------------------------------------------------------------------------------

    def _watch_once(self) -> None:
        """One watch connection from the last resourceVersion: returns when it ends or after a failure's back-off.

        Raises _Gone for 410 (an HTTP status or an ERROR event), Stopped, or GiveUp.
        """
        query = {**self._selectors(), "watch": "true", "resourceVersion": self._rv, "allowWatchBookmarks": "true",
                 "timeoutSeconds": str(random.randint(*WATCH_TIMEOUT_RANGE))}
        started = time.monotonic()
        received = 0
        try:
            response = self._requests.open(self.resource.path(self.namespace), query, read_timeout=STREAM_SILENCE)
            with contextlib.closing(self._requests.stream_chunks(response)) as chunks:
                buffer = b""
                for chunk in chunks:
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line.strip():
                            self._handle(json.loads(line))
                            received += 1
                            self._requests.progressed()
                            self._quiet_backoff.reset()
        except ApiError as err:
            if err.status == 410:
                raise _Gone from err
            self._requests.failed(err, "watch", self._what)
            self._resuming(describe_error(err))
            return
        except (*TRANSPORT_ERRORS, ValueError) as err:
            if self.stop.is_set():
                raise Stopped from None
            self._requests.failed(err, "watch", self._what)
            self._resuming(describe_error(err))
            return
        # A clean end (timeoutSeconds, or the server closing the watch): resume at once, unless the server keeps
        # closing empty watches immediately, which would otherwise become a busy loop.
        if received or time.monotonic() - started >= 1.0:
            self._quiet_backoff.reset()
        else:
            self._requests.sleep(self._quiet_backoff.next())
        if not self.stop.is_set():
            self._resuming("connection closed")

    def _resuming(self, why: str) -> None:
        """Tell -v that the watch ended and is about to resume (after the back-off, if any)."""
        self.out.put(ApiNote(f"watch {self._what}: {why}; resuming from resourceVersion {self._rv}"))

    def _handle(self, event: dict) -> None:
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            raise ValueError(f"watch event without an object: {str(event)[:200]}")
        if kind == "ERROR":
            error = ApiError.from_status(obj)
            if error.status == 410:
                raise _Gone
            raise error
        rv = _rv_of(obj)
        if kind == "BOOKMARK":
            if rv:
                self._rv = rv
            return
        obj.setdefault("kind", self.resource.kind)
        obj.setdefault("apiVersion", self.resource.api_version)
        key = self._key(obj)
        before = self._known.get(key)
        if kind == "DELETED":
            if before is not None:
                del self._known[key]
                self._emit("DELETED", obj)
        elif kind in ("ADDED", "MODIFIED") and (before is None or _rv_of(before) != rv):
            self._known[key] = self._remember(obj) if self._remember else obj
            self._emit("ADDED" if before is None else "MODIFIED", obj)
        if rv:
            self._rv = rv

    def _emit(self, kind: str, obj: dict) -> None:
        self.out.put(ObjectEvent(self.resource, kind, obj))

    @staticmethod
    def _key(obj: dict) -> str:
        meta = obj.get("metadata") or {}
        return str(meta.get("uid") or f"{meta.get('namespace', '')}/{meta.get('name', '')}")


def _rv_of(obj: dict) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
