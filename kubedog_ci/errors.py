"""The errors the library raises: a leaf module, so every layer can raise them and only the CLI turns them into
messages and exit codes (cli.main)."""

from __future__ import annotations


class KubedogError(Exception):
    """Something the user must act on; the message names the file, line, resource or server concerned."""


class InputError(KubedogError):
    """Bad arguments or manifests: nothing was sent to the cluster."""


class ClusterError(KubedogError):
    """The cluster could not be reached, refused the credentials, or could not be read (kubeconfig errors too)."""


class ApplyError(KubedogError):
    """The API server rejected an object being applied; what was applied before it stays applied."""
