// The world tests/grafana/promql.mjs queries: a throwaway PostgreSQL (the app's database and the
// audit fleet store), a fake shop app and a fake mail provider (node http servers), sidelight
// configured like deploy/examples/sidelight.yaml with a database listener and the Postgres audit
// store, traffic through every kind of listener, and a real Prometheus scraping sidelight every
// second with the rule files loaded. Everything binds 127.0.0.1 and lives in one temp dir.

import { spawn, spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";

import { as_root, free_port, pg_bin, run, until } from "../support/node_env.mjs";

export const POD = "shop-7d9f8-x2x4q"; // the pod and namespace target labels the Operator adds
export const NAMESPACE = "shop";

// PostgreSQL 15 in dir/pg (as tests/support/pg_cluster does: initdb with trust auth, pg_ctl;
// through runuser as the postgres user when root, since PostgreSQL refuses to run as root).
async function start_postgres(dir) {
    const pg = join(dir, "pg");
    run(["mkdir", "-p", pg]);
    if (as_root) {
        const ids = run(["id", "-u", "postgres"]).trim() + ":" + run(["id", "-g", "postgres"]).trim();
        const [uid, gid] = ids.split(":").map(Number);
        chownSync(pg, uid, gid);
    }
    const data = join(pg, "data");
    run([pg_bin + "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"], {
        server_side: true,
    });
    const port = await free_port();
    run(
        [
            pg_bin + "pg_ctl", "start", "-D", data, "-w", "-t", "60", "-l", join(pg, "log"),
            "-o", `-p ${port} -c listen_addresses=127.0.0.1 -k ${pg} -c fsync=off -c shared_buffers=16MB`,
        ],
        { server_side: true },
    );
    const stop = () => {
        try {
            run([pg_bin + "pg_ctl", "stop", "-D", data, "-m", "immediate", "-w", "-t", "30"], { server_side: true });
        } catch {}
    };
    const psql = (sql, db_port = port, db = "postgres") =>
        run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=0", "-h", "127.0.0.1", "-p", String(db_port), "-U", "postgres", "-d", db, "-f", "-"], {
            input: sql,
        });
    psql("CREATE DATABASE shop; CREATE DATABASE audit;");
    return { port, stop, psql };
}

// The shop: the routes of the example config. POST /api/orders answers the JSON the example's
// metric rules read (/platform, /total); GET /api/products/boom resets the connection (an
// upstream error sidelight answers itself) and /api/products/500 is the app's own 500.
function start_app() {
    const platforms = ["web", "ios", "android"];
    let order = 0;
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            const json = (status, obj) => {
                res.writeHead(status, { "content-type": "application/json" });
                res.end(JSON.stringify(obj));
            };
            const path = req.url.split("?")[0];
            if (path === "/api/products/boom") return req.socket.destroy();
            if (path === "/api/products/500") return json(500, { error: "database on fire" });
            if (path.startsWith("/api/products/")) {
                const slow = path.endsWith("/slow") ? 120 : 0;
                return setTimeout(() => json(200, { id: path.split("/")[3], name: "mug" }), slow);
            }
            if (path === "/api/login") {
                const { email, password } = JSON.parse(body || "{}");
                return password === "right" ? json(200, { user: email }) : json(401, { error: "bad credentials" });
            }
            if (path === "/api/orders" && req.method === "POST") {
                const { total } = JSON.parse(body || "{}");
                if (!(total > 0)) return json(422, { error: "empty order" });
                const platform = platforms[order++ % platforms.length];
                return json(201, { id: order, platform, total });
            }
            if (path === "/api/orders") return json(200, []);
            json(404, { error: "not found" });
        });
    });
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// The mail provider behind the egress listener: 202 for a known template, 400 otherwise.
function start_mail() {
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            const { template_id } = JSON.parse(body || "{}");
            res.writeHead(template_id ? 202 : 400);
            res.end();
        });
    });
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// deploy/examples/sidelight.yaml with local ports, plain HTTP to the fake mail provider, the
// commented-out databases listener switched on (pointed at our PostgreSQL), and the audit store
// in Postgres through a spool in the temp dir (so the forwarder's metrics exist).
function sidelight_config(root, dir, ports, egress) {
    const c = parse(readFileSync(join(root, "deploy/examples/sidelight.yaml"), "utf8"));
    c.proxy.listen = `127.0.0.1:${ports.proxy}`;
    c.upstream.address = `127.0.0.1:${ports.app}`;
    c.admin.listen = `127.0.0.1:${ports.admin}`;
    c.admin.token = "";
    c.metrics.const_labels.service = "shop";
    if (egress) {
        c.egress[0].listen = `127.0.0.1:${ports.egress}`;
        c.egress[0].upstream = { address: `127.0.0.1:${ports.mail}` };
    } else {
        // Without egress listeners the api_* families have no listener label at all.
        delete c.egress;
        c.metrics.rules = c.metrics.rules.filter((r) => !r.listener);
    }
    c.databases = [
        {
            name: "main",
            listen: `127.0.0.1:${ports.db}`,
            upstream: { address: `127.0.0.1:${ports.pg}` },
            tables: { max: 200 },
            slow_query: "100ms",
        },
    ];
    c.audit.store = {
        type: "postgres",
        dsn: `host=127.0.0.1 port=${ports.pg} user=postgres dbname=audit sslmode=disable`,
        chain: POD,
        spool: { path: join(dir, "spool.db") },
        synchronous: "normal",
    };
    c.access_log = false;
    c.log_level = "warn";
    c.log_format = "text";
    const path = join(dir, "sidelight.yaml");
    writeFileSync(path, stringify(c));
    return path;
}

