#!/usr/bin/env bash
# What tracing costs on the whole hop, paired in one run (targets interleaved round by round,
# each figure the median of ROUNDS runs): sidelight with `tracing` off vs on at 100 % sampling
# (every request starts a trace, its two spans are exported as OTLP protobuf to a collector,
# its trace id left as an exemplar on api_latency_ms). The collector is nginx answering 200 to
# every POST /v1/traces: the cost measured is sidelight's, exporter thread included.
#
#   bench/tracing.sh    DURATION=10 (seconds per wrk run)  CONNS=10  ROUNDS=5
#
# One worker per sidelight, pinned to core 1 (the exporter thread too: the whole process);
# nginx and wrk on core 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
duration=${DURATION:-10}
conns=${CONNS:-10}
rounds=${ROUNDS:-5}
bench_setup tracing

up=18200 collector=18201 off=18210 on=18220

cat >"$work/nginx.conf" <<CONF
$(nginx_head nginx)
  client_max_body_size 64m; client_body_buffer_size 1m;
  server {
    listen 127.0.0.1:$up reuseport backlog=4096;
    location / { default_type application/json; return 200 '{"id":7,"name":"lamp","price":12.5}'; }
  }
  server {
    listen 127.0.0.1:$collector reuseport backlog=4096;
    location /v1/traces { default_type application/x-protobuf; return 200 ''; }
  }
}
CONF
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
pids+=($!)

sidelight_conf() {  # port, tracing (true/false)
    cat <<CONF
proxy: {listen: 127.0.0.1:$1, workers: 1}
upstream: {address: 127.0.0.1:$up, max_idle: 256}
admin: {listen: 127.0.0.1:$(($1 + 1000))}
routes: ["GET /api/products/{id}"]
audit: {store: {path: $work/audit-$1.db}}
log_level: warn
tracing:
  enabled: $2
  sampler: always
  otlp: {endpoint: "http://127.0.0.1:$collector/v1/traces", encoding: protobuf}
CONF
}
sidelight_conf $off false >"$work/off.yaml"
sidelight_conf $on true >"$work/on.yaml"
taskset -c 1 "$sidelight" run --config "$work/off.yaml" >"$work/off.out" 2>&1 &
off_pid=$!
pids+=($off_pid)
taskset -c 1 "$sidelight" run --config "$work/on.yaml" >"$work/on.out" 2>&1 &
on_pid=$!
pids+=($on_pid)

for p in $up $collector $off $on; do wait_port "$p"; done
sleep 0.5

hz=$(getconf CLK_TCK)
run() {  # name, port, pid, round
    local name=$1 out="$results/$1-r$4.txt"
    local url="http://127.0.0.1:$2/api/products/7"
    taskset -c 0 wrk -t1 -c"$conns" -d1s "$url" >/dev/null  # warm
    local before after reqs rps
    before=$(cpu_ticks "$3")
    taskset -c 0 wrk -t1 -c"$conns" -d"${duration}s" --latency "$url" >"$out"
    sleep 1.2  # the last batch leaves within batch_interval (1 s): its export is counted too
    after=$(cpu_ticks "$3")
    reqs=$(awk '/requests in/ {print $1}' "$out")
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out")
    echo "$name $rps $(awk -v t=$((after - before)) -v hz="$hz" -v r="$reqs" \
        'BEGIN { printf "%.2f", t / hz * 1e6 / r }')" >>"$results/runs.txt"
}
for r in $(seq "$rounds"); do
    run tracing-off $off $off_pid "$r"
    run tracing-on $on $on_pid "$r"
done
printf '| target | req/s | sidelight CPU µs/req |\n|---|---|---|\n'
for name in tracing-off tracing-on; do
    printf '| %s | %s | %s |\n' "$name" "$(median $name 2)" "$(median $name 3)"
done
echo
echo "per round (off on):"
paste <(awk '$1 == "tracing-off" {print $3}' "$results/runs.txt") \
      <(awk '$1 == "tracing-on" {print $3}' "$results/runs.txt")
echo
curl -s "http://127.0.0.1:$((on + 1000))/metrics" | grep -E '^sidelight_tracing' | sed 's/^/    /'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
