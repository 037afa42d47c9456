#!/bin/sh
# Installs or upgrades the RunCommand agent on this machine. Served by a RunCommand server at /agent/install.sh, which
# fills in its own URL and certificate; `runcmd vm agent install-command` prints the one line that runs it:
#   curl -fsSL --pinnedpubkey sha256//... https://cp:5080/agent/install.sh | sudo sh -s -- --token TOKEN -g RG
# Options: --token T (single-use enrollment token), --pin sha256//... (the server's public key, for the download),
#   -g|--resource-group RG, --vm-name NAME (default: hostname) or --vmss-name SS, --tags k=v (repeatable),
#   --prefix DIR (install under DIR without systemd: the script starts the agent itself; for tests).
# Idempotent: run again, it replaces the binary in place and restarts the agent; running scripts keep running
# (the unit has KillMode=process), the agent keeps its identity (its key in the state dir) and its config.
set -eu

server='@SERVER_URL@'
fingerprint='@SERVER_FINGERPRINT@'

token='' pin='' group='default' vm_name='' vmss_name='' tags='' prefix='' insecure=''
fail() { echo "runcmd install: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --token|--pin|-g|--resource-group|--vm-name|--vmss-name|--tags|--prefix)
            [ $# -ge 2 ] || fail "$1 needs a value"
            case "$1" in
                --token) token=$2 ;;
                --pin) pin=$2 ;;
                -g|--resource-group) group=$2 ;;
                --vm-name) vm_name=$2 ;;
                --vmss-name) vmss_name=$2 ;;
                --tags) tags="$tags
$2" ;;
                --prefix) prefix=$2 ;;
            esac
            shift 2 ;;
        -k|--insecure) insecure='-k'; shift ;;
        *) fail "unknown option '$1' (see the comment at the top of this script)" ;;
    esac
done
[ -n "$vm_name" ] || [ -n "$vmss_name" ] || vm_name=$(hostname)
[ -z "$prefix" ] && [ "$(id -u)" != 0 ] && fail "run as root (sudo sh), or give --prefix DIR"

case "$(uname -m)" in
    x86_64|amd64) arch=linux-x64 ;;
    aarch64|arm64) arch=linux-arm64 ;;
    *) fail "no agent build for $(uname -m) (linux-x64 and linux-arm64 only)" ;;
esac
# The NativeAOT build needs glibc >= 2.34; the self-contained "-compat" build >= 2.27 (packaging/glibc-floors).
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
at_least() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$2" ]; }
if [ -z "$glibc" ]; then
    fail "this machine has no glibc (musl?): the agent builds need glibc 2.27 or newer"
elif at_least "$glibc" 2.34; then
    platform=$arch
elif at_least "$glibc" 2.27; then
    platform=$arch-compat
else
    fail "glibc $glibc is too old: the agent needs 2.27 or newer (docs/install.md lists the distributions)"
fi

bin_dir="$prefix/usr/local/bin"
conf_dir="$prefix/etc/runcmd"
state_dir="$prefix/var/lib/runcmd-agent"
unit_dir="$prefix/etc/systemd/system"
bin="$bin_dir/runcmd-agent"
mkdir -p "$bin_dir" "$conf_dir" "$unit_dir"
mkdir -m 0700 -p "$state_dir"

# Download next to the binary, then rename over it: a running agent keeps its (unlinked) old file.
curl_pin=''
[ -n "$pin" ] && curl_pin="--pinnedpubkey $pin"
# shellcheck disable=SC2086 # $curl_pin and $insecure are empty or whole options
curl -fsS $insecure $curl_pin -o "$bin.new" "$server/agent/download/$platform" \
    || fail "cannot download the agent ($platform) from $server"
chmod 0755 "$bin.new"
"$bin.new" --version >/dev/null 2>&1 || { rm -f "$bin.new"; fail "the downloaded agent does not start on this machine ($platform, glibc $glibc)"; }
mv -f "$bin.new" "$bin"

if [ -n "$token" ]; then
    (umask 077 && printf '%s\n' "$token" > "$conf_dir/enroll.token.new")
    mv -f "$conf_dir/enroll.token.new" "$conf_dir/enroll.token"
fi

# The config is the admin's once written: an upgrade keeps it (and the identity in the state dir).
conf="$conf_dir/agent.conf"
if [ ! -f "$conf" ]; then
    {
        echo "# Written by the RunCommand install script; see 'runcmd-agent --help' for every setting."
        echo "server = $server"
        [ -n "$fingerprint" ] && echo "server-fingerprint = $fingerprint"
        if [ -n "$vmss_name" ]; then echo "vmss-name = $vmss_name"; else echo "vm-name = $vm_name"; fi
        echo "resource-group = $group"
        printf '%s\n' "$tags" | while IFS= read -r tag; do if [ -n "$tag" ]; then echo "tags = $tag"; fi; done
        echo "enroll-token-file = $conf_dir/enroll.token"
        echo "state-dir = $state_dir"
    } > "$conf.new"
    mv -f "$conf.new" "$conf"
fi

cat > "$unit_dir/runcmd-agent.service.new" <<'UNIT'
@AGENT_UNIT@
UNIT
sed "s|^ExecStart=/usr/bin/runcmd-agent|ExecStart=$bin|; s|--config /etc/runcmd/agent.conf|--config $conf|" \
    "$unit_dir/runcmd-agent.service.new" > "$unit_dir/runcmd-agent.service"
rm -f "$unit_dir/runcmd-agent.service.new"

if [ -z "$prefix" ]; then
    systemctl daemon-reload
    systemctl enable runcmd-agent.service >/dev/null 2>&1
    # restart, not stop+start: with KillMode=process only the agent is signalled; its scripts keep running.
    systemctl restart runcmd-agent.service
    echo "runcmd install: agent $platform installed at $bin; status: systemctl status runcmd-agent"
    exit 0
fi

# --prefix: no systemd. Do what the unit does: SIGTERM to the old agent only, then start the new one in its own session.
pidfile="$prefix/run/runcmd-agent.pid"
mkdir -p "$prefix/run" "$prefix/var/log"
if [ -f "$pidfile" ] && old=$(cat "$pidfile") && kill -0 "$old" 2>/dev/null; then
    kill -TERM "$old"
    i=0
    while kill -0 "$old" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le 100 ] || fail "the running agent ($old) did not stop within 10 s"
        sleep 0.1
    done
fi
setsid "$bin" --config "$conf" >> "$prefix/var/log/runcmd-agent.log" 2>&1 < /dev/null &
echo $! > "$pidfile"
echo "runcmd install: agent $platform installed at $bin, running as pid $!"
