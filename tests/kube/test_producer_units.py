"""The producers' pure parts: line splitting over any chunking, overlap dropping, pod reading, back-off, errors."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest
import urllib3

from kubedog_ci.kube.http import ApiError, Backoff, GiveUp, Requester, describe_error, resource_phrase
from kubedog_ci.kube.logs import LogFollower, _stamp_ns, parse_timestamp_ns, view_of
from kubedog_ci.kube.messages import LogLines
from tests.kube.support import Collector, api_client_for


class FakeRequests:
    """Stands in for the follower's Requester: each `open` serves the next body, in chunks of random sizes."""

    def __init__(self, bodies: list[bytes], seed: int) -> None:
        self.bodies = bodies
        self.queries: list[dict[str, str]] = []
        self.random = random.Random(seed)

    def open(self, path: str, query: dict[str, str], **_: object) -> bytes:
        self.queries.append(query)
        return self.bodies.pop(0)

    def stream_chunks(self, body: bytes) -> Iterator[bytes]:
        at = 0
        while at < len(body):
            size = self.random.randint(1, 40)
            yield body[at:at + size]
            at += size

    def progressed(self) -> None:
        pass


def stamp(n: int) -> str:
    return f"2026-01-01T00:00:{n // 10:02d}.{n % 10}00000000Z"[:30] if n < 600 else ""


def log(*entries: tuple[str, str]) -> bytes:
    return "".join(f"{ts} {text}\n" for ts, text in entries).encode()


def make_follower(bodies: list[bytes], seed: int, **options: object) -> tuple[LogFollower, Collector, FakeRequests]:
    collector = Collector()
    reader = LogFollower(api_client_for("http://127.0.0.1:1"), "ns", "pod", "app", collector.queue,
                         stop=threading.Event(), **options)  # type: ignore[arg-type]
    fake = FakeRequests(bodies, seed)
    reader._requests = fake  # type: ignore[assignment]
    return reader, collector, fake


@pytest.mark.parametrize("seed", range(20))
def test_any_chunking_yields_the_same_lines(seed: int) -> None:
    entries = [(stamp(i), "x" * (i * 7 % 23) + f" {i} é") for i in range(40)]
    reader, collector, _ = make_follower([log(*entries)], seed, max_line_bytes=20)
    reader._read(follow=False, previous=False)
    expected = []
    for _, text in entries:
        raw = text.encode()
        expected.append(text if len(raw) <= 20 else raw[:20].decode("utf-8", "ignore") + " …[line cut at 20 bytes]")
    assert [line.text for line in collector.lines()] == expected
    assert [line.timestamp for line in collector.lines()] == [ts for ts, _ in entries]


@pytest.mark.parametrize("seed", range(5))
def test_a_reconnection_drops_exactly_what_was_delivered_even_with_equal_timestamps(seed: int) -> None:
    """Three lines share one timestamp; the first connection is cut after the second of them. The next answer
    (from sinceTime, rounded down to the second as the API server may do) repeats older lines and both."""
    same = "2026-01-01T00:00:05.5Z"
    first = log(("2026-01-01T00:00:04.9Z", "a"), (same, "b1"), (same, "b2")) + f"{same} b".encode()
    second = log(("2026-01-01T00:00:04.9Z", "a"), (same, "b1"), (same, "b2"), (same, "b3"),
                 ("2026-01-01T00:00:05.50000001Z", "c"))
    reader, collector, fake = make_follower([first, second], seed)
    reader._read(follow=True, previous=False)  # the partial "b" is kept back: the next answer has it whole
    reader._read(follow=True, previous=False)
    assert [line.text for line in collector.lines()] == ["a", "b1", "b2", "b3", "c"]
    assert fake.queries[1]["sinceTime"] == same and "tailLines" not in fake.queries[1]


def test_the_first_request_carries_since_and_tail_and_later_ones_only_since() -> None:
    reader, _, fake = make_follower([log((stamp(1), "one")), b""], 0, since="2026-01-01T00:00:00Z", tail_lines=5)
    reader._read(follow=True, previous=False)
    reader._read(follow=True, previous=False)
    assert fake.queries[0] == {"container": "app", "timestamps": "true", "follow": "true",
                               "sinceTime": "2026-01-01T00:00:00Z", "tailLines": "5"}
    assert fake.queries[1] == {"container": "app", "timestamps": "true", "follow": "true", "sinceTime": stamp(1)}


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-01T00:00:00Z", 1767225600 * 10**9),
    ("2026-01-01T00:00:00.5Z", 1767225600 * 10**9 + 500_000_000),
    ("2026-01-01T00:00:00.000000001Z", 1767225600 * 10**9 + 1),
    ("2026-01-01T01:00:00+01:00", 1767225600 * 10**9),
    ("2025-12-31T23:30:00.25-00:30", 1767225600 * 10**9 + 250_000_000),
    ("not a time", None),
    ("2026-13-01T00:00:00Z", None),
    ("2026-01-01T00:00:00.0000000001Z", None),
])
def test_timestamps_are_compared_as_instants(text: str, expected: int | None) -> None:
    assert parse_timestamp_ns(text) == expected
    assert _stamp_ns(text.encode()) == expected


