#!/usr/bin/env bash
# The agent at rest, NativeAOT (dist/linux-x64/runcmd-agent) vs JIT (dotnet RunCommand.Agent.dll): start to enrolled,
# RSS after 60 s idle, CPU used over those 60 s. Targets (issue 10): RSS <= 20 MB, idle CPU ~ 0, enrolled <= 100 ms.
# Usage: bench/agent-footprint.sh [IDLE_SECONDS]   (packaging/build.sh agent-linux-x64 first)
set -euo pipefail
source "$(dirname "$(readlink -f "$0")")/lib.sh"
idle="${1:-60}"
native="$root/dist/linux-x64/runcmd-agent"
jit="$root/artifacts/bin/RunCommand.Agent/release/RunCommand.Agent.dll"
[[ -x "$native" ]] || { echo "build the native agent first: packaging/build.sh agent-linux-x64" >&2; exit 1; }
[[ -f "$jit" ]] || (cd "$root" && dotnet build src/RunCommand.Agent -c Release -nologo -v q >/dev/null)

work="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" "${server_pid:-}" 2>/dev/null; rm -rf "$work"' EXIT
start_server "$work/server"
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

printf '%-8s %-22s %-14s %s\n' agent "start->enrolled (ms)" "RSS (MB)" "CPU over ${idle}s (ms)"
for kind in native jit; do
    state="$work/agent-$kind"
    args=(--server "$server_url" --vm-name "bench-$kind" --resource-group bench --state-dir "$state" --enroll-token-file "$work/server/enroll.token")
    t0=$(now_ms)
    if [[ $kind == native ]]; then "$native" "${args[@]}" >"$state.log" 2>&1 & else dotnet "$jit" "${args[@]}" >"$state.log" 2>&1 & fi
    pid=$!
    pids+=("$pid")
    until [[ -f "$state/agent.identity" ]]; do
        kill -0 "$pid" 2>/dev/null || { cat "$state.log" >&2; exit 1; }
        sleep 0.002
    done
    enrolled=$(( $(now_ms) - t0 ))
    sleep 2   # settle: the first long poll is open
    c0=$(cpu_ticks "$pid")
    sleep "$idle"
    c1=$(cpu_ticks "$pid")
    rss=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
    printf '%-8s %-22s %-14s %s\n' "$kind" "$enrolled" "$rss" "$(( (c1 - c0) * 1000 / ticks ))"
done
