"""A client for the cluster named by kubeconfig, and cluster failures turned into one clear message.

kubeconfig is found like kubectl finds it: `--kubeconfig`, else `KUBECONFIG` (several paths, merged), else
~/.kube/config; `--context` picks a context, whose namespace is the default namespace.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from kubedog_ci.errors import ClusterError
from kubedog_ci.kube.http import DEFAULT_API_TIMEOUT, ApiError, GiveUp, Requester, close
from kubedog_ci.secrets import SECRETS


@dataclass
class Cluster:
    """An API client and what the kubeconfig context says about it."""

    api: client.ApiClient
    server: str
    context: str
    namespace: str
    api_timeout: float = DEFAULT_API_TIMEOUT
    """Seconds the API server may fail to answer a request (retried meanwhile) before it counts as unreachable."""
    _skew: float | None = None
    """The API server's clock minus this machine's, in seconds, once measured."""

    def now(self) -> float:
        """The API server's time (epoch seconds), not this machine's: Event timestamps, log timestamps and a log's
        sinceTime are the cluster's, and a CI runner's clock may be minutes off (a laptop after sleep, an
        unsynced runner). Measured once from the `Date` header of a request for /version, which every client
        may read; the header has whole seconds, so the reading errs early by under a second (a log line or an
        Event of that second may be shown, none is missed). A server that sends no Date: this machine's clock."""
        if self._skew is None:
            requests = Requester(self.api, threading.Event(), self.api_timeout)
            try:
                response = requests.retrying(lambda: requests.open("/version"), "get", "the server's version")
            except GiveUp as err:
                raise ClusterError(err.message) from err
            except ApiError:  # refused even /version: judge by this machine's clock
                self._skew = 0.0
                return time.time()
            received = time.time()
            date = response.headers.get("Date")
            close(response)
            try:
                self._skew = parsedate_to_datetime(date).timestamp() - received if date else 0.0
            except (TypeError, ValueError):
                self._skew = 0.0
        return time.time() + self._skew

    def collection_version(self, path: str, what: str) -> str | None:
        """The resourceVersion of the collection at `path` now, from a list of at most one object (the cheapest read
        that carries it); None when this account may not list it (the watch that would use it says so)."""
        try:
            page = self.get_json(path, "list", what, {"limit": "1"}, expected=(403, 404))
        except ApiError:
            return None
        return str((page.get("metadata") or {}).get("resourceVersion") or "") or None

    def get_json(self, path: str, verb: str, what: str, query: dict[str, str] | None = None,
                 expected: Collection[int] = ()) -> dict:
        """GET `path` as JSON under the one retry policy (kube.retry: 429, 5xx, timeouts and refused connections
        are retried until the API timeout). An error answer whose status is `expected` is raised as ApiError for
        the caller to judge (404: absent); any other failure is a cluster error naming the server, the verb and
        `what` was asked for."""
        requests = Requester(self.api, threading.Event(), self.api_timeout)
        try:
            return requests.retrying(lambda: requests.get_json(path, query), verb, what)
        except ApiError as err:
            if err.status in expected:
                raise
            raise ClusterError(requests.refusal(err, verb, what)) from err
        except GiveUp as err:
            raise ClusterError(err.message) from err


