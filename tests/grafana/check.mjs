#!/usr/bin/env node
// Every PromQL expression sidelight ships, checked against a running sidelight and a real
// Prometheus that scraped it (tests/grafana/env.mjs sets both up, with traffic through the proxy,
// the egress listener and the database listener), then again without the egress listener (no
// `listener` label then; the expressions about the mail calls are left out of that pass):
//   - every panel target and every query variable of deploy/grafana/*.json,
//   - every rule of deploy/prometheus/sidelight-rules.yaml and of the PrometheusRule objects in
//     deploy/kubernetes/monitoring/prometheusrule-*.yaml,
//   - every ```promql block of docs/PROMQL.md.
// For each: (a) each metric name is a sample name of sidelight's /metrics (api_latency_ms_bucket,
// never api_latency_ms) or a series a rule records, and each label it matches on or groups by is
// a label of those metrics (or a target label Prometheus adds); (b) Prometheus runs it
// (/api/v1/query) without an error; (c) its result holds a number (not nothing, not only NaN),
// unless it is listed in NOT_EXERCISED below with the reason, or it is an alert (an alert's
// expression is empty when all is well). Query variables are checked as
// count by (label) (selector). Failures name the file, the panel or rule, and the expression.
//   node tests/grafana/check.mjs SIDELIGHT_BINARY

import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { POD, query, remove, start } from "./env.mjs";
import { exposition, name_errors, substitute } from "./promql.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");

// Expressions whose result may be empty after the test's traffic, by file and panel (or the
// query's first line for docs/PROMQL.md), with the reason.
const NOT_EXERCISED = new Map([
    // The test's traffic drops no event, has no store error, no forward error and no bearer
    // token: these series exist at 0, so their increase is 0, not empty; nothing to list yet.
]);

const VARIABLES = {
    datasource: "prometheus",
    service: "shop",
    pod: POD,
    listener: ".*",
    route: ".*",
    platform: ".*",
    egress: "mail",
    table: ".*",
    operation: ".*",
    pool_size: "20",
    login_route: "/api/login",
    __rate_interval: "1m",
    __interval: "15s",
    __range: "5m",
};

// Labels Prometheus adds to every scraped series (the Operator adds pod and namespace; the test
// adds them as target labels).
const TARGET_LABELS = new Set(["job", "instance", "pod", "namespace", "__name__"]);

