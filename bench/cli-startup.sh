#!/usr/bin/env bash
# CLI start time, JIT vs ReadyToRun vs NativeAOT: `runcmd --version` and `runcmd vm run-command show` of one command
# against a local server. Prints the median and the slowest of N runs (wall clock, ms). Target (issue 9): <= 50 ms.
# Usage: bench/cli-startup.sh [N]     (publishes the three builds into artifacts/bench/ on first use)
set -euo pipefail
source "$(dirname "$(readlink -f "$0")")/lib.sh"
runs="${1:-20}"
out="$root/artifacts/bench"
publish() {
    local name="$1"; shift
    [[ -x "$out/cli-$name/runcmd" ]] && return 0
    echo "publishing the CLI ($name)..." >&2
    (cd "$root" && dotnet publish src/RunCommand.Cli -c Release -r linux-x64 -nologo -v q -o "$out/cli-$name" "$@" >/dev/null)
}
publish jit --self-contained false
publish r2r --self-contained false -p:PublishReadyToRun=true
publish aot -p:PublishAot=true

work="$(mktemp -d)"
trap 'kill "${server_pid:-}" 2>/dev/null; rm -rf "$work"' EXIT
start_server "$work/server"
export RUNCMD_CONFIG_DIR="$work/cli"
"$out/cli-jit/runcmd" login --server "$server_url" --token-file "$work/server/admin.token" >/dev/null
vm="bench-vm"
# A command to show: it stays Pending (no agent), which is all `show` needs.
"$out/cli-jit/runcmd" vm run-command create -g bench --vm-name "$vm" -n one --script 'true' --no-wait >/dev/null 2>&1 || true

time_runs() {
    local samples=()
    for _ in $(seq "$runs"); do
        local t0; t0=$(now_ms)
        "$@" >/dev/null 2>&1 || true
        samples+=($(( $(now_ms) - t0 )))
    done
    printf '%s\n' "${samples[@]}" | median | tr '\n' ' '
    printf '%s\n' "${samples[@]}" | sort -n | tail -1
}

printf '%-10s %-28s %-28s %s\n' build "--version (median max ms)" "run-command show (median max)" "size"
for build in jit r2r aot; do
    bin="$out/cli-$build/runcmd"
    "$bin" --version >/dev/null
    printf '%-10s %-28s %-28s %s\n' "$build" "$(time_runs "$bin" --version)" \
        "$(time_runs "$bin" vm run-command show -g bench --vm-name "$vm" -n one)" "$(du -sh "$out/cli-$build" | cut -f1)"
done
