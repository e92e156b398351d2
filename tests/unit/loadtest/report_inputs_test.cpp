// What `sidelight report` reads: a load test's JSON back, JUnit XML from ctest and GoogleTest,
// and the budgets' verdict; and the per-route rows it takes from a /metrics scrape.
#include <gtest/gtest.h>

#include <stdexcept>

#include "loadtest/ci_summary.hpp"
#include "loadtest/junit.hpp"
#include "loadtest/saved_run.hpp"
#include "util/file.hpp"

namespace sidelight::loadtest {
namespace {

std::string data(const std::string& name) {
    return util::read_small_file(std::string(SIDELIGHT_SOURCE_DIR) + "/tests/data/report/" + name,
                                 1u << 20)
        .text;
}

std::string error_of(auto fn) {
    try {
        fn();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

TEST(SavedRun, ReadsTheFiguresAndVerdictsBack) {
    const auto run = parse_saved_run(data("lt.json"));
    EXPECT_EQ(run.target, "http://127.0.0.1:8080");
    EXPECT_TRUE(run.complete);
    EXPECT_FALSE(run.passed);
    ASSERT_EQ(run.scenarios.size(), 5u);
    const auto& direct = run.scenarios[0];
    EXPECT_EQ(direct.target, "http://127.0.0.1:3000");
    EXPECT_EQ(direct.latency.p95, 610u);
    const auto& proxied = run.scenarios[1];
    EXPECT_EQ(proxied.assertions[0].reference, "direct");
    EXPECT_DOUBLE_EQ(proxied.assertions[0].bound, 3);
    const auto& orders = run.scenarios[2];
    EXPECT_EQ(orders.rate, 200);
    EXPECT_EQ(orders.errors.timeout, 1u);
    EXPECT_EQ(orders.errors.status.at(503), 2u);
    EXPECT_EQ(orders.requests(), 1999u);  // responses + transport errors
    EXPECT_EQ(run.scenarios[3].members, (std::vector<std::string>{"direct", "proxied"}));
    ASSERT_TRUE(run.scenarios[4].cold_warm);
    EXPECT_EQ(run.scenarios[4].cold_warm->cold.p50, 12500u);
    EXPECT_FALSE(budgets_hold(run));
}

TEST(SavedRun, RefusesWhatIsNotALoadTestReport) {
    EXPECT_EQ(error_of([] { parse_saved_run("{\"schema\":"); }).rfind("invalid JSON: ", 0), 0u);
    EXPECT_EQ(error_of([] { parse_saved_run("{\"schema\":\"other/1\"}"); }),
              "not a sidelight.loadtest/1 report (schema: \"other/1\"); write one with "
              "`sidelight loadtest --json FILE`");
    EXPECT_NE(error_of([] { parse_saved_run("[1,2]"); }), "");
}

TEST(SavedRun, BudgetsHoldOnlyWhenEveryAssertionHoldsInACompleteRun) {
    const std::string passing =
        R"({"schema":"sidelight.loadtest/1","complete":true,"passed":true,"scenarios":[)"
        R"({"name":"a","assertions":[{"metric":"errors","expected":"0","passed":true}]}]})";
    EXPECT_TRUE(budgets_hold(parse_saved_run(passing)));
    auto interrupted = parse_saved_run(passing);
    interrupted.complete = false;
    EXPECT_FALSE(budgets_hold(interrupted));
}

TEST(Junit, CountsCtestsSuiteWithDisabledAsSkipped) {
    const auto suites = parse_junit(data("ctest.xml"));
    ASSERT_EQ(suites.size(), 1u);
    EXPECT_EQ(suites[0].name, "Linux-c++");
    EXPECT_EQ(suites[0].tests, 4u);
    EXPECT_EQ(suites[0].failures, 1u);
    EXPECT_EQ(suites[0].errors, 0u);  // ctest writes no errors attribute: counted, none
    EXPECT_EQ(suites[0].skipped, 1u);
}

TEST(Junit, CountsEachGoogleTestSuite) {
    const auto suites = parse_junit(data("gtest.xml"));
    ASSERT_EQ(suites.size(), 2u);
    EXPECT_EQ(suites[0].name, "Histogram");
    EXPECT_EQ(suites[0].tests, 3u);
    EXPECT_EQ(suites[0].skipped, 1u);
    EXPECT_EQ(suites[1].name, "Assertion");
    EXPECT_EQ(suites[1].tests, 2u);
}

TEST(Junit, CountsTestcasesWhereAttributesAreMissing) {
    const auto suites = parse_junit(
        "<testsuite name=\"s\"><testcase name=\"a\"/><testcase name=\"b\"><failure/></testcase>"
        "<testcase name=\"c\"><error/></testcase><testcase name=\"d\"><skipped/></testcase>"
        "</testsuite>");
    ASSERT_EQ(suites.size(), 1u);
    EXPECT_EQ(suites[0].tests, 4u);
    EXPECT_EQ(suites[0].failures, 1u);
    EXPECT_EQ(suites[0].errors, 1u);
    EXPECT_EQ(suites[0].skipped, 1u);
}

TEST(Junit, RefusesWhatIsNotJunit) {
    EXPECT_EQ(error_of([] { parse_junit("<html><body/></html>"); }),
              "not JUnit XML: the root is <html>, expected <testsuite> or <testsuites>");
    EXPECT_EQ(error_of([] { parse_junit("<testsuite"); }).rfind("invalid XML: ", 0), 0u);
    EXPECT_NE(error_of([] { parse_junit(""); }), "");
}

TEST(MetricsRows, BusiestRouteFirstWithTheBucketOfItsP95) {
    const auto figures = parse_route_figures(
        "api_requests_total{route=\"/a\",method=\"GET\",status=\"200\"} 10\n"
        "api_requests_total{route=\"/b\",method=\"GET\",status=\"200\"} 30\n"
        "api_requests_total{route=\"/idle\",method=\"GET\",status=\"200\"} 0\n"
        "api_latency_ms_bucket{route=\"/b\",le=\"1\"} 20\n"
        "api_latency_ms_bucket{route=\"/b\",le=\"2\"} 30\n"
        "api_latency_ms_bucket{route=\"/b\",le=\"+Inf\"} 30\n");
    const auto rows = metrics_rows(figures);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].route, "/b");
    EXPECT_DOUBLE_EQ(rows[0].requests, 30);
    ASSERT_TRUE(rows[0].p95_known);  // rank 28.5 of 30: in (1, 2]
    EXPECT_EQ(rows[0].p95_above_ms, 1);
    EXPECT_EQ(rows[0].p95_up_to_ms, 2);
    EXPECT_EQ(rows[1].route, "/a");
    EXPECT_FALSE(rows[1].p95_known);
    EXPECT_EQ(metrics_rows(figures, 1).size(), 1u);
}

}  // namespace
}  // namespace sidelight::loadtest
