// Every error names file:line:col and the key path; these tests pin the exact text.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/load.hpp"

namespace sidelight::config {
namespace {

const std::string upstream = "upstream: {address: 127.0.0.1:3000}\n";

// The what() of the error load_string throws, or "" when it loads.
std::string error_of(const std::string& yaml) {
    try {
        load_string(yaml, "sidelight.yaml");
    } catch (const config_error& e) {
        return e.what();
    }
    return "";
}

TEST(config_errors, yaml_syntax_error_has_the_parser_position) {
    EXPECT_EQ(error_of("proxy:\n  listen: [1, 2\nupstream: x\n"),
              "sidelight.yaml:3:9: invalid YAML: end of sequence flow not found");
}

TEST(config_errors, document_must_be_a_map) {
    EXPECT_EQ(error_of("- a\n- b\n"),
              "sidelight.yaml:1:1: the document must be a map of sections (proxy, upstream, ...)");
}

TEST(config_errors, bad_duration_quotes_path_and_value_position) {
    std::string yaml =
        "upstream:\n"
        "  address: 127.0.0.1:3000\n"
        "  connect_timeout: 500\n";
    EXPECT_EQ(error_of(yaml),
              "sidelight.yaml:3:20: upstream.connect_timeout: expected a duration like 500ms, 5s, "
              "1m30s or 1h, got \"500\"");
}

// Values that parse but would break the running proxy are refused where they are written.
TEST(config_errors, values_too_large_to_run_with) {
    EXPECT_EQ(error_of(upstream + "limits:\n  keepalive_timeout: 3000000h\n"),
              "sidelight.yaml:3:22: limits.keepalive_timeout: too large: at most 87600h (10 "
              "years), got \"3000000h\"");
    EXPECT_EQ(error_of(upstream + "shutdown:\n  delay: 87601h\n"),
              "sidelight.yaml:3:10: shutdown.delay: too large: at most 87600h (10 years), got "
              "\"87601h\"");
    EXPECT_EQ(error_of(upstream + "shutdown:\n  delay: 87600h\n"), "");
    EXPECT_EQ(error_of(upstream + "limits:\n  max_header_bytes: 4GiB\n"),
              "sidelight.yaml:3:21: limits.max_header_bytes: too large: at most 1073741824 "
              "bytes");
    EXPECT_EQ(error_of(upstream + "limits:\n  max_url_bytes: 2GiB\n"),
              "sidelight.yaml:3:18: limits.max_url_bytes: too large: at most 1073741824 bytes");
    EXPECT_EQ(error_of(upstream + "limits:\n  max_header_bytes: 1GiB\n"), "");
}

// A value that is not UTF-8 (a file saved as Latin-1) would reach labels, logs and JSON.
TEST(config_errors, a_value_that_is_not_utf8) {
    EXPECT_EQ(error_of(upstream + "metrics:\n  const_labels: {service: caf\xe9}\n"),
              "sidelight.yaml:3:27: metrics.const_labels.service: not valid UTF-8 text");
    EXPECT_EQ(error_of(upstream + "metrics:\n  const_labels: {service: \"caf\xc3\xa9\"}\n"), "");
}

TEST(config_errors, config_error_exposes_mark_and_key_path) {
    try {
        load_string(upstream + "proxy:\n  workers: 2000\n", "dir/s.yaml");
        FAIL() << "expected a config_error";
    } catch (const config_error& e) {
        EXPECT_EQ(e.mark().file, "dir/s.yaml");
        EXPECT_EQ(e.mark().line, 3);
        EXPECT_EQ(e.mark().column, 12);
        EXPECT_EQ(e.key_path(), "proxy.workers");
    }
}

TEST(config_errors, wrong_types) {
    EXPECT_EQ(error_of(upstream + "proxy: [1, 2]\n"),
              "sidelight.yaml:2:8: proxy: expected a map, got a list");
    EXPECT_EQ(error_of(upstream + "proxy:\n  trusted_proxies: 10.0.0.0/8\n"),
              "sidelight.yaml:3:20: proxy.trusted_proxies: expected a list, got \"10.0.0.0/8\"");
    EXPECT_EQ(error_of(upstream + "admin:\n  token: {a: 1}\n"),
              "sidelight.yaml:3:10: admin.token: expected a value, got a map");
    EXPECT_EQ(error_of(upstream + "admin:\n  status: sometimes\n"),
              "sidelight.yaml:3:11: admin.status: expected a boolean (true or false), got "
              "\"sometimes\"");
    EXPECT_EQ(error_of(upstream + "access_log: maybe\n"),
              "sidelight.yaml:2:13: access_log: expected a boolean (true or false), got \"maybe\"");
    EXPECT_EQ(error_of(upstream + "routes: everything\n"),
              "sidelight.yaml:2:9: routes: expected a list of routes or a map {openapi, "
              "unmatched, max_routes, case_sensitive, entries}");
}

TEST(config_errors, unknown_keys_list_the_valid_ones) {
    EXPECT_EQ(error_of(upstream + "proxy:\n  listne: :8080\n"),
              "sidelight.yaml:3:3: proxy.listne: unknown key (expected one of listen, workers, "
              "max_connections, trusted_proxies)");
    EXPECT_EQ(
        error_of(upstream + "config: {watch: true}\n"),
        "sidelight.yaml:2:1: config: unknown key (expected one of proxy, upstream, admin, "
        "health, shutdown, limits, metrics, routes, audit, security, egress, databases, slos, "
        "tracing, database_io, access_log, log_level, log_format, config_watch)");
    EXPECT_EQ(error_of(upstream + "audit:\n  rules:\n    - action: x\n      entity: y\n"),
              "sidelight.yaml:5:7: audit.rules[0].entity: unknown key (expected one of name, "
              "listener, match, action, entity_type, entity_id, user, changes, mode)");
}

TEST(config_errors, duplicate_key_at_top_level) {
    EXPECT_EQ(error_of(upstream + "log_level: info\naccess_log: true\nlog_level: debug\n"),
              "sidelight.yaml:4:1: log_level: duplicate key (first defined at line 2, column 1)");
}

TEST(config_errors, duplicate_key_nested) {
    std::string yaml = upstream +
                       "audit:\n"
                       "  rules:\n"
                       "    - action: a\n"
                       "      mode: batch\n"
                       "      mode: strict\n";
    EXPECT_EQ(error_of(yaml),
              "sidelight.yaml:6:7: audit.rules[0].mode: duplicate key (first defined at line 5, "
              "column 7)");
    EXPECT_EQ(error_of(upstream + "metrics:\n  const_labels: {env: a, env: b}\n"),
              "sidelight.yaml:3:26: metrics.const_labels.env: duplicate key (first defined at "
              "line 3, column 18)");
}

TEST(config_errors, keys_must_be_strings) {
    EXPECT_EQ(error_of(upstream + "proxy:\n  ? [a, b]\n  : 1\n"),
              "sidelight.yaml:3:5: proxy: keys must be plain strings");
    EXPECT_EQ(error_of(upstream + "metrics: {const_labels: {\"${X}\": v}}\n"),
              "sidelight.yaml:2:26: metrics.const_labels.${X}: not a valid Prometheus label name");
}

TEST(config_errors, duplicate_section) {
    EXPECT_EQ(error_of(upstream + "upstream: {address: 127.0.0.1:4000}\n"),
              "sidelight.yaml:2:1: upstream: duplicate key (first defined at line 1, column 1)");
}

TEST(config_errors, integers_out_of_range_negative_and_malformed) {
    EXPECT_EQ(error_of(upstream + "proxy: {workers: 1025}\n"),
              "sidelight.yaml:2:18: proxy.workers: out of range: 1025 (between 0 and 1024)");
    EXPECT_EQ(error_of(upstream + "metrics: {const_labels: {result: x}}\n"),
              "sidelight.yaml:2:26: metrics.const_labels.result: collides with a label sidelight "
              "sets itself");
    EXPECT_EQ(error_of(upstream + "health: {unhealthy_threshold: 0}\n"),
              "sidelight.yaml:2:31: health.unhealthy_threshold: out of range: 0 (between 1 and "
              "100)");
    EXPECT_EQ(error_of(upstream + "health: {healthy_threshold: 101}\n"),
              "sidelight.yaml:2:29: health.healthy_threshold: out of range: 101 (between 1 and "
              "100)");
    EXPECT_EQ(error_of(upstream + "proxy: {workers: -1}\n"),
              "sidelight.yaml:2:18: proxy.workers: must not be negative (between 0 and 1024)");
    EXPECT_EQ(error_of(upstream + "proxy: {max_connections: 99999999999999999999}\n"),
              "sidelight.yaml:2:26: proxy.max_connections: number too large (between 1 and "
              "10000000)");
    EXPECT_EQ(error_of(upstream + "proxy: {workers: 2.5}\n"),
              "sidelight.yaml:2:18: proxy.workers: expected a whole number, got \"2.5\"");
    EXPECT_EQ(error_of(upstream + "security: {brute_force: {threshold: 0}}\n"),
              "sidelight.yaml:2:37: security.brute_force.threshold: out of range: 0 (between 1 "
              "and 1000000)");
}

TEST(config_errors, addresses_and_ports) {
    EXPECT_EQ(error_of("upstream: {address: 127.0.0.1:0}\n"),
              "sidelight.yaml:1:21: upstream.address: port must be between 1 and 65535");
    EXPECT_EQ(error_of("upstream: {address: 127.0.0.1:70000}\n"),
              "sidelight.yaml:1:21: upstream.address: port must be between 1 and 65535");
    EXPECT_EQ(error_of("upstream: {address: \"[::1]:99999999999\"}\n"),
              "sidelight.yaml:1:21: upstream.address: port must be between 1 and 65535");
    // Docker Compose service names may hold '_'.
    EXPECT_EQ(error_of("upstream: {address: my_app:3000}\n"), "");
    EXPECT_EQ(error_of(upstream + "proxy: {listen: \"127.0.0.1:70000\"}\n"),
              "sidelight.yaml:2:17: proxy.listen: port must be between 0 and 65535");
    EXPECT_EQ(error_of("upstream: {address: \"app..local:3000\"}\n"),
              "sidelight.yaml:1:21: upstream.address: expected an address like 127.0.0.1:3000, "
              "[::1]:3000, name:3000 or :8080, got \"app..local:3000\"");
    EXPECT_EQ(error_of(upstream + "proxy: {listen: \"127.0.0.1:0\"}\n"), "");
    EXPECT_EQ(error_of(upstream + "admin: {listen: ::1:9901}\n"),
              "sidelight.yaml:2:17: admin.listen: expected an address like 127.0.0.1:3000, "
              "[::1]:3000, name:3000 or :8080, got \"::1:9901\"");
}

TEST(config_errors, listeners_that_collide_or_loop) {
    EXPECT_EQ(error_of(upstream + "admin: {listen: \":8080\"}\n"),
              "sidelight.yaml:2:17: admin.listen: same port as proxy.listen (0.0.0.0:8080)");
    EXPECT_EQ(error_of(upstream + "proxy: {listen: \"127.0.0.1:9901\"}\n"),
              "sidelight.yaml:1:1: admin.listen: same port as proxy.listen (127.0.0.1:9901)");
    EXPECT_EQ(error_of("upstream: {address: localhost:8080}\n"),
              "sidelight.yaml:1:21: upstream.address: points at proxy.listen (0.0.0.0:8080): "
              "requests would loop");
    EXPECT_EQ(error_of(upstream + "proxy: {listen: \":0\"}\nadmin: {listen: \":0\"}\n"), "");
    EXPECT_EQ(error_of(upstream + "proxy: {listen: \"10.0.0.1:9901\"}\n"
                                  "admin: {listen: \"127.0.0.1:9901\"}\n"),
              "");
    EXPECT_EQ(error_of("upstream: {address: \"10.1.1.1:8080\"}\n"), "");
}

TEST(config_errors, sizes_and_durations) {
    EXPECT_EQ(error_of(upstream + "limits:\n  max_body_bytes: 10k\n"),
              "sidelight.yaml:3:19: limits.max_body_bytes: expected a size like 512, 64KiB, 1MiB "
              "or 10KB, got \"10k\"");
    EXPECT_EQ(error_of(upstream + "limits:\n  header_read_timeout: 0\n"),
              "sidelight.yaml:3:24: limits.header_read_timeout: must be greater than 0");
    EXPECT_EQ(error_of(upstream + "shutdown: {grace: 0}\n"), "");
}

TEST(config_errors, missing_required_values) {
    EXPECT_EQ(error_of("proxy: {workers: 2}\n"),
              "sidelight.yaml:1:1: upstream.address: missing required key");
    EXPECT_EQ(error_of("upstream:\n  connect_timeout: 1s\n"),
              "sidelight.yaml:2:3: upstream.address: missing required key");
    EXPECT_EQ(error_of(upstream + "audit:\n  rules:\n    - name: r\n      entity_type: x\n"),
              "sidelight.yaml:4:7: audit.rules[0].action: missing required key");
    EXPECT_EQ(error_of(upstream + "security:\n  rules:\n    - {name: a, event_type: X}\n"
                                  "    - {name: b}\n"),
              "sidelight.yaml:5:7: security.rules[1].event_type: missing required key");
    EXPECT_EQ(error_of(upstream + "admin:\n  token:\n"),
              "sidelight.yaml:3:3: admin.token: expected a value, got nothing");
}

TEST(config_errors, unset_environment_variable) {
    ::unsetenv("SIDELIGHT_TEST_UNSET");
    EXPECT_EQ(error_of("upstream:\n  address: ${SIDELIGHT_TEST_UNSET}\n"),
              "sidelight.yaml:2:12: upstream.address: environment variable SIDELIGHT_TEST_UNSET "
              "is not set (use ${SIDELIGHT_TEST_UNSET:-default} for a default)");
    EXPECT_EQ(error_of(upstream + "admin: {token: $ADMIN_TOKEN}\n"),
              "sidelight.yaml:2:16: admin.token: \"$ADMIN_TOKEN\" is not expanded: write "
              "${ADMIN_TOKEN} for the environment variable, or $$ADMIN_TOKEN for the literal text");
    EXPECT_EQ(error_of(upstream + "admin: {token: $$ADMIN_TOKEN}\n"), "");
    EXPECT_EQ(error_of(upstream + "admin: {token: a$b}\n"), "");  // a $ inside stays
    EXPECT_EQ(error_of(upstream + "admin: {token: \"${UNTERMINATED\"}\n"),
              "sidelight.yaml:2:16: admin.token: unterminated ${ in \"${UNTERMINATED\" (write $$ "
              "for a literal $)");
}

TEST(config_errors, routes) {
    EXPECT_EQ(error_of(upstream + "routes:\n  - GET /a\n  - \"GE T/b\"\n"),
              "sidelight.yaml:4:5: routes[1]: expected a space between the methods and the path "
              "in \"GE T/b\"");
    EXPECT_EQ(error_of(upstream + "routes:\n  - \"G(T /a\"\n"),
              "sidelight.yaml:3:5: routes[0]: expected HTTP methods like GET or GET,PUT, got "
              "\"G(T\"");
    EXPECT_EQ(error_of(upstream + "routes:\n  entries:\n    - {template: api/x}\n"),
              "sidelight.yaml:4:18: routes.entries[0].template: expected a path template "
              "starting with /, got \"api/x\"");
    EXPECT_EQ(error_of(upstream + "routes: {unmatched: drop}\n"),
              "sidelight.yaml:2:21: routes.unmatched: expected one of label, normalize, got "
              "\"drop\"");
}

TEST(config_errors, rules) {
    std::string rules = upstream + "audit:\n  rules:\n";
    EXPECT_EQ(
        error_of(rules + "    - {action: a, entity_id: cookie:sid}\n"),
        "sidelight.yaml:4:30: audit.rules[0].entity_id: expected path:<param>, "
        "header:<name>, query:<name>, jwt:<claim>, request:/<pointer> or response:/<pointer>, got "
        "\"cookie:sid\"");
    EXPECT_EQ(error_of(rules + "    - {action: a, user: \"request:user.id\"}\n"),
              "sidelight.yaml:4:25: audit.rules[0].user: expected a JSON pointer like "
              "request:/user/id, got \"request:user.id\"");
    EXPECT_EQ(error_of(rules + "    - action: a\n      match: {status: [200, 6xx]}\n"),
              "sidelight.yaml:5:29: audit.rules[0].match.status[1]: expected a status code (404), "
              "a class (\"2xx\") or a range (\"200-299\") between 100 and 599, got \"6xx\"");
    EXPECT_EQ(error_of(rules + "    - action: a\n      match: {status: [\"299-200\"]}\n"),
              "sidelight.yaml:5:24: audit.rules[0].match.status[0]: the range \"299-200\" is "
              "empty (low > high)");
    EXPECT_EQ(error_of(rules + "    - action: a\n      match: {routes: [\"PUT /a\"]}\n"),
              "sidelight.yaml:5:24: audit.rules[0].match.routes[0]: expected a route template "
              "like /api/products/{id} (methods go in match.methods), got \"PUT /a\"");
    EXPECT_EQ(error_of(rules + "    - {name: x, action: a}\n    - {name: x, action: b}\n"),
              "sidelight.yaml:5:7: audit.rules[1]: duplicate rule name \"x\"");
    // An empty status list would mean "any" under match and "never" under success.
    EXPECT_EQ(error_of(rules + "    - action: a\n      match: {status: []}\n"),
              "sidelight.yaml:5:23: audit.rules[0].match.status: must list at least one status or "
              "class (e.g. 200 or 2xx)");
    EXPECT_EQ(error_of(upstream + "security:\n  rules:\n    - event_type: LOGIN\n"
                                  "      success:\n        status:\n"),
              "sidelight.yaml:6:9: security.rules[0].success.status: must list at least one "
              "status or class (e.g. 200 or 2xx)");
    EXPECT_EQ(error_of(rules + "    - {action: a, mode: later}\n"),
              "sidelight.yaml:4:25: audit.rules[0].mode: expected one of batch, strict, got "
              "\"later\"");
}

TEST(config_errors, metrics) {
    EXPECT_EQ(error_of(upstream + "metrics: {buckets: [10, 5]}\n"),
              "sidelight.yaml:2:25: metrics.buckets[1]: bucket bounds must be strictly "
              "increasing");
    EXPECT_EQ(error_of(upstream + "metrics: {buckets: [0, 5]}\n"),
              "sidelight.yaml:2:21: metrics.buckets[0]: bucket bounds must be greater than 0");
    EXPECT_EQ(error_of(upstream + "metrics: {buckets: [1, ten]}\n"),
              "sidelight.yaml:2:24: metrics.buckets[1]: expected a number, got \"ten\"");
    EXPECT_EQ(error_of(upstream + "metrics: {buckets: []}\n"),
              "sidelight.yaml:2:20: metrics.buckets: must list at least one bucket bound");
    EXPECT_EQ(error_of(upstream + "metrics:\n  const_labels: {route: x}\n"),
              "sidelight.yaml:3:18: metrics.const_labels.route: collides with a label sidelight "
              "sets itself");
    EXPECT_EQ(error_of(upstream + "metrics:\n  const_labels: {1st: x}\n"),
              "sidelight.yaml:3:18: metrics.const_labels.1st: not a valid Prometheus label name");
    EXPECT_EQ(error_of(upstream + "metrics: {prefix: my-app_}\n"),
              "sidelight.yaml:2:19: metrics.prefix: expected a metric name prefix like myapp_ "
              "(letters, digits, _ and :)");
}

TEST(config_errors, trusted_proxies_must_be_cidrs) {
    EXPECT_EQ(error_of(upstream + "proxy:\n  trusted_proxies: [10.0.0.0/8, 10.0.0.0/33]\n"),
              "sidelight.yaml:3:33: proxy.trusted_proxies[1]: expected an IPv4 or IPv6 CIDR like "
              "10.0.0.0/8 or ::1/128, got \"10.0.0.0/33\"");
    EXPECT_EQ(error_of(upstream + "proxy:\n  trusted_proxies: [\"fe80::/129\"]\n"),
              "sidelight.yaml:3:21: proxy.trusted_proxies[0]: expected an IPv4 or IPv6 CIDR like "
              "10.0.0.0/8 or ::1/128, got \"fe80::/129\"");
}

TEST(config_errors, log_level_and_store_choices) {
    EXPECT_EQ(error_of(upstream + "log_level: verbose\n"),
              "sidelight.yaml:2:12: log_level: expected one of trace, debug, info, warn, error, "
              "critical, off, got \"verbose\"");
    EXPECT_EQ(error_of(upstream + "log_format: logfmt\n"),
              "sidelight.yaml:2:13: log_format: expected one of auto, text, json, got \"logfmt\"");
    EXPECT_EQ(error_of(upstream + "database_io: uring\n"),
              "sidelight.yaml:2:14: database_io: expected one of auto, io_uring, epoll, got "
              "\"uring\"");
    EXPECT_EQ(error_of(upstream + "audit: {store: {synchronous: maybe}}\n"),
              "sidelight.yaml:2:30: audit.store.synchronous: expected one of off, normal, full, "
              "extra, got \"maybe\"");
    EXPECT_EQ(error_of(upstream + "audit: {store: {path: \":memory:\"}}\n"),
              "sidelight.yaml:2:23: audit.store.path: an audit trail in memory is not kept: give "
              "a file (/tmp/sidelight-audit.db for a throwaway one)");
    EXPECT_EQ(error_of(upstream + "audit: {store: {wal_max_bytes: 1KiB}}\n"),
              "sidelight.yaml:2:32: audit.store.wal_max_bytes: must be at least 65536 bytes");
}

TEST(config_errors, postgres_store) {
    const std::string pg = upstream + "audit:\n  store:\n    type: postgres\n";
    EXPECT_EQ(error_of(upstream + "audit:\n  store:\n    type: postgres\n    chain: a\n"),
              "sidelight.yaml:4:5: audit.store: type postgres needs dsn (a libpq connection "
              "string or URI, e.g. ${AUDIT_PG_DSN})");
    // A password written in the file is refused, in either form, without being echoed.
    const auto literal = error_of(pg + "    dsn: \"host=db user=w password=Sup3rS3cret\"\n");
    EXPECT_EQ(literal.rfind("sidelight.yaml:5:10: audit.store.dsn: holds a password written in "
                            "the file",
                            0),
              0u)
        << literal;
    EXPECT_EQ(literal.find("Sup3rS3cret"), std::string::npos);
    EXPECT_NE(
        error_of(pg + "    dsn: postgresql://w:Sup3rS3cret@db/audit\n").find("holds a password"),
        std::string::npos);
    EXPECT_NE(
        error_of(pg + "    dsn: postgresql://w:Sup3r%53ecret@db/audit\n").find("holds a password"),
        std::string::npos);  // percent-encoded
    ::setenv("SIDELIGHT_TEST_PG_PW", "fromenv", 1);
    EXPECT_EQ(error_of(pg + "    dsn: \"host=db password=${SIDELIGHT_TEST_PG_PW}\"\n"), "");
    // A password from the environment that is also a piece of the rest (the user, the scheme,
    // the host) is not one written in the file; a reference elsewhere does not hide one that is.
    ::setenv("SIDELIGHT_TEST_PG_PW", "postgres", 1);
    EXPECT_EQ(error_of(pg + "    dsn: postgresql://postgres:${SIDELIGHT_TEST_PG_PW}@db/app\n"), "");
    ::setenv("SIDELIGHT_TEST_PG_HOST", "db", 1);
    ::setenv("SIDELIGHT_TEST_PG_PW", "db", 1);
    EXPECT_EQ(
        error_of(pg +
                 "    dsn: \"host=${SIDELIGHT_TEST_PG_HOST} password=${SIDELIGHT_TEST_PG_PW}\"\n"),
        "");
    EXPECT_NE(error_of(pg + "    dsn: postgresql://w:Sup3rS3cret@${SIDELIGHT_TEST_PG_HOST}/audit\n")
                  .find("holds a password"),
              std::string::npos);
    // A default is written in the file: a password in one is refused, as is a literal $${X}
    // or a written piece beside a reference.
    ::unsetenv("SIDELIGHT_TEST_PG_UNSET");
    for (const char* written :
         {"\"host=db password=${SIDELIGHT_TEST_PG_UNSET:-hunter2}\"",
          "\"${SIDELIGHT_TEST_PG_UNSET:-host=db password=hunter2}\"", "\"host=db password=$${X}\"",
          "\"host=db password=abc${SIDELIGHT_TEST_PG_PW}\""}) {
        EXPECT_NE(error_of(pg + "    dsn: " + written + "\n").find("holds a password"),
                  std::string::npos)
            << written;
    }
    EXPECT_EQ(error_of(pg + "    dsn: \"host=${SIDELIGHT_TEST_PG_UNSET:-db} "
                            "password=${SIDELIGHT_TEST_PG_PW}\"\n"),
              "");
    // The client key's passphrase is a password too.
    const auto passphrase = error_of(pg + "    dsn: \"host=db sslpassword=K3yPhrase\"\n");
    EXPECT_NE(passphrase.find("holds a password"), std::string::npos) << passphrase;
    EXPECT_EQ(passphrase.find("K3yPhrase"), std::string::npos);
    EXPECT_EQ(redact_dsn("host=db sslpassword=K3yPhrase password=pw"),
              "password=*** host=db sslpassword=***");  // libpq's keyword order
    EXPECT_EQ(error_of(pg + "    dsn: \"host=db port\"\n"),
              "sidelight.yaml:5:10: audit.store.dsn: expected a libpq connection string "
              "(host=db user=sidelight dbname=audit) or URI (postgresql://sidelight@db/audit)");
    EXPECT_EQ(error_of(pg + "    dsn: host=db\n    chain: \"pod 1\"\n"),
              "sidelight.yaml:6:12: audit.store.chain: expected a chain id of letters, digits and "
              ". _ : - (at most 128), got \"pod 1\"");
    EXPECT_EQ(error_of(pg + "    dsn: host=db\n    path: a.db\n"),
              "sidelight.yaml:6:11: audit.store.path: applies to type sqlite only (type postgres "
              "keeps its spool at spool.path)");
    EXPECT_EQ(error_of(upstream + "audit: {store: {dsn: host=db}}\n"),
              "sidelight.yaml:2:22: audit.store.dsn: applies to type postgres only");
    EXPECT_EQ(error_of(pg + "    dsn: host=db\n    spool: {max_bytes: 1KiB}\n"),
              "sidelight.yaml:6:24: audit.store.spool.max_bytes: must be at least 1048576 bytes");
}

TEST(config_errors, unreadable_file) {
    try {
        load_file("/nonexistent/sidelight.yaml");
        FAIL() << "expected a config_error";
    } catch (const config_error& e) {
        EXPECT_STREQ(e.what(),
                     "/nonexistent/sidelight.yaml: cannot read: No such file or directory");
    }
}

}  // namespace
}  // namespace sidelight::config

