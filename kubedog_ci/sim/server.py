"""The HTTP face of the simulated cluster: the Kubernetes REST API over HTTP/1.1, plain or (`--tls`) HTTPS.

Routing follows the real URL scheme (`/api/v1/namespaces/NS/pods/NAME/log`, `/apis/GROUP/VERSION/...`, and the
legacy `/watch/` prefix). Watches and followed logs are chunked streams, like the real server's. Authentication
(authn.py), authorization (rbac.py, with the deny rules) and fault injection happen here, before a request reaches
the Api, in the real server's order: 401, then 403, then 404. Every request is counted so benchmarks can report
what a client cost the API server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import queue
import random
import select
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

from kubedog_ci.sim import authn, errors, openapi, protobuf, rbac, tables
from kubedog_ci.sim.api import Api
from kubedog_ci.sim.authn import TokenIssuer, UserInfo
from kubedog_ci.sim.clock import Clock
from kubedog_ci.sim.config import SimConfig
from kubedog_ci.sim.errors import ApiError
from kubedog_ci.sim.events import from_events_v1, to_events_v1
from kubedog_ci.sim.logs import LogStore, parse_rfc3339_ns
from kubedog_ci.sim.protobuf import ProtobufError
from kubedog_ci.sim.resources import REVIEWS, ResourceType
from kubedog_ci.sim.selectors import Predicate, SelectorError, kind_field_selector, parse_label_selector
from kubedog_ci.sim.store import Expired, clone

try:
    _YamlLoader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _YamlLoader = yaml.SafeLoader

VERSION_INFO = {
    "major": "1", "minor": "34", "gitVersion": "v1.34.0-kubedog-sim", "gitCommit": "0" * 40,
    "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.0",
    "compiler": "gc", "platform": "linux/amd64", "emulationMajor": "1", "emulationMinor": "34",
    "minCompatibilityMajor": "1", "minCompatibilityMinor": "33",
}
BOOKMARK_INTERVAL = 60.0
"""Simulated seconds between watch bookmarks: the watch cache's bookmark frequency, scaled by the time scale."""
BOOKMARK_BEFORE_DEADLINE = 2.0
"""Real seconds before a watch's deadline at which the watch cache sends its last bookmark."""
_RETURNS_DELETED_OBJECT = {"/pods", "/podtemplates", "/persistentvolumeclaims", "/persistentvolumes",
                           "/resourcequotas", "/services", "/serviceaccounts", "/namespaces",
                           "storage.k8s.io/storageclasses"}
"""Kinds whose registry sets ReturnDeletedObject (the OpenAPI spec types their DELETE answer as the object;
a namespace is never deleted at once and so is answered with itself)."""
_PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}


