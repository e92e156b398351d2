#!/usr/bin/env node
// Writes sidelight's Grafana dashboards from the one description below (panels, PromQL, units,
// thresholds, descriptions):
//   deploy/grafana/{overview,business,database,audit,sidelight}.json   importable as they are
//   deploy/kubernetes/monitoring/grafana-dashboards.yaml               the same JSON in a ConfigMap
//                                                                      labelled grafana_dashboard: "1"
// Run it after editing this file. With --check it writes nothing and exits 1 when a committed
// file differs from what it would write (tests/grafana/run uses that).
//   node deploy/grafana/generate.mjs [--check]
//
// The metric names are sidelight's (docs/CONFIG.md) with no metrics.prefix (which the api_* names
// and active_connections take, and the db_* ones do not), and the business metrics are those of
// deploy/examples/sidelight.yaml. tests/grafana/run checks every expression here against the
// /metrics of a running sidelight and runs it against a real Prometheus.
// No npm package needed: plain node.

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");

// ---- building blocks ------------------------------------------------------------------------

const DS = { type: "prometheus", uid: "${datasource}" };
const RATE = "$__rate_interval";

// Selectors: every query filters on the dashboard's variables.
const sp = 'service=~"$service", pod=~"$pod"';
const traffic = `${sp}, listener=~"$listener", route=~"$route"`;

const green = "green";
// Threshold steps: base colour, then [value, colour] pairs.
function steps(base, ...pairs) {
    return {
        mode: "absolute",
        steps: [{ color: base, value: null }, ...pairs.map(([value, color]) => ({ color, value }))],
    };
}
const no_thresholds = steps(green);

function target(expr, legend, extra = {}) {
    return { expr, legend, ...extra };
}

// A panel in the description: kind (timeseries, stat, heatmap, gauge), title, description,
// unit, targets, and optional thresholds, min, max, w, h, decimals, mappings, stack.
function panel(kind, title, description, unit, targets, opts = {}) {
    return { kind, title, description, unit, targets, ...opts };
}
const ts = (...a) => panel("timeseries", ...a);
const stat = (...a) => panel("stat", ...a);
const row = (title) => ({ kind: "row", title });

// ---- variables ------------------------------------------------------------------------------

function datasource_var() {
    return {
        name: "datasource",
        label: "Data source",
        type: "datasource",
        query: "prometheus",
        current: { selected: true, text: "default", value: "default" },
        hide: 0,
        includeAll: false,
        multi: false,
        options: [],
        refresh: 1,
        regex: "",
        skipUrlSync: false,
    };
}

// A query variable over label values; "All" sends .* (which also matches a missing label).
function label_var(name, label, query, description) {
    return {
        name,
        label,
        description,
        type: "query",
        datasource: DS,
        query, // the classic string form: every Grafana since 7 reads it
        current: { selected: true, text: ["All"], value: ["$__all"] },
        includeAll: true,
        allValue: ".*",
        multi: true,
        hide: 0,
        options: [],
        refresh: 2,
        regex: "",
        sort: 1,
        skipUrlSync: false,
    };
}

const service_var = () =>
    label_var(
        "service",
        "Service",
        "label_values(sidelight_build_info, service)",
        "metrics.const_labels.service of the sidecars (the example config sets it)",
    );
const pod_var = () =>
    label_var(
        "pod",
        "Pod",
        'label_values(sidelight_build_info{service=~"$service"}, pod)',
        "The pod label the Prometheus Operator adds to every scraped series",
    );
const listener_var = () =>
    label_var(
        "listener",
        "Listener",
        'label_values(api_requests_total{service=~"$service"}, listener)',
        "ingress (the proxy: the app's clients) or an egress listener's name (the app's own calls out); the label exists only when egress listeners are configured, and All then counts both",
    );
const route_var = () =>
    label_var(
        "route",
        "Route",
        'label_values(api_requests_total{service=~"$service", listener=~"$listener"}, route)',
        "Route templates of the route table; unmatched is every other path",
    );

// ---- the dashboards -------------------------------------------------------------------------

const q = (p, by, metric, sel) =>
    `histogram_quantile(${p}, sum by (${by}) (rate(${metric}_bucket{${sel}}[${RATE}])))`;

