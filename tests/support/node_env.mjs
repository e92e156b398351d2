// What the Node.js checks (tests/grafana, tests/pgclients) share to set up a world on
// 127.0.0.1: a free port, waiting for a condition, and running a command (PostgreSQL's through
// runuser as the postgres user when root, since PostgreSQL refuses to run as root). No
// dependencies: each check keeps its own node_modules.

import { spawnSync } from "node:child_process";
import net from "node:net";
import { userInfo } from "node:os";

export const pg_bin = "/usr/lib/postgresql/15/bin/";
export const as_root = userInfo().uid === 0;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function free_port() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

// Polls `probe` every `every_ms` until it is true; throws after `deadline_ms`, with the last
// error the probe threw.
export async function until(what, deadline_ms, probe, every_ms = 100) {
    const end = Date.now() + deadline_ms;
    let last;
    while (Date.now() < end) {
        try {
            if (await probe()) return;
        } catch (e) {
            last = e;
        }
        await sleep(every_ms);
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

// Runs `args`, its stdout; throws with its output when it fails. `server_side`: as the
// postgres user when root.
export function run(args, { server_side = false, input } = {}) {
    const argv = server_side && as_root ? ["runuser", "-u", "postgres", "--", ...args] : args;
    const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", input });
    if (r.status !== 0) {
        throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}${r.stdout}`);
    }
    return r.stdout;
}
