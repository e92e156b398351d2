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

// A long name or path used to be cut at 512 bytes with the row's end (and its line break), so
// the next scenario ran on in the same row; a `|` in a name or path split a Markdown cell.
TEST(ReportTable, LongAndPipedNamesKeepTheirRows) {
    const std::string path = "/" + std::string(600, 'p') + "|x";
    const plan p = load_plan_string(
        "target: http://127.0.0.1:1\n"
        "scenarios:\n"
        "  - name: \"a|b" +
            std::string(600, 'n') +
            "\"\n"
            "    request: {method: GET, path: \"" +
            path +
            "\"}\n"
            "    assert: {errors: 0}\n"
            "  - name: second\n"
            "    request: {method: GET, path: /}\n",
        "lt.yaml");
    std::vector<scenario_outcome> outcomes(2);
    for (std::size_t i = 0; i < 2; ++i) {
        outcomes[i].spec = &p.scenarios.at(i);
        outcomes[i].result.latency.record(1'000);
        outcomes[i].result.responses = 1;
        outcomes[i].result.elapsed_s = 1;
        judge(outcomes[i]);
    }
    const std::string table = format_table(outcomes);
    const auto first = table.find("a|b");
    ASSERT_NE(first, std::string::npos);
    const auto end = table.find('\n', first);
    EXPECT_EQ(table.substr(end - 12, 13), "errors=0 ok \n") << table.substr(first);
    EXPECT_EQ(table.compare(end + 1, 6, "second"), 0) << table.substr(end + 1);

    const std::string md = format_markdown(p, outcomes);
    const std::string first_row = "| a\\|b" + std::string(600, 'n') + " | `GET /" +
                                  std::string(600, 'p') + "\\|x` | 1.00 ms | 1.00 ms | – | ✅ | " +
                                  "1.0 | 0 |\n";
    EXPECT_NE(md.find(first_row), std::string::npos) << md;
    EXPECT_NE(md.find("\n| second | `GET /` |"), std::string::npos) << md;
}

}  // namespace
}  // namespace sidelight::loadtest
