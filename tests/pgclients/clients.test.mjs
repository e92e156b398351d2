// The database listener (issue 15) with the Node.js clients apps use, through a real sidelight
// to a throwaway PostgreSQL 15 with SCRAM passwords: node-postgres (simple, parameterized and
// named statements, a pool, pg-cursor) and postgres.js (pipelining on a small pool, named
// statements, an error inside a pipeline, its Parse/Describe/Flush before binding, cursors).
// Each client gets what it gets directly, and /metrics counts exactly what it sent.
//   node --test tests/pgclients/clients.test.mjs     with SIDELIGHT=<binary>

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import pg from "pg";
import Cursor from "pg-cursor";
import postgres from "postgres";

import { as_root, free_port, pg_bin, run, sleep, until } from "../support/node_env.mjs";

const password = "s3cret-pw";

const env = { cleanups: [] };

before(async () => {
    const sidelight = process.env.SIDELIGHT;
    assert.ok(sidelight, "SIDELIGHT names the binary");
    env.dir = mkdtempSync(join(tmpdir(), "sidelight-pgclients-"));
    const pgdir = join(env.dir, "pg");
    run(["mkdir", "-p", pgdir]);
    if (as_root) {
        run(["chmod", "755", env.dir]);
        chownSync(pgdir, Number(run(["id", "-u", "postgres"])), Number(run(["id", "-g", "postgres"])));
    }
    const pwfile = join(pgdir, "pw");
    writeFileSync(pwfile, password + "\n");
    if (as_root) chownSync(pwfile, Number(run(["id", "-u", "postgres"])), Number(run(["id", "-g", "postgres"])));
    const data = join(pgdir, "data");
    // Host connections (sidelight's, and the direct ones) log in with SCRAM-SHA-256.
    run([pg_bin + "initdb", "-D", data, "-U", "postgres", "--pwfile", pwfile, "--auth-local=trust",
         "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C"], { server_side: true });
    env.pg_port = await free_port();
    run([pg_bin + "pg_ctl", "start", "-D", data, "-w", "-t", "60", "-l", join(pgdir, "log"), "-o",
         `-p ${env.pg_port} -c listen_addresses=127.0.0.1 -k ${pgdir} -c fsync=off -c shared_buffers=16MB`],
        { server_side: true });
    env.cleanups.push(() => {
        try {
            run([pg_bin + "pg_ctl", "stop", "-D", data, "-m", "immediate", "-w", "-t", "30"], { server_side: true });
        } catch {}
    });

    env.db_port = await free_port();
    env.admin_port = await free_port();
    const config = join(env.dir, "sidelight.yaml");
    writeFileSync(config, `upstream: {address: 127.0.0.1:1}
proxy: {listen: 127.0.0.1:0}
admin: {listen: 127.0.0.1:${env.admin_port}}
databases:
  - {name: main, listen: 127.0.0.1:${env.db_port}, upstream: {address: 127.0.0.1:${env.pg_port}}}
`);
    const proc = spawn(sidelight, ["run", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
    env.log = "";
    proc.stderr.on("data", (d) => (env.log += d));
    env.cleanups.push(() => new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.on("exit", resolve);
        proc.kill("SIGTERM");
        setTimeout(() => proc.kill("SIGKILL"), 10000).unref();
    }));
    await until("the database listener", 30000, () => env.log.includes("database main listening on"), 50);

    const direct = new pg.Client(options(env.pg_port));
    await direct.connect();
    await direct.query("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)");
    await direct.query("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g");
    await direct.end();
});

after(async () => {
    for (const c of env.cleanups.reverse()) await c();
    if (process.exitCode) console.error(`sidelight's log:\n${env.log}\nthe files are kept in ${env.dir}`);
    else rmSync(env.dir, { recursive: true, force: true });
});

function options(port) {
    return { host: "127.0.0.1", port, user: "postgres", password, database: "postgres" };
}

async function metrics() {
    return (await fetch(`http://127.0.0.1:${env.admin_port}/metrics`)).text();
}

// db_queries_total by "operation/table/outcome", from one scrape.
function counts(text) {
    const out = {};
    for (const m of text.matchAll(/^db_queries_total\{operation="(\w+)",outcome="(\w+)",table="(\w+)"\} (\d+)/gm))
        out[`${m[1]}/${m[3]}/${m[2]}`] = Number(m[4]);
    return out;
}

// What db_queries_total gained while `work` ran (the direct run included, which sidelight
// does not see): only the series that moved. A statement is recorded as its answer goes out;
// the poll waits for `expected` (or 5 s), so a count that is off shows as the difference.
async function counted(work, expected) {
    const start = counts(await metrics());
    await work();
    let delta = {};
    const end = Date.now() + 5000;
    while (Date.now() < end) {
        const now = counts(await metrics());
        delta = {};
        for (const [k, v] of Object.entries(now)) if (v !== (start[k] ?? 0)) delta[k] = v - (start[k] ?? 0);
        if (JSON.stringify(sorted(delta)) === JSON.stringify(sorted(expected))) break;
        await sleep(50);
    }
    return sorted(delta);
}

