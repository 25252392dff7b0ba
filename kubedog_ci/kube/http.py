"""How the producer threads talk to the API server: one request path, one retry policy, interruptible streams.

Watchers and log readers live for the whole run, so a blip of the API server (a 429 with Retry-After, a 500 or
503, a refused connection, a timeout) must cost a retry, not the run; yet a cluster that stays away, or a
401/403, must end the run quickly with a message that names the server, the verb and the resource instead of
a traceback. `Requester` is that policy for one thread: requests are built by the ApiClient (`param_serialize`: its host
and its auth headers, refreshed tokens included) and sent through its REST layer's connection pool (so the
kubeconfig's client certificate, CA, insecure-skip-tls-verify and proxy settings apply exactly as for every
other call) and
failures go through `failed`, which sleeps a capped, jittered, exponential back-off or raises `GiveUp`.

Reads of long streams block in the socket, so a stop request could otherwise wait for the next byte. One
shared daemon thread (`_Interrupter`) shuts the socket of every stream whose stop event is set, which wakes the
blocked reader at once without resorting to short read timeouts that would tear a healthy, quiet watch down.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import urllib3
from kubernetes import client

from kubedog_ci.rules.selectors import EVERYTHING, Selector

DEFAULT_API_TIMEOUT = 60.0
"""Seconds the API may stay unreachable before a producer gives up (the engine's --api-timeout default)."""
CONNECT_TIMEOUT = 5.0
REQUEST_READ_TIMEOUT = 30.0
"""Read timeout of a plain (non-streamed) request: the longest silence tolerated before the answer."""
INITIAL_BACKOFF = 0.2
MAX_BACKOFF = 5.0
MAX_ERROR_BODY = 64 * 1024
"""An error answer is read up to this many bytes: enough for any Status, bounded for a hostile server."""
PERMANENT_STATUSES = frozenset({400, 401, 403, 405, 406, 415, 422})
"""Answers that a retry cannot change; every other failure (404 included: a CRD may be on its way) is retried."""

TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, http.client.HTTPException,
                                                     OSError)
"""What a request or a stream read raises when the connection, not the server, failed."""

T = TypeVar("T")


