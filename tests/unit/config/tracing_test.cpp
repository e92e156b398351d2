// `tracing`: what the loader reads, and the exact text of each refusal.
#include <gtest/gtest.h>

#include <sstream>

#include "config/load.hpp"

namespace sidelight::config {
namespace {

const std::string head = "upstream: {address: 127.0.0.1:3000}\ntracing:\n";

std::string error_of(const std::string& yaml) {
    try {
        load_string(yaml, "sidelight.yaml");
    } catch (const config_error& e) {
        return e.what();
    }
    return "";
}

TEST(tracing, off_by_default) {
    const auto cfg = load_string("upstream: {address: 127.0.0.1:3000}\n", "sidelight.yaml");
    EXPECT_FALSE(cfg->tracing.enabled);
    EXPECT_EQ(cfg->tracing.sampler, trace_sampler::parent_based);
    EXPECT_EQ(cfg->tracing.ratio, 1.0);
    EXPECT_TRUE(cfg->tracing.otlp.endpoint.empty());
}

TEST(tracing, reads_every_key) {
    const auto cfg = load_string(head +
                                     "  enabled: true\n"
                                     "  service_name: shop\n"
                                     "  sampler: ratio\n"
                                     "  ratio: 12.5%\n"
                                     "  otlp:\n"
                                     "    endpoint: http://otel-collector.monitoring:4318\n"
                                     "    encoding: json\n"
                                     "    timeout: 500ms\n"
                                     "    queue_size: 100\n"
                                     "    batch_max: 10\n"
                                     "    batch_interval: 200ms\n",
                                 "sidelight.yaml");
    const auto& t = cfg->tracing;
    EXPECT_TRUE(t.enabled);
    EXPECT_EQ(t.service_name, "shop");
    EXPECT_EQ(t.sampler, trace_sampler::ratio);
    EXPECT_EQ(t.ratio, 0.125);
    EXPECT_EQ(t.otlp.target.host, "otel-collector.monitoring");
    EXPECT_EQ(t.otlp.target.port, 4318);
    EXPECT_EQ(t.otlp.path, "/v1/traces");  // none given: the OTLP/HTTP default
    EXPECT_EQ(t.otlp.encoding, otlp_encoding::json);
    EXPECT_EQ(t.otlp.timeout, std::chrono::milliseconds(500));
    EXPECT_EQ(t.otlp.queue_size, 100u);
    EXPECT_EQ(t.otlp.batch_max, 10u);
    EXPECT_EQ(t.otlp.batch_interval, std::chrono::milliseconds(200));
    const auto with_path = load_string(
        head + "  otlp: {endpoint: \"http://127.0.0.1:4318/otlp/v1/traces\"}\n  ratio: 0.5\n",
        "sidelight.yaml");
    EXPECT_EQ(with_path->tracing.otlp.path, "/otlp/v1/traces");
    EXPECT_EQ(with_path->tracing.ratio, 0.5);
}

TEST(tracing, refusals_name_the_line_and_key) {
    EXPECT_EQ(error_of(head + "  ratio: 1.5\n"),
              "sidelight.yaml:3:10: tracing.ratio: must be between 0 and 1 (0% and 100%)");
    EXPECT_EQ(
        error_of(head + "  ratio: often\n"),
        "sidelight.yaml:3:10: tracing.ratio: expected a ratio like 0.1 or 10%, got \"often\"");
    EXPECT_EQ(error_of(head + "  sampler: sometimes\n"),
              "sidelight.yaml:3:12: tracing.sampler: expected one of parent-based, always, never, "
              "ratio, got \"sometimes\"");
    EXPECT_EQ(error_of(head + "  otlp: {endpoint: \"https://c:4318\"}\n"),
              "sidelight.yaml:3:20: tracing.otlp.endpoint: https is not supported: export to a "
              "collector on the pod or node over http://");
    EXPECT_EQ(error_of(head + "  otlp: {endpoint: \"grpc://c:4317\"}\n"),
              "sidelight.yaml:3:20: tracing.otlp.endpoint: expected http://HOST:PORT[/PATH], got "
              "\"grpc://c:4317\"");
    EXPECT_EQ(error_of(head + "  otlp: {endpoint: \"http://collector/v1/traces\"}\n"),
              "sidelight.yaml:3:20: tracing.otlp.endpoint: expected http://HOST:PORT[/PATH] with "
              "a port, got \"http://collector/v1/traces\"");
    // A password in the URL is refused, and never repeated in the message.
    const auto with_password =
        error_of(head + "  otlp: {endpoint: \"http://ann:hunter2@c:4318/v1/traces\"}\n");
    EXPECT_EQ(with_password,
              "sidelight.yaml:3:20: tracing.otlp.endpoint: credentials in the URL are not "
              "supported (the exporter sends no Authorization header): export to a collector on "
              "the pod or node, got \"http://***@c:4318/v1/traces\"");
    EXPECT_EQ(error_of(head + "  otlp: {endpoint: \"grpc://c:4317/?key=hunter2\"}\n"),
              "sidelight.yaml:3:20: tracing.otlp.endpoint: expected http://HOST:PORT[/PATH], got "
              "\"grpc://c:4317/?key=***\"");
    EXPECT_EQ(error_of(head + "  samplr: always\n"),
              "sidelight.yaml:3:3: tracing.samplr: unknown key (expected one of enabled, "
              "service_name, sampler, ratio, otlp)");
}

TEST(tracing, redacted_endpoint_keeps_no_secret) {
    EXPECT_EQ(redact_endpoint("http://collector:4318/v1/traces"),
              "http://collector:4318/v1/traces");
    EXPECT_EQ(redact_endpoint("http://u:p@collector:4318/x"), "http://***@collector:4318/x");
    EXPECT_EQ(redact_endpoint("http://u:p@collector:4318"), "http://***@collector:4318");
    EXPECT_EQ(redact_endpoint("http://c:4318/v1/traces?api-key=s3cret&region=eu&flag#frag"),
              "http://c:4318/v1/traces?api-key=***&region=***&flag#frag");
    EXPECT_EQ(redact_endpoint("http://c:4318/a@b"), "http://c:4318/a@b");  // '@' in the path
    EXPECT_EQ(redact_endpoint(""), "");
    // Loaded as written (the exporter needs it), shown redacted.
    const auto cfg = load_string(
        head + "  enabled: true\n  otlp: {endpoint: \"http://c:4318/v1/traces?token=s3cret\"}\n",
        "sidelight.yaml");
    EXPECT_EQ(cfg->tracing.otlp.path, "/v1/traces?token=s3cret");
    std::ostringstream shown;
    dump(*cfg, shown);
    EXPECT_EQ(shown.str().find("s3cret"), std::string::npos) << shown.str();
    EXPECT_NE(shown.str().find("token=***"), std::string::npos) << shown.str();
}

}  // namespace
}  // namespace sidelight::config