@dataclass
class Stats:
    """What clients cost the API server: requests by verb, connections, watches open."""

    requests: Counter = field(default_factory=Counter)
    bytes_sent: Counter = field(default_factory=Counter)
    """Body bytes sent, by the verb of the request that asked (a watch's or a followed log's as they stream; a
    response's headers and chunk framing left out): what a client read from the API."""
    connections_total: int = 0
    connections_open: int = 0
    watches_open: int = 0
    watches_total: int = 0
    log_streams_open: int = 0
    faults: Counter = field(default_factory=Counter)
    """Injected faults by name (watch-drop, gone, http-error, latency, log-cut): proof that a test's fault hit."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict:
        with self.lock:
            return {"requests": dict(self.requests), "requests_total": sum(self.requests.values()),
                    "bytes_sent": dict(self.bytes_sent), "bytes_sent_total": sum(self.bytes_sent.values()),
                    "connections_total": self.connections_total, "connections_open": self.connections_open,
                    "watches_open": self.watches_open, "watches_total": self.watches_total,
                    "log_streams_open": self.log_streams_open, "faults": dict(self.faults)}


@dataclass
class Route:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str
    watch: bool


class _Abort(Exception):
    """The connection must be dropped without a proper end (an injected cut)."""


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], api: Api, logs: LogStore, config: SimConfig,
                 tls: ssl.SSLContext | None = None, tokens: TokenIssuer | None = None) -> None:
        super().__init__(address, SimHandler)
        self.api = api
        self.logs = logs
        self.config = config
        self.tls = tls
        self.tokens = tokens or TokenIssuer(api.loop.clock)
        self.authorizer = rbac.Authorizer(api.store, config.deny)
        self.stats = Stats()
        self.stopping = threading.Event()

    def get_request(self) -> tuple[socket.socket, Any]:
        """With TLS, each connection is wrapped here and shakes hands on its first read, in its own thread: a
        slow or failing client (one that does not trust the certificate) never holds up the others."""
        connection, address = super().get_request()
        if self.tls is not None:
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def process_request_thread(self, request, client_address) -> None:
        with self.stats.lock:
            self.stats.connections_total += 1
            self.stats.connections_open += 1
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.stats.lock:
                self.stats.connections_open -= 1

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up (a watcher stopping, a process exiting) or refuses the TLS certificate is normal;
        anything else is reported."""
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SimHTTPServer
    user: UserInfo
    """Who sent the request being handled (see authn.py)."""
    attrs: rbac.Attributes
    """What it asks for, as the authorizer saw it."""
    _verb_counted = "other"
    """The verb the request being handled was counted under (Stats.requests), so its bytes are counted with it."""

    def setup(self) -> None:
        """Disable Nagle: a response's headers and body go out as separate writes, and a client's delayed ACK
        would otherwise hold the body back for 40 ms on every keep-alive request."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default access log; the simulator counts requests instead."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- plumbing ---------------------------------------------------------------------------------------

    @property
    def api(self) -> Api:
        return self.server.api

    @property
    def config(self) -> SimConfig:
        return self.server.config

    @property
    def clock(self) -> Clock:
        return self.api.loop.clock

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header every response carries, in the cluster's clock (a shifted one with --clock-offset)."""
        return super().date_time_string(self.clock.time() if timestamp is None else timestamp)

    def _handle(self, method: str) -> None:
        self._verb_counted = "other"
        parsed = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        body = self._read_body()
        faults = self.config.faults
        try:
            if faults.latency:
                self._injected("latency")
                time.sleep(faults.latency)
            self.user = authn.authenticate(self.headers.get("Authorization", ""), self.config, self.api.store,
                                           self.server.tokens)
            self.attrs = rbac.request_attributes(self.user, method, parsed.path or "/", query)
            self._authorize()
            self._route(method, parsed.path.rstrip("/") or "/", query, body)
        except _Abort:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        except ApiError as err:
            self._send_json(err.code, err.status, err.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _count(self, verb: str) -> None:
        self._verb_counted = verb
        with self.server.stats.lock:
            self.server.stats.requests[verb] += 1

    def _sent(self, size: int) -> None:
        with self.server.stats.lock:
            self.server.stats.bytes_sent[self._verb_counted] += size

    def _injected(self, fault: str) -> None:
        with self.server.stats.lock:
            self.server.stats.faults[fault] += 1

    def _send_json(self, code: int, payload: object, headers: dict[str, str] | None = None) -> None:
        """An answer as the API server's JSON serializer writes it: Go's json.Encoder, which ends it with a
        newline (objects, lists, Tables, Status errors and discovery alike)."""
        self._send_body(code, encode_json(payload) + b"\n", headers)

    def _send_body(self, code: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self._sent(len(data))

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            self._sent(len(data))

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _client_gone(self) -> bool:
        """True when the peer closed its end (a readable socket with nothing to read). Over TLS, anything to read
        during a stream is the client's close: TLS 1.3 encrypts its close_notify like data, and an HTTP/1.1 client
        sends nothing else before the response ends. The bytes are peeked below TLS, whose state another thread
        may be writing."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return socket.socket.recv(self.connection, 1, socket.MSG_PEEK) == b"" or self.server.tls is not None
        except (OSError, ValueError):
            return True

    # --- routing ----------------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        if path == "/version":  # WriteRawJSON: json.MarshalIndent, no trailing newline
            self._count("discovery")
            return self._send_body(200, encode_json(VERSION_INFO, indent=2))
        if path == "/openapi/v3" or path.startswith("/openapi/v3/"):
            self._count("discovery")
            rest = path.removeprefix("/openapi/v3")
            doc = openapi.group_version(self.api.registry, rest) if rest else openapi.root(self.api.registry)
            if doc is None:
                raise errors.path_not_found()
            return self._send_body(200, encode_json(doc))  # kube-openapi serves json.Marshal's bytes as they are
        if path in ("/healthz", "/livez", "/readyz"):
            self._count("discovery")
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self._sent(len(data))
            return None
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        registry = self.api.registry
        if parts == ["api"]:
            self._count("discovery")
            return self._send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.server.server_address[1]}"}]})
        if parts == ["apis"]:
            self._count("discovery")
            return self._send_json(200, registry.group_list())
        if (parts[0] == "api" and len(parts) == 2) or (parts[0] == "apis" and len(parts) in (2, 3)):
            self._count("discovery")
            if parts[0] == "apis" and len(parts) == 2:
                doc = registry.group_doc(parts[1])
            else:
                group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
                doc = registry.resource_list(group, version)
            if doc is None:
                raise errors.path_not_found()
            return self._send_json(200, doc)
        route = self._parse(parts, query)
        if route is None:
            self._count("other")
            raise errors.path_not_found()
        verb = self._verb(method, route)
        self._count(verb)
        if not route.subresource and verb not in route.rt.verbs:
            raise errors.method_not_allowed()
        faults = self.config.faults
        if faults.chance(faults.http_error) and route.subresource != "log":
            self._injected("http-error")
            raise _injected_error()
        return self._dispatch(verb, route, query, body)

    def _parse(self, parts: list[str], query: dict[str, str]) -> Route | None:
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        watch = query.get("watch") in ("true", "1")
        if rest and rest[0] == "watch":
            watch, rest = True, rest[1:]
        namespace = None
        lookup = self.api.registry.lookup
        if len(rest) >= 3 and rest[0] == "namespaces" and lookup(group, version, rest[2]) is not None:
            namespace, rest = rest[1], rest[2:]
        if not rest:
            return None
        rt = lookup(group, version, rest[0])
        if rt is None:
            return None
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or (sub and sub not in rt.subresources):
            return None
        if rt.namespaced and name and namespace is None:
            return None
        return Route(rt, namespace, name, sub, watch)

    @staticmethod
    def _verb(method: str, route: Route) -> str:
        if method == "GET":
            if route.watch:
                return "watch"
            return "get" if route.name else "list"
        if method == "DELETE":
            return "delete" if route.name else "deletecollection"
        return {"POST": "create", "PUT": "update", "PATCH": "patch"}[method]

    def _authorize(self) -> None:
        """401 came first; now 403 unless RBAC (or system:masters) allows it and no deny rule forbids it. A
        refused request is counted like any other."""
        try:
            self.server.authorizer.check(self.attrs)
        except ApiError:
            self._count(self.attrs.verb if self.attrs.resource_request else "other")
            raise

    # --- verbs ------------------------------------------------------------------------------------------

    def _dispatch(self, verb: str, route: Route, query: dict[str, str], body: bytes) -> None:
        rt, namespace = route.rt, route.namespace or ""
        dry_run = query.get("dryRun") == "All"
        manager = query.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0]
        if route.subresource == "log":
            return self._logs(namespace, route.name or "", query)
        if rt.key in REVIEWS:
            return self._send_json(201, self._review(rt, self._incoming(rt, self._body(body))))
        if route.subresource == "token":
            return self._send_json(201, authn.token_request(self.api.store, self.server.tokens, namespace,
                                                            route.name or "", self._incoming(rt, self._body(body))))
        if verb == "watch":
            return self._watch(route, query)
        if verb == "list":
            return self._list(route, query)
        if verb == "get":
            obj = self.api.get(rt, namespace, route.name or "")
            if route.subresource == "scale":
                return self._send_json(200, self.api.scale_of(obj))
            return self._send_obj(200, rt, obj)
        if verb == "deletecollection":
            return self._delete_collection(route, query)
        if verb == "delete":
            options = self._body(body) if body else {}
            obj = self.api.delete(
                rt, namespace, route.name or "",
                propagation=query.get("propagationPolicy") or options.get("propagationPolicy"),
                grace_seconds=_int(query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))),
                dry_run=dry_run or options.get("dryRun") == ["All"],
                preconditions=options.get("preconditions"))
            return self._send_deleted(rt, obj)
        if verb == "create":
            payload = self._incoming(rt, self._body(body))
            if route.subresource == "binding":
                return self._bind(route, payload)
            if route.subresource == "eviction":
                self.api.delete(rt, namespace, route.name or "")
                return self._send_json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                             "status": "Success", "code": 201})
            obj = self.api.create(rt, namespace or None, payload, dry_run=dry_run, field_manager=manager)
            return self._send_obj(201, rt, obj)
        if verb == "update":
            payload = self._incoming(rt, self._body(body))
            obj = self.api.update(rt, namespace, route.name or "", payload, subresource=route.subresource,
                                  dry_run=dry_run, field_manager=manager)
            return self._send_sub(route, obj)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        patch_type = _PATCH_TYPES.get(content_type)
        if patch_type is None:
            raise errors.unsupported_media_type(content_type)
        document = _decode_yaml(body) if patch_type == "apply" else _decode(body)
        existed = self.api.store.get(rt.key, namespace, route.name or "") is not None
        if not existed and patch_type == "apply":
            self._authorize_create_on_update()
        obj = self.api.patch(rt, namespace, route.name or "", patch_type, document, subresource=route.subresource,
                             dry_run=dry_run, field_manager=query.get("fieldManager") or
                             (manager if patch_type != "apply" else None),
                             force=query.get("force") == "true")
        if route.subresource == "scale":
            return self._send_json(200, self.api.scale_of(obj))
        return self._send_obj(200 if existed else 201, rt, obj)

    def _review(self, rt: ResourceType, payload: dict) -> dict:
        """The answer to a SelfSubject*Review: about the requester, never stored."""
        if rt.plural == "selfsubjectaccessreviews":
            return rbac.access_review(self.server.authorizer, self.user, payload)
        if rt.plural == "selfsubjectrulesreviews":
            return rbac.rules_review(self.server.authorizer, self.user, payload)
        return authn.self_subject_review(self.user)

    def _authorize_create_on_update(self) -> None:
        """An apply that creates the object needs `create` as well as `patch` (the handler's withAuthorization)."""
        create = dataclasses.replace(self.attrs, verb="create")
        decision = self.server.authorizer.decide(create)
        if not decision.allowed:
            raise rbac.forbidden_on_update(create, decision.reason)

    def _body(self, body: bytes) -> dict:
        """A create/update/delete body in JSON, YAML or (built-in kinds that kubectl create sends) protobuf."""
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type == protobuf.CONTENT_TYPE:
            try:
                return protobuf.decode(body)
            except ProtobufError as err:
                raise errors.unsupported_body(content_type, str(err)) from err
        if content_type not in ("", "application/json", "application/yaml"):
            raise errors.unsupported_body(content_type)
        return _decode_yaml(body) if content_type == "application/yaml" else _decode(body)

    def _send_deleted(self, rt: ResourceType, obj: dict) -> None:
        """The generic store's finalizeDelete: an object removed at once is answered with a Success Status
        naming it, unless the kind returns the deleted object; one still being deleted is returned as it is."""
        meta = obj["metadata"]
        stored = self.api.store.get(rt.key, meta.get("namespace", ""), meta["name"])
        pending = stored is not None and bool(meta.get("deletionTimestamp") or meta.get("finalizers"))
        if pending or rt.key in _RETURNS_DELETED_OBJECT:
            return self._send_obj(200, rt, obj)
        details = {"name": meta["name"], **({"group": rt.group} if rt.group else {}), "kind": rt.plural,
                   "uid": meta.get("uid", "")}
        return self._send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                     "details": details})

    def _send_sub(self, route: Route, obj: dict) -> None:
        if route.subresource == "scale":
            return self._send_json(200, self.api.scale_of(obj))
        return self._send_obj(200, route.rt, obj)

    def _incoming(self, rt: ResourceType, payload: object) -> dict:
        if not isinstance(payload, dict):
            raise errors.bad_request("the body of the request must be an object")
        return from_events_v1(payload) if rt.group == "events.k8s.io" else payload

    def _present(self, rt: ResourceType, obj: dict) -> dict:
        return to_events_v1(obj) if rt.group == "events.k8s.io" else obj

    def _send_obj(self, code: int, rt: ResourceType, obj: dict) -> None:
        if self._wants_table():
            return self._send_json(code, tables.to_table(rt, [self._present(rt, obj)], self._include_object(),
                                                         obj["metadata"].get("resourceVersion", ""),
                                                         now=self.clock.now()))
        return self._send_json(code, self._present(rt, obj))

    def _wants_table(self) -> bool:
        return "as=Table" in (self.headers.get("Accept") or "")

    def _include_object(self) -> str:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        return (query.get("includeObject") or ["Metadata"])[-1]

    def _bind(self, route: Route, binding: dict) -> None:
        node = (binding.get("target") or {}).get("name")
        pod = clone(self.api.get(route.rt, route.namespace or "", route.name or ""))
        if pod["spec"].get("nodeName"):
            raise ApiError(409, "Conflict", f'pod {route.name} is already assigned to node '
                           f'"{pod["spec"]["nodeName"]}"')
        pod["spec"]["nodeName"] = node
        self.api.update(route.rt, route.namespace or "", route.name or "", pod)
        self._send_json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "code": 201})

    def _list(self, route: Route, query: dict[str, str]) -> None:
        rt = route.rt
        result = self.api.list(rt, route.namespace, query.get("labelSelector"), _field_selector(rt, query),
                               _int(query.get("limit")) or 0, query.get("continue", ""))
        items = [self._present(rt, o) for o in result.items]
        if self._wants_table():
            return self._send_json(200, tables.to_table(rt, items, self._include_object(),
                                                        str(result.resource_version), result.continue_token,
                                                        now=self.clock.now()))
        meta: dict = {"resourceVersion": str(result.resource_version)}
        if result.continue_token:
            meta["continue"] = result.continue_token
            meta["remainingItemCount"] = result.remaining
        return self._send_json(200, {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta,
                                     "items": [_list_item(rt, o) for o in items]})

    def _delete_collection(self, route: Route, query: dict[str, str]) -> None:
        rt = route.rt
        result = self.api.list(rt, route.namespace, query.get("labelSelector"), _field_selector(rt, query))
        deleted = []
        for obj in result.items:
            meta = obj["metadata"]
            with contextlib.suppress(ApiError):
                deleted.append(self.api.delete(rt, meta.get("namespace", ""), meta["name"],
                                               propagation=query.get("propagationPolicy")))
        self._send_json(200, {"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                              "metadata": {"resourceVersion": str(self.api.store.resource_version)},
                              "items": [_list_item(rt, self._present(rt, o)) for o in deleted]})

    # --- watch ------------------------------------------------------------------------------------------

    def _watch(self, route: Route, query: dict[str, str]) -> None:
        rt = route.rt
        try:
            labels_ok = parse_label_selector(query.get("labelSelector"))
        except SelectorError as err:
            raise errors.bad_request(str(err)) from err
        fields_ok = _field_selector(rt, query)
        namespace = route.namespace if rt.namespaced else None
        name = route.name

        def predicate(obj: dict) -> bool:
            meta = obj["metadata"]
            if namespace is not None and meta.get("namespace") != namespace:
                return False
            if name is not None and meta.get("name") != name:
                return False
            return labels_ok(meta.get("labels") or {}) and fields_ok(obj)

        raw_rv = query.get("resourceVersion", "")
        initial_events = query.get("sendInitialEvents") == "true"
        faults = self.config.faults
        store = self.api.store
        initial: list[dict] = []
        initial_end: str | None = None
        try:
            with store.lock:
                if raw_rv in ("", "0") or initial_events:
                    objects, rv = store.list(rt.key, namespace)
                    initial = [o for o in objects if predicate(o)]
                    initial_end = str(rv) if initial_events else None
                    watcher, backlog = store.watch(rt.key, rv, predicate)
                else:
                    since = int(raw_rv) if raw_rv.isdigit() else -1
                    if since < 0:
                        raise errors.bad_request(f'invalid resource version: "{raw_rv}"')
                    if faults.chance(faults.gone):
                        self._injected("gone")
                        raise Expired(since, store.resource_version)
                    watcher, backlog = store.watch(rt.key, since, predicate)
        except Expired as err:
            self._start_stream("application/json")
            status = errors.gone(str(err)).status
            self._chunk(encode_json({"type": "ERROR", "object": status}) + b"\n")
            self._end_stream()
            return
        with self.server.stats.lock:
            self.server.stats.watches_open += 1
            self.server.stats.watches_total += 1
        try:
            self._stream_watch(rt, query, watcher, initial, backlog, initial_end)
        finally:
            watcher.close()
            with self.server.stats.lock:
                self.server.stats.watches_open -= 1

    def _stream_watch(self, rt: ResourceType, query: dict[str, str], watcher, initial: list[dict],
                      backlog: list, initial_end: str | None) -> None:
        timeout = _int(query.get("timeoutSeconds"))
        now = time.monotonic()
        deadline = now + (timeout if timeout is not None else random.uniform(1800, 3600))
        drop_after = self.config.faults.upto(self.config.faults.watch_drop)
        dropping = drop_after is not None and now + drop_after < deadline
        if dropping:
            deadline = now + drop_after
        bookmarks = query.get("allowWatchBookmarks") == "true"
        table = self._wants_table()
        include = self._include_object()
        self._start_stream("application/json")

        def emit(kind: str, obj: dict) -> None:
            shown = self._present(rt, obj)
            if table and kind != "BOOKMARK":
                shown = tables.to_table(rt, [shown], include, obj["metadata"].get("resourceVersion", ""),
                                        now=self.clock.now())
            self._chunk(encode_json({"type": kind, "object": shown}) + b"\n")

        for obj in initial:
            emit("ADDED", obj)
        if initial_end is not None:
            emit("BOOKMARK", _bookmark(rt, initial_end, initial_end=True))
        for kind, change in backlog:
            emit(kind, change.obj)
        interval = BOOKMARK_INTERVAL * self.config.time_scale
        next_bookmark = _next_bookmark(time.monotonic(), interval, deadline) if bookmarks else None
        while not self.server.stopping.is_set():
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                break
            wait = min(remaining, 1.0) if next_bookmark is None else max(0.0, min(remaining, next_bookmark - now))
            try:
                item = watcher.next(timeout=wait)
            except queue.Empty:
                if self._client_gone():
                    return
                if next_bookmark is not None and time.monotonic() >= next_bookmark:
                    self._send_bookmark(rt, watcher, emit)
                    next_bookmark = _next_bookmark(time.monotonic(), interval, deadline)
                continue
            if item is None:
                break
            kind, change = item
            emit(kind, change.obj)
        if dropping and time.monotonic() >= deadline:
            self._injected("watch-drop")
            if timeout is None:
                raise _Abort
        self._end_stream()

    def _send_bookmark(self, rt: ResourceType, watcher, emit: Callable[[str, dict], None]) -> None:
        """A bookmark at the current resourceVersion, only when no event up to it is still queued for the client."""
        store = self.api.store
        with store.lock:
            if not watcher.empty():
                return
            rv = str(store.resource_version)
        emit("BOOKMARK", _bookmark(rt, rv))

    # --- logs -------------------------------------------------------------------------------------------

    def _logs(self, namespace: str, name: str, query: dict[str, str]) -> None:
        """The kubelet's log stream; an unscheduled pod has no kubelet, so the API server answers an empty body."""
        pod = self.api.get(self.api.rt("/pods"), namespace, name)
        container = _log_container(pod, query.get("container", ""))
        if not (pod.get("spec") or {}).get("nodeName"):
            self._start_stream("text/plain")
            return self._end_stream()
        previous = query.get("previous") == "true"
        uid = pod["metadata"]["uid"]
        if not self.server.logs.has_instance(uid, container, previous):
            raise _log_unavailable(pod, container, previous)
        since_ns = None
        if query.get("sinceTime"):
            try:
                since_ns = parse_rfc3339_ns(query["sinceTime"])
            except ValueError as err:
                raise errors.bad_request(f"invalid sinceTime {query['sinceTime']!r}") from err
        elif query.get("sinceSeconds"):
            since_ns = self.clock.time_ns() - (_int(query["sinceSeconds"]) or 0) * 1_000_000_000
        follow = query.get("follow") == "true"
        stop = threading.Event()
        cut_after = self.config.faults.upto(self.config.faults.log_cut)
        cut_at = time.monotonic() + cut_after if cut_after is not None else None
        chunks = self.server.logs.read(uid, container, previous=previous, since_ns=since_ns,
                                       tail_lines=_int(query.get("tailLines")),
                                       timestamps=query.get("timestamps") == "true", follow=follow,
                                       limit_bytes=_int(query.get("limitBytes")), stop=stop)
        self._start_stream("text/plain")
        with self.server.stats.lock:
            self.server.stats.log_streams_open += 1
        watchdog = threading.Thread(target=self._log_watchdog, args=(stop, cut_at), daemon=True)
        watchdog.start()
        try:
            for chunk in chunks:
                if cut_at is not None and time.monotonic() >= cut_at:
                    self._chunk(chunk[: random.randint(0, max(0, len(chunk) - 1))])
                    self._injected("log-cut")
                    raise _Abort
                self._chunk(chunk)
            if cut_at is not None and stop.is_set() and time.monotonic() >= cut_at:
                self._injected("log-cut")
                raise _Abort
            self._end_stream()
        finally:
            stop.set()
            with self.server.stats.lock:
                self.server.stats.log_streams_open -= 1

    def _log_watchdog(self, stop: threading.Event, cut_at: float | None) -> None:
        """Ends a followed stream when the client goes away, the server stops, or an injected cut is due."""
        while not stop.wait(0.5):
            if self._client_gone() or self.server.stopping.is_set():
                stop.set()
            if cut_at is not None and time.monotonic() >= cut_at:
                stop.set()


