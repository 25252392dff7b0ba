"""A client for the cluster named by kubeconfig, and cluster failures turned into one clear message.

kubeconfig is found like kubectl finds it: `--kubeconfig`, else `KUBECONFIG` (several paths, merged), else
~/.kube/config; `--context` picks a context, whose namespace is the default namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from kubedog_ci.cli import exit_codes
from kubedog_ci.cli.errors import CommandError


@dataclass
class Cluster:
    """An API client and what the kubeconfig context says about it."""

    api: client.ApiClient
    server: str
    context: str
    namespace: str


def get_json(api: client.ApiClient, path: str, timeout: float = 30.0) -> dict:
    """GET an API path as JSON; raises ApiException for an error status, urllib3/OS errors when unreachable."""
    method, url, headers, body, post = api.param_serialize("GET", path, header_params={"Accept": "application/json"},
                                                           auth_settings=["BearerToken"])
    response = api.call_api(method, url, header_params=headers, body=body, post_params=post,
                            _request_timeout=timeout)
    response.read()
    if not 200 <= response.status < 300:
        raise client.ApiException(http_resp=response)
    return json.loads(response.data)


def cluster_error(message: str) -> CommandError:
    return CommandError(message, exit_codes.CLUSTER_ERROR)


def connect(kubeconfig: str | None, context: str | None) -> Cluster:
    """Load kubeconfig and build a client; raises CommandError (cluster error) naming what is wrong."""
    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    where = f"kubeconfig {path}" if kubeconfig or "KUBECONFIG" not in os.environ else f"KUBECONFIG={path}"
    if kubeconfig and not os.path.exists(kubeconfig):
        raise cluster_error(f"{where}: no such file")
    try:
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
        chosen = next((c for c in contexts if c["name"] == context), None) if context else active
        if context and chosen is None:
            names = ", ".join(c["name"] for c in contexts) or "none"
            raise cluster_error(f'{where}: context "{context}" not found (contexts: {names})')
        api = config.new_client_from_config(config_file=kubeconfig, context=context)
    except ConfigException as err:
        raise cluster_error(f"{where}: {err}") from err
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise cluster_error(f"{where}: cannot be read as a kubeconfig ({err})") from err
    namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
    return Cluster(api, api.configuration.host, (chosen or {}).get("name", ""), namespace)


def api_failure(cluster: Cluster, err: Exception, verb: str, what: str) -> CommandError:
    """One paragraph for a failed request: the server, the verb and resource, and the server's own words."""
    if isinstance(err, client.ApiException):
        message = err.reason or ""
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(err.body or "{}").get("message") or message
        if err.status in (401, 403):
            return cluster_error(f"the API server at {cluster.server} refused to {verb} {what} "
                                 f"({err.status} {err.reason}): {message}")
        return cluster_error(f"{verb} {what} failed at {cluster.server} ({err.status}): {message}")
    return cluster_error(f"cannot reach the Kubernetes API server at {cluster.server}: "
                         f"{getattr(err, 'reason', None) or err}")
