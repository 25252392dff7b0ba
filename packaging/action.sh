#!/usr/bin/env bash
# The steps of the GitHub Action (action.yml at the repository root):
#
#   action.sh install   the release binary for this runner, verified against the release's SHA256SUMS by
#                       install.sh (nothing is installed on a mismatch), kept in the runner's tool cache
#                       ($RUNNER_TOOL_CACHE/kubedog/VERSION/ARCH) and put on PATH ($GITHUB_PATH)
#   action.sh run       kubedog with the action's args (and --junit PATH), its exit code as the step's
#
# Every input arrives in the environment (action.yml's env:), never spliced into a script:
#   INPUT_VERSION     the version input: vX.Y.Z, X.Y.Z, latest, or empty for the action's own release
#   INPUT_BASE_URL    the base-url input: where the release's assets are, instead of the GitHub release
#   INPUT_ARGS        the args input;  INPUT_JUNIT  the junit input
#   ACTION_REF, ACTION_REPOSITORY   github.action_ref and github.action_repository (passed through env:, since
#                     the runner leaves GITHUB_ACTION_REF empty in composite actions: actions/runner#2473)
#   KUBEDOG           (run) the installed binary: the install step's path output
# and what the runner sets: RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT,
# GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_ACTION_PATH.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION_RE='^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$'

escape() { # a workflow command's message: %, CR and LF escaped, as the runner expects
    local text=${1//%/%25}
    text=${text//$'\r'/%0D}
    printf '%s' "${text//$'\n'/%0A}"
}

error() { # on stderr, which the runner reads workflow commands from too: seen from inside $(…) as well
    echo "::error title=kubedog-ci action::$(escape "$*")" >&2
    exit 1
}

need() { # NAME: a variable the runner sets
    [ -n "${!1:-}" ] || error "$1 is not set: this script runs as a step of the kubedog-ci action on a GitHub runner"
}

# The action's own ref and repository, from the directory the runner checked it out to
# (…/_actions/OWNER/REPO/REF): right even inside another composite action, where github.action_ref names the
# outer action's ref (actions/runner#2473).
action_path_part() { # 1: the ref, 2: the repository
    local path=${GITHUB_ACTION_PATH:-}
    path=${path//\\//}
    path=${path%/}
    case "$path" in
        */_actions/*/*/*) ;;
        *) return 0 ;;
    esac
    local rest=${path##*/_actions/}
    local owner=${rest%%/*}
    rest=${rest#*/}
    local repo=${rest%%/*}
    local ref=${rest#*/}
    if [ "$1" = 1 ]; then printf '%s' "$ref"; else printf '%s' "$owner/$repo"; fi
}

resolve_tag() { # prints the release tag to install (vX.Y.Z) or "latest"; says why on stderr
    local requested=${INPUT_VERSION:-}
    requested=${requested#"${requested%%[![:space:]]*}"}
    requested=${requested%"${requested##*[![:space:]]}"}
    if [ -n "$requested" ]; then
        if [ "$requested" = latest ]; then
            echo latest
        elif [[ $requested =~ $VERSION_RE ]]; then
            echo "v${requested#v}"
        else
            error "version '$requested' is not a release (vX.Y.Z, X.Y.Z or latest)"
        fi
        return
    fi
    local ref
    for ref in "$(action_path_part 1)" "${ACTION_REF:-}"; do
        if [[ $ref =~ $VERSION_RE && $ref == v* ]]; then
            echo "kubedog-ci action: installing $ref, the release this action is used at" >&2
            echo "$ref"
            return
        fi
    done
    echo "kubedog-ci action: the action is not used at a release tag (${ACTION_REF:-a local path}): installing the" \
        "latest release; set the version input to pin one" >&2
    echo latest
}

runner_platform() { # prints "OS ARCH EXE" in the release's terms, from RUNNER_OS and RUNNER_ARCH
    local os arch
    case "$RUNNER_OS" in
        Linux) os=linux ;;
        macOS) os=darwin ;;
        Windows) os=windows ;;
        *) error "unsupported runner OS '$RUNNER_OS': the release has binaries for Linux, macOS and Windows" ;;
    esac
    case "$RUNNER_ARCH" in
        X64) arch=amd64 ;;
        ARM64) arch=arm64 ;;
        *) error "unsupported runner architecture '$RUNNER_ARCH' on $RUNNER_OS: the release has binaries for X64 and ARM64" ;;
    esac
    if [ "$os" = windows ] && [ "$arch" != amd64 ]; then
        error "unsupported runner: Windows on $RUNNER_ARCH (the release has kubedog-windows-amd64.exe only)"
    fi
    if [ "$os" = windows ]; then echo "$os $arch .exe"; else echo "$os $arch"; fi
}

on_windows() { [ "${RUNNER_OS:-}" = Windows ] && command -v cygpath >/dev/null 2>&1; }

native_path() { # a path as the runner's PATH and outputs want it (the Windows form under Git Bash)
    if on_windows; then cygpath -w "$1"; else printf '%s' "$1"; fi
}

shell_path() { # a path from the runner (C:\hostedtoolcache\windows under Git Bash) as this script uses it
    if on_windows; then cygpath -u "$1"; else printf '%s' "$1"; fi
}