_GO_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def encode_json(payload: object, indent: int | None = None) -> bytes:
    """Go encoding/json's bytes for a value: UTF-8 text with <, >, & and U+2028/9 escaped (its HTML-safe
    default), compact, or laid out as json.MarshalIndent does with `indent`. No trailing newline."""
    separators = (",", ":") if indent is None else (",", ": ")
    try:
        return _go_escaped(json.dumps(payload, ensure_ascii=False, separators=separators, indent=indent)).encode()
    except UnicodeEncodeError:  # a lone surrogate from a client's "\ud800": keep it \u-escaped
        return _go_escaped(json.dumps(payload, separators=separators, indent=indent)).encode()


def _go_escaped(text: str) -> str:
    for char, escape in _GO_ESCAPES:
        if char in text:  # only ever inside strings: JSON's own syntax has none of these characters
            text = text.replace(char, escape)
    return text


def _field_selector(rt: ResourceType, query: dict[str, str]) -> Predicate:
    """The request's fieldSelector as the kind's field label conversion allows it (else 400 with its message)."""
    try:
        return kind_field_selector(rt.group, rt.plural, query.get("fieldSelector"))
    except SelectorError as err:
        raise errors.bad_request(str(err)) from err


def _list_item(rt: ResourceType, obj: dict) -> dict:
    """An item of a JSON list as the real server encodes it: a built-in kind's items are typed structs converted
    without TypeMeta, so they have no apiVersion or kind (the list has them); a custom resource's items are
    unstructured and keep theirs. Table rows and watch events carry the object's apiVersion and kind."""
    if not rt.builtin:
        return obj
    return {k: v for k, v in obj.items() if k != "apiVersion" and k != "kind"}


