#!/bin/sh
# Install the kubedog binary: downloads the release binary for this machine and SHA256SUMS, verifies the
# checksum, and installs it atomically as $KUBEDOG_INSTALL_DIR/kubedog (kubedog.exe on Windows, under Git Bash
# or MSYS2). Nothing is installed unless the checksum matches. The GitHub Action (action.yml) installs through
# this script too.
#
#   curl -fsSL https://github.com/OWNER/kubedog-ci/releases/latest/download/install.sh | sh
#
# Settings (environment):
#   KUBEDOG_VERSION      a release tag such as v0.1.0 (default: the latest release)
#   KUBEDOG_BASE_URL     where the release assets are (default: the GitHub release of KUBEDOG_VERSION)
#   KUBEDOG_INSTALL_DIR  where to install (default: /usr/local/bin)
#   KUBEDOG_OS, KUBEDOG_ARCH  override what uname reports (linux|darwin|windows, amd64|arm64)
set -eu

# The project's GitHub repository: its releases hold the binaries, SHA256SUMS and this script.
REPO_URL="https://github.com/OWNER/kubedog-ci"

fail() {
    echo "kubedog install: $*" >&2
    exit 1
}

detect_os() {
    os=${KUBEDOG_OS:-$(uname -s)}
    case "$os" in
        Linux | linux) echo linux ;;
        Darwin | darwin) echo darwin ;;
        MINGW* | MSYS* | CYGWIN* | Windows_NT | windows) echo windows ;;
        *) fail "unsupported operating system '$os' (release binaries exist for linux, darwin and windows; elsewhere: pip install kubedog-ci)" ;;
    esac
}

detect_arch() {
    arch=${KUBEDOG_ARCH:-$(uname -m)}
    case "$arch" in
        x86_64 | amd64) echo amd64 ;;
        aarch64 | arm64) echo arm64 ;;
        *) fail "unsupported architecture '$arch' (release binaries exist for amd64 and arm64; elsewhere: pip install kubedog-ci)" ;;
    esac
}

download() { # URL FILE
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$2" "$1" || fail "could not download $1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1" || fail "could not download $1"
    else
        fail "neither curl nor wget is installed"
    fi
}

sha256() { # FILE: prints its SHA-256 in hex
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    else
        fail "neither sha256sum nor shasum is installed: cannot verify the download"
    fi
}

main() {
    os=$(detect_os)
    arch=$(detect_arch)
    exe=""
    if [ "$os" = windows ]; then
        [ "$arch" = amd64 ] || fail "unsupported architecture '$arch' on windows (the release has kubedog-windows-amd64.exe only; elsewhere: pip install kubedog-ci)"
        exe=.exe
    fi
    # The release's asset names (.github/workflows/release.yml): kubedog-TARGET, .exe for Windows.
    asset="kubedog-$os-$arch$exe"
    if [ -n "${KUBEDOG_BASE_URL:-}" ]; then
        base=${KUBEDOG_BASE_URL%/}
    elif [ -n "${KUBEDOG_VERSION:-}" ]; then
        base="$REPO_URL/releases/download/$KUBEDOG_VERSION"
    else
        base="$REPO_URL/releases/latest/download"
    fi
    dir=${KUBEDOG_INSTALL_DIR:-/usr/local/bin}
    [ -d "$dir" ] || mkdir -p "$dir" || fail "cannot create $dir"
    [ -w "$dir" ] || fail "cannot write to $dir (run as root, or set KUBEDOG_INSTALL_DIR, e.g. \$HOME/.local/bin)"

    work=$(mktemp -d "${TMPDIR:-/tmp}/kubedog-install.XXXXXX") || fail "cannot make a temporary directory"
    # The partly installed file, if any, goes too: an interrupted install leaves nothing behind.
    trap 'rm -rf "$work"; [ -z "${partial:-}" ] || rm -f "$partial"' EXIT
    trap 'exit 1' HUP INT TERM

    echo "kubedog install: downloading $asset from $base" >&2
    download "$base/$asset" "$work/$asset"
    download "$base/SHA256SUMS" "$work/SHA256SUMS"

    expected=$(awk -v name="$asset" '$2 == name || $2 == "*" name { print $1; exit }' "$work/SHA256SUMS")
    [ -n "$expected" ] || fail "SHA256SUMS has no checksum for $asset: nothing installed"
    actual=$(sha256 "$work/$asset")
    expected=$(printf '%s' "$expected" | tr 'A-F' 'a-f')
    if [ "$actual" != "$expected" ]; then
        fail "checksum mismatch for $asset: expected $expected, got $actual: nothing installed"
    fi

    # Atomic: copy next to the target (same file system), make it executable, check that it runs here, then
    # rename it over the old one.
    partial="$dir/.kubedog.partial.$$$exe"
    cp "$work/$asset" "$partial" || fail "cannot write to $dir"
    chmod 0755 "$partial"
    version=$("$partial" --version) || fail "the downloaded $asset does not run on this machine: nothing installed"
    mv -f "$partial" "$dir/kubedog$exe" || fail "cannot install $dir/kubedog$exe"
    partial=""
    echo "kubedog install: installed $dir/kubedog$exe ($version)" >&2
}

main "$@"