const overview = {
    uid: "sidelight-overview",
    title: "sidelight / Overview",
    description:
        "The traffic sidelight sees in front of the app: request rate, latency percentiles, errors and connections, by route template.",
    variables: [datasource_var(), service_var(), pod_var(), listener_var(), route_var()],
    panels: [
        stat(
            "Request rate",
            "Requests per second answered through the selected listeners and routes, all statuses.",
            "reqps",
            [target(`sum(rate(api_requests_total{${traffic}}[${RATE}]))`, "requests/s")],
            { w: 6, h: 4 },
        ),
        stat(
            "Error rate",
            "Share of requests answered with a 5xx: the app's own (server_error) and those sidelight answers itself when the app fails (502 unreachable or reset, 503 audit store unavailable, 504 timeout). The status page and the SLO rules count the same. A 4xx, a client that left (499) or a malformed request sidelight refused (400, 413, 431, ...) is not a failure of the service. No data: no request in the window. Healthy: under 1%.",
            "percent",
            [
                target(
                    `100 * (sum(rate(api_requests_total{${traffic}, status_code=~"5.."}[${RATE}])) or vector(0)) / (sum(rate(api_requests_total{${traffic}}[${RATE}])) > 0)`,
                    "errors",
                ),
            ],
            { w: 6, h: 4, thresholds: steps(green, [1, "orange"], [5, "red"]), decimals: 2 },
        ),
        stat(
            "P95 latency",
            "95th percentile of the request latency (first byte of the request to last byte of the response), interpolated within the api_latency_ms buckets.",
            "ms",
            [target(q(0.95, "le", "api_latency_ms", traffic), "p95")],
            { w: 6, h: 4, thresholds: steps(green, [500, "orange"], [1000, "red"]) },
        ),
        stat(
            "Active client connections",
            "Client connections open on the proxy right now (keep-alive ones included).",
            "short",
            [target(`sum(active_connections{${sp}, type="client"})`, "client")],
            { w: 6, h: 4 },
        ),
        ts(
            "Request rate by route",
            "Requests per second by route template (never the raw path: unmatched collects every path outside the route table).",
            "reqps",
            [target(`sum by (route) (rate(api_requests_total{${traffic}}[${RATE}]))`, "{{route}}")],
        ),
        ts(
            "Requests by status code",
            "Requests per second by HTTP status code; 499 is a client that left before its response.",
            "reqps",
            [target(`sum by (status_code) (rate(api_requests_total{${traffic}}[${RATE}]))`, "{{status_code}}")],
            { stack: true },
        ),
        ts(
            "Latency P50 / P95 / P99",
            "Request latency percentiles over all selected routes, from the api_latency_ms histogram (a percentile is only as fine as the buckets around it).",
            "ms",
            [0.5, 0.95, 0.99].map((p) =>
                target(q(p, "le", "api_latency_ms", traffic), `p${Math.round(p * 100)}`),
            ),
            { thresholds: steps(green, [500, "orange"], [1000, "red"]) },
        ),
        ts(
            "P95 latency by route",
            "95th percentile latency of each route template; a slow route stands out here before it moves the overall percentile.",
            "ms",
            [target(q(0.95, "le, route", "api_latency_ms", traffic), "{{route}}")],
            { thresholds: steps(green, [500, "orange"], [1000, "red"]) },
        ),
        ts(
            "Error rate by route",
            "Share of each route's requests answered with a 5xx (the app's, or sidelight's own 502/503/504 when the app fails), as the status page and the SLO rules count them; 4xx, 499 and sidelight's refusals of malformed requests are not counted. A route with requests and no 5xx shows 0. Healthy: under 1%.",
            "percent",
            [
                target(
                    `100 * (sum by (route) (rate(api_requests_total{${traffic}, status_code=~"5.."}[${RATE}])) or 0 * sum by (route) (rate(api_requests_total{${traffic}}[${RATE}]))) / (sum by (route) (rate(api_requests_total{${traffic}}[${RATE}])) > 0)`,
                    "{{route}}",
                ),
            ],
            { thresholds: steps(green, [1, "orange"], [5, "red"]) },
        ),
        ts(
            "Errors by type",
            "Failed requests per second by error_type: client_error and server_error are the app's 4xx/5xx; upstream_* and the rest are answered by sidelight itself (README, Errors).",
            "reqps",
            [target(`sum by (error_type) (rate(api_error_total{${traffic}}[${RATE}]))`, "{{error_type}}")],
            { stack: true },
        ),
        ts(
            "Active connections",
            "Open connections by type: client (to the proxy), upstream (sidelight's pool to the app), websocket (upgraded tunnels), db (the app's connections through a database listener).",
            "short",
            [target(`sum by (type) (active_connections{${sp}})`, "{{type}}")],
            { w: 24 },
        ),
    ],
};

const platform_var = () =>
    label_var(
        "platform",
        "Platform",
        'label_values(orders_created_total{service=~"$service"}, platform)',
        "The platform label of the order metrics (web, ios, android, other)",
    );
const egress_var = () => ({
    ...label_var(
        "egress",
        "Mail listener",
        'label_values(api_requests_total{service=~"$service", listener!="ingress"}, listener)',
        "The egress listener the app's mail calls go through",
    ),
    includeAll: false,
    multi: false,
    current: undefined,
});
const orders = `${sp}, platform=~"$platform"`;

