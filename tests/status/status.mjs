// The admin status page in a real browser: Debian's headless Chromium, driven by puppeteer-core,
// against a running sidelight in front of a small node app with traffic.
//   node tests/status/status.mjs SIDELIGHT_BINARY OUT_DIR
// Checks: the page loads with no console error and no failed request; the routes that had
// traffic are listed with plausible numbers; the numbers move after more traffic; a route
// template holding markup is shown as text; Tab reaches the token input and the token shows
// the security events; no sideways scrolling at 375 px. Screenshots at 1280x800 and 375x812
// go to OUT_DIR.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";

const [binary, out_dir] = process.argv.slice(2);
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const token = "status-test-token";
const markup_route = "/x/<script>window.pwned=1</script>";
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

// The app: JSON after a few milliseconds; /api/fail answers 500.
function start_app() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      setTimeout(() => {
        res.writeHead(req.url.startsWith("/api/fail") ? 500 : 200, { "Content-Type": "application/json" });
        res.end('{"ok":true}');
      }, 1 + Math.random() * 15);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// sidelight on port 0; its ports are read from the startup line.
function start_sidelight(dir, app_port) {
  const config = `proxy:
  listen: 127.0.0.1:0
  workers: 2
upstream:
  address: 127.0.0.1:${app_port}
admin:
  listen: 127.0.0.1:0
  token: ${token}
health:
  interval: 200ms
routes:
  - GET /api/items/{id}
  - POST /api/orders
  - GET /api/fail
  - GET ${markup_route}
audit:
  store:
    path: ${path.join(dir, "audit.db")}
log_format: text
`;
  fs.writeFileSync(path.join(dir, "sidelight.yaml"), config);
  const proc = spawn(binary, ["run", "--config", path.join(dir, "sidelight.yaml")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("sidelight did not start:\n" + log)), 10000);
    proc.stderr.on("data", (d) => {
      log += d;
      const m = /proxy=[^ ]*:(\d+) admin=[^ ]*:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, proxy: Number(m[1]), admin: Number(m[2]) });
      }
    });
    proc.on("exit", (code) => reject(new Error(`sidelight exited ${code}:\n${log}`)));
  });
}

function request(port, method, target, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: target, headers, agent: keep_alive }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.end(body);
  });
}
const keep_alive = new http.Agent({ keepAlive: true, maxSockets: 8 });

async function traffic(port, rounds) {
  const jobs = [];
  for (let i = 0; i < rounds; ++i) {
    jobs.push(request(port, "GET", `/api/items/${i}`));
    if (i % 2 === 0) jobs.push(request(port, "POST", "/api/orders", "{}", { "Content-Type": "application/json" }));
    if (i % 5 === 0) jobs.push(request(port, "GET", "/api/fail"));
  }
  jobs.push(request(port, "GET", "/x/%3Cscript%3Ewindow.pwned=1%3C/script%3E"));
  const statuses = await Promise.all(jobs);
  return statuses;
}

