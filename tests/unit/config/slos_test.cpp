// `slos`: what the loader reads, and the exact text of each refusal (file:line:col, key path).
// The route check needs the route table: tests/unit/agent/preflight_test.cpp.
#include <gtest/gtest.h>

#include "config/load.hpp"

namespace sidelight::config {
namespace {

using std::chrono::milliseconds;

const std::string head = "upstream: {address: 127.0.0.1:3000}\nslos:\n";

// One SLO entry on lines 3 to 7: name at column 11, route 12, objective 16, latency 14,
// window 13.
std::string one_slo(const std::string& objective, const std::string& latency,
                    const std::string& window = "28d", const std::string& route = "GET /a") {
    return head + "  - name: a\n    route: " + route + "\n    objective: " + objective +
           "\n    latency: " + latency + "\n    window: " + window + "\n";
}

std::string error_of(const std::string& yaml) {
    try {
        load_string(yaml, "sidelight.yaml");
    } catch (const config_error& e) {
        return e.what();
    }
    return "";
}

TEST(slos, reads_a_latency_and_an_availability_slo) {
    const auto cfg = load_string(head +
                                     "  - name: products-latency\n"
                                     "    route: GET /api/products/{id}\n"
                                     "    objective: 99%\n"
                                     "    latency: 0.5s\n"
                                     "    window: 4w\n"
                                     "  - name: checkout-availability\n"
                                     "    route: POST  /api/orders\n"
                                     "    objective: 99.95%\n",
                                 "sidelight.yaml");
    ASSERT_EQ(cfg->slos.size(), 2u);
    const auto& latency = cfg->slos[0];
    EXPECT_EQ(latency.name, "products-latency");
    EXPECT_EQ(latency.method, "GET");
    EXPECT_EQ(latency.path_template, "/api/products/{id}");
    EXPECT_EQ(latency.objective, 99.0);
    EXPECT_EQ(latency.latency, milliseconds(500));
    EXPECT_EQ(latency.window_days, 28u);
    EXPECT_EQ(latency.route_mark.line, 4);
    EXPECT_EQ(latency.route_mark.column, 12);
    const auto& availability = cfg->slos[1];
    EXPECT_FALSE(availability.is_latency());
    EXPECT_EQ(availability.path_template, "/api/orders");
    EXPECT_EQ(availability.objective, 99.95);
    EXPECT_EQ(availability.window_days, 28u);  // the default
}

TEST(slos, a_latency_must_be_a_bucket_bound) {
    EXPECT_EQ(error_of(one_slo("99%", "1500ms")),
              "sidelight.yaml:6:14: slos[0].latency: 1500ms is not a bucket bound of "
              "api_latency_ms (metrics.buckets: 10, 50, 100, 200, 500, 1000, 2000, 5000 ms); the "
              "SLI counts the requests in the bucket at the threshold");
    EXPECT_EQ(
        error_of("metrics: {prefix: shop_, buckets: [2.5, 25, 250]}\n" + one_slo("99%", "25s")),
        "sidelight.yaml:7:14: slos[0].latency: 25000ms is not a bucket bound of "
        "shop_api_latency_ms (metrics.buckets: 2.5, 25, 250 ms); the SLI counts the "
        "requests in the bucket at the threshold");
    EXPECT_EQ(error_of("metrics: {buckets: [2.5, 25, 250]}\n" + one_slo("99%", "250ms")), "");
    EXPECT_EQ(error_of(one_slo("99%", "fast")),
              "sidelight.yaml:6:14: slos[0].latency: expected a duration like 500ms, 5s, 1m30s "
              "or 1h, got \"fast\"");
}

TEST(slos, an_objective_is_a_percentage_strictly_between_0_and_100) {
    EXPECT_EQ(error_of(one_slo("100%", "500ms")),
              "sidelight.yaml:5:16: slos[0].objective: must be between 0% and 100% (both "
              "excluded: 100% leaves no error budget), got 100%");
    EXPECT_EQ(error_of(one_slo("0%", "500ms")),
              "sidelight.yaml:5:16: slos[0].objective: must be between 0% and 100% (both "
              "excluded: 100% leaves no error budget), got 0%");
    EXPECT_EQ(error_of(one_slo("-5%", "500ms")),
              "sidelight.yaml:5:16: slos[0].objective: must be between 0% and 100% (both "
              "excluded: 100% leaves no error budget), got -5%");
    // 0.999 could mean 99.9% or 0.999%: the sign is required.
    EXPECT_EQ(error_of(one_slo("0.999", "500ms")),
              "sidelight.yaml:5:16: slos[0].objective: expected a percentage like 99.9%, got "
              "\"0.999\"");
    EXPECT_EQ(error_of(one_slo("99.9 %", "500ms")),
              "sidelight.yaml:5:16: slos[0].objective: expected a percentage like 99.9%, got "
              "\"99.9 %\"");
}

TEST(slos, a_window_is_whole_days_or_weeks_from_7d_to_90d) {
    EXPECT_EQ(error_of(one_slo("99%", "500ms", "28 days")),
              "sidelight.yaml:7:13: slos[0].window: expected a window of whole days or weeks like "
              "28d or 4w (7d to 90d), got \"28 days\"");
    EXPECT_EQ(error_of(one_slo("99%", "500ms", "672h")),
              "sidelight.yaml:7:13: slos[0].window: expected a window of whole days or weeks like "
              "28d or 4w (7d to 90d), got \"672h\"");
    EXPECT_EQ(error_of(one_slo("99%", "500ms", "3d")),
              "sidelight.yaml:7:13: slos[0].window: out of range: 3d (7d to 90d)");
    EXPECT_EQ(error_of(one_slo("99%", "500ms", "26w")),
              "sidelight.yaml:7:13: slos[0].window: out of range: 26w (7d to 90d)");
    EXPECT_EQ(error_of(one_slo("99%", "500ms", "90d")), "");
}

TEST(slos, a_route_is_one_upper_case_method_and_a_template) {
    EXPECT_EQ(error_of(one_slo("99%", "500ms", "28d", "/api/products")),
              "sidelight.yaml:4:12: slos[0].route: expected one method and a route template like "
              "\"GET /api/products\", got \"/api/products\"");
    EXPECT_EQ(error_of(one_slo("99%", "500ms", "28d", "GET,POST /a")),
              "sidelight.yaml:4:12: slos[0].route: expected one method and a route template like "
              "\"GET /api/products\", got \"GET,POST /a\"");
    EXPECT_EQ(error_of(one_slo("99%", "500ms", "28d", "get /a")),
              "sidelight.yaml:4:12: slos[0].route: methods are upper case, as in routes: got "
              "\"get\"");
}

TEST(slos, names_are_unique_words) {
    const auto twice = head +
                       "  - {name: checkout, route: POST /o, objective: 99%}\n"
                       "  - {name: products, route: GET /p, objective: 99%}\n"
                       "  - name: checkout\n"
                       "    route: GET /o\n"
                       "    objective: 99.9%\n";
    EXPECT_EQ(error_of(twice),
              "sidelight.yaml:5:11: slos[2].name: duplicate SLO name \"checkout\" (first at line "
              "3)");
    EXPECT_EQ(error_of(head + "  - {name: \"two words\", route: GET /p, objective: 99%}\n"),
              "sidelight.yaml:3:12: slos[0].name: expected a name of letters, digits, - and _ (at "
              "most 64), got \"two words\"");
}

TEST(slos, keys_are_checked) {
    EXPECT_EQ(error_of(head + "  - {name: a, route: GET /p}\n"),
              "sidelight.yaml:3:5: slos[0].objective: missing required key");
    EXPECT_EQ(error_of(head + "  - {name: a, route: GET /p, objective: 99%, target: 1}\n"),
              "sidelight.yaml:3:46: slos[0].target: unknown key (expected one of name, route, "
              "objective, latency, window)");
    EXPECT_EQ(error_of(head + "  name: a\n"),
              "sidelight.yaml:3:3: slos: expected a list, got a map");
}

TEST(slos, need_the_traffic_metrics) {
    EXPECT_EQ(error_of("metrics: {traffic: false}\n" + head +
                       "  - {name: a, route: GET /p, objective: 99%}\n"),
              "sidelight.yaml:4:3: slos: needs metrics.traffic: true (the SLIs are read from "
              "api_requests_total and api_latency_ms)");
}

}  // namespace
}  // namespace sidelight::config
