#!/usr/bin/env bash
# The Postgres fleet store's figures, against a throwaway local PostgreSQL 15 started here
# (synchronous_commit=on, track_commit_timestamp=on for the lag):
#   1. forwarding throughput: spools of EVENTS events, forwarded in batches of BATCH, with one
#      writer (three runs) and with three writers (three chains) at once (bench_forward
#      throughput);
#   2. lag at a steady RATE events/s for LAG_SECONDS: Postgres commit time - event time, p50/p99;
#   3. the request path: sidelight with an audit rule on every request, `type: sqlite` against
#      `type: postgres` (spool + forwarder), ROUNDS interleaved wrk runs of DURATION seconds each
#      at 10 connections: req/s, p99 and sidelight's CPU microseconds per request (the forwarder
#      thread's included).
#
#   bench/pg_store.sh     EVENTS=300000 BATCH=2000 RATE=2000 LAG_SECONDS=30 DURATION=10 ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
events=${EVENTS:-300000} batch=${BATCH:-2000} rate=${RATE:-2000} lag_seconds=${LAG_SECONDS:-30}
duration=${DURATION:-10} rounds=${ROUNDS:-3}
results=$root/bench/results/pg-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$results"
work=$(mktemp -d /tmp/sidelight-pgbench.XXXXXX)
pids=()
pgbin=/usr/lib/postgresql/15/bin
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" stop -m immediate >/dev/null 2>&1 || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

scripts/install-deps --bench >/dev/null
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIDELIGHT_BENCH=ON \
    -DSIDELIGHT_TESTS=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build build-bench -j2 --target sidelight bench_forward >/dev/null
sidelight=$root/build-bench/sidelight
forward=$root/build-bench/bench/bench_forward

# --- PostgreSQL 15 (not pinned: its backend, WAL writer and checkpointer share both cores) ---
pgport=18432
[ "$(id -u)" = 0 ] && chown postgres "$work"
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg" -A trust -U postgres --no-sync -E UTF8 --locale=C >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w start -o \
    "-p $pgport -k $work -c listen_addresses=127.0.0.1 -c synchronous_commit=on \
     -c track_commit_timestamp=on -c shared_buffers=256MB -c max_wal_size=4GB" >/dev/null
pg="host=127.0.0.1 port=$pgport user=postgres"
fresh_db() {
    psql "$pg dbname=postgres" -qAt -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench" \
        >/dev/null 2>&1
    rm -rf "$work/spool" && mkdir -p "$work/spool"
}

echo "== forwarding throughput (batch $batch)"
# Three runs with one writer: the first after initdb also creates the WAL segment files, which
# later runs recycle.
for run in 1 2 3; do
    fresh_db
    "$forward" throughput "$pg dbname=bench" "$work/spool" "$events" 1 "$batch" 2>/dev/null |
        tee -a "$results/throughput-1.txt"
done
fresh_db
"$forward" throughput "$pg dbname=bench" "$work/spool" $((events / 3)) 3 "$batch" 2>/dev/null |
    tee "$results/throughput-3.txt"

echo "== lag at $rate events/s for ${lag_seconds}s"
fresh_db
"$forward" lag "$pg dbname=bench" "$work/spool" "$rate" "$lag_seconds" "$batch" 2>/dev/null |
    tee "$results/lag.txt"

# --- the request path: nginx upstream on core 0, sidelight on core 1, wrk on core 0 ---
up=18500
cat >"$work/upstream.conf" <<CONF
worker_processes 1; daemon off; pid $work/upstream.pid; error_log $work/upstream.err;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 10000000;
  client_body_temp_path $work/c; proxy_temp_path $work/p;
  fastcgi_temp_path $work/f; uwsgi_temp_path $work/u; scgi_temp_path $work/s;
  server { listen 127.0.0.1:$up; location / { default_type application/json; return 200 '{"id":7}'; } }
}
CONF
taskset -c 0 nginx -c "$work/upstream.conf" -p "$work" &
pids+=($!)
store_yaml() {  # kind
    if [ "$1" = sqlite ]; then
        echo "  store: {type: sqlite, path: $work/audit.db}"
    else
        echo "  store: {type: postgres, dsn: \"$pg dbname=bench\", chain: bench, spool: {path: $work/spool.db}}"
    fi
}
sidelight_yaml() {  # kind port
    cat <<CONF
proxy: {listen: 127.0.0.1:$2, workers: 1}
upstream: {address: 127.0.0.1:$up, max_idle: 256}
admin: {listen: 127.0.0.1:$(($2 + 100))}
routes: ["GET /api/products/{id}"]
audit:
$(store_yaml "$1")
  rules:
    - {action: READ_PRODUCT, entity_type: product, entity_id: "path:id", match: {routes: ["/api/products/{id}"], methods: [GET]}}
log_level: warn
CONF
}
hz=$(getconf CLK_TCK)
to_us() {
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; printf "%.0f", n }'
}
: >"$results/runs.txt"
for r in $(seq "$rounds"); do
    for kind in sqlite postgres; do
        fresh_db
        rm -f "$work"/audit.db* "$work"/spool.db*
        port=18600
        sidelight_yaml "$kind" $port >"$work/$kind.yaml"
        taskset -c 1 "$sidelight" run --config "$work/$kind.yaml" >/dev/null 2>"$work/$kind.err" &
        pid=$!
        for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
        taskset -c 0 wrk -t1 -c10 -d1s "http://127.0.0.1:$port/api/products/7" >/dev/null
        read -r bu bs < <(awk '{print $14, $15}' "/proc/$pid/stat")
        out="$results/$kind-r$r.txt"
        taskset -c 0 wrk -t1 -c10 -d"${duration}s" --latency "http://127.0.0.1:$port/api/products/7" >"$out"
        sleep 1  # the forwarder finishes the last batches: its CPU is counted too
        read -r au as < <(awk '{print $14, $15}' "/proc/$pid/stat")
        reqs=$(awk '/requests in/ {print $1}' "$out")
        rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out")
        p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
        cpu=$(awk -v t=$((au + as - bu - bs)) -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
        rows=""
        if [ "$kind" = postgres ]; then
            rows=$(psql "$pg dbname=bench" -qAt -c "SELECT count(*) FROM audit_log")
        fi
        echo "$kind $r $rps $p99 $cpu $reqs $rows" | tee -a "$results/runs.txt"
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
done
echo
echo "| store | req/s (median) | p99 µs (median) | sidelight CPU µs/req (median) |"
echo "|---|---|---|---|"
for kind in sqlite postgres; do
    med() { awk -v k="$kind" -v c="$1" '$1 == k {print $c}' "$results/runs.txt" | sort -n |
        awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
    echo "| $kind | $(med 3) | $(med 4) | $(med 5) |"
done | tee "$results/table.md"
