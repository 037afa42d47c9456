# Shared by the bench/*.sh scripts: a throw-away server on a free port, and a clock in milliseconds.
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server DIR: starts the server (the Release build) with its data in DIR; sets server_url and server_pid.
start_server() {
    local dir="$1" dll="$root/artifacts/bin/RunCommand.Server/release/RunCommand.Server.dll"
    [[ -f "$dll" ]] || (cd "$root" && dotnet build src/RunCommand.Server -c Release -nologo -v q >/dev/null)
    server_url="http://127.0.0.1:$(free_port)"
    dotnet "$dll" --urls "$server_url" --data-dir "$dir" >"$dir.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 3000); do
        curl -fs "$server_url/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "the server did not start: $(cat "$dir.log")" >&2
    return 1
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
