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

Lists are paginated as kubectl's are (`limit`, then `continue` tokens, 500 objects a page), and each page is
reported as it arrives, so a namespace of thousands is never held whole in memory; an expired continue token (410
Gone: the snapshot the pages are read from was compacted) starts the list over, and only the difference from
what was already reported is reported again.

A collection of which only what happens from now on is wanted (Events: the engine drops those older than its
run) is not listed at all: `since` is the resourceVersion to watch it from, taken before the run began (or, when
empty, now, by a list with `limit=1` whose answer carries the collection's version and a single object), and the
watch replays whatever happened since that version. The promises above hold, but for one: when the server no
longer holds the history from that version (410 Gone, after an outage longer than its watch cache keeps), a new
version is taken the same way and what happened in between is not seen, as it is not by `kubectl get events -w`
or any other watch; the ApiNote says so.
"""

from __future__ import annotations

import contextlib
import functools
import json
import queue
import random
import re
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
from kubedog_ci.kube.messages import ApiNote, ObjectEvent, Selector, Synced, WatchFailed

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
    `relists` counts the recoveries from 410 Gone (a list after the first; with `since`, a new version taken), for
    tests and diagnostics. `remember` picks what is kept
    of each object to compare a relist with (its resourceVersion) and to report it deleted with (default: all of
    it): a reader that needs an object only once, as the engine does Events, need not keep thousands of them.
    `trim` picks what is reported of each object (default: all of it), so what no reader needs is dropped as soon
    as it is decoded. `since` (None: list, then watch): not listed, but watched from that resourceVersion ("":
    from the collection's version now), Synced at once (see the module docstring). `selector` is echoed in every
    ObjectEvent, Synced and WatchFailed, so a reader of many watches of one type knows which one spoke.
    """

    def __init__(self, api: client.ApiClient, resource: Resource, namespace: str | None, out: queue.Queue, *,
                 label_selector: str | None = None, field_selector: str | None = None, stop: threading.Event,
                 api_timeout: float = DEFAULT_API_TIMEOUT, remember: Callable[[dict], dict] | None = None,
                 trim: Callable[[dict], dict] | None = None, since: str | None = None) -> None:
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
        self._trim = trim
        self._since = since
        self.selector = Selector(label_selector or "", field_selector or "")
        self._rv = ""
        self._what = resource_phrase(resource.plural, resource.group, namespace, resource.namespaced, self.selector)

    def run(self) -> None:
        try:
            if self._since is None:
                self._list_and_sync()
            else:
                self._rv = self._since or self._current_version()
                self.out.put(Synced(self.resource, self.namespace, self.selector))
            while not self.stop.is_set():
                try:
                    self._watch_once()
                except _Gone:
                    self.relists += 1
                    # A server that answers 410 even to the version it just listed would otherwise be listed
                    # in a busy loop; the delay is short unless watches keep bringing nothing.
                    if self._since is None:
                        self.out.put(ApiNote(f"watch {self._what}: resourceVersion too old (410 Gone); listing again"))
                        self._requests.sleep(self._quiet_backoff.next())
                        self._list_and_sync()
                    else:
                        self._requests.sleep(self._quiet_backoff.next())
                        gone_from, self._rv = self._rv, self._current_version()
                        self.out.put(ApiNote(f"watch {self._what}: resourceVersion {gone_from} too old (410 Gone); "
                                             f"watching from {self._rv}: what happened in between is not seen"))
        except Stopped:
            return
        except GiveUp as err:
            self.out.put(WatchFailed(self.resource, self.namespace, err.message, err.status, self.selector))
        except Exception as err:  # a bug here must not leave the engine waiting for events that never come
            if not self.stop.is_set():
                self.out.put(WatchFailed(self.resource, self.namespace,
                                         f"internal error while watching {self._what}: {err!r}",
                                         selector=self.selector))

    # --- list -----------------------------------------------------------------------------------------------

    def _selectors(self) -> dict[str, str]:
        query: dict[str, str] = {}
        if self.label_selector:
            query["labelSelector"] = self.label_selector
        if self.field_selector:
            query["fieldSelector"] = self.field_selector
        return query

    def _current_version(self) -> str:
        """The collection's resourceVersion now, from a list of one object (retrying)."""
        query = {**self._selectors(), "limit": "1"}
        while True:
            try:
                page = self._requests.get_json(self.resource.path(self.namespace), query)
                rv = str((page.get("metadata") or {}).get("resourceVersion") or "")
                if not rv:
                    raise ValueError(f"a list of {self._what} without a resourceVersion")
                break
            except (ApiError, *TRANSPORT_ERRORS, ValueError) as err:
                self._requests.failed(err, "list", self._what)
        self._requests.progressed()
        return rv

    def _list_and_sync(self) -> None:
        """List (retrying), report the difference from what was reported before, then Synced."""
        while True:
            try:
                listed, rv = self._list()
                break
            except (ApiError, *TRANSPORT_ERRORS, ValueError) as err:
                self._requests.failed(err, "list", self._what)
        self._requests.progressed()
        for key in [k for k in self._known if k not in listed]:
            self._emit("DELETED", self._known.pop(key))
        self._rv = rv
        self.out.put(Synced(self.resource, self.namespace, self.selector))

    def _list(self) -> tuple[set[str], str]:
        """All pages of one consistent list, each object reported as it arrives when it is new or changed; the
        keys listed and the list's resourceVersion. An expired continue token (410) starts the list over."""
        path = self.resource.path(self.namespace)
        while True:
            listed: set[str] = set()
            query = {**self._selectors(), "limit": str(PAGE_SIZE)}
            rv = ""
            try:
                while True:
                    page = decode_list(self._requests.get_bytes(path, query),
                                       functools.partial(self._listed, listed=listed))
                    meta = page.get("metadata") or {}
                    rv = rv or str(meta.get("resourceVersion") or "")
                    token = meta.get("continue")
                    if not token:
                        return listed, rv
                    query = {**query, "continue": str(token)}
            except ApiError as err:
                if err.status != 410 or "continue" not in query:
                    raise
                self.out.put(ApiNote(f"list {self._what}: the continue token expired (410 Gone); listing again"))

    def _listed(self, obj: object, listed: set[str]) -> None:
        """One object of a list: reported if it is new or changed since it was last reported."""
        if not isinstance(obj, dict):
            raise ValueError(f"a list item that is not an object: {str(obj)[:200]}")
        obj.setdefault("kind", self.resource.kind)
        obj.setdefault("apiVersion", self.resource.api_version)
        key = self._key(obj)
        listed.add(key)
        before = self._known.get(key)
        if before is None or _rv_of(before) != _rv_of(obj):
            self._known[key] = self._remember(obj) if self._remember else obj
            self._emit("ADDED" if before is None else "MODIFIED", obj)

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
        self.out.put(ObjectEvent(self.resource, kind, self._trim(obj) if self._trim else obj, self.selector))

    @staticmethod
    def _key(obj: dict) -> str:
        meta = obj.get("metadata") or {}
        return str(meta.get("uid") or f"{meta.get('namespace', '')}/{meta.get('name', '')}")


def _rv_of(obj: dict) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


_DECODE = json.JSONDecoder().raw_decode
_SPACE = re.compile(r"[ \t\n\r]*")


def decode_list(data: bytes, each: Callable[[object], None]) -> dict:
    """A list answer (a JSON object) without its `items`, each of which is handed to `each` as soon as it is decoded:
    a page of five hundred Pods is never in memory as objects all at once, only as text and one object at a time.
    Raises ValueError for anything but a JSON object."""
    text = data.decode("utf-8")
    found: dict = {}
    try:
        at = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
        if text[at] != "{":
            raise ValueError("not a JSON object")
        at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
        if text[at] == "}":
            return found
        while True:
            key, at = _DECODE(text, at)
            at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
            if text[at] != ":":
                raise ValueError(f"expected ':' at {at}")
            at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
            if key == "items" and text[at] == "[":
                at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
                while text[at] != "]":
                    item, at = _DECODE(text, at)
                    each(item)
                    at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
                    if text[at] == ",":
                        at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
                    elif text[at] != "]":
                        raise ValueError(f"expected ',' or ']' at {at}")
                at += 1
            else:
                found[key], at = _DECODE(text, at)
            at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
            if text[at] == "}":
                return found
            if text[at] != ",":
                raise ValueError(f"expected ',' or '}}' at {at}")
            at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
    except IndexError:
        raise ValueError("the JSON text ends early") from None
