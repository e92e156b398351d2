// The terminal table: one line per scenario with its verdicts written as the plan wrote them.
#include <gtest/gtest.h>

#include "loadtest/report.hpp"

namespace sidelight::loadtest {
namespace {

TEST(ReportTable, VerdictsReadAsTheAssertionsWereWritten) {
    const plan p = load_plan_string(
        "target: http://127.0.0.1:1\n"
        "scenarios:\n"
        "  - name: products\n"
        "    request: {method: GET, path: /}\n"
        "    duration: 1s\n"
        "    assert: {p95: \"<500ms\", errors: 0}\n",
        "lt.yaml");
    scenario_outcome o;
    o.spec = &p.scenarios.at(0);
    for (int i = 0; i < 100; ++i) o.result.latency.record(1'000);  // 1 ms each
    o.result.responses = 100;
    o.result.errors.status[503] = 2;
    o.result.elapsed_s = 1;
    judge(o);
    const std::string table = format_table({o});
    EXPECT_NE(table.find("p95<500ms ok"), std::string::npos) << table;
    EXPECT_NE(table.find("errors=0 FAILED"), std::string::npos) << table;
    EXPECT_NE(table.find("status 503: 2"), std::string::npos) << table;
}

// A target that refused every connection: no latency was measured, so the budget fails and the
// table and the JSON say why instead of showing a 0 ms that looks met.
TEST(ReportTable, ALatencyBudgetOverNoResponsesFails) {
    const plan p = load_plan_string(
        "target: http://127.0.0.1:1\n"
        "scenarios:\n"
        "  - name: refused\n"
        "    request: {method: GET, path: /}\n"
        "    assert: {p95: \"<500ms\"}\n",
        "lt.yaml");
    scenario_outcome o;
    o.spec = &p.scenarios.at(0);
    o.result.errors.connect = 300;
    o.result.elapsed_s = 1;
    judge(o);
    EXPECT_FALSE(o.passed());
    const std::string table = format_table({o});
    EXPECT_NE(table.find("p95<500ms FAILED (no responses)"), std::string::npos) << table;
    const std::string json = format_json(p, {o}, true);
    EXPECT_NE(json.find("\"note\":\"no responses\",\"passed\":false"), std::string::npos) << json;
}

}  // namespace
}  // namespace sidelight::loadtest
