"""The binary's entry point: what the `kubedog` console script runs."""

import sys

from kubedog_ci.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