class ApiError(Exception):
    """The server answered with an error status (or a watch ERROR event): its code, reason and own message."""

    def __init__(self, status: int, reason: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after

    @classmethod
    def from_status(cls, status: dict, fallback_code: int = 500) -> ApiError:
        """From a metav1.Status object, as a watch ERROR event carries it."""
        code = status.get("code") if isinstance(status.get("code"), int) else fallback_code
        return cls(code, str(status.get("reason") or ""), str(status.get("message") or ""))


class GiveUp(Exception):
    """The producer must stop: `message` is the one paragraph for the user, `status` the HTTP status if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Stopped(Exception):
    """The stop event was set: unwind quietly, the engine asked for it."""


class Backoff:
    """Capped exponential back-off with jitter: initial, then doubling up to `cap`, each delay drawn in [d/2, d].

    The jitter keeps many watchers that lost the same API server from coming back in one synchronized burst.
    """

    def __init__(self, initial: float = INITIAL_BACKOFF, cap: float = MAX_BACKOFF, factor: float = 2.0) -> None:
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self._attempt = 0

    def next(self) -> float:
        delay = min(self.cap, self.initial * self.factor ** self._attempt)
        self._attempt = min(self._attempt + 1, 64)
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self._attempt = 0


def describe_error(err: BaseException) -> str:
    """A transport error in a few words: urllib3's pool/URL preamble dropped, the root cause kept."""
    reason = getattr(err, "reason", None)
    if isinstance(err, urllib3.exceptions.MaxRetryError) and isinstance(reason, BaseException):
        return describe_error(reason)
    if isinstance(err, ApiError):
        return str(err)
    text = str(err) or type(err).__name__
    text = re.sub(r"^\(?HTTPS?Connection(Pool)?\([^)]*\)[:,]\s*", "", text).strip("() '\"")
    return text or type(err).__name__


def _retry_after(headers: Any) -> float | None:
    """Retry-After in seconds (the API server only sends the delta-seconds form)."""
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _is_permanent_tls(err: BaseException) -> bool:
    """A certificate the kubeconfig does not trust will not become trusted by retrying: fail at once."""
    text = str(err)
    return isinstance(err, (urllib3.exceptions.SSLError, ssl.SSLError)) and (
        "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower()
        or "hostname mismatch" in text.lower())


class _Interrupter:
    """Shuts the socket of each registered stream once its stop event is set, waking its blocked reader."""

    POLL = 0.1

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[int, tuple[threading.Event, urllib3.BaseHTTPResponse]] = {}
        self._next = 0
        self._thread: threading.Thread | None = None

    def register(self, stop: threading.Event, response: urllib3.BaseHTTPResponse) -> int:
        with self._lock:
            self._next += 1
            self._streams[self._next] = (stop, response)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kubedog-stream-interrupter", daemon=True)
                self._thread.start()
            return self._next

    def unregister(self, token: int) -> None:
        with self._lock:
            self._streams.pop(token, None)

    def _run(self) -> None:
        while True:
            time.sleep(self.POLL)
            with self._lock:
                if not self._streams:
                    self._thread = None
                    return
                due = [(token, response) for token, (stop, response) in self._streams.items() if stop.is_set()]
                for token, _ in due:
                    del self._streams[token]
            for _, response in due:
                with contextlib.suppress(Exception):
                    response.shutdown()  # type: ignore[attr-defined]


_INTERRUPTER = _Interrupter()


class Requester:
    """One producer thread's requests to the API server, and its failure budget.

    The budget: from the first failure in a row, the API gets `api_timeout` seconds to answer again (any 2xx
    answer resets it); the back-off is reset only by progress (`progressed`), so a server that accepts a watch and
    at once sends an ERROR event is not hammered.
    """

    def __init__(self, api: client.ApiClient, stop: threading.Event, api_timeout: float = DEFAULT_API_TIMEOUT,
                 backoff: Backoff | None = None) -> None:
        self.api = api
        self.stop = stop
        self.api_timeout = api_timeout
        self.backoff = backoff or Backoff()
        self._failing_since: float | None = None

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    # --- requests ---------------------------------------------------------------------------------------

    def open(self, path: str, query: dict[str, str] | None = None, *, read_timeout: float = REQUEST_READ_TIMEOUT,
             accept: str = "application/json") -> urllib3.BaseHTTPResponse:
        """GET `path`; returns the unread 2xx response (close it when done); raises ApiError or a transport error."""
        return self._request("GET", path, query, read_timeout=read_timeout, accept=accept)

    def send(self, method: str, path: str, query: dict[str, str] | None = None, body: bytes | None = None,
             content_type: str = "application/json") -> tuple[int, dict]:
        """One write (PATCH, POST, DELETE): the 2xx status and the decoded answer; raises ApiError or a transport
        error, for the caller to pass to `failed`."""
        response = self._request(method, path, query, body=body, content_type=content_type)
        status = response.status
        return status, json.loads(b"".join(self.stream_chunks(response, reuse=True)) or b"{}")

    def _request(self, method: str, path: str, query: dict[str, str] | None, *, body: bytes | None = None,
                 content_type: str = "", read_timeout: float = REQUEST_READ_TIMEOUT,
                 accept: str = "application/json") -> urllib3.BaseHTTPResponse:
        if self.stop.is_set():
            raise Stopped
        header_params = {"Accept": accept, **({"Content-Type": content_type} if content_type else {})}
        method, url, headers, _, _ = self.api.param_serialize(
            method, path, query_params=list((query or {}).items()), header_params=header_params,
            auth_settings=["BearerToken"])
        # Through the ApiClient's own pool (its TLS, client certificate, CA and proxy settings), with urllib3's
        # built-in retries off: this class is the one retry policy, and urllib3's would multiply the time spent
        # on an unreachable server and log a warning for each of its attempts.
        response: urllib3.BaseHTTPResponse = self.api.rest_client.pool_manager.request(
            method, url, headers=headers, body=body,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=read_timeout), preload_content=False,
            retries=False)
        if 200 <= response.status < 300:
            self._failing_since = None
            return response
        try:
            raw = response.read(MAX_ERROR_BODY)
        except TRANSPORT_ERRORS:
            raw = b""
        finally:
            close(response)
        message = ""
        reason = str(response.reason or "")
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            status = json.loads(raw)
            message = str(status.get("message") or "")
            reason = str(status.get("reason") or reason)
        if not message:
            message = raw.decode("utf-8", "replace").strip()[:500]
        raise ApiError(response.status, reason, message, _retry_after(response.headers))

    def get_json(self, path: str, query: dict[str, str] | None = None) -> dict:
        """GET `path` and decode the JSON answer (read through `stream_chunks`, so stop interrupts it)."""
        return json.loads(self.get_bytes(path, query))

    def get_bytes(self, path: str, query: dict[str, str] | None = None) -> bytes:
        """GET `path`: the whole answer, undecoded (read through `stream_chunks`, so stop interrupts it)."""
        return b"".join(self.stream_chunks(self.open(path, query), reuse=True))

    def stream_chunks(self, response: urllib3.BaseHTTPResponse, size: int = 64 * 1024,
                      reuse: bool = False) -> Iterator[bytes]:
        """Whatever bytes have arrived, at most `size` at a time, until the body ends; closes the response.

        `read1` returns as soon as anything is there (a watch event, a log line) instead of waiting for `size`
        bytes. A truncated chunked body raises (ProtocolError), so a cut stream is never mistaken for a normal
        end. A stream's connection is closed rather than returned to the pool (unless `reuse` and the body was
        read to its end): streams are long-lived and many, and a full pool logs a warning for each one given back.
        """
        token = _INTERRUPTER.register(self.stop, response)
        complete = False
        try:
            while True:
                if self.stop.is_set():
                    raise Stopped
                try:
                    data = response.read1(size)
                except TRANSPORT_ERRORS:
                    if self.stop.is_set():
                        raise Stopped from None
                    raise
                if not data:
                    if self.stop.is_set():
                        raise Stopped
                    complete = True
                    return
                yield data
        finally:
            _INTERRUPTER.unregister(token)
            if complete and reuse:
                response.release_conn()
            else:
                close(response)

    # --- the failure policy -------------------------------------------------------------------------------

    def retrying(self, request: Callable[[], T], verb: str, what: str) -> T:
        """`request()` until it succeeds. What may pass (429, 5xx, a timeout, a refused or dropped connection)
        is retried through `failed` until the API timeout (then GiveUp); any other 4xx answer is raised as
        ApiError, for the caller to judge: a 404 may just mean "absent", a 409 is a conflict to report."""
        while True:
            try:
                answer = request()
            except ApiError as err:
                if 400 <= err.status < 500 and err.status != 429:
                    raise
                failure: BaseException = err
            except TRANSPORT_ERRORS as err:
                failure = err
            else:
                self.progressed()  # the next failure, however much later, starts from a short back-off
                return answer
            self.failed(failure, verb, what)

    def progressed(self) -> None:
        """Something useful came back: the next failure starts a new budget and a short back-off."""
        self._failing_since = None
        self.backoff.reset()

    def failed(self, err: BaseException, verb: str, what: str) -> None:
        """Sleep before the next attempt, or raise GiveUp (permanent error, or the budget is spent).

        Retry-After is honoured (never shortened by the back-off) as long as the budget allows it.
        """
        if self.stop.is_set():
            raise Stopped
        if isinstance(err, ApiError) and err.status in PERMANENT_STATUSES:
            raise GiveUp(self.refusal(err, verb, what), err.status)
        if _is_permanent_tls(err):
            raise GiveUp(f"cannot {verb} {what}: the TLS connection to the Kubernetes API server at {self.server} "
                         f"failed: {describe_error(err)}")
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elapsed = now - self._failing_since
        remaining = self.api_timeout - elapsed
        if remaining <= 0:
            status = err.status if isinstance(err, ApiError) else None
            raise GiveUp(f"cannot {verb} {what}: the Kubernetes API server at {self.server} has not answered "
                         f"successfully for {elapsed:.1f}s (API timeout {self.api_timeout:g}s); last error: "
                         f"{describe_error(err)}", status)
        delay = self.backoff.next()
        if isinstance(err, ApiError) and err.retry_after is not None:
            delay = max(delay, err.retry_after)
        self.sleep(min(delay, remaining))

    def refusal(self, err: ApiError, verb: str, what: str) -> str:
        if err.status in (401, 403):
            return (f"the Kubernetes API server at {self.server} refused to {verb} {what} "
                    f"({err.status} {err.reason}): {err.message}")
        return f"{verb} {what} failed at the Kubernetes API server at {self.server} ({err.status} {err.reason}): " \
               f"{err.message}"

    def sleep(self, seconds: float) -> None:
        """Wait, waking at once (with Stopped) when the stop event is set."""
        if self.stop.wait(max(0.0, seconds)):
            raise Stopped


def close(response: urllib3.BaseHTTPResponse) -> None:
    """Close the response and its connection (never hand a half-read stream back to the pool)."""
    with contextlib.suppress(Exception):
        response.close()


def resource_phrase(plural: str, group: str, namespace: str | None, namespaced: bool = True,
                    selector: Selector = EVERYTHING) -> str:
    """`deployments.apps in namespace "web"`: how messages name what was requested; with a selector,
    `deployments.apps "api" in namespace "web"` (one by name), `pods in namespace "web" (labels app=api)`."""
    name = f"{plural}.{group}" if group else plural
    one = selector.fields.removeprefix("metadata.name=") if selector.fields.startswith("metadata.name=") else ""
    if one and "," not in one and not selector.labels:
        name, selector = f'{name} "{one}"', EVERYTHING
    if namespaced:
        name = f'{name} in namespace "{namespace}"' if namespace else f"{name} in all namespaces"
    return f"{name} ({selector})" if selector else name


__all__ = ["DEFAULT_API_TIMEOUT", "TRANSPORT_ERRORS", "ApiError", "Backoff", "GiveUp", "Requester", "Stopped",
           "close", "describe_error", "resource_phrase"]
