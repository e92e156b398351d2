#!/usr/bin/env bash
# The cost of the database listener (issue 15) on the app's queries: pgbench -S (select-only,
# one SELECT per transaction) against a throwaway PostgreSQL 15 cluster, direct vs through
# sidelight's `databases` listener vs through PgBouncer (session pooling, the usual sidecar),
# interleaved round by round in the same run; each figure the median of ROUNDS runs. The proxy's
# CPU per query is its utime+stime over the run (from /proc) divided by the queries it relayed.
#
#   bench/pgwire.sh    DURATION=10 (seconds per pgbench run)  CLIENTS=8  ROUNDS=3
#                      MODES="simple prepared"  SIDELIGHT=build/sidelight  FLOOR=0
#
# FLOOR=1 adds a fourth target, bench/floor_relay.cpp (built here with g++): a bare epoll relay
# that observes nothing, the floor any proxy on this machine pays in system calls and wakeups.
#
# Runs as root (the cluster and PgBouncer run as the postgres user). Installs pgbouncer with
# apt-get when it is missing (skipped when that fails).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10}
clients=${CLIENTS:-8}
rounds=${ROUNDS:-3}
modes=${MODES:-simple prepared}
sidelight=${SIDELIGHT:-$PWD/build/sidelight}
pg=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/sidelight-pgwire.XXXXXX)
chown postgres "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    runuser -u postgres -- "$pg/pg_ctl" stop -D "$work/data" -m immediate >/dev/null 2>&1 || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

db=18200 side=18201 bouncer=18204
command -v pgbouncer >/dev/null || apt-get install -y -qq pgbouncer >/dev/null 2>&1 || true

# --- the database: small, fsync off (the hop is measured, not the disk) ---
runuser -u postgres -- "$pg/initdb" -D "$work/data" -A trust -U postgres --no-sync >/dev/null
runuser -u postgres -- "$pg/pg_ctl" start -D "$work/data" -w -l "$work/pg.log" \
    -o "-p $db -c listen_addresses=127.0.0.1 -k $work -c fsync=off -c max_connections=100" >/dev/null
pgbench -h 127.0.0.1 -p $db -U postgres -i -s 10 -q postgres >/dev/null 2>&1

# --- sidelight: one database listener ---
cat >"$work/sidelight.yaml" <<YAML
proxy: {listen: 127.0.0.1:18202, workers: 1}
upstream: {address: 127.0.0.1:1}
admin: {listen: 127.0.0.1:18203}
databases:
  - {name: main, listen: 127.0.0.1:$side, upstream: {address: 127.0.0.1:$db}}
log_level: warn
YAML
"$sidelight" run --config "$work/sidelight.yaml" 2>"$work/sidelight.err" &
side_pid=$!
pids+=("$side_pid")

# --- PgBouncer: session pooling, trust ---
bouncer_pid=
if command -v pgbouncer >/dev/null; then
    printf '"postgres" ""\n' >"$work/users.txt"
    cat >"$work/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$db
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer
auth_type = trust
auth_file = $work/users.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 50
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
INI
    chown postgres "$work"/pgbouncer.ini "$work/users.txt"
    runuser -u postgres -- pgbouncer -q "$work/pgbouncer.ini" &
    pids+=("$!")
fi
sleep 1
# runuser stays as pgbouncer's parent: its CPU is pgbouncer's own, read from its pid file.
[ -s "$work/pgbouncer.pid" ] && bouncer_pid=$(cat "$work/pgbouncer.pid")

# --- the floor: a bare relay (FLOOR=1) ---
floor_pid=
if [ "${FLOOR:-0}" = 1 ]; then
    g++ -O2 -o "$work/floor_relay" bench/floor_relay.cpp
    "$work/floor_relay" 18205 $db &
    floor_pid=$!
    pids+=("$floor_pid")
fi

cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# run TARGET PORT PID MODE -> "tps us_cpu_per_query us_user us_sys"
run() {
    local port=$2 pid=$3 mode=$4 before after out tps tx
    [ -n "$pid" ] && before=$(cpu_ticks "$pid")
    out=$(pgbench -h 127.0.0.1 -p "$port" -U postgres -n -S -M "$mode" -c "$clients" -j 2 \
        -T "$duration" postgres 2>&1)
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -1)
    tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    if [ -n "$pid" ]; then
        after=$(cpu_ticks "$pid")
        echo "$tps $(awk -v b="$before" -v a="$after" -v hz="$hz" -v n="$tx" 'BEGIN{
            split(b, x, " "); split(a, y, " "); u = (y[1] - x[1]) / hz * 1e6 / n
            s = (y[2] - x[2]) / hz * 1e6 / n; printf "%.1f %.1f %.1f", u + s, u, s}')"
    else
        echo "$tps - - -"
    fi
}

median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

echo "pgbench -S -c $clients -j 2 -T $duration, $rounds rounds, median; cpu: proxy µs per query"
for mode in $modes; do
    declare -A tps=() cpu=() usr=() sys=()
    for ((r = 1; r <= rounds; r++)); do
        for target in direct sidelight pgbouncer floor; do
            case $target in
                direct) port=$db pid= ;;
                sidelight) port=$side pid=$side_pid ;;
                pgbouncer) [ -n "$bouncer_pid" ] || continue; port=$bouncer pid=$bouncer_pid ;;
                floor) [ -n "$floor_pid" ] || continue; port=18205 pid=$floor_pid ;;
            esac
            read -r t c u s < <(run "$target" "$port" "$pid" "$mode")
            tps[$target]+="$t "
            cpu[$target]+="$c "
            usr[$target]+="$u "
            sys[$target]+="$s "
        done
    done
    for target in direct sidelight pgbouncer floor; do
        [ -n "${tps[$target]:-}" ] || continue
        t=$(tr ' ' '\n' <<<"${tps[$target]}" | grep . | median)
        c=$(tr ' ' '\n' <<<"${cpu[$target]}" | grep . | median)
        u=$(tr ' ' '\n' <<<"${usr[$target]}" | grep . | median)
        s=$(tr ' ' '\n' <<<"${sys[$target]}" | grep . | median)
        printf '%-8s %-10s tps=%-10s cpu_us_per_query=%-5s (user %s, system %s)\n' \
            "$mode" "$target" "$t" "$c" "$u" "$s"
    done
    unset tps cpu usr sys
done
echo "sidelight: $(curl -s 127.0.0.1:18203/metrics | grep -c '^db_queries_total') db_queries_total series"
