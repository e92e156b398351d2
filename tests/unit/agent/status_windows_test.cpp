// The status page's window math: quantiles from bucket deltas as Prometheus'
// histogram_quantile() computes them, req/s and error rates between two snapshots, a reset when
// the traffic families are replaced on reload, and snapshots read from real traffic families.

#include <gtest/gtest.h>

#include <chrono>
#include <deque>

#include "agent/status_windows.hpp"
#include "agent/traffic_metrics.hpp"

namespace sidelight::agent::status {
namespace {

using namespace std::chrono_literals;

const route_key get_a{"GET", "/a", ""};

// One route's cumulative counts: non-cumulative `per_bucket` (+Inf last) and the statuses.
snapshot at(clock::time_point t, std::uint64_t families, std::vector<double> per_bucket,
            std::uint64_t errors = 0, std::uint64_t aborts = 0) {
    snapshot s{t, families, {10, 20, 50}, {}};
    route_counts c;
    double sum = 0;
    for (double n : per_bucket) c.buckets.push_back(sum += n);
    c.requests = static_cast<std::uint64_t>(sum);
    c.errors = errors;
    c.client_aborts = aborts;
    s.routes[get_a] = c;
    return s;
}

TEST(HistogramQuantileTest, InterpolatesInsideTheBucketAsPrometheusDoes) {
    const std::vector<double> bounds{10, 20, 50};
    const std::vector<double> cumulative{2, 6, 9, 10};  // 2 ≤10, 4 in (10,20], 3 in (20,50], 1 +Inf
    // rank 1 in the first bucket, whose lower bound is 0: 0 + 10 * 1/2
    EXPECT_DOUBLE_EQ(*histogram_quantile(0.10, bounds, cumulative), 5.0);
    // rank 5: the second bucket, 3 of its 4: 10 + 10 * 3/4
    EXPECT_DOUBLE_EQ(*histogram_quantile(0.50, bounds, cumulative), 17.5);
    // rank 8: the third bucket, 2 of its 3: 20 + 30 * 2/3
    EXPECT_DOUBLE_EQ(*histogram_quantile(0.80, bounds, cumulative), 40.0);
    // rank 9.5 falls in +Inf: the highest finite bound
    EXPECT_DOUBLE_EQ(*histogram_quantile(0.95, bounds, cumulative), 50.0);
    EXPECT_DOUBLE_EQ(*histogram_quantile(0.99, bounds, cumulative), 50.0);
}

TEST(HistogramQuantileTest, NoneWithoutObservations) {
    EXPECT_FALSE(histogram_quantile(0.5, {10, 20}, {0, 0, 0}));
    EXPECT_FALSE(histogram_quantile(0.5, {10, 20}, {}));
}

TEST(WindowTest, RateQuantilesAndErrorRateFromTheDifference) {
    const auto t0 = clock::time_point{} + 1h;
    // Before: 5 requests, all under 10 ms, one 5xx. After 60 s: 40 more — 10 ≤10, 20 in
    // (10,20], 10 in (20,50] — of which 4 are 5xx and 2 were client aborts.
    const auto older = at(t0, 1, {5, 0, 0, 0}, 1, 0);
    const auto newer = at(t0 + 60s, 1, {15, 20, 10, 0}, 5, 2);
    const auto w = measure(newer, older, get_a);
    EXPECT_DOUBLE_EQ(w.seconds, 60);
    EXPECT_EQ(w.requests, 40u);
    EXPECT_DOUBLE_EQ(w.rate, 40.0 / 60);
    EXPECT_DOUBLE_EQ(*w.p50, 15.0);  // rank 20: (10,20], 10 of its 20
    EXPECT_DOUBLE_EQ(*w.p95, 44.0);  // rank 38: (20,50], 8 of its 10
    EXPECT_DOUBLE_EQ(*w.p99, 48.8);  // rank 39.6: 9.6 of its 10
    EXPECT_DOUBLE_EQ(w.error_rate, 4.0 / 40);
    EXPECT_DOUBLE_EQ(w.client_abort_rate, 2.0 / 40);
}

TEST(WindowTest, ReplacedFamiliesCountFromZero) {
    const auto t0 = clock::time_point{} + 1h;
    const auto older = at(t0, 1, {100, 0, 0, 0}, 10);
    // A reload replaced the families (generation 2): they started again from 0 and hold 6.
    const auto newer = at(t0 + 30s, 2, {0, 6, 0, 0});
    const auto w = measure(newer, older, get_a);
    EXPECT_EQ(w.requests, 6u);
    EXPECT_DOUBLE_EQ(*w.p50, 15.0);
    EXPECT_DOUBLE_EQ(w.error_rate, 0);
    // The same with an unchanged generation but a count that went down: also a reset.
    const auto lower = at(t0 + 30s, 1, {0, 6, 0, 0});
    EXPECT_EQ(measure(lower, older, get_a).requests, 6u);
}

TEST(ReportTest, WindowsOfOneAndFiveMinutesAndTheSparkline) {
    const auto t0 = clock::time_point{} + 1h;
    std::deque<snapshot> ring;
    // One snapshot every 5 s for 5 minutes; one request under 10 ms in each step, and in the
    // last minute one more in (20,50] per step.
    double fast = 0, slow = 0;
    for (int i = 0; i <= 60; ++i) {
        if (i > 0) ++fast;
        if (i > 48) ++slow;
        ring.push_back(at(t0 + i * 5s, 1, {fast, 0, slow, 0}));
    }
    const auto now = at(t0 + 300s + 2s, 1, {fast, 0, slow, 0});  // nothing since the last sample
    const auto reports = report(ring, now);
    ASSERT_EQ(reports.size(), 1u);
    const auto& r = reports[0];
    // 1 minute: from the snapshot at 240 s (the newest at least 60 s old) to now.
    EXPECT_DOUBLE_EQ(r.last_1m.seconds, 62);
    EXPECT_EQ(r.last_1m.requests, 24u);  // 12 fast + 12 slow
    // 5 minutes: from the snapshot at 0 s.
    EXPECT_DOUBLE_EQ(r.last_5m.seconds, 302);
    EXPECT_EQ(r.last_5m.requests, 72u);
    EXPECT_DOUBLE_EQ(r.last_5m.rate, 72.0 / 302);
    // The sparkline: 60 steps of 5 s, then the 2 s since; P95 of a step with one fast request
    // is 9.5 (0 + 10 * 0.95); with one fast and one slow, rank 1.9 lands in (20,50]: 20 + 30 *
    // 0.9 = 47; the idle last step has none.
    ASSERT_EQ(r.sparkline.size(), 61u);
    EXPECT_DOUBLE_EQ(*r.sparkline[0], 9.5);
    EXPECT_DOUBLE_EQ(*r.sparkline[59], 47.0);
    EXPECT_FALSE(r.sparkline[60]);
}

TEST(ReportTest, JustAfterStartTheWindowsSpanWhatThereIs) {
    const auto t0 = clock::time_point{} + 1h;
    const std::deque<snapshot> ring{at(t0, 1, {0, 0, 0, 0})};
    const auto reports = report(ring, at(t0 + 8s, 1, {4, 0, 0, 0}));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_DOUBLE_EQ(reports[0].last_1m.seconds, 8);
    EXPECT_EQ(reports[0].last_1m.requests, 4u);
    EXPECT_DOUBLE_EQ(reports[0].last_1m.rate, 0.5);
    EXPECT_EQ(reports[0].last_5m.requests, 4u);
}

TEST(ReportTest, RoutesQuietForFiveMinutesAreLeftOut) {
    const auto t0 = clock::time_point{} + 1h;
    const std::deque<snapshot> ring{at(t0, 1, {3, 0, 0, 0}), at(t0 + 300s, 1, {3, 0, 0, 0})};
    EXPECT_TRUE(report(ring, at(t0 + 301s, 1, {3, 0, 0, 0})).empty());
}

routes::request_record request(std::string_view route, int status, std::chrono::milliseconds took) {
    routes::request_record r;
    r.method_id = routes::http_method::get;
    r.route_label = route;
    r.status = status;
    r.start = routes::request_record::clock::now();
    r.end = r.start + took;
    return r;
}

TEST(SnapshotTest, ReadsTheLatencyHistogramsSummedOverStatusCodes) {
    config::metrics_config cfg;
    cfg.prefix = "x_";
    cfg.buckets = {10, 20, 50};
    const traffic_metrics m(cfg);
    struct served {
        std::string_view route;
        int status;
        std::chrono::milliseconds took;
    };
    const std::vector<served> requests{{"/a", 200, 5ms},
                                       {"/a", 200, 15ms},
                                       {"/a", 503, 30ms},
                                       {"/a", 499, 70ms},
                                       {"/b", 200, 1ms}};
    for (const auto& r : requests) {
        auto series = m.resolve(request(r.route, r.status, r.took));
        m.record(series, request(r.route, r.status, r.took));
    }
    const auto s = take_snapshot(m.collect(), "x_api_latency_ms", clock::time_point{}, 7);
    EXPECT_EQ(s.families, 7u);
    EXPECT_EQ(s.bounds, (std::vector<double>{10, 20, 50}));
    ASSERT_EQ(s.routes.size(), 2u);
    const auto& a = s.routes.at(get_a);
    EXPECT_EQ(a.requests, 4u);
    EXPECT_EQ(a.errors, 1u);
    EXPECT_EQ(a.client_aborts, 1u);
    EXPECT_EQ(a.buckets, (std::vector<double>{1, 2, 3, 4}));
    EXPECT_EQ(s.routes.at({"GET", "/b", ""}).requests, 1u);
}

TEST(WindowsTest, ReportTakesAFreshSnapshotForTheNewestEdge) {
    const auto t0 = clock::time_point{} + 1h;
    double served = 0;
    windows w([&](clock::time_point t) { return at(t, 1, {served, 0, 0, 0}); }, 5s);
    w.sample(t0);
    served = 9;
    const auto reports = w.report(t0 + 3s);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].last_1m.requests, 9u);
    EXPECT_DOUBLE_EQ(reports[0].last_1m.rate, 3.0);
}

}  // namespace
}  // namespace sidelight::agent::status