const business = {
    uid: "sidelight-business",
    title: "sidelight / Business",
    description:
        "The shop's business metrics, derived by sidelight's metric rules from the traffic (deploy/examples/sidelight.yaml): orders, their value, e-mails sent.",
    variables: [datasource_var(), service_var(), pod_var(), platform_var(), egress_var()],
    panels: [
        stat(
            "Orders in the last hour",
            "Orders created successfully (POST /api/orders answered 2xx) over the last hour.",
            "short",
            [target(`sum(increase(orders_created_total{${orders}, status="success"}[1h]))`, "orders")],
            { w: 6, h: 4, decimals: 0 },
        ),
        stat(
            "Revenue per hour",
            "Sum of order values per hour at the current rate, from the order_value_usd histogram's _sum.",
            "currencyUSD",
            [target(`3600 * sum(rate(order_value_usd_sum{${orders}}[${RATE}]))`, "USD/h")],
            { w: 6, h: 4 },
        ),
        stat(
            "Average order value",
            "Mean value of the orders created in the window. No data: no order in the window.",
            "currencyUSD",
            [
                target(
                    `sum(rate(order_value_usd_sum{${orders}}[${RATE}])) / (sum(rate(order_value_usd_count{${orders}}[${RATE}])) > 0)`,
                    "mean",
                ),
            ],
            { w: 6, h: 4 },
        ),
        stat(
            "E-mail send success rate",
            "Share of the app's e-mail requests the provider accepted (2xx), through the egress listener: 0% when none was accepted, no data when none was sent in the window. Healthy: above 99%.",
            "percent",
            [
                target(
                    `100 * (sum(rate(emails_sent_total{${sp}, status="sent"}[${RATE}])) or vector(0)) / (sum(rate(emails_sent_total{${sp}}[${RATE}])) > 0)`,
                    "sent",
                ),
            ],
            { w: 6, h: 4, thresholds: steps("red", [95, "orange"], [99, green]), min: 0, max: 100 },
        ),
        ts(
            "Orders per hour by platform",
            "Orders created successfully per hour, at the rate of the window, by platform (web, ios, android, other).",
            "short",
            [
                target(
                    `3600 * sum by (platform) (rate(orders_created_total{${orders}, status="success"}[${RATE}]))`,
                    "{{platform}}",
                ),
            ],
            { stack: true },
        ),
        ts(
            "Orders per hour by outcome",
            "Order attempts per hour by outcome: success (2xx), rejected (4xx), failed (5xx). Rejected and failed ones are lost sales.",
            "short",
            [
                target(
                    `3600 * sum by (status) (rate(orders_created_total{${orders}}[${RATE}]))`,
                    "{{status}}",
                ),
            ],
            { stack: true },
        ),
        {
            kind: "heatmap",
            title: "Order value distribution",
            description:
                "How many orders fell in each order_value_usd bucket (10, 50, 100, 500, 1000, 5000, 10000 USD) per interval.",
            unit: "currencyUSD",
            targets: [
                target(
                    `sum by (le) (increase(order_value_usd_bucket{${orders}}[${RATE}]))`,
                    "{{le}}",
                    { format: "heatmap" },
                ),
            ],
        },
        ts(
            "Order value P50 / P95 by platform",
            "Median and 95th percentile order value by platform, interpolated within the order_value_usd buckets.",
            "currencyUSD",
            [0.5, 0.95].map((p) =>
                target(
                    q(p, "le, platform", "order_value_usd", orders),
                    `p${Math.round(p * 100)} {{platform}}`,
                ),
            ),
        ),
        ts(
            "E-mails by template and outcome",
            "E-mails per second the app asked its provider to send, by template and outcome (sent 2xx, rejected 4xx, failed 5xx).",
            "reqps",
            [
                target(
                    `sum by (template_type, status) (rate(emails_sent_total{${sp}}[${RATE}]))`,
                    "{{template_type}} {{status}}",
                ),
            ],
            { stack: true },
        ),
        ts(
            "Mail provider latency P95",
            "95th percentile latency of the app's calls to its mail provider, measured by the egress listener (TLS to the provider included).",
            "ms",
            [target(q(0.95, "le", "api_latency_ms", `${sp}, listener=~"$egress"`), "p95")],
            { thresholds: steps(green, [1000, "orange"], [2000, "red"]) },
        ),
    ],
};

const table_var = () =>
    label_var(
        "table",
        "Table",
        'label_values(db_queries_total{service=~"$service"}, table)',
        "The table of the statements (first table after FROM / INTO / UPDATE; none for no table)",
    );
const operation_var = () =>
    label_var(
        "operation",
        "Operation",
        'label_values(db_queries_total{service=~"$service"}, operation)',
        "select, insert, update, delete, copy, tx, ddl, other",
    );
const pool_size_var = () => ({
    name: "pool_size",
    label: "App pool size",
    description:
        "The app's database connection pool size per pod (sidelight sees the connections, not the pool's limit): the denominator of the utilization panel",
    type: "custom",
    query: "10,20,50,100",
    current: { selected: true, text: "20", value: "20" },
    options: [],
    hide: 0,
    includeAll: false,
    multi: false,
    skipUrlSync: false,
});
const db = `${sp}, table=~"$table", operation=~"$operation"`;

