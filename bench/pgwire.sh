#!/usr/bin/env bash
# The cost of the database listener (issue 15) on the app's queries: pgbench against a
# throwaway PostgreSQL 15 cluster, direct vs through sidelight's `databases` listener vs through
# PgBouncer (session pooling, the usual sidecar), interleaved round by round in the same run;
# each figure the median of ROUNDS runs. Two scripts: `select` (pgbench -S, one SELECT per
# transaction) and `tpcb` (pgbench's default TPC-B-like transaction: BEGIN, three UPDATEs, a
# SELECT, an INSERT, END: 7 statements). The proxy's CPU per query is its utime+stime over the
# run (from /proc) divided by the statements it relayed; the latency percentiles are those of
# every transaction of the run (pgbench -l), and "added" is a proxy's minus direct's.
#
#   bench/pgwire.sh    DURATION=20 (seconds per pgbench run)  CLIENTS=10  ROUNDS=3
#                      SCRIPTS="select tpcb"  MODES="simple prepared"
#                      SIDELIGHT=build/sidelight  FLOOR=0  EPOLL=0
#
# sidelight runs with `database_io: auto` (io_uring where the kernel gives it); EPOLL=1 adds a
# second sidelight with `database_io: epoll` as the target `sl-epoll`.
#
# FLOOR=1 adds a fourth target, bench/floor_relay.cpp (built here with g++): a bare epoll relay
# that observes nothing, the floor any proxy on this machine pays in system calls and wakeups.
#
# Runs as root (the cluster and PgBouncer run as the postgres user). Installs pgbouncer with
# apt-get when it is missing (skipped when that fails).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-20}
clients=${CLIENTS:-10}
rounds=${ROUNDS:-3}
scripts=${SCRIPTS:-select tpcb}
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
log_level: info
YAML
"$sidelight" run --config "$work/sidelight.yaml" 2>"$work/sidelight.err" &
side_pid=$!
pids+=("$side_pid")
epoll_pid=
if [ "${EPOLL:-0}" = 1 ]; then
    # A directory of its own: each sidelight keeps its audit store beside its config.
    mkdir "$work/epoll"
    sed -e "s/18202/18207/; s/18203/18208/; s/:$side,/:18206,/" "$work/sidelight.yaml" \
        >"$work/epoll/sidelight.yaml"
    echo "database_io: epoll" >>"$work/epoll/sidelight.yaml"
    "$sidelight" run --config "$work/epoll/sidelight.yaml" 2>"$work/epoll.err" &
    epoll_pid=$!
    pids+=("$epoll_pid")
fi

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

# run PORT PID MODE SCRIPT -> "tps p50_us p99_us us_cpu_per_query us_user us_sys"
run() {
    local port=$1 pid=$2 mode=$3 script=$4 before after out tps tx per_tx=1 select=-S pct
    if [ "$script" = tpcb ]; then per_tx=7 select=; fi
    [ -n "$pid" ] && before=$(cpu_ticks "$pid")
    rm -f "$work"/tx.*
    out=$(pgbench -h 127.0.0.1 -p "$port" -U postgres -n $select -M "$mode" -c "$clients" -j 2 \
        -T "$duration" -l --log-prefix="$work/tx" postgres 2>&1)
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -1)
    tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    # Per-transaction log: client, transaction, latency (µs), script, epoch s, µs.
    pct=$(cat "$work"/tx.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END{
        printf "%d %d", a[int(NR*0.5)+1], a[int(NR*0.99)+1]}')
    rm -f "$work"/tx.*
    if [ -n "$pid" ]; then
        after=$(cpu_ticks "$pid")
        echo "$tps $pct $(awk -v b="$before" -v a="$after" -v hz="$hz" -v n="$((tx * per_tx))" 'BEGIN{
            split(b, x, " "); split(a, y, " "); u = (y[1] - x[1]) / hz * 1e6 / n
            s = (y[2] - x[2]) / hz * 1e6 / n; printf "%.1f %.1f %.1f", u + s, u, s}')"
    else
        echo "$tps $pct - - -"
    fi
}

median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
below() { awk -v a="$1" -v b="$2" 'BEGIN{print (a < b) ? "below" : "NOT below"}'; }

echo "pgbench -c $clients -j 2 -T $duration, $rounds rounds, median; cpu: proxy µs per statement;"
echo "latency: per transaction, µs; added: the target's minus direct's (medians of the rounds)"
for script in $scripts; do
    for mode in $modes; do
        declare -A tps=() p50=() p99=() cpu=() usr=() sys=()
        for ((r = 1; r <= rounds; r++)); do
            for target in direct sidelight sl-epoll pgbouncer floor; do
                case $target in
                    direct) port=$db pid= ;;
                    sidelight) port=$side pid=$side_pid ;;
                    sl-epoll) [ -n "$epoll_pid" ] || continue; port=18206 pid=$epoll_pid ;;
                    pgbouncer) [ -n "$bouncer_pid" ] || continue; port=$bouncer pid=$bouncer_pid ;;
                    floor) [ -n "$floor_pid" ] || continue; port=18205 pid=$floor_pid ;;
                esac
                read -r t l50 l99 c u s < <(run "$port" "$pid" "$mode" "$script")
                tps[$target]+="$t "
                p50[$target]+="$l50 "
                p99[$target]+="$l99 "
                cpu[$target]+="$c "
                usr[$target]+="$u "
                sys[$target]+="$s "
            done
        done
        of() { tr ' ' '\n' <<<"$1" | grep . | median; }
        d50=$(of "${p50[direct]}") d99=$(of "${p99[direct]}")
        declare -A added50=() added99=() cpu_med=()
        for target in direct sidelight sl-epoll pgbouncer floor; do
            [ -n "${tps[$target]:-}" ] || continue
            l50=$(of "${p50[$target]}") l99=$(of "${p99[$target]}")
            added50[$target]=$((l50 - d50)) added99[$target]=$((l99 - d99))
            cpu_med[$target]=$(of "${cpu[$target]}")
            printf '%-6s %-8s %-10s tps=%-9s p50=%-5s p99=%-5s added p50=%-5s p99=%-5s cpu_us_per_query=%-5s (user %s, system %s)\n' \
                "$script" "$mode" "$target" "$(of "${tps[$target]}")" "$l50" "$l99" \
                "${added50[$target]}" "${added99[$target]}" "${cpu_med[$target]}" \
                "$(of "${usr[$target]}")" "$(of "${sys[$target]}")"
        done
        # The issue's goal, per configuration: sidelight's added p50, added p99 and CPU per
        # statement all below PgBouncer's in this run.
        if [ -n "${tps[pgbouncer]:-}" ]; then
            v50=$(below "${added50[sidelight]}" "${added50[pgbouncer]}")
            v99=$(below "${added99[sidelight]}" "${added99[pgbouncer]}")
            vcpu=$(below "${cpu_med[sidelight]}" "${cpu_med[pgbouncer]}")
            met="not met"
            [ "$v50$v99$vcpu" = belowbelowbelow ] && met=met
            echo "$script $mode goal against pgbouncer: added p50 $v50, added p99 $v99, cpu $vcpu: $met"
        fi
        unset tps p50 p99 cpu usr sys added50 added99 cpu_med
    done
done
echo "sidelight: $(curl -s 127.0.0.1:18203/metrics | grep -c '^db_queries_total') db_queries_total series;" \
    "$(grep -o 'database relay: [a-z_]*' "$work/sidelight.err" | head -1)"
