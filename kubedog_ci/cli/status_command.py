"""`kubedog status`: one verdict per object, now, from the cluster or (`--offline`) from the objects in files.

The verdict comes from the same per-kind rules the tracking engine uses, applied to one object at a time, so
`kubectl get deploy web -o yaml | kubedog status --offline -f -` answers without a cluster.
Exit code: 0 when all are ready, 1 when any failed, 3 when any is still progressing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass

from kubedog_ci.cli import exit_codes, helm_release
from kubedog_ci.cli.cluster_args import (
    add_cluster_flags,
    add_secret_redaction_flag,
    connect,
    fetch_named,
    named_refs,
    redact_consumed_secrets,
)
from kubedog_ci.errors import InputError


def register(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser(
        "status", help="one verdict per object now: ready, progressing or failed",
        description="Print one verdict per object: ready, progressing or failed, with the reason. Objects are named "
        "as RESOURCE arguments (deploy/web, sts/db, widget.example.com/gear, or KIND NAME) or read from manifest "
        "files with -f. With --offline the objects in the files are judged as they are, without a cluster. "
        "Exit code: 0 all ready, 1 any failed, 3 any progressing.")
    status.add_argument("resources", nargs="*", metavar="RESOURCE", help="KIND/NAME, KIND.GROUP/NAME or KIND NAME")
    status.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                        help="manifest file naming the objects ('-' for stdin); repeatable")
    status.add_argument("--offline", action="store_true",
                        help="judge the objects in the files as given (with their status); no cluster needed")
    status.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    helm_release.add_flags(status, "judge")
    add_cluster_flags(status)
    add_secret_redaction_flag(status)
    status.set_defaults(run=run)


@dataclass(frozen=True)
class Row:
    api_version: str
    kind: str
    namespace: str
    name: str
    verdict: str
    reason: str
    message: str

    def as_json(self) -> dict:
        return {"apiVersion": self.api_version, "kind": self.kind, "namespace": self.namespace, "name": self.name,
                "verdict": self.verdict, "reason": self.reason, "message": self.message}


def run(args: argparse.Namespace) -> int:
    from kubedog_ci.manifests.reader import ManifestError, read_paths

    helm_release.check_flags(args)
    if args.offline and (args.resources or args.helm_release):
        raise InputError("--offline judges objects read with -f; RESOURCE arguments and --helm-release need the "
                         "cluster")
    if args.helm_release:
        return _helm_release(args)
    if not args.resources and not args.filename:
        raise InputError("name the objects: RESOURCE arguments (e.g. deploy/web), -f FILE or --helm-release NAME")
    try:
        manifests = read_paths(args.filename)
    except ManifestError as err:
        raise InputError(str(err)) from err
    if args.offline:
        rows = [_row(m.obj, args.namespace or m.obj["metadata"].get("namespace") or "") for m in manifests]
    else:
        refs = named_refs(args, [m.obj for m in manifests])
        cluster = connect(args)
        fetched = fetch_named(args, cluster, refs)
        redact_consumed_secrets(args, cluster, [(f.namespace, f.obj) for f in fetched if f.obj is not None],
                                lambda message: print(f"kubedog: {message}", file=sys.stderr))
        rows = [_row(f.obj, f.namespace) if f.obj is not None else
                Row(f.resource.api_version, f.resource.kind, f.namespace, f.ref.name, "failed", "NotFound",
                    f.not_found_message)
                for f in fetched]
    _print(rows, args.output)
    return exit_codes.for_verdicts(row.verdict for row in rows)


def _helm_release(args: argparse.Namespace) -> int:
    """The objects of a Helm release that have a state to reach, judged now."""
    def warn(message: str) -> None:
        print(f"kubedog: {message}", file=sys.stderr)

    found = helm_release.resolve(args, "judging")
    for notice in found.notices:
        warn(notice)
    redact_consumed_secrets(args, found.cluster, [(f.namespace, f.obj) for f in found.fetched if f.obj is not None],
                            warn)
    rows = [_row(f.obj, f.namespace) if f.obj is not None else
            Row(f.resource.api_version, f.resource.kind, f.namespace, f.ref.name, "failed", "NotFound",
                f.not_found_message)
            for f in found.fetched]
    _print(rows, args.output)
    return exit_codes.for_verdicts(row.verdict for row in rows)


def _row(obj: dict, namespace: str) -> Row:
    from kubedog_ci.rules import evaluate

    verdict = evaluate(obj)
    meta = obj.get("metadata") or {}
    return Row(obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace") or namespace, meta.get("name", ""),
               verdict.state, verdict.reason, verdict.message)


def _print(rows: list[Row], output: str) -> None:
    """Reasons and messages come from the cluster: without secret values, and on one clean line in text."""
    from kubedog_ci.output.text import one_line
    from kubedog_ci.secrets import SECRETS

    rows = [dataclasses.replace(row, reason=SECRETS.redact(row.reason), message=SECRETS.redact(row.message))
            for row in rows]
    if output == "json":
        json.dump([row.as_json() for row in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = [("NAMESPACE", "RESOURCE", "VERDICT", "REASON", "MESSAGE")]
    table += [(r.namespace or "-", f"{r.kind.lower()}/{r.name}", r.verdict, one_line(r.reason) or "-",
               one_line(r.message)) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line[:4], widths, strict=True)) + "  " + line[4])
