"""Bad input end to end: `kubedog apply-and-track` on each hostile file, and on the big inputs generated instead of
stored, against the simulated cluster: exit 2, one paragraph on stderr naming the file, no traceback, and nothing
applied (most files start with a valid ConfigMap, `hostile-STEM` in default, that must not exist afterwards).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes.client import ApiException

from kubedog_ci.manifests.reader import MAX_INPUT_BYTES
from kubedog_ci.sim.cluster import SimCluster
from tests import support
from tests.manifests.hostile_corpus import HOSTILE, bomb, corpus, flow_nesting
from tests.support import Kube

KUBEDOG = [*support.KUBEDOG, "apply-and-track"]


def config_map(stem: str) -> str:
    """The valid ConfigMap a hostile input starts with, as the corpus files do."""
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hostile-{stem}\n  namespace: default\n---\n"


def refused(cluster: SimCluster, *args: str, stdin: bytes | None = None) -> str:
    """Run apply-and-track, check it ended as bad input must, and return its stderr."""
    started = time.monotonic()
    done = subprocess.run([*KUBEDOG, *args, "--kubeconfig", cluster.kubeconfig, "--timeout", "30s", "--color", "never"],
                          input=stdin, capture_output=True, timeout=60)
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2, err
    assert err.startswith("kubedog: "), err
    assert "Traceback" not in err
    assert "\n\n" not in err.strip(), "one paragraph"
    assert not done.stdout, "nothing applied, nothing tracked"
    assert time.monotonic() - started < 30
    return err


def exists(kc: Kube, name: str) -> bool:
    try:
        kc.core.read_namespaced_config_map(name, "default")
    except ApiException as err:
        if err.status == 404:
            return False
        raise
    return True


@pytest.mark.parametrize(("name", "expected"), corpus(), ids=[name for name, _ in corpus()])
def test_each_hostile_file(shared_cluster: SimCluster, kc: Kube, name: str, expected: str) -> None:
    err = refused(shared_cluster, "-f", str(HOSTILE / name))
    assert expected in err
    assert not exists(kc, f"hostile-{Path(name).stem}")


def too_big(path: Path) -> None:
    path.write_text(config_map("too-big"))
    with path.open("r+b") as file:
        file.truncate(MAX_INPUT_BYTES + 1)


@pytest.mark.parametrize(("stem", "write", "expected"), [
    ("too-big", too_big, "too-big.yaml: larger than 64 MiB"),
    ("deep", lambda path: path.write_text(config_map("deep") + flow_nesting()), "deep.yaml:7:1001: invalid YAML: "),
    ("bomb", lambda path: path.write_text(config_map("bomb") + bomb()),
     "bomb.yaml:7:1: the document expands to more than 1000000 nodes through YAML aliases (a YAML bomb?)"),
])
def test_big_inputs(shared_cluster: SimCluster, kc: Kube, tmp_path: Path, stem: str,
                    write: Callable[[Path], None], expected: str) -> None:
    path = tmp_path / f"{stem}.yaml"
    write(path)
    assert expected in refused(shared_cluster, "-f", str(path))
    assert not exists(kc, f"hostile-{stem}")


def test_a_bomb_on_stdin(shared_cluster: SimCluster, kc: Kube) -> None:
    err = refused(shared_cluster, "-f", "-", stdin=(config_map("stdin-bomb") + bomb()).encode())
    assert "<stdin>:7:1: the document expands to more than" in err
    assert not exists(kc, "hostile-stdin-bomb")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_input(shared_cluster: SimCluster) -> None:
    assert "kubedog: /dev/zero: larger than 64 MiB" in refused(shared_cluster, "-f", "/dev/zero")
