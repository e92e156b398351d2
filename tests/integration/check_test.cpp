// `sidelight check` against `sidelight run`: every documented option passes both (and run starts
// and stops cleanly with them), and a file run refuses is refused by check with the same
// message and exit code.

#include <gtest/gtest.h>

#include <algorithm>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
}

// Every key docs/CONFIG.md documents, as a path: "upstream.connect_timeout",
// "audit.rules[].match.routes". Read from its tables: a row whose first cell is one `key`,
// under a heading naming the section (## `proxy`, ### `audit.jwt`: ..., ### Audit rule).
std::set<std::string> documented_keys() {
    std::istringstream doc(read_text(SIDELIGHT_SOURCE_DIR "/docs/CONFIG.md"));
    static const std::regex heading(
        R"(^#{2,3} (`([a-z_.]+)`|Top level|Audit rule|Security rule|Metric rule|Database audit rule))");
    static const std::regex row(R"(^\| `([a-z_.]+)` \|)");
    std::set<std::string> keys;
    std::string prefix;
    bool in_section = false;
    for (std::string line; std::getline(doc, line);) {
        std::smatch m;
        if (line.starts_with("#")) {
            in_section = std::regex_search(line, m, heading);
            if (!in_section) continue;
            if (m[2].matched)
                prefix = m[2].str() == "egress" ? "egress[]." : m[2].str() + ".";  // a list
            else if (m[1] == "Top level")
                prefix = "";
            else if (m[1] == "Audit rule")
                prefix = "audit.rules[].";
            else if (m[1] == "Metric rule")
                prefix = "metrics.rules[].";
            else if (m[1] == "Database audit rule")
                prefix = "databases[].audit[].";
            else
                prefix = "security.rules[].";
        } else if (in_section && std::regex_search(line, m, row)) {
            keys.insert(prefix + m[1].str());
        }
    }
    // `databases` is a list: its keys are looked up in its first entry.
    std::set<std::string> listed;
    for (const auto& k : keys)
        listed.insert(k.starts_with("databases.") ? "databases[]." + k.substr(10) : k);
    return listed;
}

// Whether `yaml` sets `path` (a list level, `[]`, is looked up in its first item).
bool sets(const YAML::Node& yaml, const std::string& path) {
    YAML::Node at = yaml;  // reset(), not `=`: a Node's operator= assigns to what it refers to
    std::istringstream parts(path);
    for (std::string part; std::getline(parts, part, '.');) {
        const bool list = part.ends_with("[]");
        if (list) part.resize(part.size() - 2);
        if (!at.IsMap() || !at[part]) return false;
        at.reset(at[part]);
        if (list) {
            if (!at.IsSequence() || at.size() == 0) return false;
            at.reset(at[0]);
        }
    }
    return true;
}

// Every documented key, each away from its default where that still lets run start on
// 127.0.0.1:0 in a test. KEYS is the directory of the keys; UPSTREAM the fake app's port.
const char* const every_option = R"(proxy:
  listen: 127.0.0.1:0
  workers: 2
  max_connections: 500
  trusted_proxies: [10.0.0.0/8, "::1/128"]
upstream:
  address: 127.0.0.1:UPSTREAM
  connect_timeout: 500ms
  response_timeout: 5s
  idle_timeout: 30s
  max_idle: 8
  tls: true
  sni: localhost
  ca_file: KEYS/ca.pem
admin:
  listen: 127.0.0.1:0
  token: ${SIDELIGHT_CHECK_TEST_TOKEN}
  status: true
health:
  interval: 200ms
  timeout: 100ms
  path: /health
  unhealthy_threshold: 2
  healthy_threshold: 2
shutdown:
  delay: 50ms
  grace: 2s
limits:
  header_read_timeout: 5s
  keepalive_timeout: 30s
  body_idle_timeout: 30s
  body_read_timeout: 2m
  tunnel_idle_timeout: 10m
  max_url_bytes: 4KiB
  max_header_bytes: 32KiB
  max_header_count: 50
  max_body_bytes: 1MiB
