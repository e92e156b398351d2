#!/usr/bin/env python3
"""What strict audit delivery and the event API cost, measured through the real binary.

    bench/audit_latency.py [path/to/sidelight]      (default build-bench/sidelight)

Starts an upstream (a tiny keep-alive HTTP server in this process), then sidelight twice:
once with a batch-mode audit rule and once with the same rule in strict mode
(synchronous=FULL, the hash chain on). Sends GET requests paced at 1,000 per second over
keep-alive connections for 5 s and reports p50/p99 of each, the difference being what strict
mode adds. Then 1,000 POST /v1/audit calls, one at a time: p50/p99 of the acknowledgement
(201 after the durable commit).
"""
import http.client
import os
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

BODY = b'{"id":7,"name":"lamp"}'


class App(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            length = 0
            while True:
                h = self.rfile.readline()
                if h in (b"\r\n", b""):
                    break
                if h.lower().startswith(b"content-length:"):
                    length = int(h.split(b":")[1])
            if length:
                self.rfile.read(length)
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY))


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(binary, workdir, app_port, mode):
    proxy, admin = free_port(), free_port()
    cfg = os.path.join(workdir, f"{mode}.yaml")
    with open(cfg, "w") as f:
        f.write(f"""proxy: {{listen: 127.0.0.1:{proxy}, workers: 1}}
upstream: {{address: 127.0.0.1:{app_port}}}
admin: {{listen: 127.0.0.1:{admin}, token: bench}}
routes: ["GET /api/products/{{id}}"]
audit:
  store: {{path: {workdir}/{mode}.db, synchronous: full}}
  rules:
    - name: read
      match: {{routes: ["/api/products/{{id}}"], methods: [GET]}}
      action: READ
      entity_type: product
      entity_id: path:id
      mode: {mode}
log_level: warn
""")
    p = subprocess.Popen([binary, "run", "--config", cfg], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", proxy)).close()
            return p, proxy, admin
        except OSError:
            time.sleep(0.05)
    raise SystemExit("sidelight did not start")


def percentiles(samples):
    s = sorted(samples)
    return s[len(s) // 2] * 1e6, s[int(len(s) * 0.99)] * 1e6


def paced_gets(port, rate=1000, seconds=5, conns=8):
    lat, lock = [], threading.Lock()
    per_conn = rate / conns

    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", port)
        start = time.perf_counter()
        for i in range(int(per_conn * seconds)):
            due = start + i / per_conn
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t0 = time.perf_counter()
            c.request("GET", f"/api/products/{k}-{i}")
            c.getresponse().read()
            with lock:
                lat.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return percentiles(lat), len(lat)


def api_acks(admin, n=1000):
    c = http.client.HTTPConnection("127.0.0.1", admin)
    lat = []
    for i in range(n):
        body = f'{{"user_id":"u{i}","action":"EXPORT","entity_type":"report","entity_id":"{i}"}}'
        t0 = time.perf_counter()
        c.request("POST", "/v1/audit", body, {"Authorization": "Bearer bench",
                                              "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        lat.append(time.perf_counter() - t0)
        assert r.status == 201, r.status
    return percentiles(lat)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build-bench/sidelight"
    app = Server(("127.0.0.1", 0), App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as work:
        rows = []
        for mode in ("batch", "strict"):
            p, proxy, admin = start(binary, work, app.server_address[1], mode)
            try:
                (p50, p99), n = paced_gets(proxy)
                rows.append((mode, n, p50, p99))
                if mode == "batch":
                    api = api_acks(admin)
            finally:
                p.terminate()
                p.wait()
        print("| audit delivery | requests at 1,000/s | p50 µs | p99 µs |")
        print("|---|---|---|---|")
        for mode, n, p50, p99 in rows:
            print(f"| {mode} | {n} | {p50:.0f} | {p99:.0f} |")
        print(f"\nstrict adds p50 {rows[1][2] - rows[0][2]:.0f} µs, p99 {rows[1][3] - rows[0][3]:.0f} µs")
        print(f"\nevent API acknowledgement (POST /v1/audit, durable commit): "
              f"p50 {api[0]:.0f} µs, p99 {api[1]:.0f} µs")


if __name__ == "__main__":
    main()
