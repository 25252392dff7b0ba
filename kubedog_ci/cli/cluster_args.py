"""The cluster flags every command that reads the cluster shares, and RESOURCE arguments and manifest objects
turned into live objects."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from kubedog_ci.durations import parse_duration
from kubedog_ci.errors import InputError

if TYPE_CHECKING:
    from kubedog_ci.kube.connect import Cluster
    from kubedog_ci.kube.fetch import Fetched, Ref


def add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    """-n, --kubeconfig, --context and --api-timeout, worded the same for every command that reads the cluster."""
    parser.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's, else default)")
    parser.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument("--api-timeout", default="60s", metavar="DURATION",
                        help="how long the API server may fail to answer (429, 5xx, timeouts, refused connections "
                        "are retried meanwhile) before the run ends with a cluster error (default 60s)")


def add_secret_redaction_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--secret-redaction", action=argparse.BooleanOptionalAction, default=True,
                        help="read the Secrets the objects' Pods consume (env, envFrom, volumes, projected volumes, "
                        "image pull secrets) so their values are printed as [redacted] everywhere (default: on; a "
                        "Secret the account may not read is a notice)")


def redact_consumed_secrets(args: argparse.Namespace, cluster: Cluster, objects: list[tuple[str, dict]],
                            warn: Callable[[str], None]) -> None:
    """Register the values of the Secrets each (namespace, object) consumes, unless --no-secret-redaction."""
    import threading

    from kubedog_ci.kube.fetch import register_secret
    from kubedog_ci.kube.http import Requester
    from kubedog_ci.rules.objects import consumed_secrets

    if not args.secret_redaction:
        return
    requests = Requester(cluster.api, threading.Event(), cluster.api_timeout)
    for namespace, name in sorted({(ns, name) for ns, obj in objects for name in consumed_secrets(obj)}):
        why = register_secret(requests, namespace, name)
        if why is not None and why != "not found":
            warn(f'cannot read Secret "{name}" in namespace "{namespace}" ({why}): its values cannot be redacted')


def api_timeout(args: argparse.Namespace) -> float:
    """--api-timeout in seconds."""
    try:
        seconds = parse_duration(args.api_timeout)
    except ValueError as err:
        raise InputError(f"--api-timeout: {err}") from err
    if seconds <= 0:
        raise InputError(f"--api-timeout must be greater than 0, got {args.api_timeout}")
    return seconds


def parse_resource_args(words: list[str]) -> list[tuple[str, str]]:
    """`deploy/web`, `widget.example.com/gear`, or the original kubedog's `KIND NAME` pairs -> (type, name)."""
    pairs: list[tuple[str, str]] = []
    index = 0
    while index < len(words):
        word = words[index]
        if "/" in word:
            kind, _, name = word.partition("/")
            if not kind or not name or "/" in name:
                raise InputError(f'"{word}" is not KIND/NAME (e.g. deploy/web)')
            pairs.append((kind, name))
            index += 1
        elif index + 1 < len(words) and "/" not in words[index + 1]:
            pairs.append((word, words[index + 1]))
            index += 2
        else:
            raise InputError(f'"{word}" names a kind without an object: use KIND/NAME (e.g. deploy/web) or KIND NAME')
    return pairs


def connect(args: argparse.Namespace) -> Cluster:
    """The cluster the flags name (--kubeconfig, --context, --api-timeout)."""
    from kubedog_ci.kube.connect import connect as connect_cluster

    return connect_cluster(args.kubeconfig, args.context, api_timeout(args))


def named_refs(args: argparse.Namespace, manifest_objects: list[dict]) -> list[Ref]:
    """The objects named by RESOURCE arguments and then by manifests, in that order (checked before the cluster
    is contacted)."""
    from kubedog_ci.kube.fetch import Ref

    refs = [Ref(kind, name, args.namespace) for kind, name in parse_resource_args(args.resources)]
    return refs + [Ref(obj["kind"], obj["metadata"]["name"], args.namespace or obj["metadata"].get("namespace"),
                       obj["apiVersion"]) for obj in manifest_objects]


def fetch_named(args: argparse.Namespace, cluster: Cluster, refs: list[Ref]) -> list[Fetched]:
    """The live objects `refs` name, in order; missing ones too."""
    from kubedog_ci.kube.fetch import UnknownType, fetch

    try:
        return fetch(cluster, refs, args.namespace or cluster.namespace)
    except UnknownType as err:
        raise InputError(str(err)) from err