const database = {
    uid: "sidelight-database",
    title: "sidelight / Database",
    description:
        "The app's own PostgreSQL queries, timed by sidelight's database listener by operation and table (docs/CONFIG.md, databases).",
    variables: [
        datasource_var(),
        service_var(),
        pod_var(),
        table_var(),
        operation_var(),
        pool_size_var(),
    ],
    panels: [
        stat(
            "Query rate",
            "Statements per second the app ran through the database listener.",
            "ops",
            [target(`sum(rate(db_queries_total{${db}}[${RATE}]))`, "queries/s")],
            { w: 6, h: 4 },
        ),
        stat(
            "Query P95",
            "95th percentile statement duration over the selected tables and operations.",
            "ms",
            [target(q(0.95, "le", "db_query_duration_ms", db), "p95")],
            { w: 6, h: 4, thresholds: steps(green, [50, "orange"], [100, "red"]) },
        ),
        stat(
            "Query errors",
            "Share of statements that ended in an ErrorResponse. No data: no statement in the window. Healthy: close to 0 (constraint violations the app expects count too).",
            "percent",
            [
                target(
                    `100 * (sum(rate(db_queries_total{${db}, outcome="error"}[${RATE}])) or vector(0)) / (sum(rate(db_queries_total{${db}}[${RATE}])) > 0)`,
                    "errors",
                ),
            ],
            { w: 6, h: 4, thresholds: steps(green, [1, "orange"], [5, "red"]), decimals: 2 },
        ),
        stat(
            "Connection pool utilization",
            "Connections the app holds open through sidelight, as a share of the pool size chosen above (the pool's limit is the app's setting; sidelight only sees the connections). Near 100%: requests wait for a connection. active_connections takes metrics.prefix (the db_* names do not): with a prefix, edit this query to read <prefix>active_connections.",
            "percent",
            [
                target(
                    `100 * max(sum by (pod) (active_connections{${sp}, type="db"})) / $pool_size`,
                    "utilization",
                ),
            ],
            { w: 6, h: 4, thresholds: steps(green, [70, "orange"], [90, "red"]), min: 0, max: 100 },
        ),
        ts(
            "Query duration P95 by table",
            "95th percentile statement duration by table. The buckets are 1, 5, 10, 50, 100, 500, 1000 ms.",
            "ms",
            [target(q(0.95, "le, table", "db_query_duration_ms", db), "{{table}}")],
            { thresholds: steps(green, [50, "orange"], [100, "red"]) },
        ),
        ts(
            "Query duration P95 by operation",
            "95th percentile statement duration by operation (select, insert, update, delete, copy, tx, ddl, other).",
            "ms",
            [target(q(0.95, "le, operation", "db_query_duration_ms", db), "{{operation}}")],
            { thresholds: steps(green, [50, "orange"], [100, "red"]) },
        ),
        ts(
            "Slow queries (> slow_query, 100 ms by default)",
            "Statements slower than the database's slow_query setting per second, by table and operation; each is also logged (without its SQL).",
            "ops",
            [
                target(
                    `sum by (table, operation) (rate(db_slow_queries_total{${db}}[${RATE}]))`,
                    "{{operation}} {{table}}",
                ),
            ],
            { thresholds: steps(green, [0.1, "orange"], [1, "red"]) },
        ),
        ts(
            "Queries by table and outcome",
            "Statements per second by table and outcome (ok, error).",
            "ops",
            [
                target(
                    `sum by (table, outcome) (rate(db_queries_total{${db}}[${RATE}]))`,
                    "{{table}} {{outcome}}",
                ),
            ],
            { stack: true },
        ),
        ts(
            "Connection pool utilization by pod",
            "Each pod's open database connections through sidelight as a share of the pool size chosen above. active_connections takes metrics.prefix (the db_* names do not): with a prefix, edit this query to read <prefix>active_connections.",
            "percent",
            [
                target(
                    `100 * sum by (pod) (active_connections{${sp}, type="db"}) / $pool_size`,
                    "{{pod}}",
                ),
            ],
            { thresholds: steps(green, [70, "orange"], [90, "red"]), min: 0 },
        ),
        ts(
            "Protocol errors",
            "Database connections sidelight closed because a peer broke the PostgreSQL protocol, per second by reason. Healthy: 0.",
            "ops",
            [
                target(
                    `sum by (reason) (rate(db_protocol_errors_total{${sp}}[${RATE}]))`,
                    "{{reason}}",
                ),
            ],
            { thresholds: steps(green, [0.001, "red"]) },
        ),
    ],
};

const login_route_var = () => ({
    name: "login_route",
    label: "Login route",
    description: "The route template of the login endpoint (the route of the security rule with login: true)",
    type: "textbox",
    query: "/api/login",
    current: { selected: true, text: "/api/login", value: "/api/login" },
    options: [],
    hide: 0,
    includeAll: false,
    multi: false,
    skipUrlSync: false,
});

