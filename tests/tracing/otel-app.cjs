// sidelight between a caller and an app instrumented with the OpenTelemetry JS SDK: the app's
// server span must be the child of sidelight's client span, in the caller's trace, and what
// sidelight exports must decode as an OTLP ExportTraceServiceRequest with the protobuf
// definitions of @opentelemetry/otlp-transformer (opentelemetry-proto, compiled by protobufjs).
//   node otel-app.cjs SIDELIGHT_BINARY      exit 0: all held; 1: a check failed (named)
'use strict';
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { SimpleSpanProcessor, InMemorySpanExporter } = require('@opentelemetry/sdk-trace-base');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const otlp = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const appSpans = new InMemorySpanExporter();
const provider = new NodeTracerProvider();
provider.addSpanProcessor(new SimpleSpanProcessor(appSpans));
provider.register();  // W3C trace context propagation, as a real app's SDK setup does
registerInstrumentations({
  instrumentations: [new HttpInstrumentation({
    // The collector below lives in this process too; only the app's requests are traced.
    ignoreIncomingRequestHook: (req) => req.url.startsWith('/v1/traces'),
    ignoreOutgoingRequestHook: () => true,
  })],
});

// Required after the instrumentation is registered, so that it is patched.
const http = require('http');
const net = require('net');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { trace } = require('@opentelemetry/api');

const sidelight = process.argv[2];
const ExportTraceServiceRequest = otlp.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };
const hex = (bytes) => Buffer.from(bytes || []).toString('hex');

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}
async function freePort() {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A raw request, so that no instrumentation of this process adds a traceparent of its own.
function rawGet(port, target, headers) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let data = '';
    c.on('data', (d) => { data += d; });
    c.on('end', () => resolve(data));
    c.on('error', reject);
    c.write(`GET ${target} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n${headers}\r\n`);
  });
}

