// --compare-metrics arithmetic: the Prometheus text summed per route, histogram_quantile's
// interpolation, and the agreement rule.
#include "loadtest/metrics_compare.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace sidelight::loadtest {
namespace {

constexpr const char* scrape_text = R"(# HELP api_requests_total Requests
api_requests_total{method="GET",route="/api/products/{id}",status="200"} 90
api_requests_total{method="GET",route="/api/products/{id}",status="500"} 10
api_latency_ms_bucket{method="GET",route="/api/products/{id}",status="200",le="10"} 0
api_latency_ms_bucket{method="GET",route="/api/products/{id}",status="200",le="25"} 80
api_latency_ms_bucket{method="GET",route="/api/products/{id}",status="200",le="+Inf"} 90
api_latency_ms_bucket{method="GET",route="/api/products/{id}",status="500",le="10"} 10
api_latency_ms_bucket{method="GET",route="/api/products/{id}",status="500",le="25"} 10
api_latency_ms_bucket{method="GET",route="/api/products/{id}",status="500",le="+Inf"} 10
upstream_latency_ms_bucket{method="GET",route="/api/products/{id}",le="10"} 99
)";

TEST(MetricsCompare, SumsPerRouteOverStatuses) {
    const auto f = parse_route_figures(scrape_text);
    ASSERT_EQ(f.size(), 1u);
    const auto& r = f.at({"GET", "/api/products/{id}"});
    EXPECT_EQ(r.requests, 100);
    EXPECT_EQ(r.buckets.at(10), 10);
    EXPECT_EQ(r.buckets.at(25), 90);
    EXPECT_EQ(r.buckets.at(INFINITY), 100);
}

TEST(MetricsCompare, QuantileInterpolatesLinearlyInTheBucket) {
    // 100 observations: 10 in (0,10], 80 in (10,25], 10 above 25.
    const std::map<double, double> b{{10, 10}, {25, 90}, {INFINITY, 100}};
    EXPECT_DOUBLE_EQ(bucket_quantile(0.5, b), 10 + 15 * (50.0 - 10) / 80);
    EXPECT_DOUBLE_EQ(bucket_quantile(0.05, b), 5);
    EXPECT_DOUBLE_EQ(bucket_quantile(0.95, b), 25);  // in +Inf: the last finite bound
    EXPECT_TRUE(std::isnan(bucket_quantile(0.5, {})));
}

TEST(MetricsCompare, RouteTemplatesMatchPaths) {
    EXPECT_TRUE(path_matches_template("/api/products/42", "/api/products/{id}"));
    EXPECT_TRUE(path_matches_template("/api/products/42?x=1", "/api/products/:id"));
    EXPECT_FALSE(path_matches_template("/api/products", "/api/products/{id}"));
    EXPECT_FALSE(path_matches_template("/api/cart", "/api/products"));
    EXPECT_TRUE(path_matches_template("/static/a/b.css", "/static/*"));
}

TEST(MetricsCompare, AgreesOnEqualCountsAndNearbyP95) {
    route_figures before, after = parse_route_figures(scrape_text);
    client_endpoint e{"GET", "/api/products/7", 100, {}};
    for (int i = 0; i < 100; ++i) e.latency.record(i < 90 ? 20'000 : 30'000);
    auto rows = compare(before, after, {e});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_TRUE(rows[0].counts_agree);
    EXPECT_TRUE(rows[0].p95_agrees);
    e.responses = 99;
    EXPECT_FALSE(compare(before, after, {e})[0].counts_agree);
}

// GET and POST on one route template are two series on the server; each is compared with the
// client's requests of its own method, not with both summed.
TEST(MetricsCompare, MatchesByMethodAndPath) {
    const std::string text = std::string(scrape_text) +
                             "api_requests_total{method=\"POST\",route=\"/api/products/{id}\","
                             "status=\"201\"} 5\n"
                             "api_latency_ms_bucket{method=\"POST\",route=\"/api/products/{id}\","
                             "status=\"201\",le=\"+Inf\"} 5\n";
    client_endpoint get{"GET", "/api/products/7", 100, {}};
    for (int i = 0; i < 100; ++i) get.latency.record(20'000);
    client_endpoint post{"POST", "/api/products/8", 5, {}};
    for (int i = 0; i < 5; ++i) post.latency.record(20'000);
    const auto rows = compare({}, parse_route_figures(text), {get, post});
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].method, "GET");
    EXPECT_EQ(rows[0].client_count, 100u);
    EXPECT_TRUE(rows[0].counts_agree);
    EXPECT_EQ(rows[1].method, "POST");
    EXPECT_EQ(rows[1].client_count, 5u);
    EXPECT_TRUE(rows[1].counts_agree);
    EXPECT_NE(format_comparison(rows).find("POST /api/products/{id}"), std::string::npos);
}

// A method sidelight does not name (PURGE) is its "_OTHER" series.
TEST(MetricsCompare, AnUnnamedMethodIsComparedWithTheOtherSeries) {
    const std::string text =
        "api_requests_total{method=\"_OTHER\",route=\"/api/products/{id}\",status=\"200\"} 3\n"
        "api_latency_ms_bucket{method=\"_OTHER\",route=\"/api/products/{id}\",status=\"200\","
        "le=\"+Inf\"} 3\n";
    client_endpoint purge{"PURGE", "/api/products/7", 3, {}};
    for (int i = 0; i < 3; ++i) purge.latency.record(20'000);
    const auto rows = compare({}, parse_route_figures(text), {purge});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].client_count, 3u);
    EXPECT_TRUE(rows[0].counts_agree);
}

}  // namespace
}  // namespace sidelight::loadtest
