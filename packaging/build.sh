#!/usr/bin/env bash
# Builds everything RunCommand ships into dist/ (no network beyond the NuGet restore the SDK does anyway):
#   dist/linux-x64/runcmd-agent            NativeAOT, needs glibc >= the floor in packaging/glibc-floors
#   dist/linux-arm64/runcmd-agent          NativeAOT, cross-compiled (clang + Debian's aarch64 cross libc)
#   dist/linux-x64-compat/runcmd-agent     self-contained single file, for older glibc (same for arm64)
#   dist/server/                           the server (self-contained) and the runcmd CLI (NativeAOT; no .NET on the host)
#   dist/*.deb, dist/*.tar.gz              packages: runcmd-agent (amd64, arm64) and runcmd-server (amd64)
# Usage: packaging/build.sh [TARGET...]   TARGET: agent-linux-x64 agent-linux-arm64 agent-compat server debs (default: all)
# The NativeAOT compiles take minutes on 2 cores: build once, reuse dist/ (CI runs this once, the tests reuse it).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"
dist="$root/dist"
version="$(sed -nE 's|.*<Version>([^<]+)</Version>.*|\1|p' Directory.Build.props | head -1)"
[[ -n "$version" ]] || { echo "ERROR: no <Version> in Directory.Build.props" >&2; exit 1; }
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(agent-linux-x64 agent-linux-arm64 agent-compat server debs)

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

step() { echo "== packaging: $*"; }

# Runs dotnet publish quietly; on failure prints its output (warnings are errors, so an AOT warning fails here).
publish() {
    if ! dotnet publish "$@" -c Release -nologo -v q -p:Version="$version" >"$log" 2>&1; then
        cat "$log" >&2
        echo "ERROR: dotnet publish $* failed" >&2
        exit 1
    fi
}

# Publishes the agent for one runtime: "aot" (NativeAOT) or "compat" (self-contained single file).
agent() {
    local rid="$1" kind="$2" out
    out="$dist/$rid$([[ $kind == compat ]] && echo -compat || true)"
    local tmp="$root/artifacts/packaging/agent-$rid-$kind"
    rm -rf "$tmp"
    step "agent $rid ($kind)"
    if [[ $kind == aot ]]; then
        publish src/RunCommand.Agent -r "$rid" -p:PublishAot=true -o "$tmp"
    else
        publish src/RunCommand.Agent -r "$rid" --self-contained -p:PublishSingleFile=true -p:DebugType=none -o "$tmp"
    fi
    mkdir -p "$out"
    install -m 0755 "$tmp/RunCommand.Agent" "$out/runcmd-agent.new"
    mv -f "$out/runcmd-agent.new" "$out/runcmd-agent"
}

for target in "${targets[@]}"; do
    case "$target" in
        agent-linux-x64) agent linux-x64 aot ;;
        agent-linux-arm64) agent linux-arm64 aot ;;
        agent-compat) agent linux-x64 compat; agent linux-arm64 compat ;;
        server)
            step "server (linux-x64, self-contained, ReadyToRun) and CLI (NativeAOT)"
            rm -rf "$dist/server" "$root/artifacts/packaging/cli"
            # ReadyToRun: the server's own code ships precompiled, as the .NET framework's does, so a fresh server does
            # not spend a fifth of its CPU JIT-compiling under its first load (docs/native-aot.md, docs/performance.md).
            publish src/RunCommand.Server -r linux-x64 --self-contained -p:PublishReadyToRun=true -p:DebugType=none -o "$dist/server"
            # NativeAOT: starts in a few ms instead of JIT-compiling on every call (docs/native-aot.md).
            publish src/RunCommand.Cli -r linux-x64 -p:PublishAot=true -o "$root/artifacts/packaging/cli"
            install -m 0755 "$root/artifacts/packaging/cli/runcmd" "$dist/server/runcmd"
            ;;
        debs) step "packages"; "$root/packaging/debs.sh" "$dist" "$version" ;;
        *) echo "ERROR: unknown target '$target' (agent-linux-x64 agent-linux-arm64 agent-compat server debs)" >&2; exit 2 ;;
    esac
done

# A build whose glibc floor rose would silently drop distributions: fail instead.
"$root/packaging/glibc-floor.sh" --check "$dist"