namespace sidelight::config {
namespace {

const std::string metric_head =
    "upstream: {address: 127.0.0.1:3000}\n"
    "routes: [POST /api/orders]\n"
    "metrics:\n"
    "  rules:\n";

// A label without a closed set of values could grow the series without bound: refused at its
// position, with the forms that are accepted.
TEST(config_errors, metric_rule_labels_need_a_closed_set) {
    EXPECT_EQ(error_of(metric_head + "    - name: orders_total\n"
                                     "      type: counter\n"
                                     "      labels:\n"
                                     "        platform: {from: \"response:/platform\"}\n"),
              "sidelight.yaml:8:19: metrics.rules[0].labels.platform: needs a closed set of "
              "values: `values: [...]` with `other: <label value>`, or `map: {read: label value}` "
              "(so that no label can grow the series without bound)");
    EXPECT_EQ(
        error_of(metric_head + "    - name: orders_total\n"
                               "      type: counter\n"
                               "      labels:\n"
                               "        platform: {from: \"response:/platform\", values: [web]}\n"),
        "sidelight.yaml:8:19: metrics.rules[0].labels.platform: `values` needs `other`: the "
        "label value of everything not listed");
    EXPECT_EQ(error_of(metric_head + "    - name: orders_total\n"
                                     "      type: counter\n"
                                     "      labels:\n"
                                     "        le: {from: status, map: {200: ok}}\n"),
              "sidelight.yaml:8:9: metrics.rules[0].labels.le: \"le\" is a label sidelight sets "
              "itself");
}

// Under metrics.prefix the traffic families are myapp_api_*: a rule cannot take one of those
// names, nor the name of another rule's histogram series (two HELP lines for one name).
TEST(config_errors, metric_rules_that_would_shadow_a_family) {
    const std::string head = upstream + "metrics:\n  prefix: myapp_\n  rules:\n";
    EXPECT_EQ(error_of(head + "    - {name: myapp_api_requests_total, type: counter}\n"),
              "sidelight.yaml:5:7: metrics.rules[0].name: \"myapp_api_requests_total\" is in the "
              "namespace of the traffic families under metrics.prefix (myapp_api_, "
              "myapp_active_connections)");
    EXPECT_NE(error_of(head + "    - {name: myapp_active_connections_total, type: counter}\n")
                  .find("is in the namespace of the traffic families"),
              std::string::npos);
    EXPECT_EQ(error_of(head + "    - {name: myapp_orders_total, type: counter}\n"), "");
    EXPECT_EQ(
        error_of(head + "    - {name: order_value, type: histogram, value: \"response:/total\"}\n"
                        "    - {name: order_value_count, type: histogram, value: status}\n"),
        "sidelight.yaml:6:7: metrics.rules[1].name: \"order_value_count\" is a series of "
        "histogram \"order_value\"");
}

TEST(config_errors, metric_rules_names_types_values_and_sizes) {
    EXPECT_EQ(error_of(metric_head + "    - {name: api_orders_total, type: counter}\n"),
              "sidelight.yaml:5:14: metrics.rules[0].name: \"api_orders_total\" is in a namespace "
              "sidelight exports itself (api_, db_, http_, process_, sidelight_, "
              "active_connections)");
    EXPECT_EQ(error_of(metric_head + "    - {name: order_value, type: histogram}\n"),
              "sidelight.yaml:5:7: metrics.rules[0]: a histogram needs `value`: where the number "
              "it observes is read");
    EXPECT_EQ(error_of(metric_head + "    - {name: o, type: gauge}\n"),
              "sidelight.yaml:5:23: metrics.rules[0].type: expected one of counter, histogram, "
              "got \"gauge\"");
    EXPECT_EQ(error_of(metric_head + "    - {name: o_total, type: counter, value: \"cookie:x\"}\n"),
              "sidelight.yaml:5:45: metrics.rules[0].value: expected path:<param>, header:<name>, "
              "query:<name>, jwt:<claim>, request:/<pointer>, response:/<pointer>, status, "
              "status_class, method or route, got \"cookie:x\"");
    EXPECT_EQ(
        error_of(metric_head + "    - {name: o_total, type: counter}\n" +
                 "    - {name: o_total, type: counter}\n"),
        "sidelight.yaml:6:7: metrics.rules[1]: duplicate metric rule name \"o_total\" (one rule "
        "per metric; a second would share its series)");
    // Prometheus' naming rules (promtool check metrics), and a HELP the text format can carry.
    EXPECT_EQ(error_of(metric_head + "    - {name: emails_sent, type: counter}\n"),
              "sidelight.yaml:5:14: metrics.rules[0].name: a counter's name ends in _total "
              "(emails_sent_total)");
    EXPECT_EQ(error_of(metric_head + "    - {name: value_total, type: histogram, value: status}\n"),
              "sidelight.yaml:5:14: metrics.rules[0].name: a histogram's name does not end in "
              "_total (that suffix is a counter's)");
    EXPECT_EQ(error_of(metric_head + "    - {name: orders, type: histogram, value: status}\n" +
                       "    - {name: orders_total, type: counter}\n"),
              "sidelight.yaml:6:7: metrics.rules[1].name: \"orders_total\" and \"orders\" would "
              "be one family (orders) in OpenMetrics");
    EXPECT_EQ(error_of(metric_head + "    - {name: o_total, type: counter, help: \"C:\\\\ops\"}\n"),
              "sidelight.yaml:5:44: metrics.rules[0].help: a help text is one line without "
              "backslashes");
    EXPECT_EQ(error_of(metric_head + "    - {name: o_total, type: counter, help: \"a\\nb\"}\n"),
              "sidelight.yaml:5:44: metrics.rules[0].help: a help text is one line without "
              "backslashes");
    std::string many = metric_head +
                       "    - name: o_total\n"
                       "      type: counter\n"
                       "      labels:\n";
    for (const char* l : {"a", "b", "c"}) {
        many += std::string("        ") + l + ": {from: status, values: [";
        for (int i = 0; i < 30; ++i) many += (i ? "," : "") + std::to_string(200 + i);
        many += "], other: x}\n";
    }
    EXPECT_EQ(error_of(many),
              "sidelight.yaml:8:9: metrics.rules[0].labels: its label sets multiply to more than "
              "10000 series");
}

TEST(config_errors, a_rules_listener_must_be_an_egress_listener) {
    EXPECT_EQ(error_of(metric_head + "    - {name: o_total, type: counter, listener: mail}\n"),
              "sidelight.yaml:5:48: metrics.rules[0].listener: no egress listener is named "
              "\"mail\" (there is no egress section)");
    EXPECT_EQ(error_of("upstream: {address: 127.0.0.1:3000}\n"
                       "egress:\n"
                       "  - {name: mail, listen: 127.0.0.1:15001, upstream: {address: x:443}}\n"
                       "audit:\n"
                       "  rules:\n"
                       "    - {action: SEND, listener: smtp}\n"),
              "sidelight.yaml:6:32: audit.rules[0].listener: no egress listener is named "
              "\"smtp\" (egress: mail)");
}

TEST(config_errors, egress_listeners) {
    EXPECT_EQ(error_of("upstream: {address: 127.0.0.1:3000}\n"
                       "proxy: {listen: 0.0.0.0:8080}\n"
                       "egress:\n"
                       "  - {name: mail, listen: 127.0.0.1:8080, upstream: {address: x:443}}\n"),
              "sidelight.yaml:4:5: egress[0].listen: same port as proxy.listen (0.0.0.0:8080)");
    EXPECT_EQ(error_of("upstream: {address: 127.0.0.1:3000}\n"
                       "egress:\n"
                       "  - {name: mail, listen: 127.0.0.1:15001, upstream: {address: x:443, "
                       "sni: x}}\n"),
              "sidelight.yaml:3:75: egress[0].upstream.sni: applies with tls: true only");
    EXPECT_EQ(error_of("upstream: {address: 127.0.0.1:3000}\n"
                       "egress:\n"
                       "  - {name: ingress, listen: 127.0.0.1:15001, upstream: {address: x:1}}\n"),
              "sidelight.yaml:3:12: egress[0].name: \"ingress\" is the name of the proxy listener "
              "itself");
    EXPECT_EQ(error_of("upstream: {address: 127.0.0.1:3000}\n"
                       "egress:\n"
                       "  - {name: m, listen: 127.0.0.1:15001, upstream: {address: x:1}}\n"
                       "  - {name: m, listen: 127.0.0.1:15002, upstream: {address: x:1}}\n"),
              "sidelight.yaml:4:5: egress[1]: duplicate egress name \"m\"");
}

}  // namespace
}  // namespace sidelight::config