const audit = {
    uid: "sidelight-audit",
    title: "sidelight / Audit and security",
    description:
        "sidelight's audit pipeline (queue, store, drops), the fleet store's forwarding to Postgres, and the security events and detections.",
    variables: [datasource_var(), service_var(), pod_var(), listener_var(), login_route_var()],
    panels: [
        row("Audit pipeline"),
        ts(
            "Events written by table and source",
            "Audit and security events committed to the store per second, by table (audit_log, security_audit) and source (rule, api, detector).",
            "suffix: events/s",
            [
                target(
                    `sum by (table, source) (rate(sidelight_audit_events_total{${sp}}[${RATE}]))`,
                    "{{table}} {{source}}",
                ),
            ],
            { stack: true },
        ),
        ts(
            "Events dropped by table and reason",
            "Events that could not be stored, by the table they were meant for (audit_log, security_audit) and reason (queue_full, spool_full, strict_timeout, shutdown). Healthy: 0 (the SidelightAuditEventsDropped alert pages on any).",
            "short",
            [
                target(
                    `sum by (table, reason) (increase(sidelight_audit_dropped_total{${sp}}[${RATE}]))`,
                    "{{table}} {{reason}}",
                ),
            ],
            { thresholds: steps(green, [1, "red"]) },
        ),
        ts(
            "Queue depth",
            "Events waiting for the writer thread, per pod (audit.queue_size, 10000 by default, is where drops begin).",
            "short",
            [target(`max by (pod) (sidelight_audit_queue_depth{${sp}})`, "{{pod}}")],
            { thresholds: steps(green, [5000, "orange"], [9000, "red"]) },
        ),
        ts(
            "Store errors and strict failures",
            "Failed writes to the audit store (each retry counts) and strict-mode events not committed in time (their clients got 503). Healthy: 0.",
            "short",
            [
                target(
                    `sum by (pod) (increase(sidelight_audit_store_errors_total{${sp}}[${RATE}]))`,
                    "store errors {{pod}}",
                ),
                target(
                    `sum by (pod) (increase(sidelight_audit_strict_failures_total{${sp}}[${RATE}]))`,
                    "strict failures {{pod}}",
                    { refId: "B" },
                ),
            ],
            { thresholds: steps(green, [1, "red"]) },
        ),
        ts(
            "Store latency P95 by operation",
            "95th percentile duration of sidelight's own store statements (insert, commit, head, select, ping), not the app's queries.",
            "ms",
            [
                target(
                    q(0.95, "le, operation", "sidelight_store_query_duration_ms", sp),
                    "{{operation}}",
                ),
            ],
            { w: 24, thresholds: steps(green, [100, "orange"], [500, "red"]) },
        ),
        row("Fleet store (Postgres)"),
        ts(
            "Forward lag",
            "Age of the oldest event committed to the local spool and not yet in Postgres, per pod. Healthy: a few seconds; it grows while Postgres is away and drains by itself.",
            "s",
            [target(`max by (pod) (sidelight_audit_forward_lag_seconds{${sp}})`, "{{pod}}")],
            { thresholds: steps(green, [60, "orange"], [300, "red"]) },
        ),
        ts(
            "Events waiting in the spool",
            "Events committed to the spool and not yet forwarded, per pod.",
            "short",
            [target(`max by (pod) (sidelight_audit_forward_lag_events{${sp}})`, "{{pod}}")],
        ),
        ts(
            "Forwarded and forward errors",
            "Events forwarded into Postgres per second, and failed forward attempts.",
            "short",
            [
                target(
                    `sum by (pod) (rate(sidelight_audit_forwarded_total{${sp}}[${RATE}]))`,
                    "forwarded/s {{pod}}",
                ),
                target(
                    `sum by (pod) (rate(sidelight_audit_forward_errors_total{${sp}}[${RATE}]))`,
                    "errors/s {{pod}}",
                    { refId: "B" },
                ),
            ],
        ),
        stat(
            "Postgres connected",
            "Whether each pod's forwarder holds a connection to the fleet store.",
            "short",
            [target(`min by (pod) (sidelight_audit_forward_connected{${sp}})`, "{{pod}}")],
            {
                thresholds: steps("red", [1, green]),
                mappings: [
                    {
                        type: "value",
                        options: {
                            0: { text: "down", color: "red", index: 0 },
                            1: { text: "up", color: green, index: 1 },
                        },
                    },
                ],
            },
        ),
        ts(
            "Spool size",
            "Bytes in use in each pod's local spool (audit.store.spool.max_bytes, 1 GiB by default, is where events are refused).",
            "bytes",
            [target(`max by (pod) (sidelight_audit_spool_bytes{${sp}})`, "{{pod}}")],
            { w: 24 },
        ),
        row("Security"),
        ts(
            "Security events by source",
            "security_audit rows committed per second, by source: rule (security rules such as LOGIN_ATTEMPT), api (the app's own POSTs), detector (brute force).",
            "suffix: events/s",
            [
                target(
                    `sum by (source) (rate(sidelight_audit_events_total{${sp}, table="security_audit"}[${RATE}]))`,
                    "{{source}}",
                ),
            ],
            { stack: true },
        ),
        stat(
            "Brute-force detections",
            "Security events raised by the detectors in the dashboard's time range: authn_login_fail_max (too many failed logins per IP or user) and authn_login_successafterfail.",
            "short",
            [
                target(
                    `sum by (detector) (increase(sidelight_security_detections_total{${sp}}[$__range]))`,
                    "{{detector}}",
                ),
            ],
            { thresholds: steps(green, [1, "red"]), decimals: 0 },
        ),
        ts(
            "Brute-force detections over time",
            "Detections per interval by detector.",
            "short",
            [
                target(
                    `sum by (detector) (increase(sidelight_security_detections_total{${sp}}[${RATE}]))`,
                    "{{detector}}",
                ),
            ],
            { thresholds: steps(green, [1, "red"]) },
        ),
        ts(
            "Security events by type and outcome",
            "security_audit rows committed per second, by event type (the config's security rules, the built-ins authn_fail/authz_fail/excess_rate_limit_exceeded, the detectors, audit_events_dropped; a type posted to /v1/security beyond 64 kinds, or not a plain name, is other) and success (true, false; unknown when the client left before the app answered).",
            "suffix: events/s",
            [
                target(
                    `sum by (event_type, success) (rate(sidelight_security_events_total{${sp}}[${RATE}]))`,
                    "{{event_type}} success={{success}}",
                ),
            ],
            { stack: true },
        ),
        ts(
            "Failed share by security event type",
            "Of each event type's events in the interval, the share with success=false (a failed login, a refused token). A jump on LOGIN_ATTEMPT is the first sign of credential stuffing; types that never succeed (authn_fail, the detectors) sit at 100 %.",
            "percentunit",
            [
                target(
                    `sum by (event_type) (increase(sidelight_security_events_total{${sp}, success="false"}[${RATE}])) / sum by (event_type) (increase(sidelight_security_events_total{${sp}}[${RATE}]))`,
                    "{{event_type}}",
                ),
            ],
            { thresholds: steps(green, [0.5, "orange"], [0.9, "red"]) },
        ),
        ts(
            "Login requests by status",
            "POST requests to the login route chosen above, per second by status: the traffic the example's LOGIN_ATTEMPT security rule turns into security_audit rows (2xx/3xx success, the rest failure).",
            "reqps",
            [
                target(
                    `sum by (status_code) (rate(api_requests_total{${sp}, listener=~"$listener", method="POST", route=~"$login_route"}[${RATE}]))`,
                    "{{status_code}}",
                ),
            ],
            { stack: true },
        ),
        ts(
            "Bearer tokens refused",
            "Bearer tokens the audit.jwt key refused, per second by reason (their jwt: values read as empty).",
            "reqps",
            [
                target(
                    `sum by (reason) (rate(sidelight_audit_jwt_rejected_total{${sp}}[${RATE}]))`,
                    "{{reason}}",
                ),
            ],
            { w: 24 },
        ),
    ],
};

