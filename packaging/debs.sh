#!/usr/bin/env bash
# Makes the .deb packages and tarballs from what packaging/build.sh put in DIST (dpkg-deb only, no network):
#   runcmd-agent_VERSION_{amd64,arm64}.deb    /usr/bin/runcmd-agent, its unit, /etc/runcmd/agent.conf
#   runcmd-server_VERSION_amd64.deb           /usr/lib/runcmd/server (server + runcmd CLI), the agent builds it
#                                             hands out (/usr/lib/runcmd/agent), its unit, /etc/runcmd/server.conf
#   runcmd-agent-VERSION-linux-*.tar.gz, runcmd-server-VERSION-linux-x64.tar.gz   the same files, for other distros
# Usage: packaging/debs.sh DIST VERSION
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
root="$(cd "$here/.." && pwd)"
dist="$1"
version="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# control_file PKG ARCH DEPENDS DESCRIPTION STAGE
control_file() {
    local size
    size=$(du -sk --exclude=DEBIAN "$5" | cut -f1)
    mkdir -p "$5/DEBIAN"
    cat > "$5/DEBIAN/control" <<CONTROL
Package: $1
Version: $version
Architecture: $2
Maintainer: RunCommand maintainers <runcmd@localhost>
Installed-Size: $size
Depends: $3
Section: admin
Priority: optional
Description: $4
CONTROL
}

build_deb() {
    local stage="$1" name="$2"
    find "$stage" -type d -exec chmod 0755 {} +
    chmod 0755 "$stage"/DEBIAN/post* "$stage"/DEBIAN/pre* 2>/dev/null || true
    # gzip, not dpkg's default xz: xz -6 of the 130 MB self-contained server took minutes of one core in CI;
    # gzip takes seconds, and every dpkg since 1.0 reads it.
    dpkg-deb --root-owner-group -Zgzip -b "$stage" "$dist/$name" >/dev/null
    echo "built dist/$name"
}

agent_deb() {
    # Two lines: the words of one 'local' are expanded before any of its assignments happen.
    local rid="$1" arch="$2"
    local stage="$work/agent-$arch"
    [[ -x "$dist/$rid/runcmd-agent" ]] || { echo "skipping runcmd-agent $arch: no dist/$rid/runcmd-agent" >&2; return 0; }
    mkdir -p "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/runcmd" "$stage/usr/share/doc/runcmd-agent"
    install -m 0755 "$dist/$rid/runcmd-agent" "$stage/usr/bin/runcmd-agent"
    install -m 0644 "$root/deploy/runcmd-agent.service" "$stage/lib/systemd/system/"
    install -m 0644 "$root/deploy/agent.conf" "$stage/etc/runcmd/agent.conf"
    install -m 0644 "$root/docs/install.md" "$stage/usr/share/doc/runcmd-agent/install.md"
    control_file runcmd-agent "$arch" "libc6 (>= 2.34), libssl3 | libssl1.1, ca-certificates, util-linux" \
        "RunCommand agent: runs the run commands of a RunCommand server on this machine" "$stage"
    echo "/etc/runcmd/agent.conf" > "$stage/DEBIAN/conffiles"
    install -m 0755 "$here/deb/runcmd-agent.postinst" "$stage/DEBIAN/postinst"
    install -m 0755 "$here/deb/runcmd-agent.prerm" "$stage/DEBIAN/prerm"
    build_deb "$stage" "runcmd-agent_${version}_${arch}.deb"
    tar -C "$stage" -czf "$dist/runcmd-agent-$version-$rid.tar.gz" --owner=0 --group=0 usr etc lib
}

server_deb() {
    local stage="$work/server"
    [[ -x "$dist/server/RunCommand.Server" ]] || { echo "skipping runcmd-server: no dist/server" >&2; return 0; }
    mkdir -p "$stage/usr/lib/runcmd" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/runcmd" "$stage/usr/share/doc/runcmd-server"
    cp -a "$dist/server" "$stage/usr/lib/runcmd/server"
    ln -s ../lib/runcmd/server/RunCommand.Server "$stage/usr/bin/runcmd-server"
    ln -s ../lib/runcmd/server/runcmd "$stage/usr/bin/runcmd"
    for build in linux-x64 linux-arm64 linux-x64-compat linux-arm64-compat; do
        if [[ -x "$dist/$build/runcmd-agent" ]]; then
            install -D -m 0755 "$dist/$build/runcmd-agent" "$stage/usr/lib/runcmd/agent/$build/runcmd-agent"
        fi
    done
    install -m 0644 "$root/deploy/runcmd-server.service" "$stage/lib/systemd/system/"
    install -m 0644 "$root/deploy/server.conf" "$stage/etc/runcmd/server.conf"
    install -m 0644 "$root/docs/install.md" "$stage/usr/share/doc/runcmd-server/install.md"
    control_file runcmd-server amd64 "libc6 (>= 2.34), libssl3 | libssl1.1, ca-certificates" \
        "RunCommand server: Azure-compatible run command control plane for Linux fleets" "$stage"
    echo "/etc/runcmd/server.conf" > "$stage/DEBIAN/conffiles"
    install -m 0755 "$here/deb/runcmd-server.postinst" "$stage/DEBIAN/postinst"
    install -m 0755 "$here/deb/runcmd-server.prerm" "$stage/DEBIAN/prerm"
    build_deb "$stage" "runcmd-server_${version}_amd64.deb"
    tar -C "$stage" -czf "$dist/runcmd-server-$version-linux-x64.tar.gz" --owner=0 --group=0 usr etc lib
}

agent_deb linux-x64 amd64
agent_deb linux-arm64 arm64
server_deb
