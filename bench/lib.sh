# Shared by the paired whole-hop benchmarks (bench/tracing.sh, bench/business.sh,
# bench/status.sh): sourced, not run. bench_setup NAME: the checkout as cwd, $root,
# bench/results/NAME-<time>/ as $results, a scratch $work directory, $pids killed and $work
# removed on exit, the bench packages installed and, as $sidelight, $SIDELIGHT when set (a built
# binary) or else the Release build in build-bench/.

bench_setup() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    root=$PWD
    results=$root/bench/results/$1-$(date -u +%Y%m%dT%H%M%SZ)
    mkdir -p "$results"
    work=$(mktemp -d "/tmp/sidelight-$1.XXXXXX")
    pids=()
    trap bench_cleanup EXIT
    scripts/install-deps --bench >/dev/null
    if [ -n "${SIDELIGHT:-}" ]; then
        sidelight=$(realpath "$SIDELIGHT")
        return
    fi
    BUILD_DIR=build-bench SIDELIGHT_TESTS=OFF BUILD_TYPE=Release scripts/build >/dev/null
    sidelight=$root/build-bench/sidelight
}

bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}

# Waits up to 10 s for 127.0.0.1:PORT to accept; exits the script otherwise.
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "port $1 never opened" >&2
    exit 1
}

# utime + stime of PID, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# The median of column K of the lines of $results/runs.txt whose first field is TARGET.
median() {  # target, column
    awk -v n="$1" -v k="$2" '$1 == n {print $k}' "$results/runs.txt" | sort -g |
        awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : v[NR / 2]}'
}

# The head of an nginx config for the app in a heredoc: one worker in the foreground, pid and
# error log $work/NAME.*, keep-alive without limits, temp paths in $work; up to and inside the
# `http {` block, whose servers and closing brace the script writes.
nginx_head() {  # name
    cat <<CONF
worker_processes 1; daemon off; pid $work/$1.pid; error_log $work/$1.err;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 10000000; keepalive_timeout 300s;
  client_body_temp_path $work/ctmp; proxy_temp_path $work/ptmp;
  fastcgi_temp_path $work/ftmp; uwsgi_temp_path $work/utmp; scgi_temp_path $work/stmp;
CONF
}
