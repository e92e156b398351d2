// `sidelight loadtest` through the real binary against fake apps: latency figures against a
// known delay, errors counted by kind and status exactly, the open loop's correction for a
// stall, cold against warm, --compare-metrics against a real sidelight, and the exit codes.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <csignal>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

struct loadtest_run {
    int exit_code = -1;
    std::string out, err;
    boost::json::object json;
};

// Writes the plan, runs `sidelight loadtest -f plan --json out --quiet [extra]`, reads the JSON.
loadtest_run run_loadtest(const std::string& plan, std::vector<std::string> extra = {}) {
    temp_dir dir;
    const auto file = dir.write("loadtest.yaml", plan);
    const auto json_path = dir.path() + "/out.json";
    std::vector<std::string> args{"loadtest", "-f", file, "--json", json_path, "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    sidelight_process proc(args);
    loadtest_run r;
    r.exit_code = proc.wait_exit(60s).value_or(-1);
    r.out = proc.stdout_text();
    r.err = proc.stderr_text();
    std::ifstream in(json_path);
    std::stringstream text;
    text << in.rdbuf();
    if (!text.str().empty()) r.json = boost::json::parse(text.str()).as_object();
    return r;
}

std::string target(std::uint16_t port) {
    return "target: http://127.0.0.1:" + std::to_string(port) + "\n";
}

const boost::json::object& scenario(const loadtest_run& r, std::size_t i) {
    return r.json.at("scenarios").as_array().at(i).as_object();
}

double latency_ms(const boost::json::object& s, const char* which, const char* key = "latency_us") {
    return static_cast<double>(s.at(key).at(which).to_number<double>()) / 1000.0;
}

std::uint64_t count(const boost::json::value& v) {
    return v.to_number<std::uint64_t>();
}

TEST(LoadtestTest, AFixedDelayShowsAsTheMedian) {
    fake_upstream app([](const wire_message&) {
        return fake_reply{simple_response(200, "ok"), false, 20ms};
    });
    const auto r = run_loadtest(target(app.port()) +
                                "scenarios:\n  - name: slow\n    request: {path: /slow}\n"
                                "    duration: 2s\n    connections: 5\n"
                                "    assert: {p50: \"<100ms\", errors: 0}\n");
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const auto& s = scenario(r, 0);
    EXPECT_NEAR(latency_ms(s, "p50"), 20.0, 3.0);
    // 5 connections, 20 ms each: about 250 req/s; the server saw every request we counted.
    EXPECT_EQ(count(s.at("responses")), app.request_count());
    EXPECT_NEAR(s.at("rps").to_number<double>(), 250, 40);
    EXPECT_EQ(r.json.at("schema").as_string(), "sidelight.loadtest/1");
    EXPECT_NE(r.out.find("slow"), std::string::npos) << r.out;
}

TEST(LoadtestTest, ARatioComparesWithAnotherScenarioAtItsOwnTarget) {
    fake_upstream fast([](const wire_message&) { return fake_reply{simple_response(200, "ok")}; });
    fake_upstream slow([](const wire_message&) {
        return fake_reply{simple_response(200, "ok"), false, 20ms};
    });
    // The plan's target is the slow app; `direct` goes to the fast one. The ratio is judged
    // after both ran, though `direct` comes second.
    const auto plan = target(slow.port()) +
                      "scenarios:\n"
                      "  - {name: slow, request: {path: /}, duration: 300ms, connections: 1,\n"
                      "     assert: {p50: \"<=2x direct\"}}\n"
                      "  - {name: direct, request: {path: /}, duration: 300ms, connections: 1,\n"
                      "     target: \"http://127.0.0.1:" +
                      std::to_string(fast.port()) + "\"}\n";
    const auto r = run_loadtest(plan);
    EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
    EXPECT_EQ(count(scenario(r, 1).at("responses")), fast.request_count());
    EXPECT_EQ(scenario(r, 1).at("target").as_string(),
              "http://127.0.0.1:" + std::to_string(fast.port()));
    EXPECT_EQ(count(scenario(r, 0).at("responses")), slow.request_count());
    const auto& a = scenario(r, 0).at("assertions").at(0).as_object();
    EXPECT_EQ(a.at("reference").as_string(), "direct");
    EXPECT_EQ(a.at("bound").to_number<double>(), 2.0);
    EXPECT_GT(a.at("actual").to_number<double>(), 2.0);  // 20 ms against well under 10 ms
    EXPECT_FALSE(a.at("passed").as_bool());
}

TEST(LoadtestTest, ServerErrorsAreCountedExactlyByStatus) {
    std::atomic<int> seen{0}, failed{0};
    fake_upstream app([&](const wire_message&) {
        if (++seen % 10 == 0) {
            ++failed;
            return fake_reply{simple_response(500, "no")};
        }
        return fake_reply{simple_response(200, "ok")};
    });
    const auto r = run_loadtest(target(app.port()) +
                                "scenarios:\n  - name: flaky\n    request: {path: /}\n"
                                "    duration: 1s\n    connections: 4\n"
                                "    assert: {errors: \"<5%\"}\n");
    EXPECT_EQ(r.exit_code, 1) << r.err << r.out;  // 10% errors fail "<5%"
    const auto& s = scenario(r, 0);
    const auto& errors = s.at("errors").as_object();
    EXPECT_EQ(count(errors.at("status").at("500")), static_cast<std::uint64_t>(failed.load()));
    EXPECT_EQ(count(s.at("responses")), static_cast<std::uint64_t>(seen.load()));
    EXPECT_EQ(count(errors.at("total")), static_cast<std::uint64_t>(failed.load()));
    const auto& verdict = s.at("assertions").as_array().at(0).as_object();
    EXPECT_FALSE(verdict.at("passed").as_bool());
    EXPECT_NEAR(verdict.at("actual").to_number<double>(), 10.0, 0.1);
}

TEST(LoadtestTest, ClosedConnectionsAndRefusedConnectsAreErrorsOfTheirKind) {
    fake_upstream closing([](const wire_message&) { return fake_reply{"", true}; });
    std::uint16_t nobody = 0;
    {
        fake_upstream gone;
        nobody = gone.port();
    }
    const auto r =
        run_loadtest(target(closing.port()) +
                     "scenarios:\n  - name: closing\n    request: {path: /}\n    duration: 500ms\n"
                     "    connections: 2\n    assert: {errors: 0}\n");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto& closed = scenario(r, 0).at("errors").as_object();
    EXPECT_GT(count(closed.at("closed")) + count(closed.at("reset")), 10u);
    EXPECT_EQ(count(scenario(r, 0).at("responses")), 0u);

    const auto refused = run_loadtest(target(nobody) +
                                      "scenarios:\n  - name: nobody\n    request: {path: /}\n"
                                      "    duration: 300ms\n    connections: 2\n");
    EXPECT_EQ(refused.exit_code, 0) << refused.err;  // no assertion: errors alone do not fail
    EXPECT_GT(count(scenario(refused, 0).at("errors").at("connect")), 5u);
}

TEST(LoadtestTest, ASilentServerTimesOut) {
    fake_upstream silent([](const wire_message&) {
        return fake_reply{simple_response(200, "late"), false, 700ms};
    });
    const auto r = run_loadtest(target(silent.port()) +
                                "scenarios:\n  - name: silent\n    request: {path: /}\n"
                                "    duration: 500ms\n    connections: 2\n    timeout: 200ms\n"
                                "    assert: {errors: \"<=1\"}\n");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto& s = scenario(r, 0);
    // Each connection times out every 200-250 ms (timeouts are checked every 50 ms) until the
    // end at 500 ms; the requests in flight then time out in the drain.
    EXPECT_GE(count(s.at("errors").at("timeout")), 4u);
    EXPECT_LE(count(s.at("errors").at("timeout")), 6u);
    EXPECT_EQ(count(s.at("responses")), 0u);
}

TEST(LoadtestTest, OpenLoopShowsAStallThatTheClosedLoopViewHides) {
    std::mutex stall;
    std::atomic<int> n{0};
    fake_upstream app([&](const wire_message&) {
        if (++n == 500) {
            std::lock_guard hold(stall);  // every connection waits behind this one
            std::this_thread::sleep_for(1s);
        } else {
            std::lock_guard pass(stall);
        }
        return fake_reply{simple_response(200, "ok")};
    });
    const auto r = run_loadtest(target(app.port()) +
                                "scenarios:\n  - name: paced\n    request: {path: /}\n"
                                "    duration: 3s\n    rate: 1000/s\n    connections: 10\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto& s = scenario(r, 0);
    EXPECT_GE(latency_ms(s, "p99"), 900.0);
    EXPECT_LT(latency_ms(s, "p99", "uncorrected_latency_us"), 100.0);
    EXPECT_NEAR(static_cast<double>(count(s.at("responses"))), 3000, 60);
}

TEST(LoadtestTest, ThreadsSplitConnectionsAndRate) {
    fake_upstream app([](const wire_message&) { return fake_reply{simple_response(200, "ok")}; });
    const auto r = run_loadtest(target(app.port()) +
                                "scenarios:\n"
                                "  - name: closed\n    request: {path: \"/c/{{seq}}\"}\n"
                                "    duration: 500ms\n    connections: 5\n    threads: 2\n"
                                "  - name: open\n    request: {path: /o}\n"
                                "    duration: 1s\n    rate: 400/s\n    connections: 4\n"
                                "    threads: 2\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto closed = count(scenario(r, 0).at("responses"));
    const auto open = count(scenario(r, 1).at("responses"));
    EXPECT_EQ(closed + open, app.request_count());
    EXPECT_EQ(app.request_connections(), 5u + 4u);
    EXPECT_NEAR(static_cast<double>(open), 400, 8);
    // The two threads' {{seq}} numbers interleave: every one of 1..closed is used once.
    std::set<std::string> paths;
    for (const auto& req : app.requests())
        if (req.message.start_line.starts_with("GET /c/")) paths.insert(req.message.start_line);
    EXPECT_EQ(paths.size(), closed);
}

TEST(LoadtestTest, ColdAgainstWarm) {
    std::atomic<int> n{0};
    fake_upstream app([&](const wire_message&) {
        const bool first = ++n == 1;
        return fake_reply{simple_response(200, "ok"), false, first ? 200ms : 0ms};
    });
    const auto r = run_loadtest(target(app.port()) +
                                "scenarios:\n  - name: cache\n    request: {path: /p}\n"
                                "    cold_warm: {cold: 1, warm: 20}\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto& cw = scenario(r, 0).at("cold_warm").as_object();
    EXPECT_GE(latency_ms(cw, "p50", "cold_latency_us"), 190.0);
    EXPECT_LT(latency_ms(cw, "p50", "warm_latency_us"), 20.0);
    EXPECT_EQ(count(cw.at("warm_latency_us").at("count")), 20u);
    EXPECT_GT(cw.at("p50_delta_us").to_number<double>(), 170'000.0);
    EXPECT_EQ(app.request_count(), 21u);
}

TEST(LoadtestTest, ExitCodesAndPlanErrors) {
    fake_upstream app([](const wire_message&) { return fake_reply{simple_response(200, "ok")}; });
    const std::string plan = target(app.port()) +
                             "scenarios:\n  - name: a\n    request: {path: /}\n"
                             "    duration: 200ms\n    connections: 1\n    assert: {p99: ";
    EXPECT_EQ(run_loadtest(plan + "\"<10s\"}\n").exit_code, 0);
    EXPECT_EQ(run_loadtest(plan + "\"<=0ms\"}\n").exit_code, 1);
    const auto bad = run_loadtest(plan + "\"<5 parsecs\"}\n");
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("loadtest.yaml:7:19: scenarios[0].assert.p99: expected"),
              std::string::npos)
        << bad.err;
    EXPECT_EQ(run_loadtest("scenarios: []\n").exit_code, 2);
    sidelight_process missing({"loadtest", "-f", "/nonexistent.yaml"});
    EXPECT_EQ(missing.wait_exit(10s), 2);
    sidelight_process no_file({"loadtest"});
    EXPECT_EQ(no_file.wait_exit(10s), 2);
}

TEST(LoadtestTest, InterruptedRunReportsWhatRanAndExits130) {
    fake_upstream app([](const wire_message&) { return fake_reply{simple_response(200, "ok")}; });
    temp_dir dir;
    const auto file = dir.write("loadtest.yaml", target(app.port()) +
                                                     "scenarios:\n"
                                                     "  - {name: long, request: {path: /}, "
                                                     "duration: 30s, connections: 2}\n"
                                                     "  - {name: next, request: {path: /}}\n");
    const auto json_path = dir.path() + "/out.json";
    sidelight_process proc({"loadtest", "-f", file, "--json", json_path, "--quiet"});
    ASSERT_TRUE(eventually([&] { return app.request_count() > 10; }));
    proc.signal(SIGINT);
    EXPECT_EQ(proc.wait_exit(5s), 130);
    std::ifstream in(json_path);
    std::stringstream text;
    text << in.rdbuf();
    const auto json = boost::json::parse(text.str()).as_object();
    EXPECT_FALSE(json.at("complete").as_bool());
    EXPECT_FALSE(json.at("passed").as_bool());
    ASSERT_EQ(json.at("scenarios").as_array().size(), 1u);  // `next` never started
    EXPECT_EQ(count(json.at("scenarios").at(0).at("responses")), app.request_count());
    EXPECT_NE(proc.stderr_text().find("interrupted"), std::string::npos);
}

TEST(LoadtestTest, CompareMetricsAgreesWithTheProxysOwnFigures) {
    fake_upstream app([](const wire_message&) {
        return fake_reply{simple_response(200, "ok"), false, 2ms};
    });
    temp_dir dir;
    auto proxy = sidelight_process::run(
        dir, test_config(app.port(), "routes:\n  - GET /api/products/{id}\n"));
    ASSERT_TRUE(proxy);
    const auto r =
        run_loadtest("target: http://127.0.0.1:" + std::to_string(proxy->proxy_port()) +
                         "\nscenarios:\n  - name: p\n    request: {path: /api/products/7}\n"
                         "    duration: 1s\n    connections: 4\n",
                     {"--compare-metrics",
                      "http://127.0.0.1:" + std::to_string(proxy->admin_port()) + "/metrics"});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_NE(r.out.find("/api/products/{id}"), std::string::npos) << r.out;
    const auto line_at = r.out.find("/api/products/{id}");
    const auto line = r.out.substr(line_at, r.out.find('\n', line_at) - line_at);
    EXPECT_NE(line.find("yes"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace sidelight::test