async function http_request(port, method, path, { body, headers = {} } = {}) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: body ? { "content-type": "application/json", ...headers } : headers,
        body: body ? JSON.stringify(body) : undefined,
    });
    await res.arrayBuffer();
    return res.status;
}

// One round of traffic through the proxy, the egress listener and the database listener.
async function traffic(ports, psql) {
    const p = ports.proxy;
    const reqs = [];
    for (let i = 0; i < 5; i++) {
        reqs.push(http_request(p, "GET", `/api/products/${i}`));
        reqs.push(http_request(p, "POST", "/api/orders", { body: { total: 20 + 150 * i } }));
    }
    reqs.push(http_request(p, "GET", "/api/products/slow"));
    reqs.push(http_request(p, "GET", "/api/products/500"));
    reqs.push(http_request(p, "GET", "/api/products/boom"));
    reqs.push(http_request(p, "POST", "/api/orders", { body: { total: 0 } }));
    reqs.push(http_request(p, "GET", "/api/orders"));
    reqs.push(http_request(p, "GET", "/no/such/route"));
    reqs.push(
        http_request(p, "PUT", "/api/products/7", { body: { price: 12 }, headers: { "X-User-Id": "u-42" } }),
    );
    await Promise.all(reqs);
    // Six failed logins, then a good one: the brute-force detector's two kinds of event.
    for (let i = 0; i < 6; i++) {
        await http_request(p, "POST", "/api/login", { body: { email: "eve@example.com", password: "guess" } });
    }
    await http_request(p, "POST", "/api/login", { body: { email: "eve@example.com", password: "right" } });
    for (const template_id of ports.egress ? ["d-welcome", "d-receipt", "d-receipt", undefined] : []) {
        await http_request(ports.egress, "POST", "/v3/mail/send", { body: { template_id } });
    }
    psql(
        `CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, total numeric);
         CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, email text);
         BEGIN;
         INSERT INTO orders (total) VALUES (42.5), (17);
         INSERT INTO users (email) VALUES ('ann@example.com');
         COMMIT;
         SELECT count(*) FROM orders;
         SELECT * FROM users WHERE id = 1;
         UPDATE orders SET total = total + 1 WHERE id = 1;
         SELECT pg_sleep(0.15), id FROM orders LIMIT 1;
         SELECT * FROM no_such_table;
         DELETE FROM users WHERE id = 0;`,
        ports.db,
        "shop",
    );
}