function dashboard_exprs() {
    const out = [];
    const dir = join(root, "deploy/grafana");
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
        const d = JSON.parse(readFileSync(join(dir, f), "utf8"));
        const file = relative(root, join(dir, f));
        const walk = (panels) => {
            for (const p of panels ?? []) {
                if (p.type === "row") walk(p.panels);
                for (const t of p.targets ?? []) {
                    out.push({ file, where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
                }
            }
        };
        walk(d.panels);
        for (const v of d.templating?.list ?? []) {
            if (v.type !== "query") continue;
            const text = typeof v.query === "string" ? v.query : v.query.query;
            const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(text);
            if (!m) throw new Error(`${file}: variable ${v.name}: not label_values(selector, label): ${text}`);
            // label_values(sel, label): the series of sel must exist and carry label.
            out.push({
                file,
                where: `variable $${v.name}`,
                expr: `count by (${m[2]}) (${m[1]})`,
            });
        }
    }
    return out;
}

function rule_exprs(recorded) {
    const out = [];
    const groups_of = (f) => {
        const doc = parse(readFileSync(join(root, f), "utf8"));
        return (doc.spec ?? doc).groups;
    };
    const files = ["deploy/prometheus/sidelight-rules.yaml"];
    const mon = "deploy/kubernetes/monitoring";
    for (const f of readdirSync(join(root, mon)).sort()) {
        if (f.startsWith("prometheusrule-")) files.push(`${mon}/${f}`);
    }
    for (const file of files) {
        for (const g of groups_of(file)) {
            for (const r of g.rules) {
                if (r.record) recorded.add(r.record);
                out.push({
                    file,
                    where: `group ${g.name} ${r.record ? `record ${r.record}` : `alert ${r.alert}`}`,
                    expr: r.expr,
                    alert: Boolean(r.alert),
                });
            }
        }
    }
    return out;
}

function cookbook_exprs() {
    const file = "docs/PROMQL.md";
    let text;
    try {
        text = readFileSync(join(root, file), "utf8");
    } catch {
        return [];
    }
    const out = [];
    let n = 0;
    for (const m of text.matchAll(/```promql\n([\s\S]*?)```/g)) {
        n++;
        const first = m[1].split("\n").find((l) => l.trim() && !l.trim().startsWith("#")) ?? "";
        out.push({ file, where: `block ${n} (${first.trim().slice(0, 60)})`, expr: m[1] });
    }
    if (n === 0) throw new Error(`${file}: no promql block`);
    return out;
}

// Expressions that need the example's egress listener (the mail calls): left out of the pass
// without it.
const NEEDS_EGRESS = /emails_sent_total|\$egress|listener!="ingress"/;

// One world (env.mjs), every expression checked in it; returns the number of failures.
async function pass(sidelight, exprs, recorded, { egress }) {
    const name = egress ? "the example" : "the example without egress listeners";
    const env = await start(root, sidelight, { egress });
    let failures = 0;
    const fail = (e, msg) => {
        failures++;
        console.error(
            `grafana: FAIL (${name}) ${e.file}: ${e.where}: ${msg}\n    ${e.expr.trim().replace(/\n\s*/g, " ")}`,
        );
    };
    try {
        const samples = exposition(env.metrics);
        // The labels of recorded series, from Prometheus (the rules ran every second).
        const recorded_labels = new Map();
        for (const name of recorded) {
            const r = await query(env.prometheus, `{__name__="${name}"}`);
            const labels = new Set();
            for (const s of r.data?.result ?? []) for (const l of Object.keys(s.metric)) labels.add(l);
            recorded_labels.set(name, labels);
        }
        // Without egress listeners a matcher on listener reads a missing label (""): allowed,
        // and (c) then says whether it still finds the proxy's traffic.
        const allowed = egress ? TARGET_LABELS : new Set([...TARGET_LABELS, "listener"]);
        let checked = 0;
        const todo = egress ? exprs : exprs.filter((e) => !NEEDS_EGRESS.test(e.expr));
        for (const e of todo) {
            let expr;
            try {
                expr = substitute(e.expr, egress ? VARIABLES : { ...VARIABLES, listener: "" });
            } catch (err) {
                fail(e, err.message);
                continue;
            }
            // (a) names against the exposition
            let problems;
            try {
                problems = name_errors(expr, samples, recorded_labels, allowed);
            } catch (err) {
                problems = [err.message];
            }
            for (const p of problems) fail(e, p);
            const names_ok = problems.length === 0;
            // (b) Prometheus runs it, (c) and finds something
            const r = await query(env.prometheus, expr);
            if (r.status !== "success") {
                fail(e, `Prometheus: ${r.errorType}: ${r.error}`);
                continue;
            }
            // An instant query: a vector of [time, value] samples, or a scalar. NaN alone (a
            // quantile or a ratio over nothing) counts as no data.
            const values = r.data.resultType === "vector" ? r.data.result.map((x) => x.value[1]) : [r.data.result[1]];
            const data = values.some((v) => Number.isFinite(Number(v)));
            const key = `${e.file}: ${e.where}`;
            if (!data && !e.alert && !NOT_EXERCISED.has(key)) {
                fail(
                    e,
                    `${values.length ? "only NaN" : "an empty result"} after the test's traffic (list it in NOT_EXERCISED with the reason if that is right)`,
                );
                continue;
            }
            if (names_ok) checked++;
        }
        console.log(`grafana: ${name}: ${checked} of ${todo.length} expressions checked against /metrics and Prometheus`);
    } finally {
        await env.stop(); // first: sidelight's log is complete once it has exited
        if (failures) {
            console.error(`grafana: sidelight's log:\n${env.sidelight_log?.() ?? ""}`);
            console.error(`grafana: Prometheus' log:\n${env.prometheus_log?.() ?? ""}`);
            console.error(`grafana: the files are kept in ${env.dir}`);
        } else {
            remove(env);
        }
    }
    return failures;
}

async function main() {
    const sidelight = process.argv[2];
    if (!sidelight) {
        console.error("usage: node tests/grafana/check.mjs SIDELIGHT_BINARY");
        process.exit(2);
    }
    const recorded = new Set();
    const exprs = [...dashboard_exprs(), ...rule_exprs(recorded), ...cookbook_exprs()];
    // The example as it is (egress listener, database listener), then without its egress
    // listener: the api_* families then have no listener label, which a query must survive.
    let failures = await pass(sidelight, exprs, recorded, { egress: true });
    failures += await pass(sidelight, exprs, recorded, { egress: false });
    process.exit(failures ? 1 : 0);
}

main().catch((e) => {
    console.error(`grafana: ${e.stack ?? e}`);
    process.exit(1);
});
