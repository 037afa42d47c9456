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
# Warm the server up with one enrollment (a key, as the agents send): the first request of a fresh server JITs the
# enrollment path, which is the server's start-up, not the agent's.
warm_key="$(openssl ecparam -name prime256v1 -genkey -noout | openssl ec -pubout -outform DER 2>/dev/null | base64 -w0)"
curl -fs -X POST "$server_url/agent/v1/enroll" -H "Authorization: Bearer $(cat "$work/server/enroll.token")" \
    -H 'Content-Type: application/json' -d "{\"resourceGroup\":\"bench\",\"vmName\":\"warm-up\",\"publicKey\":\"$warm_key\"}" >/dev/null
ticks=$(getconf CLK_TCK)
log_ms() { date -d "$(grep -m1 "$1" "$2" | cut -d' ' -f1)" +%s%3N; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-22s %-30s %-14s %s\n' agent "start->enrolled (ms)" "of which: to first log, enroll" "RSS (MB)" "CPU over ${idle}s (ms)"
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
    until grep -q "\[1001\]" "$state.log"; do sleep 0.01; done
    started=$(( $(log_ms '\[1000\]' "$state.log") - t0 ))
    split="$started, $(( $(log_ms '\[1001\]' "$state.log") - $(log_ms '\[1000\]' "$state.log") ))"
    sleep 2   # settle: the first long poll is open
    c0=$(cpu_ticks "$pid")
    sleep "$idle"
    c1=$(cpu_ticks "$pid")
    rss=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
    printf '%-8s %-22s %-30s %-14s %s\n' "$kind" "$enrolled" "$split" "$rss" "$(( (c1 - c0) * 1000 / ticks ))"
done