metrics:
  prefix: shop_
  buckets: [5, 25, 100]
  const_labels: {service: shop}
  traffic: true
  rules:
    - name: emails_sent_ms
      type: histogram
      help: Time the mail provider took
      buckets: [10, 100, 1000]
      listener: mail
      match: {routes: [/v3/mail/send], methods: [POST], status: [2xx]}
      value: "request:/priority"
      labels:
        template: {from: "request:/template_id", map: {d-1: welcome}, other: other}
        outcome: {from: status_class, values: [2xx], other: failed}
routes:
  openapi: PETSTORE
  unmatched: normalize
  max_routes: 20
  case_sensitive: true
  entries:
    - GET,PUT /api/products/{id}
    - POST /api/login
    - {template: /api/orders, methods: [GET, POST], name: orders}
audit:
  store:
    type: sqlite
    path: audit.db
    synchronous: normal
    wal_max_bytes: 1MiB
  queue_size: 1000
  batch_max: 64
  batch_interval: 10ms
  strict_timeout: 1s
  max_body_bytes: 16KiB
  redact_keys: [password, pin]
  checkpoint:
    every_events: 10
    every: 30s
    key_file: KEYS/cp.pem
  jwt:
    key_file: KEYS/cp.pub.pem
    hmac_secret_env: SIDELIGHT_CHECK_TEST_HMAC
    algorithms: [EdDSA, HS256]
    leeway: 30s
    issuer: https://id.example.com
    audience: shop-api
  rules:
    - name: mail-sent
      listener: mail
      match: {routes: [/v3/mail/send], methods: [POST], status: [2xx]}
      action: SEND_EMAIL
      entity_type: email
      entity_id: request:/template_id
      user: request:/from/email
      changes: false
      mode: batch
    - name: product-update
      match: {routes: ["/api/products/{id}"], methods: [PUT], status: [2xx]}
      action: UPDATE_PRODUCT
      entity_type: product
      entity_id: path:id
      user: jwt:sub
      changes: true
      mode: strict
security:
  builtin: {authn_fail: true, authz_fail: false, rate_limit: true}
  brute_force: {enabled: true, threshold: 3, window: 1m}
  rules:
    - name: mail-refused
      listener: mail
      match: {routes: [/v3/mail/send], methods: [POST], status: [4xx]}
      event_type: MAIL_REFUSED
      owasp: input_validation_fail
      success: {status: ["200-299"]}
      user: request:/from/email
      login: false
      mode: batch
    - name: login
      match: {routes: [/api/login], methods: [POST]}
      event_type: LOGIN_ATTEMPT
      owasp: authn_login_fail
      success: {status: ["200-399"]}
      user: request:/email
      login: true
      mode: batch
databases:
  - name: main
    listen: 127.0.0.1:0
    upstream:
      address: 127.0.0.1:1
      tls: verify-full
      ca_file: /etc/ssl/certs/ca-certificates.crt
      sni: db.internal
      connect_timeout: 2s
    tables: {max: 50}
    slow_query: 250ms
    audit:
      - name: user-deleted
        match: {operations: [delete], tables: [users], outcome: any}
        action: user.delete
        entity_type: user
slos:
  - name: orders-availability
    route: POST /api/orders
    objective: 99.9%
    window: 30d
  - name: product-latency
    route: GET /api/products/{id}
    objective: 99%
    latency: 100ms
egress:
  - name: mail
    listen: 127.0.0.1:EGRESS
    upstream: {address: api.mail.invalid:443, tls: true, sni: api.mail.invalid}
    routes: [POST /v3/mail/send]
    workers: 1
tracing:
  enabled: true
  service_name: check-test
  sampler: ratio
  ratio: 50%
  otlp:
    endpoint: http://127.0.0.1:1/v1/traces
    encoding: json
    timeout: 500ms
    queue_size: 100
    batch_max: 10
    batch_interval: 200ms
