// The admin port: health, readiness, liveness and the Prometheus exposition.

#include <gtest/gtest.h>

#include <vector>

#include <sys/wait.h>

#include <cstdio>
#include <sstream>

#include <boost/json/parse.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

boost::json::object healthz(std::uint16_t admin_port, int& status) {
    auto res = http_get(admin_port, "/healthz");
    if (!res) {
        status = 0;
        return {};
    }
    status = res->status;
    return boost::json::parse(res->body).as_object();
}

// promtool parses the exposition (exit 1 on any format error) and lints it (exit 3). The only
// lint findings allowed are the `_ms` unit suffixes of the names DESIGN.md keeps for users'
// existing dashboards (api_latency_ms, api_upstream_latency_ms, db_query_duration_ms).
void expect_promtool_accepts(const temp_dir& dir, const std::string& text) {
    const auto path = dir.write("metrics.txt", text);
    const auto cmd = "promtool check metrics < " + path + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out, line;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    const int status = ::pclose(p);
    ASSERT_TRUE(WIFEXITED(status)) << out;
    ASSERT_TRUE(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3) << out;
    std::istringstream lines(out);
    while (std::getline(lines, line)) {
        if (line.empty()) continue;
        EXPECT_TRUE(line.ends_with("_ms metric names should not contain abbreviated units") &&
                    (line.starts_with("api_latency_ms ") ||
                     line.starts_with("api_upstream_latency_ms ") ||
                     line.starts_with("db_query_duration_ms ")))
            << line;
    }
}

TEST(AdminTest, HealthzFollowsTheUpstream) {
    temp_dir dir;
    auto app = std::make_unique<fake_upstream>();
    const auto port = app->port();
    auto proc = sidelight_process::run(dir, test_config(port));
    int status = 0;
    ASSERT_TRUE(eventually([&] {
        healthz(proc->admin_port(), status);
        return status == 200;
    }));
    auto body = healthz(proc->admin_port(), status);
    EXPECT_EQ(body.at("status").as_string(), "ok");
    EXPECT_EQ(body.at("version").as_string(), "0.1.0");
    EXPECT_TRUE(body.at("upstream").at("reachable").as_bool());
    EXPECT_GE(body.at("uptime_s").as_int64(), 0);

    app.reset();  // the app goes away
    ASSERT_TRUE(eventually([&] {
        healthz(proc->admin_port(), status);
        return status == 503;
    }));
    body = healthz(proc->admin_port(), status);
    EXPECT_EQ(body.at("status").as_string(), "unhealthy");
    EXPECT_FALSE(body.at("upstream").at("reachable").as_bool());
    EXPECT_NE(body.at("upstream").at("last_error").as_string(), "");
    EXPECT_EQ(http_get(proc->admin_port(), "/readyz")->status, 503);

    fake_upstream back(nullptr, port);  // and comes back on the same port
    ASSERT_TRUE(eventually([&] {
        healthz(proc->admin_port(), status);
        return status == 200;
    }));
    EXPECT_EQ(http_get(proc->admin_port(), "/readyz")->status, 200);
}

TEST(AdminTest, HealthPathMustAnswer2xx) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        const bool health = m.start_line.starts_with("GET /health ");
        return fake_reply{simple_response(health ? 500 : 200, "x")};
    });
    auto proc = sidelight_process::run(
        dir,
        "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n"
        "upstream:\n  address: 127.0.0.1:" +
            std::to_string(app.port()) +
            "\nhealth:\n  interval: 100ms\n  timeout: 200ms\n  path: /health\n");
    ASSERT_TRUE(eventually([&] {
        int status = 0;
        auto body = healthz(proc->admin_port(), status);
        return status == 503 && body.at("upstream").at("last_error").as_string() == "status 500";
    }));
}

TEST(AdminTest, LivezReadyzAndUnknownPaths) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    EXPECT_EQ(http_get(proc->admin_port(), "/livez")->status, 200);
    ASSERT_TRUE(eventually([&] { return http_get(proc->admin_port(), "/readyz")->status == 200; }));
    EXPECT_EQ(http_get(proc->admin_port(), "/nope")->status, 404);
    auto c = connection::connect(proc->admin_port());
    c.send("DELETE /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(c.read_message(true)->status, 405);
}

TEST(AdminTest, MetricsExposeProcessAndConnectionFamiliesAndPassPromtool) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    auto held = connection::connect(proc->proxy_port());  // one open client connection
    held.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(held.read_message(true));
    auto res = http_get(proc->admin_port(), "/metrics");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    const auto& text = res->body;
    for (const char* family :
         {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
          "process_max_fds ", "process_start_time_seconds ", "sidelight_build_info{",
          "active_connections{type=\"client\"} 1", "active_connections{type=\"upstream\"} 1"}) {
        EXPECT_NE(text.find(family), std::string::npos) << family << "\n" << text;
    }
    expect_promtool_accepts(dir, text);
}

// Label injection: in `unmatched: normalize` mode route labels are built from client paths.
// Hostile bytes (quotes, backslashes, encoded newlines and braces, bytes that are not UTF-8)
// must never reach a label: those paths count as `unmatched`, and the exposition still parses.
TEST(AdminTest, HostilePathsCannotInjectLabels) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir, test_config(app.port(), "routes:\n  unmatched: normalize\n  max_routes: 50\n"));
    const std::vector<std::string> hostile = {
        "/a\"b/1",         "/c%22d/2",          "/line%0Abreak/3", "/back%5Cslash/4",
        "/brace%7Bx%7D/5", "/nul%00byte/6",     "/bad%FFutf8/7",   "/sp%20ace/8",
        "/x%2Fencoded/9",  "/ok\"} 1\nfake{/10"};
    for (const auto& path : hostile) {  // each on its own connection: some are refused (400)
        auto one = connection::connect(proc->proxy_port());
        one.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
        auto res = one.read_message(true);
        ASSERT_TRUE(res) << path;
        EXPECT_TRUE(res->status == 200 || res->status == 400) << path << " " << res->status;
    }
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /plain/11 HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(c.read_message(true));
    std::string text;
    ASSERT_TRUE(eventually([&] {
        text = http_get(proc->admin_port(), "/metrics")->body;
        return text.find("route=\"/plain/{id}\"") != std::string::npos;
    })) << text;
    for (const char* needle :
         {"a\\\"b", "c\\\"d", "/line", "/back", "/brace", "/nul", "/bad", "/sp", "/x", "fake{"}) {
        EXPECT_EQ(text.find(needle), std::string::npos) << needle << "\n" << text;
    }
    expect_promtool_accepts(dir, text);
}

}  // namespace
}  // namespace sidelight::test