const upstream_errors =
    'error_type=~"upstream_connect|upstream_timeout|upstream_reset|upstream_tls|upstream_bad_response"';

// The requests the app answered, as near as api_latency_ms can tell (it has no label saying who
// answered): every status but those sidelight answers itself after waiting on someone, or that
// end with no answer: 408 (slow client), 413/414/431/417 (refused before the app), 499 (client
// left), 502/503/504 (app unreachable or reset, audit store away, app too slow).
// api_upstream_latency_ms only observes requests whose response head arrived; without this the
// waits of those requests count as time sidelight added. 400 and 405 stay: apps send them all
// the time, and sidelight's own (a malformed request, CONNECT) take no time. Still not exact: a
// client that leaves after the app's response head arrived (a 499 left out here) has its
// upstream time counted, so many such aborts make the difference read low.
const app_answered = 'status_code!~"408|413|414|417|431|499|502|503|504"';

const self = {
    uid: "sidelight-self",
    title: "sidelight / The sidecar",
    description:
        "sidelight itself: CPU, memory, file descriptors, config reloads, whether the app behind it answers, and the latency sidelight adds.",
    variables: [datasource_var(), service_var(), pod_var(), listener_var()],
    panels: [
        ts(
            "CPU",
            "CPU time sidelight uses, in percent of one core, per pod.",
            "percent",
            [target(`100 * sum by (pod) (rate(process_cpu_seconds_total{${sp}}[${RATE}]))`, "{{pod}}")],
            { w: 8 },
        ),
        ts(
            "Resident memory",
            "Resident set size per pod. Healthy: flat under load; a steady climb is a leak.",
            "bytes",
            [target(`max by (pod) (process_resident_memory_bytes{${sp}})`, "{{pod}}")],
            { w: 8 },
        ),
        ts(
            "File descriptors in use",
            "Open file descriptors as a share of the limit, per pod (every client, upstream and database connection holds one).",
            "percent",
            [
                target(
                    `100 * max by (pod) (process_open_fds{${sp}}) / max by (pod) (process_max_fds{${sp}})`,
                    "{{pod}}",
                ),
            ],
            { w: 8, thresholds: steps(green, [70, "orange"], [90, "red"]), min: 0, max: 100 },
        ),
        ts(
            "Config reloads",
            "Reloads per interval by result; error means a broken config was refused and the last good one keeps running.",
            "short",
            [
                target(
                    `sum by (result) (increase(sidelight_config_reloads_total{${sp}}[${RATE}]))`,
                    "{{result}}",
                ),
            ],
            { w: 8 },
        ),
        ts(
            "Upstream reachability",
            "Per pod, two views: the share of time sidelight's health checks judged the app reachable (sidelight_upstream_up, the verdict /healthz and /readyz report), and the share of requests that reached the app and got an answer: 100% minus the requests sidelight had to answer itself for an upstream error (connect refused, timeout, reset, TLS, bad response). Healthy: 100% for both.",
            "percent",
            [
                target(
                    `100 * avg by (pod) (avg_over_time(sidelight_upstream_up{${sp}}[${RATE}]))`,
                    "{{pod}} health checks",
                ),
                target(
                    `100 * (1 - (sum by (pod) (rate(api_error_total{${sp}, listener=~"$listener", ${upstream_errors}}[${RATE}])) or 0 * sum by (pod) (rate(api_requests_total{${sp}, listener=~"$listener"}[${RATE}]))) / sum by (pod) (rate(api_requests_total{${sp}, listener=~"$listener"}[${RATE}])))`,
                    "{{pod}} requests",
                ),
            ],
            { w: 8, thresholds: steps("red", [99, "orange"], [99.9, green]), max: 100 },
        ),
        ts(
            "Upstream errors by type",
            "Requests per second sidelight answered itself because of the upstream: upstream_connect (502, the app refuses connections), upstream_timeout (504, or a response body that stalled), upstream_reset (the app closed or reset mid-exchange), upstream_tls, upstream_bad_response (a response head that could not be parsed).",
            "reqps",
            [
                target(
                    `sum by (error_type) (rate(api_error_total{${sp}, listener=~"$listener", ${upstream_errors}}[${RATE}]))`,
                    "{{error_type}}",
                ),
            ],
            { w: 8 },
        ),
        ts(
            "Added latency",
            "What sidelight adds to a request the app answered: the mean of api_latency_ms minus the mean of api_upstream_latency_ms (the app's own time to its response header), and the same difference of the P95s (an approximation: a difference of percentiles is not the percentile of the differences). api_upstream_latency_ms only has requests whose response head arrived, so the api_latency_ms side leaves out the statuses sidelight answers itself after a wait or that end unanswered: 408, 413, 414, 417, 431, 499 (client left), 502, 503, 504 (app unreachable, audit store away, app timeout); otherwise a client that gives up or an app that times out shows as time sidelight added. The app's own answers with those codes are left out too. Healthy: about a millisecond.",
            "ms",
            [
                target(
                    `sum by (pod) (rate(api_latency_ms_sum{${sp}, listener=~"$listener", ${app_answered}}[${RATE}])) / sum by (pod) (rate(api_latency_ms_count{${sp}, listener=~"$listener", ${app_answered}}[${RATE}])) - sum by (pod) (rate(api_upstream_latency_ms_sum{${sp}, listener=~"$listener"}[${RATE}])) / sum by (pod) (rate(api_upstream_latency_ms_count{${sp}, listener=~"$listener"}[${RATE}]))`,
                    "mean {{pod}}",
                ),
                target(
                    `${q(0.95, "le, pod", "api_latency_ms", `${sp}, listener=~"$listener", ${app_answered}`)} - ${q(0.95, "le, pod", "api_upstream_latency_ms", `${sp}, listener=~"$listener"`)}`,
                    "p95 difference {{pod}}",
                    { refId: "B" },
                ),
            ],
            { w: 12, thresholds: steps(green, [5, "orange"], [20, "red"]) },
        ),
        ts(
            "Connections",
            "Open connections per type: client, upstream (the pool to the app), websocket, db.",
            "short",
            [target(`sum by (type) (active_connections{${sp}})`, "{{type}}")],
            { w: 12 },
        ),
        stat(
            "Uptime",
            "Time since each sidelight process started; a short one after a long one is a restart.",
            "s",
            [target(`time() - max by (pod) (process_start_time_seconds{${sp}})`, "{{pod}}")],
            { w: 8, h: 4 },
        ),
        stat(
            "Versions running",
            "Sidecars per sidelight version (sidelight_build_info); two versions at once is a rollout in progress.",
            "short",
            [target(`count by (version) (sidelight_build_info{${sp}})`, "{{version}}")],
            { w: 8, h: 4 },
        ),
        stat(
            "Unmatched requests",
            "Requests per second outside the route table (labelled route=\"unmatched\"): a new endpoint the route table lacks.",
            "reqps",
            [target(`sum(rate(sidelight_unmatched_requests_total{${sp}}[${RATE}]))`, "unmatched")],
            { w: 8, h: 4 },
        ),
    ],
};

