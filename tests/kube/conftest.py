"""Fixtures for the producer-thread tests: threads that are always stopped, and promptly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.kube.support import STOP_WITHIN, Collector


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def stop() -> threading.Event:
    return threading.Event()


@pytest.fixture
def start(stop: threading.Event) -> Iterator[Callable[[threading.Thread], threading.Thread]]:
    """Start a producer; at teardown set `stop` and check every producer ended within STOP_WITHIN."""
    started: list[threading.Thread] = []

    def begin(thread: threading.Thread) -> threading.Thread:
        thread.start()
        started.append(thread)
        return thread

    yield begin
    stop.set()
    deadline = time.monotonic() + STOP_WITHIN
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not [t.name for t in started if t.is_alive()], "producers still running after stop"
