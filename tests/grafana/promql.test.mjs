// The name checks of tests/grafana/promql.mjs on their own (node --test): what a renamed metric
// or label looks like to them, and what they must not mistake for a name.
//   node --test tests/grafana/promql.test.mjs

import assert from "node:assert/strict";
import { test } from "node:test";
import { exposition, name_errors, references, substitute } from "./promql.mjs";

const metrics = exposition(`# HELP api_latency_ms Request latency.
# TYPE api_latency_ms histogram
api_latency_ms_bucket{service="shop",method="GET",route="/a/{id}",status_code="200",le="10"} 1
api_latency_ms_sum{service="shop",method="GET",route="/a/{id}",status_code="200"} 3.5
api_latency_ms_count{service="shop",method="GET",route="/a/{id}",status_code="200"} 1
api_requests_total{service="shop",method="GET",route="/a/{id}",status_code="200"} 1
sidelight_build_info{version="0.1.0",service="shop"} 1
`);
const recorded = new Map([["route:api_latency_ms:p95_5m", new Set(["route"])]]);
const target = new Set(["job", "instance", "pod", "namespace", "__name__"]);
const errors = (expr) => name_errors(expr, metrics, recorded, target);

test("the exposition's sample names and labels", () => {
    assert.deepEqual([...metrics.keys()].sort(), [
        "api_latency_ms_bucket", "api_latency_ms_count", "api_latency_ms_sum",
        "api_requests_total", "sidelight_build_info",
    ]);
    assert.ok(metrics.get("api_latency_ms_bucket").has("le"));
    assert.ok(!metrics.get("api_latency_ms_sum").has("le"));
});

test("good expressions pass", () => {
    for (const expr of [
        'histogram_quantile(0.95, sum by (le, route) (rate(api_latency_ms_bucket{service=~"shop", route=~".*"}[5m])))',
        "sum(rate(api_latency_ms_sum[5m])) / sum(rate(api_latency_ms_count[5m]))",
        'topk(5, route:api_latency_ms:p95_5m) or on (route) vector(0)',
        'count by (version) (sidelight_build_info{pod=~"p-1"}) offset 5m',
        "sum by (pod) (rate(api_requests_total[5m:1m])) # a comment naming no_such_metric",
        'label_replace(api_requests_total, "x", "$1", "route", "(.*)")',
        '1 - (sum(rate(api_requests_total{status_code=~"5.."}[1h])) or 0 * sum(rate(api_requests_total[1h]))) and bool 1',
    ]) {
        assert.deepEqual(errors(expr), [], expr);
    }
});

test("a renamed metric, a histogram without its suffix, a wrong label", () => {
    assert.match(errors("sum(rate(api_request_total[5m]))")[0], /metric api_request_total is not in/);
    assert.match(
        errors("histogram_quantile(0.9, sum by (le) (rate(api_latency_ms[5m])))")[0],
        /metric api_latency_ms is not in/,
    );
    assert.match(errors('sum(api_requests_total{path="/a"})')[0], /api_requests_total has no label path/);
    assert.match(errors("sum by (path) (api_requests_total)")[0], /label path is on none/);
    assert.match(errors("sum by (le) (rate(api_latency_ms_sum[5m]))")[0], /label le is on none/);
    assert.match(errors("vector(1)")[0], /reads no metric/);
});

test("strings, functions and keywords are not names", () => {
    const r = references('sum without (instance) (rate(x{a="sum(y)", b=~"{c}"}[1m])) unless on (a) group_left (b) z');
    assert.deepEqual([...r.metrics.keys()], ["x", "z"]);
    assert.deepEqual([...r.metrics.get("x")].sort(), ["a", "b"]);
    assert.deepEqual([...r.grouping].sort(), ["a", "b", "instance"]);
});

test("Grafana's variables", () => {
    assert.equal(
        substitute('rate(x{pod=~"$pod", r=~"${route}"}[$__rate_interval])', { pod: "p", route: ".*", __rate_interval: "1m" }),
        'rate(x{pod=~"p", r=~".*"}[1m])',
    );
    assert.throws(() => substitute("x{a=~\"$nope\"}", {}), /no test value for the template variable \$nope/);
    assert.equal(substitute('label_replace(x, "d", "$1", "s", "(.*)")', {}), 'label_replace(x, "d", "$1", "s", "(.*)")');
    assert.throws(() => references("rate(x[$__rate_interval])"), /unsubstituted template variable/);
});
