"""How a tracking run reports: the flags every tracking command shares, and the one place that builds its sinks.

stdout carries either the human stream (terminal sink) or, with `--output json`, JSON lines and nothing else;
CI annotations go to stdout beside the human stream (GitHub and GitLab read them there) and to stderr beside
JSON lines. `--junit` writes a file at the end of every run, whatever ended it. Every record loses its secret
values (output.redact) before any of them sees it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

from kubedog_ci.durations import parse_duration
from kubedog_ci.errors import InputError

if TYPE_CHECKING:
    from kubedog_ci.engine.sink import Sink


def add_report_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="color the output: auto (default: on a terminal unless NO_COLOR is set; FORCE_COLOR "
                        "forces it), always, never")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text",
                        help="text (default) for people, or json: one JSON object per line on stdout, for scripts")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
    verbosity.add_argument("-v", "--verbose", action="store_true",
                           help="also print API-level detail: what is watched, reconnects, relists")
    parser.add_argument("--status-interval", default="15s", metavar="DURATION",
                        help="off a terminal, print a compact status table this often (default 15s; 0: never)")
    parser.add_argument("--junit", metavar="PATH", help="write a JUnit XML report here at the end of the run")
    parser.add_argument("--junit-log-lines", type=int, default=200, metavar="N",
                        help="log lines kept per resource for the JUnit report's system-out (default 200)")
    parser.add_argument("--raw-logs", action="store_true",
                        help="print log lines with their escape sequences (colors, cursor moves) instead of removing "
                        "them; CI workflow commands stay blocked")
    parser.add_argument("--ci", choices=("auto", "none", "github", "gitlab"), default="auto",
                        help="CI integration: annotations, groups and step summary (auto: detected from the "
                        "environment; default)")


def build_sink(args: argparse.Namespace, sources: Mapping[str, str] | None = None, *, stream: TextIO | None = None,
               environ: Mapping[str, str] | None = None) -> Sink:
    """The sinks the flags ask for, as one. `sources` maps a target's label to its manifest's FILE:LINE."""
    from kubedog_ci.output.ci import detect_ci
    from kubedog_ci.output.fanout import Fanout
    from kubedog_ci.output.redact import RedactingSink
    from kubedog_ci.output.terminal import TerminalSink, use_color

    stream = stream or sys.stdout
    env = os.environ if environ is None else environ
    labels = {} if sources is None else sources  # not `or {}`: a caller may fill its dict in later
    try:
        interval = parse_duration(args.status_interval)
    except ValueError as err:
        raise InputError(f"--status-interval: {err}") from err
    if args.junit_log_lines < 0:
        raise InputError(f"--junit-log-lines must be 0 or more, got {args.junit_log_lines}")
    # The CI sink first: GitHub's stops workflow commands before any other line is printed; it writes its own
    # output at the summary, which the fanout gives it last.
    sinks: list[Sink] = []
    ci = detect_ci(env) if args.ci == "auto" else args.ci
    annotations = stream if args.output == "text" else sys.stderr
    if ci == "github":
        from kubedog_ci.output.github import GitHubSink

        sinks.append(GitHubSink(annotations, sources=labels, step_summary=env.get("GITHUB_STEP_SUMMARY")))
    elif ci == "gitlab":
        from kubedog_ci.output.gitlab import GitLabSink

        sinks.append(GitLabSink(annotations))
    if args.output == "json":
        from kubedog_ci.output.jsonlines import JsonLinesSink

        sinks.append(JsonLinesSink(stream))
    else:
        sinks.append(TerminalSink(stream, color=use_color(args.color, stream, env), quiet=args.quiet,
                                  verbose=args.verbose, status_interval=interval, raw_logs=args.raw_logs))
    if args.junit:
        from kubedog_ci.output.junit import JUnitSink

        # testcase@file (the manifest) for GitLab's and the GitHub reporters' sake; elsewhere (Jenkins' xUnit plugin
        # validates against a schema without it) the report keeps to the Jenkins xUnit schema.
        sinks.append(JUnitSink(args.junit, log_lines=args.junit_log_lines, sources=labels,
                               file_attribute=ci in ("github", "gitlab")))
    return RedactingSink(sinks[0] if len(sinks) == 1 else Fanout(sinks))
