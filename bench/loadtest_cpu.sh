#!/usr/bin/env bash
# CPU per request of `sidelight loadtest` against wrk's, in the same conditions: nginx with one
# worker (pinned to core 0) serving a fixed 13-byte body on 127.0.0.1, then each generator pinned
# to core 1 (taskset -c 1) with 10 connections for DURATION seconds, ROUNDS times each,
# alternating. CPU is utime+stime from /proc/<pid>/stat read when the generator has exited but
# is not yet reaped (waitid WNOWAIT), so the whole run is counted and nothing else.
#
#   bench/loadtest_cpu.sh     DURATION=10 ROUNDS=3 CONNECTIONS=10 SIDELIGHT=build/sidelight
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10} rounds=${ROUNDS:-3} connections=${CONNECTIONS:-10}
sidelight=${SIDELIGHT:-build/sidelight}
work=$(mktemp -d /tmp/sidelight-ltcpu.XXXXXX)
nginx_pid=
cleanup() {
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/logs"
cat >"$work/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $work/logs/error.log crit;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;
    uwsgi_temp_path $work; scgi_temp_path $work;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$port;
        location / { default_type text/plain; return 200 "hello, world\n"; }
    }
}
CONF
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

cat >"$work/plan.yaml" <<PLAN
target: http://127.0.0.1:$port
scenarios:
  - name: fixed
    request: { method: GET, path: / }
    duration: ${duration}s
    connections: $connections
PLAN

# Runs "$@" pinned to core 1; prints "<cpu seconds>" after the command's own output file.
cpu_of() {
    python3 - "$@" <<'PY'
import os, subprocess, sys
p = subprocess.Popen(["taskset", "-c", "1"] + sys.argv[1:], stdout=subprocess.PIPE)
out = p.stdout.read()
os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # a zombie: its counters are final
fields = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
p.wait()
sys.stdout.write(out.decode())
print(f"CPU_SECONDS {ticks / os.sysconf('SC_CLK_TCK'):.3f}")
PY
}

printf '%-10s %5s %12s %10s %12s\n' generator round requests cpu_s "cpu_us/req"
for round in $(seq "$rounds"); do
    out=$(cpu_of wrk -t1 -c"$connections" -d"${duration}s" "http://127.0.0.1:$port/")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    cpu=$(awk '/CPU_SECONDS/ {print $2}' <<<"$out")
    awk -v g=wrk -v r="$round" -v n="$reqs" -v c="$cpu" \
        'BEGIN {printf "%-10s %5d %12d %10.2f %12.3f\n", g, r, n, c, c * 1e6 / n}'
    out=$(cpu_of "$sidelight" loadtest -f "$work/plan.yaml" --quiet --json "$work/lt.json")
    reqs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["scenarios"][0]["responses"])' "$work/lt.json")
    cpu=$(awk '/CPU_SECONDS/ {print $2}' <<<"$out")
    awk -v g=sidelight -v r="$round" -v n="$reqs" -v c="$cpu" \
        'BEGIN {printf "%-10s %5d %12d %10.2f %12.3f\n", g, r, n, c, c * 1e6 / n}'
done
