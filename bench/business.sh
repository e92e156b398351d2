#!/usr/bin/env bash
# The cost of issue 14's features on the whole hop, each paired with its baseline in the same
# run (targets interleaved round by round; each figure the median of ROUNDS runs):
#
#   1. metric rules: sidelight with the example's three shop rules (orders_created_total,
#      order_value_usd reading the response body, emails_sent_total on the egress listener) vs
#      the same config without `metrics.rules`, on POST /api/orders whose 201 body the rules
#      read. The difference in proxy CPU per request is what a metric rule costs.
#   2. egress TLS origination: the app's call (plain HTTP) through sidelight's egress listener to
#      a TLS upstream (nginx with a certificate made here), vs HAProxy doing the same origination
#      (`server ... ssl verify required`), both verifying the certificate and keeping TLS
#      connections alive.
#
#   bench/business.sh    DURATION=10 (seconds per wrk run)  CONNS=10  ROUNDS=3
#
# One worker/thread for every proxy, pinned to core 1; the upstream and wrk on core 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
duration=${DURATION:-10}
conns=${CONNS:-10}
rounds=${ROUNDS:-3}
bench_setup business

up=18100 tls_up=18101 rules_on=18110 rules_off=18120 egress=18111 hap=18140

# --- a CA and a certificate for mail.test (and 127.0.0.1) ---
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" \
    -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=mail.test" -keyout "$work/leaf.key" \
    -out "$work/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:mail.test,IP:127.0.0.1\n' >"$work/san.ext"
openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -days 2 -extfile "$work/san.ext" -out "$work/leaf.pem" 2>/dev/null

# --- upstream: nginx, 1 worker: the shop (plain) and the mail provider (TLS) ---
order='{"id":42,"total":123.45,"platform":"web"}'
cat >"$work/upstream.conf" <<CONF
$(nginx_head upstream)
  server {
    listen 127.0.0.1:$up reuseport backlog=4096;
    location / { default_type application/json; return 201 '$order'; }
  }
  server {
    listen 127.0.0.1:$tls_up ssl reuseport backlog=4096;
    ssl_certificate $work/leaf.pem; ssl_certificate_key $work/leaf.key;
    location / { default_type application/json; return 202 '{"queued":true}'; }
  }
}
CONF
taskset -c 0 nginx -c "$work/upstream.conf" -p "$work" &
pids+=($!)

# --- sidelight: rules on (with the egress listener) and off ---
sidelight_conf() {  # port, rules (true/false)
    cat <<CONF
proxy: {listen: 127.0.0.1:$1, workers: 1}
upstream: {address: 127.0.0.1:$up, max_idle: 256}
admin: {listen: 127.0.0.1:$(($1 + 1000))}
routes: [POST /api/orders]
audit: {store: {path: $work/audit-$1.db}}
log_level: warn
CONF
    if [ "$2" = true ]; then
        cat <<CONF
egress:
  - name: mail
    listen: 127.0.0.1:$(($1 + 1))
    upstream: {address: 127.0.0.1:$tls_up, tls: true, sni: mail.test, ca_file: $work/ca.pem, max_idle: 256}
    routes: [POST /v3/mail/send]
metrics:
  rules:
    - name: orders_created_total
      type: counter
      match: {routes: [/api/orders], methods: [POST]}
      labels:
        platform: {from: "response:/platform", values: [web, ios, android], other: other}
        status: {from: status_class, map: {2xx: success, 4xx: rejected, 5xx: failed}}
    - name: order_value_usd
      type: histogram
      buckets: [10, 50, 100, 500, 1000, 5000, 10000]
      match: {routes: [/api/orders], methods: [POST], status: [2xx]}
      value: "response:/total"
      labels:
        platform: {from: "response:/platform", values: [web, ios, android], other: other}
    - name: emails_sent_total
      type: counter
      listener: mail
      match: {routes: [/v3/mail/send], methods: [POST]}
      labels:
        template_type: {from: "request:/template_id", map: {d-welcome: welcome, d-receipt: receipt}, other: other}
        status: {from: status_class, map: {2xx: sent, 4xx: rejected, 5xx: failed}}
CONF
    fi
}
sidelight_conf $rules_on true >"$work/on.yaml"
sidelight_conf $rules_off false >"$work/off.yaml"
taskset -c 1 "$sidelight" run --config "$work/on.yaml" >"$work/on.out" 2>&1 &
on_pid=$!
pids+=($on_pid)
taskset -c 1 "$sidelight" run --config "$work/off.yaml" >"$work/off.out" 2>&1 &
off_pid=$!
pids+=($off_pid)

# --- HAProxy: TLS origination with verification, 1 thread, connection reuse ---
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
  server mail 127.0.0.1:$tls_up ssl verify required ca-file $work/ca.pem sni str(mail.test) verifyhost mail.test
CONF
taskset -c 1 haproxy -f "$work/haproxy.cfg" -db &
hap_pid=$!
pids+=($hap_pid)

for p in $up $tls_up $rules_on $rules_off $egress $hap; do wait_port "$p"; done
sleep 0.5

cat >"$work/order.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"sku":"lamp","qty":1}'
wrk.headers["Content-Type"] = "application/json"
LUA
cat >"$work/mail.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"template_id":"d-receipt","personalizations":[{"to":[{"email":"a@b.test"}]}]}'
wrk.headers["Content-Type"] = "application/json"
LUA

hz=$(getconf CLK_TCK)
run() {  # name, url, lua, pid, round
    local name=$1 url=$2 lua=$3 pid=$4 out="$results/$1-r$5.txt"
    taskset -c 0 wrk -t1 -c"$conns" -d1s -s "$lua" "$url" >/dev/null  # warm
    local before after reqs rps
    before=$(cpu_ticks "$pid")
    taskset -c 0 wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$lua" "$url" >"$out"
    after=$(cpu_ticks "$pid")
    reqs=$(awk '/requests in/ {print $1}' "$out")
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out")
    local non2xx
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$out")
    echo "$name $rps $(awk -v t=$((after - before)) -v hz="$hz" -v r="$reqs" \
        'BEGIN { printf "%.2f", t / hz * 1e6 / r }') ${non2xx:-0}" >>"$results/runs.txt"
}
for r in $(seq "$rounds"); do
    run rules-off "http://127.0.0.1:$rules_off/api/orders" "$work/order.lua" $off_pid "$r"
    run rules-on "http://127.0.0.1:$rules_on/api/orders" "$work/order.lua" $on_pid "$r"
    run egress-tls "http://127.0.0.1:$egress/v3/mail/send" "$work/mail.lua" $on_pid "$r"
    run haproxy-tls "http://127.0.0.1:$hap/v3/mail/send" "$work/mail.lua" $hap_pid "$r"
done
printf '| target | req/s | proxy CPU µs/req | non-2xx |\n|---|---|---|---|\n'
for name in rules-off rules-on egress-tls haproxy-tls; do
    printf '| %s | %s | %s | %s |\n' "$name" "$(median $name 2)" "$(median $name 3)" "$(median $name 4)"
done
echo
curl -s "http://127.0.0.1:$((rules_on + 1000))/metrics" |
    grep -E '^(orders_created_total|emails_sent_total|order_value_usd_count|sidelight_metric_rule_skipped)' |
    sed 's/^/    /'
echo "(medians of $rounds interleaved rounds; raw: $results; load average: $(cut -d' ' -f1-3 /proc/loadavg))"