export const dashboards = { overview, business, database, audit, sidelight: self };

// ---- rendering into Grafana's dashboard model (schemaVersion 39: Grafana 10.4 and 11) --------

function field_config(p) {
    const defaults = {
        unit: p.unit,
        thresholds: p.thresholds ?? no_thresholds,
        color: { mode: p.kind === "stat" ? "thresholds" : "palette-classic" },
        mappings: p.mappings ?? [],
    };
    if (p.min !== undefined) defaults.min = p.min;
    if (p.max !== undefined) defaults.max = p.max;
    if (p.decimals !== undefined) defaults.decimals = p.decimals;
    if (p.kind === "timeseries") {
        defaults.custom = {
            drawStyle: "line",
            lineWidth: 1,
            fillOpacity: p.stack ? 30 : 10,
            showPoints: "never",
            spanNulls: false,
            stacking: { mode: p.stack ? "normal" : "none", group: "A" },
            thresholdsStyle: { mode: p.thresholds ? "line+area" : "off" },
        };
    }
    return { defaults, overrides: [] };
}

function options(p) {
    const legend = { displayMode: "list", placement: "bottom", showLegend: true, calcs: [] };
    const tooltip = { mode: "multi", sort: "desc" };
    switch (p.kind) {
        case "timeseries":
            return { legend, tooltip };
        case "stat":
            return {
                reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
                colorMode: "value",
                graphMode: "area",
                justifyMode: "auto",
                orientation: "auto",
                textMode: "auto",
                wideLayout: true,
                showPercentChange: false,
                percentChangeColorMode: "standard",
            };
        case "heatmap":
            return {
                calculate: false,
                cellGap: 1,
                color: { mode: "scheme", scheme: "Oranges", steps: 64, exponent: 0.5, fill: "dark-orange", reverse: false, scale: "exponential" },
                yAxis: { axisPlacement: "left", unit: p.unit },
                rowsFrame: { layout: "auto" },
                legend: { show: true },
                tooltip: { mode: "single", yHistogram: false, showColorScale: false },
                cellValues: {},
                showValue: "auto",
                exemplars: { color: "rgba(255,0,255,0.7)" },
                filterValues: { le: 1e-9 },
            };
        default:
            throw new Error(`unknown panel kind ${p.kind}`);
    }
}