def connect(kubeconfig: str | None, context: str | None, api_timeout: float = DEFAULT_API_TIMEOUT) -> Cluster:
    """Load kubeconfig and build a client; raises ClusterError naming the file, context, cluster
    or user that is wrong, never the client library's traceback."""
    from_env = not kubeconfig and bool(os.environ.get("KUBECONFIG"))
    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    where = f"KUBECONFIG={path}" if from_env else f"kubeconfig {path}"
    files = [os.path.expanduser(p) for p in path.split(os.pathsep) if p] if from_env else [path]
    found = [file for file in files if os.path.exists(file)]  # as kubectl, a missing file in KUBECONFIG is skipped
    if not found:
        raise ClusterError(f"{where}: no such file" if len(files) == 1 else f"{where}: none of these files exists")
    chosen = _kubeconfig_context(found, context, where)
    try:
        api = config.new_client_from_config(config_file=kubeconfig, context=chosen["name"])
    except ConfigException as err:
        raise ClusterError(f"{where}: {err}") from err
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise ClusterError(f"{where}: cannot be read as a kubeconfig ({err})") from err
    _hide_credentials(api.configuration)
    if not api.configuration.verify_ssl:  # the kubeconfig's insecure-skip-tls-verify: asked for, as kubectl takes it
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    namespace = (chosen.get("context") or {}).get("namespace") or "default"
    return Cluster(api, api.configuration.host, chosen["name"], namespace, api_timeout)


def _kubeconfig_context(files: list[str], context: str | None, where: str) -> dict:
    """The context entry to use, from the files merged as kubectl merges them (the first to define a name or a
    current-context wins), after the checks whose failure the client reports with a traceback or vaguely."""
    defined: dict[str, dict[str, dict]] = {"clusters": {}, "contexts": {}, "users": {}}
    current = None
    for file in files:
        try:
            with open(file, encoding="utf-8") as stream:
                data = yaml.safe_load(stream) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            said = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ClusterError(f"kubeconfig {file}: not valid YAML{at}: {said}") from err
        except (OSError, UnicodeDecodeError) as err:
            raise ClusterError(f"kubeconfig {file}: cannot be read ({err})") from err
        if not isinstance(data, dict) or data.get("kind") not in (None, "Config"):
            got = f"kind {data['kind']}" if isinstance(data, dict) else "a list" if isinstance(data, list) else "text"
            raise ClusterError(f"kubeconfig {file}: not a kubeconfig (a mapping of kind Config with clusters, "
                                f"contexts and users), but {got}")
        for section, entries in defined.items():
            items = data.get(section) or []
            if not (isinstance(items, list) and all(isinstance(i, dict) and isinstance(i.get("name"), str)
                                                    for i in items)):
                raise ClusterError(f"kubeconfig {file}: {section} must be a list of entries, each with a name")
            for item in items:
                entries.setdefault(item["name"], item)
        current = current or data.get("current-context")
    name = context or (current if isinstance(current, str) else None)
    known = ", ".join(defined["contexts"])
    if not known:
        raise ClusterError(f"{where}: defines no context (a kubeconfig needs clusters, users and contexts)")
    if not name:
        raise ClusterError(f"{where}: no current-context is set; choose one with --context (contexts: {known})")
    chosen = defined["contexts"].get(name)
    if chosen is None:
        raise ClusterError(f'{where}: context "{name}" not found (contexts: {known})')
    details = chosen.get("context") if isinstance(chosen.get("context"), dict) else {}
    if not details.get("cluster"):
        raise ClusterError(f'{where}: cluster was not specified for context "{name}"')
    for section, key in (("clusters", "cluster"), ("users", "user")):
        if details.get(key) and str(details[key]) not in defined[section]:
            raise ClusterError(f'{where}: {key} "{details[key]}" was not found for context "{name}" ({section}: '
                                f'{", ".join(defined[section]) or "none"})')
    return chosen


def _hide_credentials(configuration: client.Configuration) -> None:
    """The kubeconfig user's secrets, as the client loaded them, join SECRETS: the token (inline, from a token
    file or a plugin), the password of basic auth, and the client key (the client keeps key data in a file)."""
    for header in (configuration.api_key or {}).values():
        scheme, _, credential = str(header).partition(" ")
        SECRETS.add(credential or scheme)
        if scheme == "Basic":
            with contextlib.suppress(ValueError):
                SECRETS.add(base64.b64decode(credential).decode().partition(":")[2])
    if configuration.password:
        SECRETS.add(configuration.password)
    if configuration.key_file:
        with contextlib.suppress(OSError, ValueError):
            SECRETS.add(Path(configuration.key_file).read_text())
