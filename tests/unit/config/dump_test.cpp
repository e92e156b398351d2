#include <gtest/gtest.h>

#include "config/load.hpp"

namespace sidelight::config {
namespace {

using std::chrono::milliseconds;

// The file name differs between the original and the reloaded dump (positions do too, but
// marks always compare equal: config.hpp).
config without_file(config cfg) {
    cfg.file.clear();
    return cfg;
}

config reload(const config& cfg) {
    return *load_string(dump(cfg), "dumped.yaml");
}

config rich_config() {
    config c;
    c.proxy.listen = {"::", 0};
    c.proxy.workers = 3;
    c.proxy.trusted_proxies = {"10.0.0.0/8", "fd00::/8"};
    c.upstream.address = {"app.svc.local", 3000};
    c.upstream.connect_timeout = milliseconds(1500);
    c.upstream.idle_timeout = milliseconds(0);
    c.health.path = "/health z";
    c.admin.status = false;  // not the default
    c.health.unhealthy_threshold = 7;
    c.health.healthy_threshold = 2;
    c.shutdown.grace = milliseconds(90'001);
    c.limits.max_url_bytes = 1000;
    c.limits.max_header_bytes = 3 << 20;
    c.limits.max_body_bytes = 5ULL << 30;
    c.metrics.prefix = "a:b_";
    c.metrics.buckets = {0.1, 2.5, 1e6};
    c.metrics.const_labels = {{"cost", "$5 ${NOT_EXPANDED}"}, {"empty", ""}, {"yes", "no"}};
    c.routes.openapi_file = "/etc/api.yaml";
    c.routes.unmatched = unmatched_mode::normalize;
    c.routes.case_sensitive = true;
    c.routes.entries = {{"/a/{id}", {"GET", "PUT"}, "a", {}}, {"/b", {}, "", {}}};
    c.audit.store.type = "postgres";
    c.audit.store.synchronous = "off";
    c.audit.store.dsn = redact_dsn("host=db user=x dbname='a b'");  // libpq's keyword order
    c.audit.store.chain = "pod-7";
    c.audit.store.spool = {"/var/lib/sidelight/spool.db", 3 << 20};
    c.audit.store.forward_batch = 500;
    c.audit.redact_keys = {};
    c.audit.checkpoint = {0, milliseconds(0), "/k.pem", {}};
    c.audit.jwt.key_file = "/etc/jwt.pem";
    c.audit.jwt.hmac_secret_env = "JWT_SECRET";
    c.audit.jwt.algorithms = {"RS256", "HS512"};
    c.audit.jwt.leeway = milliseconds(0);
    c.audit.jwt.issuer = "https://id.example/$x";
    c.audit.jwt.audience = "shop";
    audit_rule ar;
    ar.name = "r1";
    ar.match = {"", {"/a/{id}"}, {"PUT"}, {{200, 299}, {404, 404}, {300, 302}}, {}};
    ar.action = "UPDATE";
    ar.entity_type = "thing";
    ar.entity_id = {value_source::kind::path_param, "id", {}};
    ar.user = {value_source::kind::jwt_claim, "sub", {}};
    ar.changes = true;
    ar.mode = delivery_mode::strict;
    audit_rule bare;
    bare.action = "BARE";
    c.audit.rules = {ar, bare};
    security_rule sr;
    sr.event_type = "LOGIN";
    sr.owasp = "authn_login_fail";
    sr.success_status = {{200, 204}};
    sr.user = {value_source::kind::request_body, "/email", {}};
    sr.login = true;
    c.security.rules = {sr};
    c.security.builtin.rate_limit = false;
    c.security.brute_force = {false, 9, milliseconds(61'000)};
    slo_spec latency;
    latency.name = "a-latency";
    latency.method = "PUT";
    latency.path_template = "/a/{id}";
    latency.objective = 99.95;
    latency.latency = milliseconds(1'000'000);  // 1e6, a bound of the buckets above
    latency.window_days = 30;
    slo_spec availability;
    availability.name = "b_availability";
    availability.method = "GET";
    availability.path_template = "/b";
    availability.objective = 0.5;
    c.slos = {latency, availability};
    c.tracing.enabled = true;
    c.tracing.service_name = "shop";
    c.tracing.sampler = trace_sampler::ratio;
    c.tracing.ratio = 0.125;
    c.tracing.otlp.endpoint = "http://collector:4318/custom/traces";
    c.tracing.otlp.target = {"collector", 4318};
    c.tracing.otlp.path = "/custom/traces";
    c.tracing.otlp.encoding = otlp_encoding::json;
    c.tracing.otlp.timeout = std::chrono::milliseconds(1500);
    c.tracing.otlp.queue_size = 100;
    c.tracing.otlp.batch_max = 10;
    c.tracing.otlp.batch_interval = std::chrono::milliseconds(250);
    c.access_log = true;
    c.log_level = "off";
    c.log_format = log_format::text;
    c.database_io = database_io::epoll;
    c.config_watch = true;
    return c;
}

TEST(dump, never_prints_the_dsn_password) {
    config c;
    c.audit.store.type = "postgres";
    c.audit.store.dsn = "postgresql://writer:s3cr%21t@db.internal:5432/audit?sslmode=verify-full";
    const std::string text = dump(c);
    EXPECT_EQ(text.find("s3cr"), std::string::npos) << text;
    EXPECT_NE(text.find("password=***"), std::string::npos) << text;
    EXPECT_NE(text.find("host=db.internal"), std::string::npos) << text;
    EXPECT_NE(text.find("sslmode=verify-full"), std::string::npos) << text;
}

TEST(dump, defaults_round_trip) {
    config defaults;
    EXPECT_EQ(without_file(reload(defaults)), without_file(defaults));
}

TEST(dump, every_field_round_trips) {
    config original = rich_config();
    EXPECT_EQ(without_file(reload(original)), without_file(original)) << dump(original);
}

TEST(dump, loaded_config_round_trips) {
    const char* yaml =
        "upstream: {address: \"[::1]:3001\", response_timeout: 2.5s}\n"
        "routes:\n"
        "  - GET,PUT /api/products/{id}\n"
        "  - /any\n"
        "audit:\n"
        "  store: {path: rel/audit.db}\n"
        "  rules: [{action: X, match: {status: [2xx, \"401-403\"]}, user: header:X-User}]\n"
        "security: {rules: [{event_type: Y, user: \"response:/a~1b\"}]}\n";
    auto loaded = load_string(yaml, "/srv/sidelight.yaml");
    EXPECT_EQ(without_file(reload(*loaded)), without_file(*loaded)) << dump(*loaded);
}

TEST(dump, prints_defaults_and_the_effective_values) {
    const config defaults;
    std::string text = dump(defaults);
    EXPECT_NE(text.find("listen: 0.0.0.0:8080"), std::string::npos) << text;
    EXPECT_NE(text.find("address: 127.0.0.1:3000"), std::string::npos) << text;
    EXPECT_NE(text.find("max_header_bytes: 64KiB"), std::string::npos) << text;
    EXPECT_NE(text.find("tunnel_idle_timeout: 1h"), std::string::npos) << text;
    EXPECT_NE(text.find("log_level: info"), std::string::npos) << text;
    EXPECT_NE(text.find("log_format: auto"), std::string::npos) << text;
    EXPECT_NE(text.find("database_io: auto"), std::string::npos) << text;
    EXPECT_NE(text.find("unhealthy_threshold: 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("healthy_threshold: 1\n"), std::string::npos) << text;
}

TEST(dump, redacts_the_admin_token) {
    config cfg;
    cfg.admin.token = "very-secret-token";
    std::string text = dump(cfg);
    EXPECT_EQ(text.find("very-secret-token"), std::string::npos) << text;
    EXPECT_NE(text.find("token: <redacted>"), std::string::npos) << text;
    // Loading the placeholder back is refused rather than running with a bogus token.
    try {
        load_string(text, "dumped.yaml");
        FAIL() << "expected a config_error";
    } catch (const config_error& e) {
        EXPECT_EQ(e.key_path(), "admin.token");
    }
}

// audit.jwt: printed only when a key is configured (an empty section is refused on reload), and
// the HMAC secret never, only the name of the variable holding it.
TEST(dump, prints_the_jwt_key_settings_but_no_secret) {
    config cfg;
    EXPECT_EQ(dump(cfg).find("jwt:"), std::string::npos) << dump(cfg);
    cfg.audit.jwt.hmac_secret_env = "JWT_SECRET";
    cfg.audit.jwt.audience = "shop";
    const std::string text = dump(cfg);
    EXPECT_NE(
        text.find("  jwt:\n    hmac_secret_env: JWT_SECRET\n    leeway: 1m\n    audience: shop\n"),
        std::string::npos)
        << text;
}

}  // namespace
}  // namespace sidelight::config