database_io: epoll
access_log: true
log_level: debug
log_format: json
config_watch: true
)";

class CliCheckTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ::setenv("SIDELIGHT_CHECK_TEST_TOKEN", "check-test-token", 1);
        ::setenv("SIDELIGHT_CHECK_TEST_HMAC", "0123456789abcdef0123456789abcdef", 1);
    }

    // check, then run until the startup line, SIGTERM, exit 0.
    void check_and_run(const std::string& file) {
        sidelight_process check({"check", "--config", file});
        ASSERT_EQ(check.wait_exit(), 0) << check.stderr_text();
        EXPECT_EQ(check.stderr_text(), "");
        sidelight_process run({"run", "--config", file});
        ASSERT_TRUE(run.wait_started()) << run.stderr_text();
        run.signal(SIGTERM);
        EXPECT_EQ(run.wait_exit(10s), 0) << run.stderr_text();
    }

    // every_option's placeholders: its keys' directory (with a CA certificate for upstream.tls),
    // the OpenAPI file and a free port for the egress listener.
    void fill_in(std::string& yaml) {
        const auto ca = dir_.path() + "/ca.pem";
        const auto cmd =
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
            "-nodes -subj /CN=check-test -days 1 -keyout " +
            dir_.path() + "/ca.key -out " + ca + " >/dev/null 2>&1";
        ASSERT_EQ(std::system(cmd.c_str()), 0);
        replace_all(yaml, "KEYS", dir_.path());
        replace_all(yaml, "PETSTORE", SIDELIGHT_SOURCE_DIR "/tests/data/openapi/petstore-v3.yaml");
        std::uint16_t port = 0;
        ::close(listen_loopback(1, port));
        replace_all(yaml, "EGRESS", std::to_string(port));
    }

    // `check` and `run` both exit 2 with this one line on stderr.
    void both_refuse(const std::string& yaml, const std::string& message) {
        const auto file = dir_.write("refused.yaml", yaml);
        for (const char* cmd : {"check", "run"}) {
            sidelight_process p({cmd, "--config", file});
            EXPECT_EQ(p.wait_exit(), 2) << cmd;
            EXPECT_EQ(p.stderr_text(), "sidelight: " + file + message + "\n") << cmd;
            EXPECT_EQ(p.stdout_text(), "") << cmd;
        }
    }

    temp_dir dir_;
    fake_upstream app_;
};

// The keys of the Postgres store, which exclude `store.path` (every_option's SQLite store):
// every_option with this store instead.
std::string with_postgres_store(std::string yaml) {
    const std::string sqlite_store =
        "  store:\n    type: sqlite\n    path: audit.db\n    synchronous: normal\n"
        "    wal_max_bytes: 1MiB\n";
    const std::string postgres_store =
        "  store:\n    type: postgres\n    dsn: ${SIDELIGHT_CHECK_TEST_DSN}\n"
        "    chain: ${SIDELIGHT_CHECK_TEST_POD:-pod-0}\n"
        "    spool: {path: spool.db, max_bytes: 64MiB}\n    forward_batch: 500\n"
        "    synchronous: normal\n    wal_max_bytes: 1MiB\n";
    const auto at = yaml.find(sqlite_store);
    if (at != std::string::npos) yaml.replace(at, sqlite_store.size(), postgres_store);
    return yaml;
}

TEST_F(CliCheckTest, TheTestConfigSetsEveryDocumentedKey) {
    const auto keys = documented_keys();
    ASSERT_GT(keys.size(), 80u) << "docs/CONFIG.md tables not found";
    const auto yaml = YAML::Load(every_option);
    const auto pg_yaml = YAML::Load(with_postgres_store(every_option));
    for (const auto& key : keys)
        EXPECT_TRUE(sets(yaml, key) || sets(pg_yaml, key)) << key << " is not in the test";
}

