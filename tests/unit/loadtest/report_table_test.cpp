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

}  // namespace
}  // namespace sidelight::loadtest
