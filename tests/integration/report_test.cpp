// `sidelight report` through the real binary: a fixed load test JSON and two JUnit files give
// exactly tests/data/report/SUMMARY.md (the timestamp fixed by SOURCE_DATE_EPOCH), the exit
// codes (a failed budget, a clean run, a missing or foreign file), the append to
// $GITHUB_STEP_SUMMARY, and --metrics against a real sidelight's /metrics.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/http_wire.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

const std::string data_dir = std::string(SIDELIGHT_SOURCE_DIR) + "/tests/data/report/";

std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Sets an environment variable for the scope (the child inherits it); unset after.
struct scoped_env {
    const char* name;
    scoped_env(const char* n, const std::string& value) : name(n) { ::setenv(n, value.c_str(), 1); }
    ~scoped_env() { ::unsetenv(name); }
};

struct report_run {
    int exit_code = -1;
    std::string out, err;
};

report_run run_report(std::vector<std::string> args) {
    args.insert(args.begin(), "report");
    sidelight_process proc(args);
    report_run r;
    r.exit_code = proc.wait_exit(30s).value_or(-1);
    r.out = proc.stdout_text();
    r.err = proc.stderr_text();
    return r;
}

const std::string passing_json =
    R"({"schema":"sidelight.loadtest/1","target":"http://127.0.0.1:1","complete":true,)"
    R"("passed":true,"scenarios":[{"name":"a","kind":"closed","method":"GET","path":"/",)"
    R"("assertions":[{"metric":"errors","expected":"0","bound":0,"actual":0,"passed":true}],)"
    R"("passed":true}]})";

TEST(ReportTest, MatchesTheGoldenSummaryAndFailsOnAFailedBudget) {
    temp_dir dir;
    scoped_env epoch("SOURCE_DATE_EPOCH", "1700000000");
    const auto out = dir.path() + "/SUMMARY.md";
    const auto r =
        run_report({"--loadtest", data_dir + "lt.json", "--junit", data_dir + "ctest.xml",
                    "--junit", data_dir + "gtest.xml", "--out", out});
    EXPECT_EQ(r.exit_code, 1) << r.err;  // orders' p95 <50ms failed
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(read(out), read(data_dir + "SUMMARY.md"));
}

TEST(ReportTest, ExitsZeroWhenEveryBudgetHoldsAndPrintsWithoutOut) {
    temp_dir dir;
    const auto r = run_report({"--loadtest", dir.write("lt.json", passing_json)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("**Budgets: ✅ all 1 hold**"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" UTC · sidelight " SIDELIGHT_VERSION), std::string::npos) << r.out;
}

TEST(ReportTest, UsageErrorsNameTheFile) {
    temp_dir dir;
    auto r = run_report({"--loadtest", dir.path() + "/missing.json"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "sidelight: report: " + dir.path() +
                         "/missing.json: cannot read: No such file or directory\n");
    const auto broken = dir.write("broken.json", "{\"schema\": ");
    r = run_report({"--loadtest", broken});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err.rfind("sidelight: report: " + broken + ": invalid JSON: ", 0), 0u) << r.err;
    const auto foreign = dir.write("other.json", "{\"schema\":\"x/1\"}");
    r = run_report({"--loadtest", foreign});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find(foreign + ": not a sidelight.loadtest/1 report"), std::string::npos);
    const auto ok = dir.write("lt.json", passing_json);
    r = run_report({"--loadtest", ok, "--junit", dir.write("j.xml", "<html/>")});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("j.xml: not JUnit XML: the root is <html>"), std::string::npos) << r.err;
    EXPECT_EQ(run_report({}).exit_code, 2);  // --loadtest is required
    r = run_report({"--loadtest", ok, "--out", dir.path() + "/no/such/dir/S.md"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("S.md: cannot write"), std::string::npos) << r.err;
}

TEST(ReportTest, AppendsToTheGithubStepSummary) {
    temp_dir dir;
    const auto step = dir.write("step.md", "# earlier step\n");
    scoped_env env("GITHUB_STEP_SUMMARY", step);
    scoped_env epoch("SOURCE_DATE_EPOCH", "1700000000");
    const auto out = dir.path() + "/SUMMARY.md";
    const auto r = run_report({"--loadtest", dir.write("lt.json", passing_json), "--out", out});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read(step), "# earlier step\n" + read(out) + "\n");
    EXPECT_NE(read(out).find("2023-11-14 22:13:20 UTC"), std::string::npos);
}

TEST(ReportTest, MetricsTableFromARealSidelight) {
    fake_upstream app([](const wire_message&) { return fake_reply{simple_response(200, "ok")}; });
    temp_dir dir;
    auto proxy = sidelight_process::run(
        dir, test_config(app.port(), "routes:\n  - GET /api/products/{id}\n"));
    ASSERT_TRUE(proxy);
    for (int i = 0; i < 3; ++i) {
        const auto reply = http_get(proxy->proxy_port(), "/api/products/" + std::to_string(i));
        ASSERT_TRUE(reply && reply->status == 200);
    }
    const auto url = "http://127.0.0.1:" + std::to_string(proxy->admin_port()) + "/metrics";
    std::string out;
    ASSERT_TRUE(eventually([&] {
        out = run_report({"--loadtest", dir.write("lt.json", passing_json), "--metrics", url}).out;
        // The count is exact; the P95 is a bucket of however fast this machine was (a
        // sanitizer build takes longer than 10 ms): only its form is checked.
        return std::regex_search(
            out,
            std::regex(
                R"(\| `/api/products/\{id\}` \| 3 \| (≤ [0-9.]+ ms|[0-9.]+–[0-9.]+ ms|> [0-9.]+ ms) \|)"));
    })) << out;
    EXPECT_NE(out.find("### sidelight /metrics (since it started)"), std::string::npos);
    const auto r = run_report({"--loadtest", dir.write("lt.json", passing_json), "--metrics",
                               "http://127.0.0.1:1/metrics"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("sidelight: report: --metrics: cannot connect"), std::string::npos);
}

}  // namespace
}  // namespace sidelight::test
