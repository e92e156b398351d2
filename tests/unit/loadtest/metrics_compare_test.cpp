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
    const auto& r = f.at("/api/products/{id}");
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

}  // namespace
}  // namespace sidelight::loadtest
