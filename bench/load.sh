#!/usr/bin/env bash
# The whole-hop load benchmark: sidelight against HAProxy and nginx, same machine, same run.
#
#   bench/load.sh            DURATION=10 (seconds per wrk run)  CONNS="10 64"  ROUNDS=1
#                            BASELINE=/path/to/another/sidelight (optional)
#
# With BASELINE, that binary (e.g. the build before a change) runs too, configured as sidelight
# (metrics on), and is measured in the same rounds as the `baseline` target: a paired before and
# after on the same machine at the same moment.
# With ROUNDS=n every target is measured n times, the targets interleaved round by round (so
# a noisy moment on the machine hits all of them), and each figure is the median of its runs.
#
# On loopback: an upstream (nginx, 1 worker, a fixed small JSON body), then wrk against
# direct, sidelight (1 worker; metrics on, and metrics.traffic off), HAProxy (nbthread 1,
# http-reuse always) and nginx as a proxy (1 worker, upstream keepalive). The proxy under test
# is pinned to core 1, the upstream and wrk to core 0. For each: req/s, p50, p99, the proxy's
# CPU microseconds per request (utime+stime over the run / requests; also each part alone,
# user space and kernel) and its RSS. Then
# sidelight's RSS with 1,000 idle keep-alive clients, and its RSS growth while 1 GiB is
# downloaded and 1 GiB uploaded through it. Prints a Markdown table; raw output goes to
# bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
duration=${DURATION:-10}
conns=${CONNS:-"10 64"}
rounds=${ROUNDS:-1}
results=$root/bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$results"
work=$(mktemp -d /tmp/sidelight-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

scripts/install-deps --bench >/dev/null
BUILD_DIR=build-bench SIDELIGHT_TESTS=OFF BUILD_TYPE=Release scripts/build >/dev/null
sidelight=$root/build-bench/sidelight

up=18000 sl=18001 sl_off=18002 hap=18003 ngp=18004 sl_base=18005
baseline=${BASELINE:-}
targets="direct sidelight sidelight-metrics-off haproxy nginx"
[ -n "$baseline" ] && targets="direct sidelight baseline sidelight-metrics-off haproxy nginx"
body='{"id":42,"name":"desk lamp","price":12.5,"currency":"USD","in_stock":true}'

# --- upstream: nginx, 1 worker, fixed JSON body, a 1 GiB sparse file, an upload sink ---
truncate -s 1G "$work/big"
cat >"$work/upstream.conf" <<CONF
worker_processes 1; daemon off; pid $work/upstream.pid; error_log $work/upstream.err;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 10000000; keepalive_timeout 300s;
  client_body_temp_path $work/ctmp; proxy_temp_path $work/ptmp;
  fastcgi_temp_path $work/ftmp; uwsgi_temp_path $work/utmp; scgi_temp_path $work/stmp;
  server {
    listen 127.0.0.1:$up reuseport backlog=4096;
    location / { default_type application/json; return 200 '$body'; }
    location = /big { alias $work/big; }
    location = /upload { client_max_body_size 0; client_body_buffer_size 64k;
                         client_body_in_file_only off; return 200 "ok\n"; }
  }
}
CONF
taskset -c 0 nginx -c "$work/upstream.conf" -p "$work" &
pids+=($!)

# --- sidelight, metrics on and off ---
sidelight_conf() {  # port, traffic
    cat <<CONF
proxy: {listen: 127.0.0.1:$1, workers: 1}
upstream: {address: 127.0.0.1:$up, max_idle: 256}
admin: {listen: 127.0.0.1:$(($1 + 100))}
metrics: {traffic: $2}
routes: ["GET /api/products/{id}"]
audit: {store: {path: $work/audit-$1.db}}
log_level: warn
CONF
}
sidelight_conf $sl true >"$work/sl.yaml"
sidelight_conf $sl_off false >"$work/sl-off.yaml"
taskset -c 1 "$sidelight" run --config "$work/sl.yaml" >"$work/sl.out" &
sl_pid=$!
pids+=($sl_pid)
taskset -c 1 "$sidelight" run --config "$work/sl-off.yaml" >"$work/sl-off.out" &
sl_off_pid=$!
pids+=($sl_off_pid)
base_pid=""
if [ -n "$baseline" ]; then
    sidelight_conf $sl_base true >"$work/sl-base.yaml"
    taskset -c 1 "$baseline" run --config "$work/sl-base.yaml" >"$work/sl-base.out" &
    base_pid=$!
    pids+=($base_pid)
fi

# --- HAProxy: 1 thread, connection reuse ---
cat >"$work/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:$hap
  default_backend be
backend be
  server app 127.0.0.1:$up
CONF
taskset -c 1 haproxy -f "$work/haproxy.cfg" -db &
hap_pid=$!
pids+=($hap_pid)

# --- nginx as a proxy: 1 worker, upstream keepalive ---
mkdir -p "$work/ngp"
cat >"$work/proxy.conf" <<CONF
worker_processes 1; daemon off; pid $work/proxy.pid; error_log $work/proxy.err;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 10000000;
  client_body_temp_path $work/ngp/c; proxy_temp_path $work/ngp/p;
  fastcgi_temp_path $work/ngp/f; uwsgi_temp_path $work/ngp/u; scgi_temp_path $work/ngp/s;
  upstream app { server 127.0.0.1:$up; keepalive 64; }
  server {
    listen 127.0.0.1:$ngp;
    location / { proxy_pass http://app; proxy_http_version 1.1;
                 proxy_set_header Connection ""; }
  }
}
CONF
taskset -c 1 nginx -c "$work/proxy.conf" -p "$work/ngp" &
pids+=($!)

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "port $1 never opened" >&2
    exit 1
}
for p in $up $sl $sl_off $hap $ngp ${baseline:+$sl_base}; do wait_port "$p"; done
sleep 0.5
ngp_worker=$(pgrep -P "$(cat "$work/proxy.pid")" | head -1)

cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }  # utime stime
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
to_us() {  # wrk latency "123.45us" / "1.23ms" / "1.01s" -> microseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000;
        printf "%.0f", n }'
}

hz=$(getconf CLK_TCK)
per_req() {  # clock ticks, requests -> microseconds per request
    awk -v t="$1" -v hz="$hz" -v r="$2" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }'
}
run() {  # name, port, pid ("" for direct), conns, round
    local name=$1 port=$2 pid=$3 c=$4 out="$results/$1-c$4-r$5.txt"
    taskset -c 1 wrk -t1 -c"$c" -d1s "http://127.0.0.1:$port/api/products/7" >/dev/null  # warm
    local before="0 0"
    [ -n "$pid" ] && before=$(cpu_ticks "$pid")
    taskset -c 0 wrk -t2 -c"$c" -d"${duration}s" --latency "http://127.0.0.1:$port/api/products/7" >"$out"
    local after cpu="-" rss="-" user="-" sys="-"
    local reqs rps p50 p99
    reqs=$(awk '/requests in/ {print $1}' "$out")
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out")
    p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
    if [ -n "$pid" ]; then
        after=$(cpu_ticks "$pid")
        local bu bs au as
        read -r bu bs <<<"$before"
        read -r au as <<<"$after"
        cpu=$(per_req $((au + as - bu - bs)) "$reqs")
        user=$(per_req $((au - bu)) "$reqs")
        sys=$(per_req $((as - bs)) "$reqs")
        rss=$(awk -v k="$(rss_kb "$pid")" 'BEGIN { printf "%.1f", k / 1024 }')
    fi
    echo "$name $c $rps $p50 $p99 $cpu $rss $user $sys" >>"$results/runs.txt"
}
for r in $(seq "$rounds"); do
    for c in $conns; do
        run direct $up "" "$c" "$r"
        run sidelight $sl $sl_pid "$c" "$r"
        [ -n "$baseline" ] && run baseline $sl_base "$base_pid" "$c" "$r"
        run sidelight-metrics-off $sl_off $sl_off_pid "$c" "$r"
        run haproxy $hap $hap_pid "$c" "$r"
        run nginx $ngp "$ngp_worker" "$c" "$r"
    done
done
median() {  # the median of column $3 for target $1 at conns $2 ("-" stays "-")
    awk -v n="$1" -v c="$2" -v k="$3" '$1 == n && $2 == c {print $k}' "$results/runs.txt" |
        sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : v[NR / 2]}'
}
printf '| target | conns | req/s | p50 µs | p99 µs | proxy CPU µs/req | user | kernel | proxy RSS MB |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for c in $conns; do
    for name in $targets; do
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$c" "$(median $name $c 3)" \
            "$(median $name $c 4)" "$(median $name $c 5)" "$(median $name $c 6)" \
            "$(median $name $c 8)" "$(median $name $c 9)" "$(median $name $c 7)"
    done
done
[ "$rounds" -gt 1 ] && echo && echo "(medians of $rounds interleaved rounds; every run: $results/runs.txt)"

echo
echo "| sidelight memory | MB |"
echo "|---|---|"
printf '| RSS idle (after the runs above) | %.1f |\n' "$(echo "$(rss_kb $sl_pid)/1024" | bc -l)"
ulimit -n 8192
python3 - "$sl" >"$results/idle.txt" <<'PY' &
import socket, sys, time
port = int(sys.argv[1]); socks = []
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /api/products/%d HTTP/1.1\r\nHost: b\r\n\r\n" % i)
    s.recv(65536)
    socks.append(s)
print("open", len(socks), flush=True)
time.sleep(8)
PY
holder=$!
for _ in $(seq 100); do grep -q open "$results/idle.txt" 2>/dev/null && break; sleep 0.1; done
printf '| RSS with 1,000 idle keep-alive clients | %.1f |\n' "$(echo "$(rss_kb $sl_pid)/1024" | bc -l)"
wait $holder || true

peak_during() {  # pid, command...: the largest VmRSS seen while the command runs, in kB
    local pid=$1; shift
    "$@" &
    local job=$! peak=0 now
    while kill -0 $job 2>/dev/null; do
        now=$(rss_kb "$pid"); [ "$now" -gt "$peak" ] && peak=$now
        sleep 0.05
    done
    wait $job
    echo "$peak"
}
base=$(rss_kb $sl_pid)
down=$(peak_during $sl_pid curl -s -o /dev/null "http://127.0.0.1:$sl/big")
printf '| RSS growth during a 1 GiB download | %.1f |\n' "$(echo "($down - $base)/1024" | bc -l)"
base=$(rss_kb $sl_pid)
upl=$(peak_during $sl_pid curl -s -o /dev/null -T "$work/big" "http://127.0.0.1:$sl/upload")
printf '| RSS growth during a 1 GiB upload | %.1f |\n' "$(echo "($upl - $base)/1024" | bc -l)"
echo
echo "raw results: $results (load average during the run: $(cut -d' ' -f1-3 /proc/loadavg))"
