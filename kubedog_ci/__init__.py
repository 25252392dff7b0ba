"""kubedog-ci: apply Kubernetes manifests and track every resource until it is ready or has failed."""

__version__ = "0.1.0"


def version_line() -> str:
    """What `kubedog --version` prints: the version, and the commit a binary was built from.

    packaging/build.py writes kubedog_ci/_build.py (COMMIT = "<sha>") for the PyInstaller build only and removes
    it afterwards, so a source checkout or a wheel prints the version alone."""
    try:
        from kubedog_ci._build import COMMIT  # type: ignore[import-not-found]
    except ImportError:
        return f"kubedog {__version__}"
    return f"kubedog {__version__} (commit {COMMIT})"
