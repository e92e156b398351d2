// Reading loadtest.yaml: the issue's example, and errors that name file:line:col and the key.
#include "loadtest/plan.hpp"

#include <gtest/gtest.h>

#include "config/load.hpp"

namespace sidelight::loadtest {
namespace {

constexpr const char* example = R"(target: http://127.0.0.1:8080
scenarios:
  - name: products
    request: { method: GET, path: /api/products }
    duration: 10s
    connections: 10
    assert: { p95: "<500ms", errors: 0, rps: ">=10" }
  - name: orders
    request: { method: POST, path: "/api/orders", headers: {Content-Type: application/json}, body: '{"sku":"{{seq}}"}' }
    duration: 5s
    rate: 2000/s
    connections: 20
  - name: concurrent
    parallel: [products, orders]
    duration: 1m
    assert: { p95: "<1000ms", errors: "<1%" }
  - name: cache
    request: { method: GET, path: /api/products }
    cold_warm: { cold: 1, warm: 100 }
)";

// The message of the error `yaml` raises (empty when it loads).
std::string error_of(const std::string& yaml) {
    try {
        load_plan_string(yaml, "lt.yaml");
    } catch (const config::config_error& e) {
        return e.what();
    }
    return "";
}

TEST(Plan, ReadsTheIssueExample) {
    const plan p = load_plan_string(example, "lt.yaml");
    EXPECT_EQ(p.target.host, "127.0.0.1");
    EXPECT_EQ(p.target.port, 8080);
    ASSERT_EQ(p.scenarios.size(), 4u);
    const auto& products = p.scenarios[0];
    EXPECT_EQ(products.kind, scenario_kind::closed);
    EXPECT_EQ(products.duration, std::chrono::seconds(10));
    EXPECT_EQ(products.assertions.size(), 3u);
    const auto& orders = p.scenarios[1];
    EXPECT_EQ(orders.kind, scenario_kind::open);
    EXPECT_DOUBLE_EQ(orders.rate, 2000);
    EXPECT_EQ(orders.connections, 20u);
    EXPECT_EQ(orders.request.body, R"({"sku":"{{seq}}"})");
    ASSERT_EQ(orders.request.headers.size(), 1u);
    EXPECT_EQ(orders.request.headers[0].first, "Content-Type");
    const auto& concurrent = p.scenarios[2];
    EXPECT_EQ(concurrent.kind, scenario_kind::parallel);
    EXPECT_EQ(concurrent.members, (std::vector<std::size_t>{0, 1}));
    EXPECT_EQ(concurrent.duration, std::chrono::minutes(1));
    const auto& cache = p.scenarios[3];
    EXPECT_EQ(cache.kind, scenario_kind::cold_warm);
    EXPECT_EQ(cache.cold, 1u);
    EXPECT_EQ(cache.warm, 100u);
}

TEST(Plan, ErrorsNameFileLineColumnAndKey) {
    EXPECT_EQ(error_of("target: http://h:1\nscenarios:\n  - name: a\n    request: {path: /}\n"
                       "    durration: 5s\n"),
              "lt.yaml:5:5: scenarios[0].durration: unknown key (expected one of name, request, "
              "duration, connections, rate, timeout, assert, parallel, cold_warm, threads, "
              "target)");
    EXPECT_EQ(error_of("target: http://h:1\nscenarios:\n  - name: a\n    request: {path: /}\n"
                       "    duration: 5 fortnights\n"),
              "lt.yaml:5:15: scenarios[0].duration: expected a duration like 500ms, 5s, 1m30s or "
              "1h, got \"5 fortnights\"");
    EXPECT_EQ(error_of("target: http://h:1\nscenarios:\n  - name: a\n    request: {path: /}\n"
                       "    assert: {p95: \"<5 parsecs\"}\n"),
              "lt.yaml:5:19: scenarios[0].assert.p95: expected \"<DURATION\" or \"<=DURATION\" "
              "like \"<500ms\", or a ratio to another scenario like \"<=1.5x direct\"");
    EXPECT_EQ(error_of("target: http://h:1\nscenarios:\n  - name: a\n    request: {path: /}\n"
                       "    assert: {p95: \"<=2x b\"}\n"),
              "lt.yaml:5:19: scenarios[0].assert.p95: unknown scenario \"b\"");
    EXPECT_EQ(error_of("target: http://h:1\nscenarios:\n  - name: a\n    request: {path: /}\n"
                       "    assert: {p95: \"<=2x a\"}\n"),
              "lt.yaml:5:19: scenarios[0].assert.p95: a ratio compares with another scenario");
    EXPECT_EQ(error_of("target: http://h:1\nscenarios:\n  - name: a\n    parallel: [a2]\n"),
              "lt.yaml:4:16: scenarios[0].parallel[0]: unknown scenario \"a2\"");
    EXPECT_EQ(error_of("scenarios:\n  - name: a\n    request: {path: /}\n"),
              "lt.yaml:1:1: target: missing required key");
}

TEST(Plan, AScenarioMayHaveATargetOfItsOwn) {
    const auto p = load_plan_string(
        "target: http://127.0.0.1:8080\nscenarios:\n"
        "  - {name: direct, request: {path: /}, target: \"http://127.0.0.1:3000\"}\n"
        "  - {name: proxied, request: {path: /}, assert: {p95: \"<=2x direct\"}}\n",
        "lt.yaml");
    ASSERT_TRUE(p.scenarios[0].target);
    EXPECT_EQ(p.scenarios[0].target->port, 3000);
    EXPECT_EQ(p.scenarios[0].target_url, "http://127.0.0.1:3000");
    EXPECT_FALSE(p.scenarios[1].target);
    EXPECT_EQ(p.scenarios[1].assertions[0].reference, "direct");
    EXPECT_NE(error_of("target: http://h:1\nscenarios:\n  - {name: a, request: {path: /}}\n"
                       "  - {name: b, parallel: [a], target: \"http://h:2\"}\n"),
              "");
}

TEST(Plan, RefusesWhatCannotRun) {
    EXPECT_NE(error_of("target: https://h:1\nscenarios: [{name: a, request: {path: /}}]\n"), "");
    EXPECT_NE(error_of("target: http://h:99999\nscenarios: [{name: a, request: {path: /}}]\n"), "");
    EXPECT_NE(error_of("target: http://h:1\nscenarios: [{name: a, request: {path: x}}]\n"), "");
    EXPECT_NE(error_of("target: http://h:1\nscenarios: [{name: a}]\n"), "");
    EXPECT_NE(error_of("target: http://h:1\nscenarios: [{name: a, request: {path: /}, rate: "
                       "fast}]\n"),
              "");
    EXPECT_NE(error_of("target: http://h:1\nscenarios: [{name: a, request: {path: /}}, {name: "
                       "a, request: {path: /}}]\n"),
              "");
    EXPECT_NE(error_of("target: http://h:1\nscenarios: [{name: a, request: {path: /, headers: "
                       "{Content-Length: 3}}}]\n"),
              "");
    EXPECT_NE(error_of("target: [\n"), "");
    EXPECT_EQ(error_of("target: http://h:1\nscenarios: [{name: a, request: {path: /}, "
                       "connections: 2, threads: 3}]\n"),
              "lt.yaml:2:68: scenarios[0].threads: threads splits a loop's connections: at most "
              "`connections`, not here");
}

// A parallel scenario runs each member with the member's own timeout: one written on the
// parallel scenario would be ignored, so it is refused where it is written.
TEST(Plan, AParallelScenarioRefusesATimeout) {
    EXPECT_EQ(error_of("target: http://h:1\nscenarios:\n  - {name: a, request: {path: /}}\n"
                       "  - {name: b, parallel: [a], timeout: 2s}\n"),
              "lt.yaml:4:39: scenarios[1].timeout: set on the members, not here");
    EXPECT_EQ(error_of("target: http://h:1\nscenarios:\n  - {name: a, request: {path: /}, "
                       "timeout: 2s}\n  - {name: b, parallel: [a]}\n"),
              "");
}

// A second plan pasted after --- would never run: the file is refused at that document.
TEST(Plan, RefusesASecondDocument) {
    EXPECT_EQ(error_of("target: http://h:1\nscenarios: [{name: a, request: {path: /}}]\n---\n"
                       "target: http://h:2\nscenarios: [{name: b, request: {path: /}}]\n"),
              "lt.yaml:4:1: a second YAML document (after ---): the plan is one document");
    EXPECT_EQ(error_of("---\ntarget: http://h:1\nscenarios: [{name: a, request: {path: /}}]\n"
                       "---\n"),
              "");  // an empty one after it reads as nothing
}

}  // namespace
}  // namespace sidelight::loadtest