def test_the_lines_of_one_read_are_one_batch() -> None:
    entries = [(stamp(i), f"line {i}") for i in range(50)]
    reader, collector, _ = make_follower([log(*entries)], 0)
    reader._requests.stream_chunks = lambda body: (chunk for chunk in [body])  # type: ignore[attr-defined]
    reader._read(follow=True, previous=False)
    (batch,) = [item for item in collector.pull() if isinstance(item, LogLines)]
    assert batch.texts == tuple(text for _, text in entries) and batch.timestamps == tuple(ts for ts, _ in entries)


def pod(restart: str = "Always", state: dict | None = None, last: dict | None = None, phase: str = "Running",
        deleting: bool = False, init: bool = False, sidecar: bool = False) -> dict:
    container = {"name": "app", **({"restartPolicy": "Always"} if sidecar else {})}
    spec: dict = {"restartPolicy": restart, "containers": [{"name": "main"}]}
    spec["initContainers" if init else "containers"] = [container]
    status = {"name": "app", "containerID": "containerd://2", "state": state or {},
              "lastState": {"terminated": last} if last else {}}
    meta = {"uid": "u", **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {})}
    key = "initContainerStatuses" if init else "containerStatuses"
    return {"metadata": meta, "spec": spec, "status": {"phase": phase, key: [status]}}


def done(code: int, reason: str = "Error") -> dict:
    return {"terminated": {"exitCode": code, "reason": reason, "containerID": "containerd://2"}}


@pytest.mark.parametrize(("body", "started", "finished"), [
    (pod(state={"waiting": {"reason": "ContainerCreating"}}, phase="Pending"), False, None),
    (pod(state={"running": {}}), True, None),
    (pod(state={"waiting": {"reason": "CrashLoopBackOff"}}, last={"exitCode": 1, "containerID": "c://1"}),
     True, None),
    (pod(state=done(1)), True, None),
    (pod(restart="OnFailure", state=done(1)), True, None),
    (pod(restart="OnFailure", state=done(0, "Completed"), phase="Succeeded"), True,
     "terminated: Completed (exit code 0)"),
    (pod(restart="Never", state=done(2)), True, "terminated: Error (exit code 2)"),
    (pod(state=done(137), deleting=True), True, "terminated: Error (exit code 137)"),
    (pod(restart="Always", state=done(0, "Completed"), init=True, phase="Pending"), True,
     "terminated: Completed (exit code 0)"),
    (pod(restart="Always", state=done(1), init=True, phase="Pending"), True, None),
    (pod(restart="Never", state=done(0, "Completed"), init=True, sidecar=True), True, None),
    (pod(restart="Never", state={"waiting": {"reason": "PodInitializing"}}, phase="Failed"), False, "pod Failed"),
])
def test_reading_the_pod(body: dict, started: bool, finished: str | None) -> None:
    view = view_of(body, "app")
    assert (view.started, view.finished) == (started, finished)


def test_view_names_the_instances() -> None:
    view = view_of(pod(state={"running": {}}, last={"exitCode": 1, "containerID": "containerd://1"}), "app")
    assert (view.current_id, view.previous_id) == ("containerd://2", "containerd://1")


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(0.2, 5.0)
    delays = [backoff.next() for _ in range(10)]
    for delay, nominal in zip(delays, [0.2, 0.4, 0.8, 1.6, 3.2, 5, 5, 5, 5, 5], strict=True):
        assert nominal / 2 <= delay <= nominal
    backoff.reset()
    assert backoff.next() <= 0.2


def test_errors_are_described_without_urllib3_preamble() -> None:
    connection = urllib3.connection.HTTPConnection("127.0.0.1", 1)
    inner = urllib3.exceptions.NewConnectionError(connection, "Failed to establish a new connection: [Errno 111] "
                                                  "Connection refused")
    assert str(inner).startswith("HTTPConnection(host='127.0.0.1', port=1): ")
    wrapped = urllib3.exceptions.MaxRetryError(urllib3.HTTPConnectionPool("127.0.0.1", 1), "/api", inner)
    assert describe_error(inner) == "Failed to establish a new connection: [Errno 111] Connection refused"
    assert describe_error(wrapped) == "Failed to establish a new connection: [Errno 111] Connection refused"
    assert describe_error(ApiError(503, "ServiceUnavailable", "busy")) == "503 ServiceUnavailable: busy"