function render(d) {
    let id = 0;
    let x = 0;
    let y = 0;
    let row_h = 0;
    const place = (w, h) => {
        if (x + w > 24) {
            x = 0;
            y += row_h;
            row_h = 0;
        }
        const pos = { h, w, x, y };
        x += w;
        row_h = Math.max(row_h, h);
        return pos;
    };
    const panels = d.panels.map((p) => {
        if (p.kind === "row") {
            x = 0;
            y += row_h;
            row_h = 0;
            const out = { type: "row", title: p.title, id: ++id, collapsed: false, panels: [], gridPos: { h: 1, w: 24, x: 0, y } };
            y += 1;
            return out;
        }
        if (!p.description) throw new Error(`${d.uid}: panel ${p.title} has no description`);
        return {
            type: p.kind,
            title: p.title,
            description: p.description,
            id: ++id,
            gridPos: place(p.w ?? 12, p.h ?? 8),
            datasource: DS,
            fieldConfig: field_config(p),
            options: options(p),
            targets: p.targets.map((t, i) => ({
                datasource: DS,
                refId: t.refId ?? String.fromCharCode(65 + i),
                expr: t.expr,
                legendFormat: t.legend,
                range: true,
                instant: false,
                editorMode: "code",
                ...(t.format ? { format: t.format } : {}),
            })),
        };
    });
    return {
        annotations: {
            list: [
                {
                    builtIn: 1,
                    datasource: { type: "grafana", uid: "-- Grafana --" },
                    enable: true,
                    hide: true,
                    iconColor: "rgba(0, 211, 255, 1)",
                    name: "Annotations & Alerts",
                    type: "dashboard",
                },
            ],
        },
        description: d.description,
        editable: true,
        fiscalYearStartMonth: 0,
        graphTooltip: 1,
        id: null,
        links: [
            {
                title: "sidelight dashboards",
                type: "dashboards",
                tags: ["sidelight"],
                asDropdown: true,
                includeVars: true,
                keepTime: true,
                icon: "external link",
                targetBlank: false,
                tooltip: "",
                url: "",
            },
        ],
        panels,
        refresh: "30s",
        schemaVersion: 39,
        tags: ["sidelight"],
        templating: { list: d.variables },
        time: { from: "now-6h", to: "now" },
        timepicker: {},
        timezone: "browser",
        title: d.title,
        uid: d.uid,
        version: 1,
        weekStart: "",
    };
}

function configmap(files) {
    const lines = [
        "# Generated by deploy/grafana/generate.mjs (edit the dashboards there, then run it): sidelight's",
        "# Grafana dashboards for the Grafana sidecar of kube-prometheus-stack, which loads every ConfigMap",
        '# labelled grafana_dashboard: "1" (in the namespaces its sidecar.dashboards.searchNamespace lists).',
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        "  name: sidelight-grafana-dashboards",
        "  labels:",
        '    grafana_dashboard: "1"',
        "    app.kubernetes.io/part-of: sidelight",
        "data:",
    ];
    for (const [name, text] of files) {
        lines.push(`  ${name}: |`);
        for (const l of text.trimEnd().split("\n")) lines.push(l === "" ? "" : `    ${l}`);
    }
    return lines.join("\n") + "\n";
}

export function outputs() {
    const files = Object.entries(dashboards).map(([name, d]) => [
        `${name}.json`,
        JSON.stringify(render(d), null, 2) + "\n",
    ]);
    // `kubectl apply` (client side) copies the whole object into an annotation of at most
    // 256 KiB: keep well under it (or split the ConfigMap, or apply with --server-side).
    const bytes = files.reduce((n, [, text]) => n + JSON.stringify(text).length, 0);
    if (bytes > 200 * 1024) throw new Error(`the dashboards' ConfigMap would hold ${bytes} bytes: split it`);
    const out = files.map(([name, text]) => [join(here, name), text]);
    out.push([join(root, "deploy/kubernetes/monitoring/grafana-dashboards.yaml"), configmap(files)]);
    return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const check = process.argv[2] === "--check";
    if (process.argv[2] && !check) {
        console.error(`generate: unknown option ${process.argv[2]}`);
        process.exit(2);
    }
    let status = 0;
    for (const [path, text] of outputs()) {
        const rel = relative(root, path);
        if (check) {
            let old = "";
            try {
                old = readFileSync(path, "utf8");
            } catch {}
            if (old !== text) {
                console.error(`generate: ${rel} is stale: run node deploy/grafana/generate.mjs`);
                status = 1;
            }
        } else {
            writeFileSync(path, text);
            console.log(`generate: wrote ${rel}`);
        }
    }
    process.exit(status);
}