// The routes table as text, by route label.
async function routes_table(page) {
  return page.$$eval("#routes tbody tr", (rows) =>
    rows.map((tr) => ({
      route: tr.querySelector("th .route").textContent,
      method: tr.querySelector("th .method").textContent,
      cells: [...tr.querySelectorAll("td")].map((td) => td.textContent),
      spark: !!tr.querySelector("svg.spark"),
    })),
  );
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidelight-status-"));
  fs.mkdirSync(out_dir, { recursive: true });
  const app = await start_app();
  const sl = await start_sidelight(dir, app.address().port);
  let browser;
  try {
    const statuses = await traffic(sl.proxy, 40);
    check(statuses.filter((s) => s === 200).length >= 40, "traffic went through sidelight");
    const posted = await request(sl.admin, "POST", "/v1/security",
      JSON.stringify({ event_type: "LOGIN_FAILED", user_id: "<b>mallory</b>", success: false }),
      { "Content-Type": "application/json", Authorization: `Bearer ${token}` });
    check(posted === 201, "a security event was stored");

    browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: [...(process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : []), "--disable-gpu"],
    });
    const page = await browser.newPage();
    const problems = [];
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
    const outside = [];
    page.on("request", (r) => { if (!r.url().startsWith(`http://127.0.0.1:${sl.admin}/`) && !r.url().startsWith("data:")) outside.push(r.url()); });

    await page.setViewport({ width: 1280, height: 800 });
    await page.goto(`http://127.0.0.1:${sl.admin}/`, { waitUntil: "load" });
    await page.waitForFunction(() => document.body.dataset.loaded === "true" &&
      document.querySelectorAll("#routes tbody tr").length >= 4, { timeout: 10000 });
    let rows = await routes_table(page);
    const by_route = (r, m) => rows.find((x) => x.route === r && x.method === m);
    const items = by_route("/api/items/{id}", "GET");
    check(!!items, "GET /api/items/{id} is listed");
    check(!!by_route("/api/orders", "POST"), "POST /api/orders is listed");
    const fail = by_route("/api/fail", "GET");
    check(!!fail && fail.cells[8] === "100%" && fail.cells[9] === "100%", `GET /api/fail shows 100% 5xx (${fail?.cells})`);
    // req/s over 1 minute: 40 requests within the few seconds since start, so well above 1/s.
    const rate_1m = Number(items?.cells[0]);
    check(rate_1m > 1 && rate_1m < 10000, `req/s 1m of /api/items/{id} is plausible (${rate_1m})`);
    const p50 = Number(items?.cells[2]), p95 = Number(items?.cells[3]), p99 = Number(items?.cells[4]);
    check(p50 > 0 && p50 <= p95 && p95 <= p99 && p99 < 1000, `P50 <= P95 <= P99 in ms (${p50}, ${p95}, ${p99})`);
    check(rows.every((r) => r.spark), "every route has a sparkline");
    check(!!by_route(markup_route, "GET"), "a route template with markup is shown as its text");
    check(await page.evaluate(() => window.pwned === undefined && document.scripts.length === 1),
      "the markup in a route template did not run");
    const events_note = await page.$eval("#events-note", (e) => e.textContent);
    check(events_note === "token required", `without a token the events section says so ("${events_note}")`);
    const config_text = await page.$eval("#config", (e) => e.textContent);
    check(config_text.includes("token: <redacted>") && !config_text.includes(token), "the config is shown with the token redacted");

    // More traffic: the 5-minute count (hence req/s) grows within a poll or two.
    const before_5m = Number(items.cells[1]);
    await traffic(sl.proxy, 200);
    const grew = await page.waitForFunction((before) => {
      const tr = [...document.querySelectorAll("#routes tbody tr")]
        .find((r) => r.querySelector(".route").textContent === "/api/items/{id}");
      return tr && Number(tr.querySelectorAll("td")[1].textContent) > before;
    }, { timeout: 10000 }, before_5m).then(() => true, () => false);
    rows = await routes_table(page);
    check(grew, `req/s 5m of /api/items/{id} went up after more traffic (${before_5m} -> ${by_route("/api/items/{id}", "GET")?.cells[1]})`);

    // Keyboard: Tab from the top reaches the token input; Enter sends it.
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    let reached = false;
    for (let i = 0; i < 20 && !reached; ++i) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement?.id === "token");
    }
    check(reached, "Tab reaches the token input");
    const label = await page.$eval("#token", (e) => e.labels[0]?.textContent);
    check(label === "Admin token", "the token input is labelled");
    await page.keyboard.type(token);
    await page.keyboard.press("Enter");
    const shown = await page.waitForFunction(() => !document.getElementById("events-wrap").hidden &&
      document.querySelectorAll("#events tbody tr").length >= 1, { timeout: 10000 }).then(() => true, () => false);
    check(shown, "with the token the security events are listed");
    const event_text = await page.$eval("#events tbody", (e) => e.textContent);
    check(event_text.includes("LOGIN_FAILED") && event_text.includes("<b>mallory</b>"), "the event's fields are shown as text");
    await page.screenshot({ path: path.join(out_dir, "status-1280x800.png"), fullPage: true });

    await page.setViewport({ width: 375, height: 812, isMobile: true, hasTouch: true });
    await page.reload({ waitUntil: "load" });
    await page.waitForFunction(() => document.body.dataset.loaded === "true", { timeout: 10000 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 375, `no sideways scrolling of the page at 375 px (${width})`);
    await page.screenshot({ path: path.join(out_dir, "status-375x812.png"), fullPage: true });

    check(problems.length === 0, "no console error, no failed request" + (problems.length ? ":\n  " + problems.join("\n  ") : ""));
    check(outside.length === 0, "nothing fetched from outside sidelight" + (outside.length ? ": " + outside.join(", ") : ""));
  } finally {
    if (browser) await browser.close();
    sl.proc.kill("SIGTERM");
    app.close();
    keep_alive.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`screenshots: ${out_dir}`);
  if (failures.length) {
    console.error(`status: ${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log("status: every check passed");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
