#!/usr/bin/env bash
# What the status page costs on the whole hop, paired in one run (targets interleaved round by
# round, each figure the median of ROUNDS runs), sidelight CPU per request from /proc/PID/stat:
#   status-off     admin.status: false (no sampler, no page)
#   status-on      admin.status: true, nobody looking (the sampler reads the families every 5 s)
#   status-polled  admin.status: true and /status.json fetched every POLL seconds during the run
#                  (a page open: the cost of looking, spread over the requests)
#
# and first, with no traffic at all, the CPU each process used over IDLE seconds (the sampler
# alone, against the same process without it).
#
#   bench/status.sh    DURATION=10 (seconds per wrk run)  CONNS=10  ROUNDS=5  POLL=3  IDLE=30
#                      SIDELIGHT=path (a built binary; default: build-bench/, built Release here)
#
# One worker per sidelight, pinned to core 1 (the admin thread too: the whole process); nginx,
# wrk and the poller on core 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
duration=${DURATION:-10}
conns=${CONNS:-10}
rounds=${ROUNDS:-5}
poll=${POLL:-3}
idle=${IDLE:-30}
bench_setup status

up=18300 off=18310 on=18320 polled=18330

cat >"$work/nginx.conf" <<CONF
$(nginx_head nginx)
  server {
    listen 127.0.0.1:$up reuseport backlog=4096;
    location / { default_type application/json; return 200 '{"id":7,"name":"lamp","price":12.5}'; }
  }
}
CONF
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
pids+=($!)

sidelight_conf() {  # port, status (true/false)
    cat <<CONF
proxy: {listen: 127.0.0.1:$1, workers: 1}
upstream: {address: 127.0.0.1:$up, max_idle: 256}
admin: {listen: 127.0.0.1:$(($1 + 1000)), status: $2}
routes: ["GET /api/products/{id}", "GET /api/users/{id}", "POST /api/orders"]
audit: {store: {path: $work/audit-$1.db}}
log_level: warn
CONF
}
declare -A pid_of
for target in off on polled; do
    port=${!target}
    enabled=true
    [ "$target" = off ] && enabled=false
    sidelight_conf "$port" "$enabled" >"$work/$target.yaml"
    taskset -c 1 "$sidelight" run --config "$work/$target.yaml" >"$work/$target.out" 2>&1 &
    pid_of[$target]=$!
    pids+=($!)
done

for p in $up $off $on $polled; do wait_port "$p"; done
sleep 0.5

hz=$(getconf CLK_TCK)

# Nobody looking, no traffic: what the sampler costs on its own.
idle_before_off=$(cpu_ticks "${pid_of[off]}") idle_before_on=$(cpu_ticks "${pid_of[on]}")
sleep "$idle"
idle_off=$(($(cpu_ticks "${pid_of[off]}") - idle_before_off))
idle_on=$(($(cpu_ticks "${pid_of[on]}") - idle_before_on))
run() {  # target, round
    local target=$1 port=${!1} pid=${pid_of[$1]} out="$results/$1-r$2.txt"
    local url="http://127.0.0.1:$port/api/products/7"
    taskset -c 0 wrk -t1 -c"$conns" -d1s "$url" >/dev/null  # warm
    local poller=""
    if [ "$target" = polled ]; then
        (while :; do taskset -c 0 curl -s -o /dev/null "http://127.0.0.1:$((port + 1000))/status.json"; sleep "$poll"; done) &
        poller=$!
    fi
    local before after reqs rps
    before=$(cpu_ticks "$pid")
    taskset -c 0 wrk -t1 -c"$conns" -d"${duration}s" --latency "$url" >"$out"
    after=$(cpu_ticks "$pid")
    if [ -n "$poller" ]; then kill "$poller"; wait "$poller" 2>/dev/null || true; fi
    reqs=$(awk '/requests in/ {print $1}' "$out")
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out")
    echo "status-$target $rps $(awk -v t=$((after - before)) -v hz="$hz" -v r="$reqs" \
        'BEGIN { printf "%.2f", t / hz * 1e6 / r }')" >>"$results/runs.txt"
}
for r in $(seq "$rounds"); do
    for target in off on polled; do run "$target" "$r"; done
done
printf '| target | req/s | sidelight CPU µs/req |\n|---|---|---|\n'
for name in status-off status-on status-polled; do
    printf '| %s | %s | %s |\n' "$name" "$(median $name 2)" "$(median $name 3)"
done
echo
echo "per round (off on polled):"
paste <(awk '$1 == "status-off" {print $3}' "$results/runs.txt") \
      <(awk '$1 == "status-on" {print $3}' "$results/runs.txt") \
      <(awk '$1 == "status-polled" {print $3}' "$results/runs.txt")
echo
echo "idle ${idle} s, no traffic: CPU off $((idle_off * 1000 / hz)) ms, on $((idle_on * 1000 / hz)) ms (ticks of $((1000 / hz)) ms)"
echo "the polled one's /status.json: $(curl -s -o /dev/null -w '%{size_download} bytes, %{time_total} s' "http://127.0.0.1:$((polled + 1000))/status.json")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
