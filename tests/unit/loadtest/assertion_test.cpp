// Assertions: what `assert:` accepts, what it refuses, and how it judges figures.
#include "loadtest/assertion.hpp"

#include <gtest/gtest.h>

namespace sidelight::loadtest {
namespace {

assertion parse(std::string_view key, std::string_view value) {
    std::string error;
    auto a = parse_assertion(key, value, error);
    EXPECT_TRUE(a) << key << ": " << value << ": " << error;
    return a.value_or(assertion{});
}

bool refused(std::string_view key, std::string_view value) {
    std::string error;
    return !parse_assertion(key, value, error) && !error.empty();
}

TEST(Assertion, LatencyBoundsInMicroseconds) {
    auto a = parse("p95", "<500ms");
    EXPECT_EQ(a.what, metric::p95);
    EXPECT_EQ(a.op, comparison::less);
    EXPECT_EQ(a.bound, 500'000);
    EXPECT_EQ(parse("p999", "<=1s").bound, 1'000'000);
    EXPECT_EQ(parse("max", "< 2m").bound, 120'000'000);
}

TEST(Assertion, ARatioToAnotherScenarioKeepsItsFactorAndName) {
    auto a = parse("p95", "<=1.5x direct");
    EXPECT_EQ(a.op, comparison::less_equal);
    EXPECT_EQ(a.bound, 1.5);
    EXPECT_EQ(a.reference, "direct");
    EXPECT_EQ(display_bound(a), 1.5);
    EXPECT_EQ(parse("p50", "< 3x  the app").reference, "the app");
    EXPECT_TRUE(refused("p95", "<=x direct"));
    EXPECT_TRUE(refused("p95", "<=0x direct"));
    EXPECT_TRUE(refused("p95", ">=2x direct"));
    EXPECT_TRUE(refused("errors", "<=2x direct"));
}

TEST(Assertion, ARatioComparesTheSamePercentile) {
    observed mine, direct;
    mine.latency_us[2] = 300;  // p95
    mine.responses = 10;
    direct.latency_us[2] = 200;
    direct.responses = 10;
    const auto a = parse("p95", "<=1.5x direct");
    EXPECT_DOUBLE_EQ(check_ratio(a, mine, direct).actual, 1.5);
    EXPECT_TRUE(check_ratio(a, mine, direct).passed);
    EXPECT_FALSE(check_ratio(parse("p95", "<1.5x direct"), mine, direct).passed);
    EXPECT_FALSE(check_ratio(a, mine, observed{}).passed);  // the reference saw nothing
}

// A target that refused every connection leaves empty histograms, whose percentiles read 0: the
// budgets must fail on that, not pass at 0 ms.
TEST(Assertion, LatencyOverNoResponsesFailsAndSaysSo) {
    observed none;
    none.errors = 50;
    none.attempts = 50;
    for (const char* key : {"p50", "p95", "p999", "max"}) {
        const auto v = check(parse(key, "<500ms"), none);
        EXPECT_FALSE(v.passed) << key;
        EXPECT_EQ(v.note, "no responses") << key;
    }
    observed direct;
    direct.latency_us[2] = 200;
    direct.responses = 10;
    const auto ratio = check_ratio(parse("p95", "<=3x direct"), none, direct);
    EXPECT_FALSE(ratio.passed);
    EXPECT_EQ(ratio.note, "no responses");
    const auto reversed = check_ratio(parse("p95", "<=3x direct"), direct, none);
    EXPECT_FALSE(reversed.passed);
    EXPECT_EQ(reversed.note, "no responses in direct");
    // Errors and throughput still judge their own figures.
    EXPECT_FALSE(check(parse("errors", "0"), none).passed);
    EXPECT_TRUE(check(parse("errors", "<=50"), none).passed);
}

TEST(Assertion, RefusesWhatIsNotAnAssertion) {
    EXPECT_TRUE(refused("p95", "<5 parsecs"));
    EXPECT_TRUE(refused("p95", "500ms"));
    EXPECT_TRUE(refused("p95", ">500ms"));
    EXPECT_TRUE(refused("p42", "<1s"));
    EXPECT_TRUE(refused("errors", ">3"));
    EXPECT_TRUE(refused("errors", "1.5"));
    EXPECT_TRUE(refused("errors", "<101%"));
    EXPECT_TRUE(refused("rps", "<10"));
    EXPECT_TRUE(refused("rps", "lots"));
}

TEST(Assertion, ErrorsAsACountOrAShare) {
    observed o;
    o.errors = 1;
    o.attempts = 200;
    EXPECT_FALSE(check(parse("errors", "0"), o).passed);
    EXPECT_TRUE(check(parse("errors", "<=1"), o).passed);
    EXPECT_FALSE(check(parse("errors", "<1"), o).passed);
    const auto share = check(parse("errors", "<1%"), o);
    EXPECT_TRUE(share.passed);
    EXPECT_DOUBLE_EQ(share.actual, 0.5);
    o.errors = 2;
    EXPECT_FALSE(check(parse("errors", "<1%"), o).passed);
}

TEST(Assertion, LatencyAndRps) {
    observed o;
    o.latency_us[2] = 499'000;  // p95
    o.responses = 100;
    o.rps = 10;
    EXPECT_TRUE(check(parse("p95", "<500ms"), o).passed);
    EXPECT_DOUBLE_EQ(check(parse("p95", "<500ms"), o).actual, 499.0);
    o.latency_us[2] = 500'000;
    EXPECT_FALSE(check(parse("p95", "<500ms"), o).passed);
    EXPECT_TRUE(check(parse("p95", "<=500ms"), o).passed);
    EXPECT_TRUE(check(parse("rps", ">=10"), o).passed);
    EXPECT_FALSE(check(parse("rps", ">10"), o).passed);
}

}  // namespace
}  // namespace sidelight::loadtest
