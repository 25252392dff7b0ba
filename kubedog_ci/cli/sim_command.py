"""`kubedog sim serve`: run the simulated cluster in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import re
import signal
import sys
import tempfile
import threading
from pathlib import Path

from kubedog_ci.cli import exit_codes
from kubedog_ci.durations import parse_duration
from kubedog_ci.errors import InputError


def register(commands: argparse._SubParsersAction) -> None:
    sim = commands.add_parser("sim", help="the simulated Kubernetes cluster (for demos and tests)",
                              description="A simulated Kubernetes cluster that speaks the real API.")
    sim_commands = sim.add_subparsers(dest="sim_command", metavar="SUBCOMMAND", required=True,
                                      parser_class=type(sim))
    serve = sim_commands.add_parser(
        "serve", help="serve the simulated cluster until interrupted",
        description="Serve a simulated Kubernetes cluster on 127.0.0.1 until SIGINT/SIGTERM. Once it is ready it "
        "writes a kubeconfig that points at it and prints one line with its URL.")
    serve.add_argument("--port", type=int, default=0, help="TCP port (default 0: any free port)")
    serve.add_argument("--kubeconfig-out", metavar="PATH",
                       help="where to write the kubeconfig (default: a file in a new temporary directory)")
    serve.add_argument("--time-scale", type=float, default=1.0, metavar="F",
                       help="multiply every simulated delay by F (0.1 runs ten times faster; default 1)")
    serve.add_argument("--nodes", type=int, default=3, metavar="N", help="number of worker nodes (default 3)")
    serve.add_argument("--faults", metavar="SPEC",
                       help="fault injection: comma-separated watch-drop=DUR, gone=P, http-error=P, latency=DUR, "
                       "log-cut=DUR (e.g. watch-drop=10s,http-error=0.05)")
    serve.add_argument("--token", help="require this bearer token (401 without it)")
    serve.add_argument("--deny", action="append", default=[], metavar="VERB:RESOURCE[:NAMESPACE]",
                       help="answer 403 Forbidden to VERB on RESOURCE (plural or plural.group), repeatable")
    serve.add_argument("--tls", action="store_true",
                       help="serve HTTPS with a certificate made at start (needs the openssl command); the "
                       "kubeconfig carries its CA")
    serve.add_argument("--clock-offset", default="0", metavar="DURATION",
                       help="shift the cluster's wall clock by DURATION (-5m: five minutes behind this machine, "
                       "+2m: ahead): every timestamp it writes, the Date header and log sinceTime (default 0)")
    # `--clock-offset -5m`: take a negative duration as a value, not an option, as Python 3.13's argparse does
    # for anything starting with "-" and a digit (3.11 and 3.12 take only plain numbers).
    serve._negative_number_matcher = re.compile(r"^-\.?\d")
    serve.add_argument("--fail-image", action="append", metavar="SUBSTRING",
                       help="image references containing SUBSTRING fail to pull (repeatable; "
                       "default: does-not-exist)")
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from kubedog_ci.sim.cluster import SimCluster
    from kubedog_ci.sim.config import DenyRule, Faults, SimConfig
    from kubedog_ci.sim.tls import TLSUnavailable

    if args.time_scale <= 0:
        raise InputError(f"--time-scale must be greater than 0, got {args.time_scale}")
    if args.nodes < 1:
        raise InputError(f"--nodes must be at least 1, got {args.nodes}")
    try:
        faults = Faults.parse(args.faults)
        deny = tuple(DenyRule.parse(rule) for rule in args.deny)
    except ValueError as err:
        raise InputError(str(err)) from err
    try:
        clock_offset = parse_duration(args.clock_offset, signed=True)
    except ValueError as err:
        raise InputError(f"--clock-offset: {err}") from err
    config = SimConfig(time_scale=args.time_scale, nodes=args.nodes, faults=faults, token=args.token, deny=deny,
                       failing_images=tuple(args.fail_image or ("does-not-exist",)), clock_offset=clock_offset)
    kubeconfig = Path(args.kubeconfig_out) if args.kubeconfig_out else \
        Path(tempfile.mkdtemp(prefix="kubedog-sim-")) / "kubeconfig"
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        cluster = SimCluster(config, port=args.port, kubeconfig_path=kubeconfig, tls=args.tls).start()
    except OSError as err:
        raise InputError(f"cannot listen on 127.0.0.1:{args.port}: {err.strerror}") from err
    except TLSUnavailable as err:
        raise InputError(f"--tls: {err}") from err
    print(f"kubedog sim: serving the Kubernetes API at {cluster.url} (kubeconfig: {kubeconfig})", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        cluster.stop()
    print("kubedog sim: stopped", file=sys.stderr)
    return exit_codes.OK
