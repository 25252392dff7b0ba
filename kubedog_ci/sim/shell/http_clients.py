"""The ``wget`` and ``curl`` built-ins, acting out an exchange with a server that is always up.

Having no network, the simulator takes every HTTP endpoint to be up: any address answers
``HTTP/1.1 200 OK`` with an empty body, so init containers that poll a Service until it answers
200 go on at once. An empty body keeps ``curl -w '%{http_code}'`` printing just ``200`` and invents
no content; ``wget -O-`` and plain ``curl`` therefore print nothing.
"""

from __future__ import annotations

import re

from kubedog_ci.sim.shell.args import _options
from kubedog_ci.sim.shell.printf import _ESCAPES
from kubedog_ci.sim.shell.runtime import _Gen, _Io, _Target, _write

_HTTP_HEAD = ("HTTP/1.1 200 OK", "Content-Length: 0")  # what every address answers
_HTTP_BODY = ""
_WGET_LONG_WITH_ARG = frozenset(
    {
        "--output-document",
        "--output-file",
        "--timeout",
        "--tries",
        "--header",
        "--user-agent",
        "--directory-prefix",
        "--post-data",
        "--post-file",
        "--execute",
        "--user",
        "--password",
        "--wait",
        "--waitretry",
        "--connect-timeout",
        "--read-timeout",
        "--dns-timeout",
    }
)
_CURL_LONG_WITH_ARG = frozenset(
    {
        "--output",
        "--write-out",
        "--max-time",
        "--connect-timeout",
        "--header",
        "--request",
        "--data",
        "--data-raw",
        "--data-binary",
        "--data-urlencode",
        "--form",
        "--user",
        "--user-agent",
        "--referer",
        "--cookie",
        "--cookie-jar",
        "--dump-header",
        "--retry",
        "--retry-delay",
        "--retry-max-time",
        "--cacert",
        "--cert",
        "--key",
        "--resolve",
        "--connect-to",
        "--proxy",
        "--noproxy",
        "--unix-socket",
        "--url",
        "--config",
        "--range",
        "--upload-file",
        "--limit-rate",
        "--max-filesize",
        "--interface",
    }
)
_CURL_WRITE_OUT = re.compile(r"%\{(\w+)\}|%%|\\([nrt\\])")
_CURL_VARIABLES = {"http_code": "200", "response_code": "200", "http_version": "1.1", "exitcode": "0"}


def _file_target(path: str, io: _Io) -> _Target:
    """Where a program writing to a named file sends it: no file exists, but standard streams do."""
    return {"-": io.out, "/dev/stdout": io.out, "/dev/stderr": io.err}.get(path)


def _curl_write_out(fmt: str, url: str) -> str:
    """Expand ``curl -w``: ``%{http_code}`` and a few more variables, ``%%`` and ``\\n \\r \\t``.

    Timings are zero; other variables print nothing.
    """

    def expand(match: re.Match[str]) -> str:
        if match[2]:
            return _ESCAPES[match[2]]
        if not match[1]:
            return "%"
        if match[1] in ("url", "url_effective"):
            return url
        return "0.000000" if match[1].startswith("time_") else _CURL_VARIABLES.get(match[1], "")

    return _CURL_WRITE_OUT.sub(expand, fmt)


def _builtin_wget(args: list[str], io: _Io) -> _Gen:
    """busybox or GNU ``wget``: every URL answers 200 with an empty body (see the module docstring).

    ``-S`` prints the response head to stderr as busybox does (``  HTTP/1.1 200 OK``), even
    with ``-q``; ``-o FILE`` sends it to that log instead. The body goes to ``-O FILE`` (nowhere
    unless it names a standard stream, such as ``-O-``), or to no file; ``--spider`` skips it.
    """
    options, urls = _options(args, "OoTtPUYe", _WGET_LONG_WITH_ARG)
    if not urls:
        yield from _write(io.err, "wget: missing URL\n")
        return 1
    log: _Target = io.err
    body: _Target = None
    for name, value in options:
        if name in ("-O", "--output-document"):
            body = _file_target(value, io)
        elif name in ("-o", "--output-file"):
            log = _file_target(value, io)
    show_head = any(name in ("-S", "--server-response") for name, _ in options)
    spider = any(name == "--spider" for name, _ in options)
    for _url in urls:
        if show_head:
            yield from _write(log, "".join(f"  {line}\n" for line in _HTTP_HEAD))
        if not spider:
            yield from _write(body, _HTTP_BODY)
    return 0


def _builtin_curl(args: list[str], io: _Io) -> _Gen:
    """``curl``: every URL answers 200 with an empty body (see the module docstring).

    The body, after the response head with ``-i`` (or instead of the body with ``-I``), goes to
    ``-o FILE`` (nowhere unless it names a standard stream) or standard output; then ``-w``
    writes its format to standard output. Nothing can fail, so ``-s -S -f -L --max-time``
    change nothing, and no progress meter is drawn.
    """
    options, urls = _options(args, "AbcCdDeEFHKmorTuUwxXyYzQ", _CURL_LONG_WITH_ARG)
    urls += [value for name, value in options if name == "--url"]
    if not urls:
        yield from _write(io.err, "curl: no URL specified!\n")
        return 2
    target: _Target = io.out
    write_out, head, include = "", False, False
    for name, value in options:
        if name in ("-o", "--output"):
            target = _file_target(value, io)
        elif name in ("-O", "--remote-name"):
            target = None
        elif name in ("-w", "--write-out"):
            write_out = "" if value.startswith("@") else value  # @FILE: no file exists
        elif name in ("-I", "--head"):
            head = True
        elif name in ("-i", "--include"):
            include = True
    for url in urls:
        if head or include:
            yield from _write(target, "".join(f"{line}\n" for line in _HTTP_HEAD) + "\n")
        if not head:
            yield from _write(target, _HTTP_BODY)
        yield from _write(io.out, _curl_write_out(write_out, url))
    return 0
