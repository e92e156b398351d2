#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/load.hpp"

namespace sidelight::config {
namespace {

using std::chrono::milliseconds;

const char* const full_yaml = R"(proxy:
  listen: "*:8081"
  workers: 4
  max_connections: 500
  trusted_proxies: [10.0.0.0/8, "::1/128", 192.168.1.7]
upstream:
  address: "[::1]:3001"
  connect_timeout: 250ms
  response_timeout: 1.5s
  idle_timeout: 0
  max_idle: 8
admin: {listen: ":0", token: s3cret}
health: {interval: 2s, timeout: 500ms, path: /ready, unhealthy_threshold: 5, healthy_threshold: 2}
shutdown: {delay: 0, grace: 1m30s}
limits:
  header_read_timeout: 5s
  max_url_bytes: 4KiB
  max_header_bytes: 32KiB
  max_header_count: 50
  max_body_bytes: 10MB
metrics:
  prefix: shop_
  buckets: [5, 25.5, 100]
  const_labels: {service: shop, team: web}
routes:
  openapi: api/openapi.yaml
  unmatched: normalize
  max_routes: 50
  entries:
    - GET /api/products/{id}
    - get,put /api/products
    - "GET, DELETE /api/carts/:id"
    - /any
    - {template: /api/orders, methods: [post, GET], name: orders}
audit:
  store: {type: sqlite, path: data/audit.db, synchronous: normal, wal_max_bytes: 1MiB}
  queue_size: 100
  batch_max: 10
  batch_interval: 5ms
  strict_timeout: 1s
  max_body_bytes: 1KiB
  redact_keys: [password, ssn]
  checkpoint: {every_events: 10, every: 1h, key_file: /etc/keys/ck.pem}
  rules:
    - name: product-update
      match: {routes: ["/api/products/{id}"], methods: [put], status: [200, 2xx, "300-304"]}
      action: UPDATE_PRODUCT
      entity_type: product
      entity_id: path:id
      user: jwt:sub
      changes: true
      mode: strict
    - action: ANY
      entity_id: response:/id
      user: header:X-User
security:
  builtin: {authn_fail: false, authz_fail: true, rate_limit: no}
  brute_force: {enabled: false, threshold: 3, window: 5m}
  rules:
    - name: login
      match: {routes: [/api/login], methods: [POST]}
      event_type: LOGIN_ATTEMPT
      owasp: authn_login_fail
      success: {status: [2xx]}
      user: request:/email
      login: true
access_log: yes
log_level: debug
log_format: json
config_watch: true
)";

TEST(load_string, full_config_fills_every_struct) {
    auto cfg = load_string(full_yaml, "/etc/sidelight/sidelight.yaml");
    EXPECT_EQ(cfg->file, "/etc/sidelight/sidelight.yaml");
    EXPECT_EQ(cfg->proxy.listen, (address{"0.0.0.0", 8081}));
    EXPECT_EQ(cfg->proxy.workers, 4u);
    EXPECT_EQ(cfg->proxy.max_connections, 500u);
    EXPECT_EQ(cfg->proxy.trusted_proxies,
              (std::vector<std::string>{"10.0.0.0/8", "::1/128", "192.168.1.7"}));
    EXPECT_EQ(cfg->upstream.address, (address{"::1", 3001}));
    EXPECT_EQ(cfg->upstream.connect_timeout, milliseconds(250));
    EXPECT_EQ(cfg->upstream.response_timeout, milliseconds(1500));
    EXPECT_EQ(cfg->upstream.idle_timeout, milliseconds(0));
    EXPECT_EQ(cfg->upstream.max_idle, 8u);
    EXPECT_EQ(cfg->admin.listen, (address{"0.0.0.0", 0}));
    EXPECT_EQ(cfg->admin.token, "s3cret");
    EXPECT_EQ(cfg->health.interval, milliseconds(2000));
    EXPECT_EQ(cfg->health.path, "/ready");
    EXPECT_EQ(cfg->health.unhealthy_threshold, 5u);
    EXPECT_EQ(cfg->health.healthy_threshold, 2u);
    EXPECT_EQ(cfg->shutdown.delay, milliseconds(0));
    EXPECT_EQ(cfg->shutdown.grace, milliseconds(90'000));
    EXPECT_EQ(cfg->limits.header_read_timeout, milliseconds(5000));
    EXPECT_EQ(cfg->limits.keepalive_timeout, milliseconds(60'000));  // default kept
    EXPECT_EQ(cfg->limits.max_url_bytes, 4096u);
    EXPECT_EQ(cfg->limits.max_header_bytes, 32u * 1024);
    EXPECT_EQ(cfg->limits.max_header_count, 50u);
    EXPECT_EQ(cfg->limits.max_body_bytes, 10'000'000u);
    EXPECT_EQ(cfg->metrics.prefix, "shop_");
    EXPECT_EQ(cfg->metrics.buckets, (std::vector<double>{5, 25.5, 100}));
    EXPECT_EQ(cfg->metrics.const_labels,
              (std::map<std::string, std::string>{{"service", "shop"}, {"team", "web"}}));
    EXPECT_TRUE(cfg->access_log);
    EXPECT_EQ(cfg->log_level, "debug");
    EXPECT_EQ(cfg->log_format, log_format::json);
    EXPECT_TRUE(cfg->config_watch);
}

TEST(load_string, routes_in_both_forms_with_marks) {
    auto cfg = load_string(full_yaml, "/etc/sidelight/sidelight.yaml");
    const auto& r = cfg->routes;
    EXPECT_EQ(r.openapi_file, "/etc/sidelight/api/openapi.yaml");
    EXPECT_EQ(r.unmatched, unmatched_mode::normalize);
    EXPECT_EQ(r.max_routes, 50u);
    ASSERT_EQ(r.entries.size(), 5u);
    EXPECT_EQ(r.entries[0].path_template, "/api/products/{id}");
    EXPECT_EQ(r.entries[0].methods, (std::vector<std::string>{"GET"}));
    EXPECT_EQ(r.entries[0].mark.file, "/etc/sidelight/sidelight.yaml");
    EXPECT_EQ(r.entries[0].mark.line, 30);
    EXPECT_EQ(r.entries[0].mark.column, 7);
    EXPECT_EQ(r.entries[1].methods, (std::vector<std::string>{"GET", "PUT"}));
    EXPECT_EQ(r.entries[2].path_template, "/api/carts/:id");
    EXPECT_EQ(r.entries[2].methods, (std::vector<std::string>{"GET", "DELETE"}));
    EXPECT_EQ(r.entries[3].path_template, "/any");
    EXPECT_TRUE(r.entries[3].methods.empty());
    EXPECT_EQ(r.entries[4].path_template, "/api/orders");
    EXPECT_EQ(r.entries[4].methods, (std::vector<std::string>{"POST", "GET"}));
    EXPECT_EQ(r.entries[4].name, "orders");
    EXPECT_EQ(r.entries[4].mark.line, 34);

    auto list_form = load_string("upstream: {address: a:1}\nroutes:\n  - POST /x\n", "s.yaml");
    ASSERT_EQ(list_form->routes.entries.size(), 1u);
    EXPECT_EQ(list_form->routes.entries[0].path_template, "/x");
    EXPECT_EQ(list_form->routes.unmatched, unmatched_mode::label);
}

TEST(load_string, audit_section_and_rules) {
    auto cfg = load_string(full_yaml, "/etc/sidelight/sidelight.yaml");
    const auto& a = cfg->audit;
    EXPECT_EQ(a.store.path, "/etc/sidelight/data/audit.db");
    EXPECT_EQ(a.store.synchronous, "normal");
    EXPECT_EQ(a.store.wal_max_bytes, 1024u * 1024u);
    EXPECT_EQ(a.queue_size, 100u);
    EXPECT_EQ(a.batch_max, 10u);
    EXPECT_EQ(a.batch_interval, milliseconds(5));
    EXPECT_EQ(a.strict_timeout, milliseconds(1000));
    EXPECT_EQ(a.max_body_bytes, 1024u);
    EXPECT_EQ(a.redact_keys, (std::vector<std::string>{"password", "ssn"}));
    EXPECT_EQ(a.checkpoint.every_events, 10u);
    EXPECT_EQ(a.checkpoint.every, milliseconds(3'600'000));
    EXPECT_EQ(a.checkpoint.key_file, "/etc/keys/ck.pem");
    ASSERT_EQ(a.rules.size(), 2u);
    const auto& rule = a.rules[0];
    EXPECT_EQ(rule.name, "product-update");
    EXPECT_EQ(rule.match.routes, (std::vector<std::string>{"/api/products/{id}"}));
    EXPECT_EQ(rule.match.methods, (std::vector<std::string>{"PUT"}));
    EXPECT_EQ(rule.match.status, (std::vector<status_range>{{200, 200}, {200, 299}, {300, 304}}));
    EXPECT_EQ(rule.action, "UPDATE_PRODUCT");
    EXPECT_EQ(rule.entity_type, "product");
    EXPECT_EQ(rule.entity_id, (value_source{value_source::kind::path_param, "id", {}}));
    EXPECT_EQ(rule.user, (value_source{value_source::kind::jwt_claim, "sub", {}}));
    EXPECT_TRUE(rule.changes);
    EXPECT_EQ(rule.mode, delivery_mode::strict);
    EXPECT_EQ(rule.mark.line, 45);
    const auto& any = a.rules[1];
    EXPECT_TRUE(any.match.routes.empty());
    EXPECT_EQ(any.entity_id, (value_source{value_source::kind::response_body, "/id", {}}));
    EXPECT_EQ(any.user, (value_source{value_source::kind::header, "X-User", {}}));
    EXPECT_EQ(any.mode, delivery_mode::batch);
}

TEST(load_string, security_section_and_rules) {
    auto cfg = load_string(full_yaml, "/etc/sidelight/sidelight.yaml");
    const auto& s = cfg->security;
    EXPECT_FALSE(s.builtin.authn_fail);
    EXPECT_TRUE(s.builtin.authz_fail);
    EXPECT_FALSE(s.builtin.rate_limit);
    EXPECT_FALSE(s.brute_force.enabled);
    EXPECT_EQ(s.brute_force.threshold, 3u);
    EXPECT_EQ(s.brute_force.window, milliseconds(300'000));
    ASSERT_EQ(s.rules.size(), 1u);
    const auto& rule = s.rules[0];
    EXPECT_EQ(rule.event_type, "LOGIN_ATTEMPT");
    EXPECT_EQ(rule.owasp, "authn_login_fail");
    EXPECT_EQ(rule.success_status, (std::vector<status_range>{{200, 299}}));
    EXPECT_EQ(rule.user, (value_source{value_source::kind::request_body, "/email", {}}));
    EXPECT_TRUE(rule.login);
    EXPECT_EQ(rule.match.routes, (std::vector<std::string>{"/api/login"}));
}

TEST(load_string, minimal_config_keeps_every_default) {
    auto cfg = load_string("upstream:\n  address: 127.0.0.1:3000\n", "sidelight.yaml");
    config expected;
    expected.file = "sidelight.yaml";
    EXPECT_EQ(*cfg, expected);
    auto empty_sections =
        load_string("upstream: {address: 127.0.0.1:3000}\nproxy:\naudit:\n", "sidelight.yaml");
    EXPECT_EQ(*empty_sections, expected);
}

TEST(load_string, security_rule_success_defaults_to_2xx_and_3xx) {
    auto cfg =
        load_string("upstream: {address: a:1}\nsecurity: {rules: [{event_type: X}]}\n", "s.yaml");
    EXPECT_EQ(cfg->security.rules.at(0).success_status, (std::vector<status_range>{{200, 399}}));
}

TEST(load_string, postgres_store_takes_its_password_from_the_environment) {
    ::setenv("SIDELIGHT_TEST_PG_DSN", "host=db.internal user=writer password=Sup3rS3cret", 1);
    ::unsetenv("SIDELIGHT_TEST_POD");
    auto cfg = load_string(
        "upstream: {address: 127.0.0.1:3000}\naudit:\n  store:\n    type: postgres\n    dsn: "
        "${SIDELIGHT_TEST_PG_DSN}\n"
        "    chain: ${SIDELIGHT_TEST_POD:-sidelight}\n"
        "    spool: {path: spool/s.db, max_bytes: 2GiB}\n    forward_batch: 500\n",
        "/srv/cfg/sidelight.yaml");
    EXPECT_EQ(cfg->audit.store.dsn, "host=db.internal user=writer password=Sup3rS3cret");
    EXPECT_EQ(cfg->audit.store.chain, "sidelight");
    EXPECT_EQ(cfg->audit.store.spool.path, "/srv/cfg/spool/s.db");
    EXPECT_EQ(cfg->audit.store.spool.max_bytes, 2ull << 30);
    EXPECT_EQ(cfg->audit.store.forward_batch, 500u);
    EXPECT_EQ(redact_dsn(cfg->audit.store.dsn), "user=writer password=*** host=db.internal");
    ::unsetenv("SIDELIGHT_TEST_PG_DSN");
}

TEST(load_string, expands_environment_variables_before_parsing) {
    ::setenv("SIDELIGHT_TEST_PORT", "3100", 1);
    ::setenv("SIDELIGHT_TEST_TOKEN", "t0k", 1);
    ::setenv("SIDELIGHT_TEST_EMPTY", "", 1);
    ::unsetenv("SIDELIGHT_TEST_UNSET");
    auto cfg = load_string(
        "upstream: {address: \"127.0.0.1:${SIDELIGHT_TEST_PORT}\"}\n"
        "admin: {token: \"${SIDELIGHT_TEST_TOKEN}\"}\n"
        "health: {path: \"${SIDELIGHT_TEST_UNSET:-/h}\"}\n"
        "metrics:\n"
        "  const_labels:\n"
        "    a: \"${SIDELIGHT_TEST_EMPTY:-dflt}\"\n"
        "    b: \"${SIDELIGHT_TEST_EMPTY}\"\n"
        "    c: \"cost $$5 and $HOME stays\"\n"
        "    d: \"$${LITERAL} ${SIDELIGHT_TEST_UNSET:-x:y}\"\n"
        "proxy: {workers: \"${SIDELIGHT_TEST_UNSET:-2}\"}\n",
        "s.yaml");
    EXPECT_EQ(cfg->upstream.address.port, 3100);
    EXPECT_EQ(cfg->admin.token, "t0k");
    EXPECT_EQ(cfg->health.path, "/h");
    EXPECT_EQ(cfg->metrics.const_labels.at("a"), "dflt");
    EXPECT_EQ(cfg->metrics.const_labels.at("b"), "");
    EXPECT_EQ(cfg->metrics.const_labels.at("c"), "cost $5 and $HOME stays");
    EXPECT_EQ(cfg->metrics.const_labels.at("d"), "${LITERAL} x:y");
    EXPECT_EQ(cfg->proxy.workers, 2u);
}

TEST(load_string, expanded_value_is_still_type_checked_at_the_original_mark) {
    ::setenv("SIDELIGHT_TEST_BAD", "soon", 1);
    try {
        load_string("upstream:\n  address: a:1\n  connect_timeout: ${SIDELIGHT_TEST_BAD}\n",
                    "s.yaml");
        FAIL() << "expected a config_error";
    } catch (const config_error& e) {
        EXPECT_STREQ(e.what(),
                     "s.yaml:3:20: upstream.connect_timeout: expected a duration like 500ms, 5s, "
                     "1m30s or 1h, got \"soon\"");
    }
}

TEST(load_string, relative_paths_resolve_against_the_config_directory) {
    auto cfg = load_string(
        "upstream: {address: a:1}\n"
        "routes: {openapi: ../api.json}\n"
        "audit: {checkpoint: {key_file: keys/k.pem}}\n",
        "/srv/conf/sidelight.yaml");
    EXPECT_EQ(cfg->routes.openapi_file, "/srv/api.json");
    EXPECT_EQ(cfg->audit.checkpoint.key_file, "/srv/conf/keys/k.pem");
    EXPECT_EQ(cfg->audit.store.path, "/srv/conf/sidelight-audit.db");  // the default too
    auto absolute = load_string("upstream: {address: a:1}\naudit: {store: {path: /var/a.db}}\n",
                                "/srv/conf/sidelight.yaml");
    EXPECT_EQ(absolute->audit.store.path, "/var/a.db");
    auto bare = load_string("upstream: {address: a:1}\n", "sidelight.yaml");
    EXPECT_EQ(bare->audit.store.path, "sidelight-audit.db");
}

TEST(load_file, reads_the_file_and_records_its_path) {
    auto dir = std::filesystem::temp_directory_path() / "sidelight_config_load_test";
    std::filesystem::create_directories(dir);
    auto path = (dir / "s.yaml").string();
    std::ofstream(path) << "upstream: {address: 127.0.0.1:3000}\naudit: {store: {path: a.db}}\n";
    auto cfg = load_file(path);
    EXPECT_EQ(cfg->file, path);
    EXPECT_EQ(cfg->audit.store.path, (dir / "a.db").string());
    std::ofstream(path) << "upstream: {address: 127.0.0.1:3000}\nbogus: 1\n";
    try {
        load_file(path);
        FAIL() << "expected a config_error";
    } catch (const config_error& e) {
        EXPECT_EQ(std::string(e.what()).rfind(path + ":2:1: bogus: unknown key", 0), 0u)
            << e.what();
    }
    std::filesystem::remove_all(dir);
}

TEST(load_file, a_directory_cannot_be_read) {
    try {
        load_file("/");
        FAIL() << "expected a config_error";
    } catch (const config_error& e) {
        EXPECT_STREQ(e.what(),
                     "/: not a regular file (a device, FIFO or directory is never read as config)");
    }
}

TEST(load_file, the_example_config_loads) {
    std::string path = std::string(SIDELIGHT_SOURCE_DIR) + "/deploy/examples/sidelight.yaml";
    ::unsetenv("SIDELIGHT_ADMIN_TOKEN");
    ::unsetenv("SERVICE_NAME");
    ::unsetenv("SIDELIGHT_LOG_FORMAT");
    auto cfg = load_file(path);
    EXPECT_EQ(cfg->proxy.listen, (address{"0.0.0.0", 8080}));
    EXPECT_EQ(cfg->upstream.address, (address{"127.0.0.1", 3000}));
    EXPECT_EQ(cfg->admin.listen, (address{"0.0.0.0", 9901}));
    EXPECT_EQ(cfg->admin.token, "");
    EXPECT_TRUE(cfg->admin.status);
    EXPECT_EQ(std::filesystem::path(cfg->audit.store.path).filename(), "sidelight-audit.db");
    ASSERT_GE(cfg->routes.entries.size(), 3u);
    EXPECT_EQ(cfg->routes.entries[0].path_template, "/api/products/{id}");
    EXPECT_EQ(cfg->routes.entries[1].methods, (std::vector<std::string>{"PUT"}));
    EXPECT_EQ(cfg->routes.entries[2].path_template, "/api/login");
    ASSERT_EQ(cfg->audit.rules.size(), 1u);
    EXPECT_EQ(cfg->audit.rules[0].entity_id.from, value_source::kind::path_param);
    ASSERT_EQ(cfg->security.rules.size(), 1u);
    EXPECT_TRUE(cfg->security.rules[0].login);
    EXPECT_EQ(cfg->metrics.const_labels.at("service"), "shop");
    EXPECT_EQ(cfg->log_format, log_format::automatic);  // SIDELIGHT_LOG_FORMAT unset
}

TEST(load_string, log_format_choices) {
    const std::string upstream = "upstream: {address: 127.0.0.1:3000}\n";
    EXPECT_EQ(load_string(upstream, "a.yaml")->log_format, log_format::automatic);
    EXPECT_EQ(load_string(upstream + "log_format: auto\n", "a.yaml")->log_format,
              log_format::automatic);
    EXPECT_EQ(load_string(upstream + "log_format: text\n", "a.yaml")->log_format, log_format::text);
    EXPECT_EQ(load_string(upstream + "log_format: json\n", "a.yaml")->log_format, log_format::json);
}

}  // namespace
}  // namespace sidelight::config
