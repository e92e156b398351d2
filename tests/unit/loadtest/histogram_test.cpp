// The latency histogram: the bucket layout and <= 1% relative error over 1 µs .. 60 s.
#include "loadtest/histogram.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace sidelight::loadtest {
namespace {

TEST(Histogram, EveryValueFromOneMicrosecondToSixtySecondsIsWithinOnePercent) {
    // Every value below 1 ms, then a geometric sweep (0.1% steps) up to 60 s.
    std::vector<std::uint64_t> values;
    for (std::uint64_t v = 1; v < 1000; ++v) values.push_back(v);
    for (double v = 1000; v <= 60e6; v *= 1.001) values.push_back(static_cast<std::uint64_t>(v));
    values.push_back(histogram::highest_us);
    double worst = 0;
    for (auto v : values) {
        // Alone, and as the p50 of a histogram whose max is far above it (so max clamping
        // cannot hide the bucket's error).
        histogram h;
        h.record(v);
        h.record(v);
        h.record(histogram::highest_us);
        const double got = static_cast<double>(h.percentile(50));
        worst = std::max(worst, std::abs(got - static_cast<double>(v)) / static_cast<double>(v));
    }
    EXPECT_LE(worst, 0.01);
}

TEST(Histogram, BucketsTileTheRangeWithoutGaps) {
    for (std::size_t i = 1; i < histogram::index_of(histogram::highest_us); ++i)
        EXPECT_EQ(histogram::lower_bound(i),
                  histogram::lower_bound(i - 1) + histogram::width(i - 1))
            << i;
    for (std::uint64_t v :
         {0ull, 1ull, 255ull, 256ull, 257ull, 1'000ull, 123'456ull, 59'999'999ull}) {
        const auto i = histogram::index_of(v);
        EXPECT_LE(histogram::lower_bound(i), v);
        EXPECT_LT(v, histogram::lower_bound(i) + histogram::width(i));
    }
}

TEST(Histogram, PercentilesOfAUniformSpread) {
    histogram h;
    for (std::uint64_t v = 1; v <= 100'000; ++v) h.record(v);
    EXPECT_EQ(h.count(), 100'000u);
    EXPECT_NEAR(h.percentile(50), 50'000, 500);
    EXPECT_NEAR(h.percentile(99), 99'000, 990);
    EXPECT_NEAR(h.percentile(99.9), 99'900, 999);
    EXPECT_EQ(h.max(), 100'000u);
    EXPECT_EQ(h.min(), 1u);
    EXPECT_LE(h.percentile(100), h.max());
}

// The rank of p99.9 over 1000 values is 999 exactly: the single slow value is above it.
TEST(Histogram, RanksAreExactAtTheirBoundary) {
    histogram h;
    for (int i = 0; i < 999; ++i) h.record(10);
    h.record(200);
    EXPECT_EQ(h.percentile(99.9), 10u);
    EXPECT_EQ(h.percentile(100), 200u);
    histogram hundred;
    for (int i = 0; i < 99; ++i) hundred.record(10);
    hundred.record(200);
    EXPECT_EQ(hundred.percentile(99), 10u);
    EXPECT_EQ(hundred.percentile(99.9), 200u);  // rank 99.9 rounds up to the 100th
}

TEST(Histogram, OverTheTopGoesToTheLastBucketAndKeepsTheExactMax) {
    histogram h;
    h.record(10);
    h.record(120'000'000);
    h.record(120'000'000);
    EXPECT_EQ(h.max(), 120'000'000u);
    EXPECT_EQ(h.percentile(50), 120'000'000u);
    EXPECT_EQ(h.percentile(10), 10u);
}

TEST(Histogram, AddMergesCountsAndExtremes) {
    histogram a, b;
    a.record(10);
    b.record(1'000);
    b.record(3);
    a.add(b);
    EXPECT_EQ(a.count(), 3u);
    EXPECT_EQ(a.min(), 3u);
    EXPECT_EQ(a.max(), 1'000u);
    EXPECT_EQ(a.percentile(50), 10u);
}

TEST(Histogram, EmptyAnswersZero) {
    histogram h;
    EXPECT_EQ(h.percentile(99), 0u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 0u);
}

}  // namespace
}  // namespace sidelight::loadtest