// The Postgres variant starts too, with its Postgres away: traffic flows, the spool takes the
// events, and the password from the environment is never printed.
TEST_F(CliCheckTest, EveryPostgresStoreOptionPassesCheckAndRunWithPostgresAway) {
    ::setenv("SIDELIGHT_CHECK_TEST_DSN",
             "host=127.0.0.1 port=1 user=w password=Sup3rS3cret connect_timeout=1", 1);
    sidelight_process keygen({"audit", "keygen", "--key", dir_.path() + "/cp.pem", "--public-key",
                              dir_.path() + "/cp.pub.pem"});
    ASSERT_EQ(keygen.wait_exit(), 0) << keygen.stderr_text();
    std::string yaml = with_postgres_store(every_option);
    ASSERT_NE(yaml.find("type: postgres"), std::string::npos);
    replace_all(yaml, "UPSTREAM", std::to_string(app_.port()));
    fill_in(yaml);
    const auto file = dir_.write("every-pg.yaml", yaml);
    sidelight_process check({"check", "--config", file});
    check.wait_exit();
    EXPECT_EQ(check.stdout_text().find("Sup3rS3cret"), std::string::npos);
    check_and_run(file);
    ::unsetenv("SIDELIGHT_CHECK_TEST_DSN");
}

TEST_F(CliCheckTest, EveryDocumentedOptionPassesCheckAndRun) {
    sidelight_process keygen({"audit", "keygen", "--key", dir_.path() + "/cp.pem", "--public-key",
                              dir_.path() + "/cp.pub.pem"});
    ASSERT_EQ(keygen.wait_exit(), 0) << keygen.stderr_text();
    std::string yaml = every_option;
    replace_all(yaml, "UPSTREAM", std::to_string(app_.port()));
    fill_in(yaml);
    check_and_run(dir_.write("every.yaml", yaml));
}

TEST_F(CliCheckTest, TheDeployExamplePassesCheckAndRun) {
    const std::string example = SIDELIGHT_SOURCE_DIR "/deploy/examples/sidelight.yaml";
    sidelight_process in_place({"check", "--config", example});
    EXPECT_EQ(in_place.wait_exit(), 0) << in_place.stderr_text();
    auto yaml = read_text(example);  // on test ports, next to a fake app
    replace_all(yaml, "0.0.0.0:8080", "127.0.0.1:0");
    replace_all(yaml, "0.0.0.0:9901", "127.0.0.1:0");
    replace_all(yaml, "127.0.0.1:3000", "127.0.0.1:" + std::to_string(app_.port()));
    check_and_run(dir_.write("sidelight.yaml", yaml));
}

// Run does not have these; check used to pass them.
TEST_F(CliCheckTest, WhatRunRefusesCheckRefusesWithTheSameMessage) {
    const auto base = test_config(app_.port());
    // Reported at the key's position: the line after base's lines, "audit:" and "store:".
    const auto key_line = std::count(base.begin(), base.end(), '\n') + 3;
    both_refuse(base + "audit:\n  store:\n    type: memory\n",
                ":" + std::to_string(key_line) +
                    ":11: audit.store.type: memory is not available in this build (sqlite and "
                    "postgres are)");
    both_refuse(base + "audit:\n  checkpoint:\n    key_file: nope.pem\n",
                ":" + std::to_string(key_line) + ":15: audit.checkpoint.key_file: cannot read " +
                    dir_.path() + "/nope.pem: No such file or directory");
    auto named = base;
    replace_all(named, "proxy:\n  listen: 127.0.0.1:0", "proxy:\n  listen: localhost:0");
    const auto at = named.find("listen: localhost:0");
    ASSERT_NE(at, std::string::npos);
    const auto listen_line = std::count(named.begin(), named.begin() + at, '\n') + 1;
    both_refuse(named, ":" + std::to_string(listen_line) +
                           ":11: proxy.listen: \"localhost\" is not an IP address; a listener "
                           "needs one (0.0.0.0, 127.0.0.1, [::], [::1], ...)");
}

}  // namespace
}  // namespace sidelight::test