async function main() {
  const exports = [];  // decoded ExportTraceServiceRequests
  const collector = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      check(req.headers['content-type'] === 'application/x-protobuf',
            `collector: content-type ${req.headers['content-type']}`);
      try {
        const msg = ExportTraceServiceRequest.decode(body);
        const invalid = ExportTraceServiceRequest.verify(msg);
        check(invalid === null, `collector: the payload does not verify as OTLP: ${invalid}`);
        exports.push(msg);
      } catch (e) {
        failures.push(`collector: the payload does not decode as OTLP: ${e.message}`);
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  const app = http.createServer((req, res) => {
    const ctx = trace.getActiveSpan().spanContext();
    const body = JSON.stringify({ traceId: ctx.traceId, spanId: ctx.spanId, traceparent: req.headers.traceparent });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  const collectorPort = await listen(collector);
  const appPort = await listen(app);
  const proxyPort = await freePort();
  const adminPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidelight-otel-'));
  fs.writeFileSync(path.join(dir, 'sidelight.yaml'), `
proxy: {listen: "127.0.0.1:${proxyPort}", workers: 1}
admin: {listen: "127.0.0.1:${adminPort}"}
upstream: {address: "127.0.0.1:${appPort}"}
routes: ["GET /api/products/{id}"]
audit: {store: {path: ${path.join(dir, 'audit.db')}}}
tracing:
  enabled: true
  service_name: shop-sidecar
  otlp: {endpoint: "http://127.0.0.1:${collectorPort}/v1/traces", encoding: protobuf, batch_interval: 100ms}
`);
  const proc = spawn(sidelight, ['run', '--config', path.join(dir, 'sidelight.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  try {
    let ready = false;
    for (let i = 0; i < 100 && !ready; ++i) {
      await sleep(100);
      ready = await new Promise((resolve) => {
        const r = http.get({ host: '127.0.0.1', port: adminPort, path: '/readyz' }, (res) => { res.resume(); resolve(res.statusCode === 200); });
        r.on('error', () => resolve(false));
      });
    }
    if (!ready) throw new Error(`sidelight did not become ready:\n${stderr}`);

    const callerTrace = '0af7651916cd43dd8448eb211c80319c';
    const callerSpan = 'b7ad6b7169203331';
    const continued = await rawGet(proxyPort, '/api/products/42',
      `traceparent: 00-${callerTrace}-${callerSpan}-01\r\n`);
    check(continued.startsWith('HTTP/1.1 200'), `continued: the client got ${continued.split('\r\n')[0]}`);
    const fresh = await rawGet(proxyPort, '/api/products/7', '');
    check(fresh.startsWith('HTTP/1.1 200'), `fresh: the client got ${fresh.split('\r\n')[0]}`);
    const freshBody = JSON.parse(fresh.slice(fresh.indexOf('\r\n\r\n') + 4));

    for (let i = 0; i < 50; ++i) {
      const n = exports.flatMap((e) => e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))).length;
      if (n >= 4) break;
      await sleep(100);
    }
    const spans = [];
    for (const e of exports) {
      for (const rs of e.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name');
        check(service && service.value.stringValue === 'shop-sidecar', 'resource: service.name');
        for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push(s);
      }
    }
    check(spans.length === 4, `collector: ${spans.length} spans, expected 4 (two per request)`);
    const attr = (s, k) => {
      const a = s.attributes.find((x) => x.key === k);
      if (!a) return undefined;
      if (typeof a.value.stringValue === 'string' && a.value.stringValue !== '') return a.value.stringValue;
      const v = a.value.intValue;  // a number, or a Long when protobufjs has the long package
      return v && typeof v.toNumber === 'function' ? v.toNumber() : Number(v);
    };
    const finished = appSpans.getFinishedSpans().filter((s) => s.kind === 1 /* SERVER */);
    check(finished.length === 2, `app: ${finished.length} server spans, expected 2`);
    const parentOf = (s) => s.parentSpanId || (s.parentSpanContext && s.parentSpanContext.spanId);

    for (const [name, traceId, callerParent] of [['continued', callerTrace, callerSpan], ['fresh', freshBody.traceId, null]]) {
      const server = spans.find((s) => hex(s.traceId) === traceId && s.kind === 2);
      const client = spans.find((s) => hex(s.traceId) === traceId && s.kind === 3);
      const appSpan = finished.find((s) => s.spanContext().traceId === traceId);
      if (!server || !client || !appSpan) {
        failures.push(`${name}: sidelight server span ${!!server}, client span ${!!client}, app span ${!!appSpan} in trace ${traceId}`);
        continue;
      }
      check(callerParent ? hex(server.parentSpanId) === callerParent : hex(server.parentSpanId) === '',
            `${name}: sidelight's server span parent ${hex(server.parentSpanId)}`);
      check(hex(client.parentSpanId) === hex(server.spanId), `${name}: the client span is not under the server span`);
      check(parentOf(appSpan) === hex(client.spanId),
            `${name}: the app's span parent ${parentOf(appSpan)} is not sidelight's client span ${hex(client.spanId)}`);
      check(attr(server, 'http.route') === '/api/products/{id}', `${name}: http.route ${attr(server, 'http.route')}`);
      check(attr(server, 'http.response.status_code') === 200, `${name}: status ${attr(server, 'http.response.status_code')}`);
      check(attr(client, 'server.port') === appPort, `${name}: server.port ${attr(client, 'server.port')}`);
      const start = BigInt(server.startTimeUnixNano.toString()), end = BigInt(server.endTimeUnixNano.toString());
      check(start > 0n && end >= start, `${name}: server span times ${start}..${end}`);
    }
    check(freshBody.traceparent && freshBody.traceparent.startsWith(`00-${freshBody.traceId}-`), 'fresh: the app saw no traceparent of the new trace');
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.on('exit', r));
    collector.close();
    app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (failures.length) {
    for (const f of failures) console.error(`otel: FAIL: ${f}`);
    process.exit(1);
  }
  console.log('otel: the app\'s spans are children of sidelight\'s, in one trace; the OTLP protobuf payload decodes and verifies');
}

main().catch((e) => { console.error(`otel: FAIL: ${e.stack || e}`); process.exit(1); });
