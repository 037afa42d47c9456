#!/usr/bin/env bash
# Runs every test of RunCommand: unit tests and end-to-end tests with real server and agent processes.
# Ends with one line "tests: N passed, N failed" (dotnet test's own summary is per assembly).
set -uo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
cd "$root"

log="$(mktemp)"
# Every temporary file and the vmstat logger, whichever of them this run made.
trap 'rm -f "$log" "${machine_log:-}" "${partition_out:-}" "${faults_out:-}" "${failures:-}"; [[ -n "${vmstat_pid:-}" ]] && kill "$vmstat_pid" 2>/dev/null' EXIT

# What the tests need from Debian, installed when missing (the tests run as root, as CI does): PostgreSQL for the
# storage and end-to-end tests, Chromium for the portal's browser tests, systemd-analyze for the unit files, ss (iproute2)
# for the server's listen backlog, and clang + the aarch64 cross libc + dpkg-dev for the NativeAOT agents and the .deb packages (packaging/build.sh).
need=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
for pkg in clang lld llvm gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu dpkg-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [[ ${#need[@]} -gt 0 ]]; then
    echo "== installing ${need[*]} (Debian)"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$log" 2>&1; then
        cat "$log"
        echo "apt-get install ${need[*]} failed (run ./test.sh as root on Debian)"
        echo "tests: 0 passed, 1 failed"
        exit 1
    fi
fi

# Azurite (the Azure Storage emulator) for the blob tests, pinned in package-lock.json; node_modules is gitignored.
if [[ ! -x node_modules/.bin/azurite-blob ]]; then
    if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
        cat "$log"
        echo "npm ci (Azurite for the blob tests) failed"
        echo "tests: 0 passed, 1 failed"
        exit 1
    fi
fi

# Release: what ./runcmd runs and what the benchmark measures, so one build serves the tests, the launcher and .ci/run's
# benchmark (a Debug build beside it cost CI a second compile of everything).
if ! dotnet build RunCommand.slnx -c Release -nologo -v q >"$log" 2>&1; then
    cat "$log"
    echo "the build failed"
    echo "tests: 0 passed, 1 failed"
    exit 1
fi

# The shipped builds (NativeAOT agents, server, .deb packages) once, before the tests that check them; a test finding
# them older than their sources rebuilds them itself.
if ! ls dist/runcmd-server_*_amd64.deb >/dev/null 2>&1; then
    echo "== packaging/build.sh (NativeAOT agents and packages; a few minutes, first run only)"
    if ! ./packaging/build.sh >"$log" 2>&1; then
        cat "$log"
        echo "packaging/build.sh failed"
        echo "tests: 0 passed, 1 failed"
        exit 1
    fi
fi

# ./test.sh --prepare: everything above (packages, Azurite, build, dist/) and no test; .ci/run uses it so that its
# benchmark measures the shipped NativeAOT builds.
if [[ "${1:-}" == --prepare ]]; then
    echo "== prepared: dependencies installed, solution and dist/ built"
    exit 0
fi

# What the machine did during the tests (vmstat every 5 s), printed when a test fails: a process that misses its start
# is told apart from a machine that stalled.
machine_log="$(mktemp)"
if command -v vmstat >/dev/null 2>&1; then
    vmstat -t -w 5 >"$machine_log" 2>&1 &
    vmstat_pid=$!
fi

if [[ $# -eq 0 ]]; then
    # Two pairs side by side, each a heavy run beside a light one, so that the two cores stay busy:
    # 1. the partition fault test (five agents and a server that mostly wait out a two-minute partition) beside every
    #    other assembly; the other fault tests never run beside the main end-to-end assembly: together, with the server
    #    kill's 200 commands, servers and agents of both missed their 60 s start (CI, 2026-12-02);
    # 2. those other fault tests (kills, full disks) beside the end-to-end classes that exercise the store, run once
    #    more with every server on PostgreSQL (docs/storage.md).
    # A run beside another writes to a file, added to the log once it ends.
    partition_out="$(mktemp)"
    faults_out="$(mktemp)"
    dotnet test tests/RunCommand.Faults.Tests -c Release --no-build -nologo --filter "FullyQualifiedName~RunCommand.Faults.Tests.PartitionTests" >"$partition_out" 2>&1 &
    partition_pid=$!
    dotnet test RunCommand.slnx -c Release --no-build -nologo --filter "FullyQualifiedName!~RunCommand.Faults.Tests" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    wait "$partition_pid"
    partition_rc=$?
    echo "== fault tests: the partition (ran beside the above)"
    tee -a "$log" <"$partition_out"
    [[ $partition_rc -ne 0 ]] && rc=$partition_rc

    storage_e2e="ExecutionTests|OutputUploadTests|OutputCrashTests|AgentRestartTests|CommandDocumentApiTests|DeploymentTests|DeploymentRestartTests|FleetRunTests|FleetRestartTests|AuthorizationTests|ScaleSetTests|AzureSdkTests"
    filter="$(sed -E 's/([A-Za-z]+)/FullyQualifiedName~RunCommand.EndToEnd.Tests.\1/g' <<<"$storage_e2e")"
    dotnet test tests/RunCommand.Faults.Tests -c Release --no-build -nologo --filter "FullyQualifiedName!~RunCommand.Faults.Tests.PartitionTests" >"$faults_out" 2>&1 &
    faults_pid=$!
    echo "== end-to-end tests on PostgreSQL: $storage_e2e"
    RUNCMD_TEST_STORE=postgres dotnet test tests/RunCommand.EndToEnd.Tests -c Release --no-build -nologo --filter "$filter" 2>&1 | tee -a "$log"
    pg_rc=${PIPESTATUS[0]}
    [[ $pg_rc -ne 0 ]] && rc=$pg_rc
    wait "$faults_pid"
    faults_rc=$?
    echo "== fault tests: kills and full disks (ran beside the above)"
    tee -a "$log" <"$faults_out"
    [[ $faults_rc -ne 0 ]] && rc=$faults_rc
else
    dotnet test RunCommand.slnx -c Release --no-build -nologo "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
fi

passed=0
failed=0
while read -r f p; do
    passed=$((passed + p))
    failed=$((failed + f))
done < <(sed -nE 's/.*Failed:[[:space:]]+([0-9]+), Passed:[[:space:]]+([0-9]+).*/\1 \2/p' "$log")

# Each failed test's name and the start of its message, printed again at the very end: a reader of the output's tail
# (CI shows only its last lines) learns which test failed and why, not only that one did.
failures="$(mktemp)"
awk '
    /^[[:space:]]+Failed [A-Za-z_][A-Za-z0-9_.]*/ { print; shown = 0; inside = 1; next }
    /aborted|Test host process crashed|exited with error/ { print; next }
    inside && /^[[:space:]]+(Stack Trace|Standard Output Messages):/ { inside = 0; next }
    inside && shown < 12 { print; shown++ }
' "$log" >"$failures"

# The portal's client-side unit tests (vitest; the build installed its node_modules with npm ci).
(cd src/RunCommand.Portal && NO_COLOR=1 npx --no-install vitest run) 2>&1 | tee "$log"
portal_rc=${PIPESTATUS[0]}
grep -E '^[[:space:]]*(FAIL|×)' "$log" >>"$failures"
portal_passed=$(sed -nE 's/^[[:space:]]*Tests[[:space:]].*[^0-9]([0-9]+) passed.*/\1/p' "$log" | tail -1)
portal_failed=$(sed -nE 's/^[[:space:]]*Tests[[:space:]]+([0-9]+) failed.*/\1/p' "$log" | tail -1)
passed=$((passed + ${portal_passed:-0}))
failed=$((failed + ${portal_failed:-0}))
if [[ $portal_rc -ne 0 && ${portal_failed:-0} -eq 0 ]]; then
    echo "the portal's unit tests (vitest) exited with $portal_rc without a failed test count"
    failed=$((failed + 1))
fi
if [[ $portal_rc -ne 0 && $rc -eq 0 ]]; then
    rc=$portal_rc
fi

if [[ $rc -ne 0 && $failed -eq 0 ]]; then
    # A test host that crashed reports no counts; never let that read as a clean run.
    echo "dotnet test exited with $rc without a failed test count: a test run was aborted"
    failed=1
fi

if [[ $failed -ne 0 && -s "$machine_log" ]]; then
    echo "== the machine during the tests (vmstat every 5 s: r = runnable, b = blocked on I/O, wa = I/O wait)"
    cat "$machine_log"
fi
if [[ $failed -ne 0 && -s "$failures" ]]; then
    echo "== what failed (repeated from above)"
    cat "$failures"
fi

echo "tests: $passed passed, $failed failed"
exit $rc
