"""`kubedog demo`: what a CI run looks like, with nothing to set up.

It starts the simulated cluster in this process, runs `apply-and-track` on the manifests in examples/demo (a
healthy Deployment and its LoadBalancer Service, a Job that prints a few lines, and a Deployment whose image was
never pushed), says which exit code the same run gives in CI, and how to run it against a real cluster. The demo
exits 0 when every resource reached the verdict it was written for.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from kubedog_ci.cli import exit_codes

TIME_SCALE = 0.25
"""The simulated cluster runs four times faster than a real one: the demo stays under 30 seconds yet its
pulls, probes and back-offs keep their real order. Grace periods are scaled the same."""
BROKEN_IMAGE = "registry.example/api:v2"
"""The image the demo's registry does not have (examples/demo/api-broken.yaml)."""
EXPECTED_EXIT = exit_codes.FAILED
OWN_CLUSTER = """\
To do the same against your own cluster (kubectl's kubeconfig, context and namespace rules apply):
  kubedog apply-and-track -f k8s/ --timeout 5m          # apply a directory of manifests and track them
  helm template app ./chart | kubedog apply-and-track -f -
  kubedog rollout track deploy/web -n prod               # after kubectl apply or helm upgrade
Add --junit report.xml for your CI's test report; the exit code alone tells the pipeline what happened."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo", help="run apply-and-track against a built-in simulated cluster (no cluster needed)",
        description="Start a simulated Kubernetes cluster in this process, apply the example manifests "
        "(examples/demo) and track them as a CI job would: a healthy Deployment and Service, a Job, and a "
        "Deployment whose image cannot be pulled. Takes about 15 seconds.")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="color the output (default auto)")
    parser.set_defaults(run=run)


def examples_dir() -> Path:
    """examples/demo: inside the installed package (the wheel, and the binary, ship examples/ as
    kubedog_ci/examples), else at the top of a source checkout."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "examples" / "demo"
    return installed if installed.is_dir() else package.parent / "examples" / "demo"


def run(args: argparse.Namespace) -> int:
    from kubedog_ci.sim.cluster import SimCluster
    from kubedog_ci.sim.config import SimConfig

    manifests = examples_dir()
    config = SimConfig(time_scale=TIME_SCALE, failing_images=(BROKEN_IMAGE,))
    print(f"kubedog demo: a simulated cluster (3 nodes) runs in this process, {1 / TIME_SCALE:g}x faster than "
          "a real one.\nApplying and tracking examples/demo (the manifests shipped with kubedog) as a CI job would:\n"
          "  kubedog apply-and-track -f examples/demo --no-fail-fast\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="kubedog-demo-") as tmp, \
            SimCluster(config, kubeconfig_path=Path(tmp) / "kubeconfig") as cluster:
        code = args.cli(["apply-and-track", "-f", str(manifests), "--kubeconfig", str(cluster.kubeconfig),
                     "--no-fail-fast", "--timeout", "60s", "--grace-scale", str(TIME_SCALE), "--color", args.color])
    meaning = exit_codes.MEANINGS.get(code, "interrupted")
    print(f"\nIn CI this run exits {code} ({meaning}), so the pipeline goes "
          f"{'green' if code == exit_codes.OK else 'red'}"
          + (", and the block above names the Pod, container, reason and message." if code == EXPECTED_EXIT
             else "; the demo expected exit 1 (its api Deployment cannot pull its image)."))
    print(f"\n{OWN_CLUSTER}")
    return exit_codes.OK if code == EXPECTED_EXIT else exit_codes.FAILED
