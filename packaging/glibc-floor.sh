#!/usr/bin/env bash
# The glibc floor of each shipped binary: the highest GLIBC_x.y symbol version it (or a native library beside it)
# needs. A machine with an older glibc cannot start it.
#   packaging/glibc-floor.sh DIST            prints "build floor" per build found in DIST
#   packaging/glibc-floor.sh --check DIST    also fails when a build's floor is above packaging/glibc-floors
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
check=false
if [[ "${1:-}" == "--check" ]]; then check=true; shift; fi
dist="${1:?usage: glibc-floor.sh [--check] DIST}"
expected="$here/glibc-floors"

# Highest GLIBC_ version referenced by the ELF files given (objdump reads foreign architectures too).
floor_of() {
    objdump -T "$@" 2>/dev/null | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/GLIBC_//' | sort -uV | tail -1
}

status=0
found=0
for build in linux-x64 linux-arm64 linux-x64-compat linux-arm64-compat server; do
    dir="$dist/$build"
    [[ -d "$dir" ]] || continue
    mapfile -t elves < <(find "$dir" -maxdepth 1 -type f \( -name runcmd-agent -o -name '*.so' -o -name RunCommand.Server -o -name runcmd \))
    [[ ${#elves[@]} -gt 0 ]] || continue
    found=$((found + 1))
    floor="$(floor_of "${elves[@]}")"
    allowed="$(awk -v b="$build" '$1 == b { print $2 }' "$expected")"
    echo "glibc floor: $build $floor (allowed ${allowed:-unset})"
    if $check; then
        if [[ -z "$allowed" ]]; then
            echo "ERROR: $build has no allowed floor in $expected" >&2
            status=1
        elif [[ "$(printf '%s\n%s\n' "$floor" "$allowed" | sort -V | tail -1)" != "$allowed" ]]; then
            echo "ERROR: $build needs glibc $floor, above its allowed $allowed: machines listed as supported in docs/install.md would no longer start it" >&2
            status=1
        fi
    fi
done
if $check && [[ $found -eq 0 ]]; then
    echo "ERROR: no build found in $dist" >&2
    status=1
fi
exit $status