def test_permanent_answers_give_up_at_once_and_retry_after_is_honoured() -> None:
    stop = threading.Event()
    requests = Requester(api_client_for("http://api.example:6443"), stop, api_timeout=0.3)
    with pytest.raises(GiveUp) as refused:
        requests.failed(ApiError(401, "Unauthorized", "Unauthorized"), "list", "pods in all namespaces")
    assert refused.value.message == ("the Kubernetes API server at http://api.example:6443 refused to list pods in "
                                     "all namespaces (401 Unauthorized): Unauthorized")
    assert refused.value.status == 401
    with pytest.raises(GiveUp) as invalid:
        requests.failed(ApiError(400, "BadRequest", "unable to parse requirement"), "watch", "pods")
    assert invalid.value.message.startswith("watch pods failed at the Kubernetes API server at ")
    throttled = ApiError(429, "TooManyRequests", "slow down", retry_after=0.2)
    requests.failed(throttled, "list", "pods")  # sleeps the Retry-After (0.2 s) rather than the 0.1-0.2 back-off
    with pytest.raises(GiveUp) as spent:
        requests.failed(throttled, "list", "pods")
        requests.failed(throttled, "list", "pods")
    assert spent.value.status == 429 and "last error: 429 TooManyRequests: slow down" in spent.value.message


class RecordingRequester(Requester):
    """A Requester whose sleeps are recorded instead of slept."""

    def __init__(self, api_timeout: float) -> None:
        super().__init__(api_client_for("http://api.example:6443"), threading.Event(), api_timeout)
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_retry_after_is_slept_in_full_and_never_past_the_api_timeout() -> None:
    requests = RecordingRequester(api_timeout=30)
    requests.failed(ApiError(429, "TooManyRequests", "slow down", retry_after=7), "list", "pods")
    requests.failed(ApiError(503, "ServiceUnavailable", "busy"), "list", "pods")
    assert requests.slept[0] == 7  # not the 0.1-0.2 s back-off
    assert requests.slept[1] <= 0.4
    short = RecordingRequester(api_timeout=2)
    short.failed(ApiError(429, "TooManyRequests", "slow down", retry_after=60), "list", "pods")
    assert 1.9 < short.slept[0] <= 2


def test_retrying_retries_what_may_pass_and_raises_the_rest() -> None:
    requests = RecordingRequester(api_timeout=30)
    connection = urllib3.connection.HTTPConnection("127.0.0.1", 1)
    failures: list[BaseException] = [
        ApiError(429, "TooManyRequests", "slow down", retry_after=1), ApiError(500, "InternalError", "oops"),
        ApiError(503, "ServiceUnavailable", "busy"), urllib3.exceptions.ReadTimeoutError(None, "/", "timed out"),
        urllib3.exceptions.NewConnectionError(connection, "Connection refused"), ConnectionResetError()]

    def request() -> str:
        if failures:
            raise failures.pop(0)
        return "answer"

    assert requests.retrying(request, "list", "pods") == "answer"
    assert len(requests.slept) == 6 and requests.slept[0] == 1
    failures.append(ApiError(500, "InternalError", "oops"))
    requests.retrying(request, "list", "pods")
    assert requests.slept[6] <= 0.2  # a success resets the back-off: the next request starts short again
    for status in (400, 401, 403, 404, 409, 422):
        def refused(status: int = status) -> None:
            raise ApiError(status, "Refused", "no")

        with pytest.raises(ApiError) as raised:
            requests.retrying(refused, "get", "x")
        assert raised.value.status == status
    assert len(requests.slept) == 7  # none of those was retried


def test_retrying_gives_up_after_the_api_timeout_naming_the_server() -> None:
    requests = Requester(api_client_for("http://127.0.0.1:9"), threading.Event(), api_timeout=0.3)
    with pytest.raises(GiveUp) as spent:
        requests.retrying(lambda: requests.get_json("/api"), "list", "namespaces")
    assert spent.value.message.startswith("cannot list namespaces: the Kubernetes API server at http://127.0.0.1:9 "
                                          "has not answered successfully for ")
    assert "Connection refused" in spent.value.message


def test_resource_phrases() -> None:
    assert resource_phrase("deployments", "apps", "web") == 'deployments.apps in namespace "web"'
    assert resource_phrase("pods", "", None) == "pods in all namespaces"
    assert resource_phrase("nodes", "", None, namespaced=False) == "nodes"
