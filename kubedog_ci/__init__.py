"""kubedog-ci: apply Kubernetes manifests and track every resource until it is ready or has failed.

As a library::

    import kubedog_ci

    class Printer(kubedog_ci.Feed):
        def pod_log(self, resource, pod, container, lines):
            for line in lines:
                print(f"{resource} {pod}[{container}] {line}")

    outcome = kubedog_ci.track(["deploy/web", "job/migrate"], namespace="prod", feed=Printer(), timeout=300)
    if not outcome.ok:
        print([result for result in outcome.results if result.verdict == "failed"])

`track`, `apply_and_track` and `watch` are documented in their docstrings (and README, "Use it as a library").
The public names are those of `__all__`; the modules are private and may change. Importing this package is
light: the Kubernetes client is imported when a run starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubedog_ci.errors import ApplyError, ClusterError, InputError, KubedogError

if TYPE_CHECKING:
    from kubedog_ci.library import (
        Diagnosis,
        Event,
        Feed,
        Outcome,
        Record,
        Result,
        StopTracking,
        apply_and_track,
        track,
        watch,
    )

__version__ = "0.1.0"
__all__ = ["ApplyError", "ClusterError", "Diagnosis", "Event", "Feed", "InputError", "KubedogError", "Outcome",
           "Record", "Result", "StopTracking", "apply_and_track", "track", "watch"]
_LIBRARY = frozenset(__all__) - {"ApplyError", "ClusterError", "InputError", "KubedogError"}


def __getattr__(name: str) -> Any:
    """The library's names, imported on first use (kubedog_ci.library imports nothing heavy at its top either)."""
    if name in _LIBRARY:
        from kubedog_ci import library

        return getattr(library, name)
    raise AttributeError(f"module 'kubedog_ci' has no attribute {name!r}")


def version_line() -> str:
    """What `kubedog --version` prints: the version, and the commit a binary was built from.

    packaging/build.py writes kubedog_ci/_build.py (COMMIT = "<sha>") for the PyInstaller build only and removes
    it afterwards, so a source checkout or a wheel prints the version alone."""
    try:
        from kubedog_ci._build import COMMIT  # type: ignore[import-not-found]
    except ImportError:
        return f"kubedog {__version__}"
    return f"kubedog {__version__} (commit {COMMIT})"