function sorted(o) {
    return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

// The same work directly and through sidelight gives the same results.
async function same(work) {
    const direct = await work(env.pg_port);
    const through = await work(env.db_port);
    assert.deepEqual(through, direct);
    return through;
}

test("node-postgres: simple, parameterized and named statements; a pool of 10", async () => {
    const work = async (port) => {
        const c = new pg.Client(options(port));
        await c.connect();
        const rows = [];
        rows.push((await c.query("SELECT count(*)::int AS n FROM items")).rows);
        for (let i = 1; i <= 20; i++) rows.push((await c.query("SELECT name FROM items WHERE id = $1", [i])).rows);
        for (let i = 1; i <= 20; i++)
            rows.push((await c.query({ name: "by_id", text: "SELECT name FROM items WHERE id = $1", values: [i * 7] })).rows);
        rows.push((await c.query("UPDATE items SET name = name WHERE id <= 3")).rowCount);
        await c.end();
        return rows;
    };
    const expected = { "select/items/ok": 41, "update/items/ok": 1 };
    assert.deepEqual(await counted(() => same(work), expected), expected);

    const pool = new pg.Pool({ ...options(env.db_port), max: 10 });
    const pooled = await counted(async () => {
        const got = await Promise.all(
            Array.from({ length: 2000 }, (_, i) => pool.query("SELECT id FROM items WHERE id = $1", [(i % 1000) + 1])));
        assert.ok(got.every((r, i) => r.rows[0].id === (i % 1000) + 1));
    }, { "select/items/ok": 2000 });
    await pool.end();
    assert.deepEqual(pooled, { "select/items/ok": 2000 });
});

test("node-postgres: an error in a transaction, and the statements the server refuses after it", async () => {
    const work = async (port) => {
        const c = new pg.Client(options(port));
        await c.connect();
        const codes = [];
        await c.query("BEGIN");
        for (const sql of ["SELECT 1/0 FROM items", "SELECT name FROM items WHERE id = 1"]) {
            try {
                await c.query(sql);
            } catch (e) {
                codes.push(e.code);
            }
        }
        await c.query("ROLLBACK");
        await c.end();
        return codes;
    };
    const expected = { "select/items/error": 2, "tx/none/ok": 2 };
    const delta = await counted(async () => assert.deepEqual(await same(work), ["22012", "25P02"]), expected);
    assert.deepEqual(delta, expected);
});

test("pg-cursor: a cursor read in chunks is one statement, whole or closed after a part", async () => {
    const work = async (port) => {
        const c = new pg.Client(options(port));
        await c.connect();
        const cursor = c.query(new Cursor("SELECT id FROM items ORDER BY id"));
        let whole = 0;
        for (let rows; (rows = await cursor.read(100)).length; ) {
            whole += rows.length;
            await sleep(10); // the app works on each chunk
        }
        await cursor.close();
        const part = c.query(new Cursor("SELECT id FROM items ORDER BY id"));
        const first = await part.read(250);
        await part.close();
        await c.end();
        return [whole, first.length, first.at(-1).id];
    };
    const expected = { "select/items/ok": 2 };
    const delta = await counted(async () => assert.deepEqual(await same(work), [1000, 250, 250]), expected);
    assert.deepEqual(delta, expected);
});

test("postgres.js: a pipelined pool, named statements, an error inside a pipeline, a failed prepare", async () => {
    const work = async (port) => {
        const sql = postgres({ ...options(port), username: "postgres", max: 4, fetch_types: false, onnotice: () => {} });
        const ids = await Promise.all(
            Array.from({ length: 500 }, (_, i) => sql`SELECT id FROM items WHERE id = ${(i % 1000) + 1}`.then((r) => r[0].id)));
        // Ten queries written at once on one connection, the fifth failing.
        const one = await sql.reserve();
        const settled = await Promise.allSettled(
            Array.from({ length: 10 }, (_, i) =>
                i === 4 ? one`SELECT id / 0 FROM items WHERE id = ${i + 1}` : one`SELECT id FROM items WHERE id = ${i + 1}`));
        one.release();
        const outcomes = settled.map((s) => (s.status === "fulfilled" ? s.value[0].id : s.reason.code));
        // postgres.js parses and describes a query with parameters before it binds it: a query
        // the server refuses at Parse never reaches an Execute.
        const refused = [];
        for (const q of [() => sql`SELECT * FROM no_such_table WHERE a = ${1}`, () => sql`SELEC ${1}`]) {
            try {
                await q();
            } catch (e) {
                refused.push(e.code);
            }
        }
        let part = 0;
        for await (const rows of sql`SELECT id FROM items ORDER BY id`.cursor(100)) {
            part += rows.length;
            if (part >= 300) break;
        }
        await sql.end();
        return [ids.reduce((a, b) => a + b, 0), outcomes, refused, part];
    };
    const expected = {
        "other/none/error": 1, // SELEC: what the lexer cannot read is other
        "select/items/error": 1,
        "select/items/ok": 500 + 9 + 1,
        "select/no_such_table/error": 1,
    };
    const delta = await counted(async () => {
        const [sum, outcomes, refused, part] = await same(work);
        assert.equal(sum, 125250);
        assert.deepEqual(outcomes, [1, 2, 3, 4, "22012", 6, 7, 8, 9, 10]);
        assert.deepEqual(refused, ["42P01", "42601"]);
        assert.equal(part, 300);
    }, expected);
    assert.deepEqual(delta, expected);
});

test("every connection is gone and nothing was a protocol error", async () => {
    await until("no database connection open", 5000, async () =>
        /^active_connections\{type="db"\} 0$/m.test(await metrics()), 50);
    const text = await metrics();
    for (const m of text.matchAll(/^db_protocol_errors_total\{reason="(\w+)"\} (\d+)/gm))
        assert.equal(Number(m[2]), 0, `db_protocol_errors_total{reason="${m[1]}"}`);
    assert.doesNotMatch(env.log, /level=(error|critical)|"level":"error"/);
});