install() {
    local name
    for name in RUNNER_OS RUNNER_ARCH RUNNER_TOOL_CACHE GITHUB_PATH GITHUB_OUTPUT; do need "$name"; done
    local platform os arch exe
    platform=$(runner_platform)
    read -r os arch exe <<<"$platform"
    local tag
    tag=$(resolve_tag)
    if [ -n "${INPUT_JUNIT:-}" ] && [ -z "${INPUT_ARGS:-}" ]; then
        echo "::warning title=kubedog-ci action::the junit input has no effect without args (pass --junit PATH to your own kubedog command)" >&2
    fi
    # The tool cache's layout (as actions/tool-cache keeps it): TOOL/VERSION/ARCH, and ARCH.complete beside it
    # once the directory is whole. ARCH is the runner's (x64, arm64).
    local cache_arch
    cache_arch=$(printf '%s' "$RUNNER_ARCH" | tr '[:upper:]' '[:lower:]')
    local tool_dir temp
    tool_dir="$(shell_path "$RUNNER_TOOL_CACHE")/kubedog"
    temp=$(shell_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")
    local dest version cache_hit=false
    if [ "$tag" != latest ]; then
        dest="$tool_dir/${tag#v}/$cache_arch"
        if [ -f "$dest.complete" ] && [ -x "$dest/kubedog$exe" ] && "$dest/kubedog$exe" --version >/dev/null 2>&1; then
            cache_hit=true
            version=${tag#v}
            echo "kubedog-ci action: kubedog $version found in the tool cache ($dest)" >&2
        fi
    fi
    if [ "$cache_hit" = false ]; then
        local base
        if [ -n "${INPUT_BASE_URL:-}" ]; then
            base=${INPUT_BASE_URL%/}
        else
            local repository
            repository=$(action_path_part 2)
            repository=${repository:-${ACTION_REPOSITORY:-${GITHUB_REPOSITORY:-}}}
            [ -n "$repository" ] || error "cannot tell which repository's releases to download from (set base-url)"
            local server=${GITHUB_SERVER_URL:-https://github.com}
            if [ "$tag" = latest ]; then
                base="$server/$repository/releases/latest/download"
            else
                base="$server/$repository/releases/download/$tag"
            fi
        fi
        local work
        work=$(mktemp -d "$temp/kubedog-action.XXXXXX")
        # shellcheck disable=SC2064  # expand now: work is local
        trap "rm -rf '$work'" EXIT
        # install.sh downloads kubedog-OS-ARCH[.exe] and SHA256SUMS, verifies the checksum and that the binary
        # runs; it installs nothing otherwise.
        local output
        if ! output=$(KUBEDOG_BASE_URL="$base" KUBEDOG_INSTALL_DIR="$work/bin" KUBEDOG_OS="$os" KUBEDOG_ARCH="$arch" \
            KUBEDOG_VERSION="" sh "$here/install.sh" 2>&1); then
            printf '%s\n' "$output" >&2
            error "kubedog $tag for $os-$arch was not installed: $(printf '%s\n' "$output" | tail -n 1)"
        fi
        printf '%s\n' "$output" >&2
        local reported
        reported=$("$work/bin/kubedog$exe" --version)
        version=$(printf '%s\n' "$reported" | awk 'NR == 1 { print $2 }')
        version=${version#v}
        [[ $version =~ $VERSION_RE ]] || error "the downloaded kubedog reports no version ('$reported')"
        if [ "$tag" != latest ] && [ "$version" != "${tag#v}" ]; then
            error "the binary downloaded as $tag says it is $version ('$reported'): not installed"
        fi
        dest="$tool_dir/$version/$cache_arch"
        rm -rf "$dest" "$dest.complete"
        mkdir -p "$dest"
        mv "$work/bin/kubedog$exe" "$dest/kubedog$exe"
        : >"$dest.complete"
        echo "kubedog-ci action: kubedog $version cached in $dest" >&2
    fi
    native_path "$dest" >>"$GITHUB_PATH"
    echo >>"$GITHUB_PATH"
    {
        echo "version=$version"
        echo "path=$(native_path "$dest/kubedog$exe")"
        echo "cache-hit=$cache_hit"
    } >>"$GITHUB_OUTPUT"
}

run() {
    need GITHUB_OUTPUT
    [ -n "${KUBEDOG:-}" ] || error "KUBEDOG (the installed binary) is not set: the install step did not run"
    local kubedog
    kubedog=$(shell_path "$KUBEDOG")
    local words=${INPUT_ARGS:-}
    [ -n "${words//[[:space:]]/}" ] || error "args is empty: nothing to run"
    # Split like xargs does (whitespace; quotes and backslashes), with no expansion of any kind: the args
    # never reach a shell.
    local split
    split=$(mktemp "$(shell_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")/kubedog-args.XXXXXX")
    # shellcheck disable=SC2064  # expand now: split is local
    trap "rm -f '$split'" EXIT
    printf '%s\n' "$words" | xargs printf '%s\0' >"$split" 2>"$split.err" || {
        local why
        why=$(cat "$split.err")
        rm -f "$split.err"
        error "args cannot be split into words: ${why:-xargs failed}"
    }
    rm -f "$split.err"
    local args=() arg
    while IFS= read -r -d '' arg; do args+=("$arg"); done <"$split"
    if [ -n "${INPUT_JUNIT:-}" ]; then
        args+=(--junit "$INPUT_JUNIT")
    fi
    echo "+ kubedog ${args[*]}" >&2
    local code=0
    "$kubedog" "${args[@]}" || code=$?
    echo "exit-code=$code" >>"$GITHUB_OUTPUT"
    exit "$code"
}

case "${1:-}" in
    install) install ;;
    run) run ;;
    *)
        echo "usage: action.sh install|run (the steps of action.yml)" >&2
        exit 2
        ;;
esac