async function start_prometheus(root, dir, admin_port) {
    // The PrometheusRule objects' groups, as plain rule files, next to the plain rule file.
    const rule_files = [join(root, "deploy/prometheus/sidelight-rules.yaml")];
    for (const f of ["prometheusrule-slo.yaml", "prometheusrule-sidelight.yaml"]) {
        const spec = parse(readFileSync(join(root, "deploy/kubernetes/monitoring", f), "utf8")).spec;
        const out = join(dir, `rules-${f}`);
        writeFileSync(out, stringify(spec));
        rule_files.push(out);
    }
    const port = await free_port();
    const config = join(dir, "prometheus.yml");
    writeFileSync(
        config,
        stringify({
            global: { scrape_interval: "1s", evaluation_interval: "1s" },
            rule_files,
            scrape_configs: [
                {
                    job_name: "sidelight",
                    static_configs: [
                        { targets: [`127.0.0.1:${admin_port}`], labels: { pod: POD, namespace: NAMESPACE } },
                    ],
                },
            ],
        }),
    );
    const proc = spawn(
        "/usr/bin/prometheus",
        [
            `--config.file=${config}`,
            `--storage.tsdb.path=${join(dir, "tsdb")}`,
            `--web.listen-address=127.0.0.1:${port}`,
            "--log.level=warn",
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    proc.stderr.on("data", (d) => (log += d));
    const url = `http://127.0.0.1:${port}`;
    await until("Prometheus ready", 30000, async () => (await fetch(`${url}/-/ready`)).ok);
    return { url, proc, log: () => log };
}

export async function query(url, expr) {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return res.json();
}

// Samples Prometheus holds for sidelight_build_info in the last minute (one per scrape).
async function scrapes(url) {
    const r = await query(url, "count_over_time(sidelight_build_info[1m])");
    return r.status === "success" && r.data.result.length ? Number(r.data.result[0].value[1]) : 0;
}

// egress: false runs the example without its egress listener (and the metric rule that reads it).
export async function start(root, sidelight, { egress = true } = {}) {
    const dir = mkdtempSync(join(tmpdir(), "sidelight-grafana-"));
    if (as_root) spawnSync("chmod", ["755", dir]);
    const cleanups = [];
    const env = { dir, stop: async () => {
        for (const c of cleanups.reverse()) await c();
    } };
    try {
        const pg = await start_postgres(dir);
        cleanups.push(pg.stop);
        const app = await start_app();
        const mail = await start_mail();
        cleanups.push(() => app.close(), () => mail.close());
        const ports = {
            app: app.address().port,
            mail: mail.address().port,
            pg: pg.port,
            proxy: await free_port(),
            admin: await free_port(),
            egress: egress ? await free_port() : 0,
            db: await free_port(),
        };
        const config = sidelight_config(root, dir, ports, egress);
        const proc = spawn(sidelight, ["run", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
        let log = "";
        proc.stderr.on("data", (d) => (log += d));
        env.sidelight_log = () => log;
        cleanups.push(
            () =>
                new Promise((resolve) => {
                    if (proc.exitCode !== null) return resolve();
                    proc.on("exit", resolve);
                    proc.kill("SIGTERM");
                    setTimeout(() => proc.kill("SIGKILL"), 10000).unref();
                }),
        );
        const admin = `http://127.0.0.1:${ports.admin}`;
        await until("sidelight's /readyz", 30000, async () => (await fetch(`${admin}/readyz`)).ok);

        await traffic(ports, pg.psql);
        const prom = await start_prometheus(root, dir, ports.admin);
        cleanups.push(
            () =>
                new Promise((resolve) => {
                    if (prom.proc.exitCode !== null) return resolve();
                    prom.proc.on("exit", resolve);
                    prom.proc.kill("SIGTERM");
                }),
        );
        env.prometheus = prom.url;
        env.prometheus_log = prom.log;
        // Traffic between scrapes, so that every rate has an increase to see.
        await until("two scrapes", 30000, async () => (await scrapes(prom.url)) >= 2);
        await traffic(ports, pg.psql);
        const seen = await scrapes(prom.url);
        await until("two more scrapes", 30000, async () => (await scrapes(prom.url)) >= seen + 2);
        env.metrics = await (await fetch(`${admin}/metrics`)).text();
        return env;
    } catch (e) {
        await env.stop();
        e.message += `\nthe files are kept in ${dir}`;
        throw e;
    }
}

export function remove(env) {
    rmSync(env.dir, { recursive: true, force: true });
}
