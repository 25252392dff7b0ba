"""Nothing secret or hostile gets through, end to end: `kubedog apply-and-track` as a process against the simulated
cluster (time scale 0.02), in every output format.

A Secret with distinctive values feeds a container that echoes them, another that echoes them and crashes (its log
tail lands in the diagnosis), and a Deployment whose image names a value, so the kubelet's own message quotes it.
None of the values may appear in any stdout, stderr or file; "[redacted]" stands where the log echoed them.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from kubedog_ci.sim.cluster import SimCluster
from tests import support

KUBEDOG = [*support.KUBEDOG, "apply-and-track"]
TOPSECRET = "kdci-TOPSECRET-1234"
B64SECRET = "kdci-B64SECRET-5678"
BEARER = "kdci-BEARER-TOKEN-9999"
CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITLAB_CI")
LATE_READY = {"readinessProbe": {"exec": {"command": ["sh", "-c", "exit 0"]}, "initialDelaySeconds": 60}}
"""Ready 1.2s after the start at this time scale: time for the log lines to reach the output."""
FOREVER = "while true; do sleep 5; done"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


FORBIDDEN = (TOPSECRET, B64SECRET, b64(TOPSECRET), b64(B64SECRET))


def deployment(name: str, ns: str, script: str, image: str = "busybox:1.36", secret_env: bool = False,
               **fields: object) -> dict:
    """`secret_env`: $TOKEN and $B64 come from the Secret `creds` (valueFrom secretKeyRef)."""
    env = [{"name": variable, "valueFrom": {"secretKeyRef": {"name": "creds", "key": key}}}
           for variable, key in (("TOKEN", "token"), ("B64", "b64"))] if secret_env else []
    app = {"name": "app", "image": image, "command": ["sh", "-c", script], "env": env, **fields}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [app]}}}}


def write(path: Path, *docs: dict) -> str:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


def run(cluster: SimCluster | str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a job with only these CI variables; output decoded as is (no newline translation)."""
    kubeconfig = cluster if isinstance(cluster, str) else cluster.kubeconfig
    environ = {key: value for key, value in os.environ.items() if key not in CI_VARIABLES}
    done = subprocess.run([*KUBEDOG, "--kubeconfig", kubeconfig, "--grace-scale", "0.02", "--timeout", "60s", *args],
                          capture_output=True, timeout=90, env={**environ, **env})
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


@pytest.mark.parametrize("mode", ["color-always", "color-never", "verbose", "json", "junit", "github", "gitlab"])
def test_secret_values_appear_in_no_output(shared_cluster: SimCluster, ns: str, tmp_path: Path, mode: str) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": ns},
              "stringData": {"token": TOPSECRET}, "data": {"b64": b64(B64SECRET)}}
    echo = "echo token=$TOKEN; echo b64=$B64"
    path = write(tmp_path / "app.yaml", secret,
                 deployment("echo", ns, f"{echo}; {FOREVER}", secret_env=True, **LATE_READY),
                 deployment("crash", ns, f"{echo}; exit 1", secret_env=True),
                 deployment("leak", ns, FOREVER, image=f"registry.example/{TOPSECRET}:1"))
    junit, summary = tmp_path / "report.xml", tmp_path / "summary.md"
    args, env = {"color-always": (["--color", "always"], {}), "color-never": (["--color", "never"], {}),
                 "verbose": (["-v", "--color", "never"], {}), "json": (["-o", "json"], {}),
                 "junit": (["--junit", str(junit)], {}),
                 "github": ([], {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}),
                 "gitlab": ([], {"GITLAB_CI": "true"})}[mode]
    done = run(shared_cluster, "-f", path, "--no-fail-fast", *args, **env)
    assert done.returncode == 1, done
    files = [file.read_text() for file in (junit, summary) if file.exists()]
    for text in (done.stdout, done.stderr, *files):
        assert not any(value in text for value in FORBIDDEN), (mode, done)
    echoed = files[0] if mode == "junit" else done.stdout
    assert re.search(r"token=(\x1b\[[0-9;]*m)*\[redacted\]", echoed) and "b64=[redacted]" in echoed, done
    assert "registry.example/[redacted]:1" in echoed, done  # the kubelet's message about the image


def test_the_kubeconfig_token_appears_in_no_output(sim_factory, tmp_path: Path) -> None:
    """A cluster that wants a bearer token; a container that happens to print it."""
    cluster = sim_factory(token=BEARER)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "auth"}}
    web = deployment("web", "auth", f"echo auth={BEARER}; {FOREVER}", **LATE_READY)
    done = run(cluster, "-f", write(tmp_path / "app.yaml", namespace, web), "-v", "--color", "never")
    assert done.returncode == 0, done
    assert BEARER in Path(cluster.kubeconfig).read_text()
    assert BEARER not in done.stdout + done.stderr, done
    assert "auth=[redacted]" in done.stdout and "kubedog: watching" in done.stdout, done


HOSTILE = r"printf '\033[2J\n\033]0;pwned\007\n\033[10A\n::error::forged\n##[error]forged\n'"


def hostile_run(cluster: SimCluster, ns: str, tmp_path: Path, *args: str, **env: str) -> list[str]:
    path = write(tmp_path / "app.yaml", deployment("noisy", ns, f"{HOSTILE}; {FOREVER}", **LATE_READY))
    done = run(cluster, "-f", path, "--color", "never", *args, **env)
    assert done.returncode == 0, done
    assert done.stdout.count("forged") == 2, done
    return done.stdout.split("\n")


def test_hostile_log_lines_are_neutralised(shared_cluster: SimCluster, ns: str, tmp_path: Path) -> None:
    lines = hostile_run(shared_cluster, ns, tmp_path)
    assert not any(char in line for line in lines for char in "\x1b\x07\r"), lines
    assert not any(line.lstrip().startswith(("::", "##[")) for line in lines), lines


def test_raw_logs_keep_escapes_but_cannot_issue_commands(shared_cluster: SimCluster, ns: str,
                                                         tmp_path: Path) -> None:
    lines = hostile_run(shared_cluster, ns, tmp_path, "--raw-logs", GITHUB_ACTIONS="true")
    text = "\n".join(lines)
    assert "\x1b[2J" in text and "\x1b]0;pwned\x07" in text and "\x1b[10A" in text, lines
    stop = next(i for i, line in enumerate(lines) if line.startswith("::stop-commands::"))
    resume = lines.index(f"::{lines[stop].removeprefix('::stop-commands::')}::")
    assert stop == 0, lines
    assert all(stop < i < resume for i, line in enumerate(lines) if "forged" in line), lines