def _next_bookmark(now: float, interval: float, deadline: float) -> float | None:
    """Like the watch cache: every interval, and a last one shortly before the deadline; None when none is due."""
    due = min(now + interval, deadline - BOOKMARK_BEFORE_DEADLINE)
    return due if due >= now else None


def _bookmark(rt: ResourceType, rv: str, initial_end: bool = False) -> dict:
    meta: dict = {"resourceVersion": rv, "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}


def _log_container(pod: dict, requested: str) -> str:
    """The API server's validateContainer (pkg/registry/core/pod/strategy.go): init containers listed first."""
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    every = [c["name"] for group in ("initContainers", "containers", "ephemeralContainers")
             for c in spec.get(group) or []]
    name = pod["metadata"]["name"]
    if not requested:
        if len(names) == 1:
            return names[0]
        if not names:
            raise errors.bad_request(f"a container name must be specified for pod {name}")
        raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                 f"[{' '.join(every)}]")
    if requested not in every:
        raise errors.bad_request(f"container {requested} is not valid for pod {name}")
    return requested


def _log_unavailable(pod: dict, container: str, previous: bool) -> ApiError:
    name = pod["metadata"]["name"]
    if previous:
        return errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    status = pod.get("status") or {}
    reason = "ContainerCreating"
    for entry in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if entry.get("name") == container:
            reason = ((entry.get("state") or {}).get("waiting") or {}).get("reason") or reason
    detail = _WAITING_DETAIL.get(reason, reason)
    return errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {detail}')


_WAITING_DETAIL = {"ErrImagePull": "image can't be pulled", "ImagePullBackOff": "trying and failing to pull image"}
"""The kubelet's validateContainerLogStatus (pkg/kubelet/kubelet_pods.go) words these waiting reasons."""


def _injected_error() -> ApiError:
    choice = random.choice((429, 500, 503))
    if choice == 429:
        return ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                        {"retryAfterSeconds": 1}, {"Retry-After": "1"})
    if choice == 500:
        return ApiError(500, "InternalError", "Internal error occurred: injected fault",
                        {"causes": [{"message": "injected fault"}]})
    return ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")


def _int(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise errors.bad_request(f"invalid integer {value!r}") from err


def _decode(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError as err:
        raise errors.bad_request(f"the body of the request was in an unknown format: {err}") from err
    return value


def _decode_yaml(body: bytes) -> dict:
    try:
        value = yaml.load(body or b"{}", Loader=_YamlLoader)
    except yaml.YAMLError as err:
        raise errors.bad_request(f"error decoding YAML: {err}") from err
    return value
