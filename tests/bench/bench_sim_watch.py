"""Benchmark: the simulator holding 5,000 objects with 50 concurrent watches; event delivery latency.

Runs `kubedog sim serve` as its own process, loads it with OBJECTS ConfigMaps, opens WATCHES watches (spread
over several watcher processes so the measuring side is not the bottleneck) and then updates objects at a
steady rate, each update stamped with its send time. Every watcher records when each event arrives; the
latency is arrival minus send, so it includes the HTTP request, the commit, the fan-out and the stream.
Prints a table and writes JSON (`--json PATH`).

    python tests/bench/bench_sim_watch.py [--objects 5000] [--watches 50] [--updates 1000] [--rate 100]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

NAMESPACE = "bench"


def _request(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None,
             content_type: str = "application/json") -> dict:
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": content_type} if data else {})
    response = conn.getresponse()
    payload = response.read()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {payload[:200]!r}")
    return json.loads(payload)


def _watch_worker(url: str, count: int, rv: str, expected: int, out: multiprocessing.Queue,
                  ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    """Open `count` watches from `rv`; record (send time, arrival) for each MODIFIED event until `expected`."""
    host = urllib.parse.urlsplit(url)
    latencies: list[float] = []
    lock = threading.Lock()
    opened = threading.Barrier(count + 1)

    def watch() -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
        conn.request("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps?watch=true&resourceVersion={rv}")
        response = conn.getresponse()
        opened.wait()
        seen = 0
        while seen < expected:
            line = response.readline()
            if not line:
                break
            arrival = time.time()
            event = json.loads(line)
            if event["type"] != "MODIFIED":
                continue
            sent = float(event["object"]["data"]["sent"])
            with lock:
                latencies.append(arrival - sent)
            seen += 1
        conn.close()

    threads = [threading.Thread(target=watch, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    opened.wait()
    ready.set()
    for thread in threads:
        thread.join()
    out.put(latencies)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--watches", type=int, default=50)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="updates per second")
    parser.add_argument("--processes", type=int, default=5, help="watcher processes")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="kubedog-bench-")
    kubeconfig = os.path.join(workdir, "kubeconfig")
    server = subprocess.Popen([sys.executable, "-m", "kubedog_ci.cli.main", "sim", "serve", "--kubeconfig-out",
                               kubeconfig], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().split(" at ", 1)[1].split(" ", 1)[0]  # type: ignore[union-attr]
        host = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        _request(conn, "POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        started = time.monotonic()
        for n in range(args.objects):
            _request(conn, "POST", f"/api/v1/namespaces/{NAMESPACE}/configmaps",
                     {"metadata": {"name": f"cm-{n}", "labels": {"bench": "yes"}}, "data": {"sent": "0"}})
        load_seconds = time.monotonic() - started
        listed = _request(conn, "GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps")
        rv = listed["metadata"]["resourceVersion"]
        list_started = time.monotonic()
        _request(conn, "GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps")
        list_seconds = time.monotonic() - list_started

        queue: multiprocessing.Queue = multiprocessing.Queue()
        per_process = [args.watches // args.processes + (1 if i < args.watches % args.processes else 0)
                       for i in range(args.processes)]
        workers, readies = [], []
        for count in per_process:
            ready = multiprocessing.Event()
            worker = multiprocessing.Process(target=_watch_worker,
                                             args=(url, count, rv, args.updates, queue, ready))
            worker.start()
            workers.append(worker)
            readies.append(ready)
        for ready in readies:
            ready.wait(60)
        interval = 1.0 / args.rate
        next_at = time.monotonic()
        for n in range(args.updates):
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            name = f"cm-{n % args.objects}"
            _request(conn, "PATCH", f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}",
                     {"data": {"sent": repr(time.time())}}, "application/merge-patch+json")
        latencies: list[float] = []
        for _ in workers:
            latencies.extend(queue.get(timeout=120))
        for worker in workers:
            worker.join(30)
        rss = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(20)

    latencies.sort()
    ms = [x * 1000 for x in latencies]
    result = {
        "objects": args.objects, "watches": args.watches, "updates": args.updates, "rate_per_s": args.rate,
        "events_delivered": len(ms), "events_expected": args.updates * args.watches,
        "p50_ms": statistics.median(ms), "p99_ms": ms[int(len(ms) * 0.99) - 1], "max_ms": ms[-1],
        "load_seconds": load_seconds, "list_all_seconds": list_seconds, "server_rss_mb": rss,
    }
    rows = [("objects stored", f"{result['objects']}"), ("concurrent watches", f"{result['watches']}"),
            ("updates sent", f"{result['updates']} at {args.rate:g}/s"),
            ("events delivered", f"{result['events_delivered']} of {result['events_expected']}"),
            ("delivery latency p50", f"{result['p50_ms']:.1f} ms"),
            ("delivery latency p99", f"{result['p99_ms']:.1f} ms"),
            ("delivery latency max", f"{result['max_ms']:.1f} ms"),
            ("creating the objects", f"{load_seconds:.1f} s"),
            ("one list of all objects", f"{list_seconds * 1000:.0f} ms"),
            ("simulator RSS", f"{rss:.0f} MB")]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if result["events_delivered"] == result["events_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
