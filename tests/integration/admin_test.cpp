// The admin port: health, readiness, liveness and the Prometheus exposition.

#include <gtest/gtest.h>

#include <atomic>
#include <set>
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

// promtool 2.42 (bookworm) parses the exposition (exit 1 on a format error) and lints it (exit 3
// on any finding). Its verdict on ours is exactly one finding per `_ms` family present, the unit
// suffix of the names DESIGN.md keeps for users' existing dashboards, and nothing else:
//   api_latency_ms metric names should not contain abbreviated units
// (likewise api_upstream_latency_ms, db_query_duration_ms and sidelight_store_query_duration_ms,
// once they have a series).
void expect_promtool_findings(const temp_dir& dir, const std::string& text) {
    const auto path = dir.write("metrics.txt", text);
    const auto cmd = "promtool check metrics < " + path + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out, line;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    const int status = ::pclose(p);
    std::set<std::string> expected;
    for (const char* family : {"api_latency_ms", "api_upstream_latency_ms", "db_query_duration_ms",
                               "sidelight_store_query_duration_ms"}) {
        if (text.find("# TYPE " + std::string(family) + " ") != std::string::npos)
            expected.insert(std::string(family) +
                            " metric names should not contain abbreviated units");
    }
    std::set<std::string> findings;
    std::istringstream lines(out);
    while (std::getline(lines, line))
        if (!line.empty()) findings.insert(line);
    ASSERT_TRUE(WIFEXITED(status)) << out;
    EXPECT_EQ(WEXITSTATUS(status), expected.empty() ? 0 : 3) << out;
    EXPECT_EQ(findings, expected) << out;
}

TEST(AdminTest, HealthzFollowsTheUpstream) {
    temp_dir dir;
    auto app = std::make_unique<fake_upstream>();
    const auto port = app->port();
    auto proc = sidelight_process::run(dir, test_config(port));
    // 200 comes before the first probe's verdict too (the upstream still "unknown"): wait for
    // "ok", which needs the probe.
    int status = 0;
    ASSERT_TRUE(eventually([&] {
        const auto b = healthz(proc->admin_port(), status);
        return status == 200 && b.contains("status") && b.at("status") == "ok";
    }));
    auto body = healthz(proc->admin_port(), status);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(body.at("status").as_string(), "ok");
    EXPECT_EQ(body.at("version").as_string(), "0.1.0");
    EXPECT_TRUE(body.at("upstream").at("reachable").as_bool());
    EXPECT_GE(body.at("uptime_s").as_int64(), 0);
    const auto up = [&] {
        return sample_value(scrape_metrics(proc->admin_port()), "sidelight_upstream_up");
    };
    EXPECT_EQ(up(), 1);

    app.reset();  // the app goes away
    ASSERT_TRUE(eventually([&] {
        healthz(proc->admin_port(), status);
        return status == 503;
    }));
    EXPECT_EQ(up(), 0);  // the same verdict as /healthz, as a metric
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

// The first probe runs at start; until it answers the upstream is unknown, not unhealthy:
// /healthz answers 200 "unknown" while traffic already flows, /readyz 503 until the app answered.
TEST(AdminTest, UpstreamIsUnknownUntilTheFirstProbeAnswers) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        const bool health = m.start_line.starts_with("GET /health ");
        return fake_reply{simple_response(200, "x"), false, health ? 3000ms : 0ms};
    });
    auto proc =
        sidelight_process::run(dir,
                               "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n"
                               "upstream:\n  address: 127.0.0.1:" +
                                   std::to_string(app.port()) +
                                   "\nhealth:\n  interval: 10s\n  timeout: 5s\n  path: /health\n");
    int status = 0;
    auto body = healthz(proc->admin_port(), status);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(body.at("status").as_string(), "unknown");
    EXPECT_EQ(body.at("upstream").at("state").as_string(), "unknown");
    EXPECT_FALSE(body.at("upstream").at("checked").as_bool());
    auto ready = http_get(proc->admin_port(), "/readyz");
    EXPECT_EQ(ready->status, 503);
    EXPECT_EQ(ready->body, "upstream not checked yet\n");
    EXPECT_EQ(http_get(proc->proxy_port(), "/api")->status, 200);  // traffic flows meanwhile

    ASSERT_TRUE(eventually([&] { return http_get(proc->admin_port(), "/readyz")->status == 200; }));
    body = healthz(proc->admin_port(), status);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(body.at("status").as_string(), "ok");
    EXPECT_EQ(body.at("upstream").at("state").as_string(), "reachable");
}

// health.unhealthy_threshold (default 3): one failed probe shows as last_error but leaves
// /readyz and /healthz at 200; only three in a row flip them.
TEST(AdminTest, OneFailedProbeDoesNotFlipReadiness) {
    temp_dir dir;
    std::atomic<int> failures_left{0};
    std::atomic<int> failed{0};
    fake_upstream app([&](const wire_message& m) {
        if (m.start_line.starts_with("GET /health ") && failures_left.load() > 0) {
            --failures_left;
            ++failed;
            return fake_reply{simple_response(500, "x")};
        }
        return fake_reply{simple_response(200, "x")};
    });
    auto proc =
        sidelight_process::run(dir,
                               "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n"
                               "upstream:\n  address: 127.0.0.1:" +
                                   std::to_string(app.port()) +
                                   "\nhealth:\n  interval: 50ms\n  timeout: 1s\n  path: /health\n");
    ASSERT_TRUE(eventually([&] { return http_get(proc->admin_port(), "/readyz")->status == 200; }));

    failures_left = 1;
    int status = 0;
    boost::json::object body;
    ASSERT_TRUE(eventually([&] {
        body = healthz(proc->admin_port(), status);
        return body.at("upstream").at("last_error").as_string() == "status 500";
    }));
    EXPECT_EQ(status, 200);
    EXPECT_EQ(body.at("status").as_string(), "ok");
    EXPECT_EQ(body.at("upstream").at("state").as_string(), "reachable");
    EXPECT_EQ(http_get(proc->admin_port(), "/readyz")->status, 200);

    // A good probe ends the run of failures, then three in a row flip it.
    ASSERT_TRUE(eventually([&] {
        return healthz(proc->admin_port(), status).at("upstream").at("last_error").as_string() ==
               "";
    }));
    failed = 0;
    failures_left = 1'000'000;
    ASSERT_TRUE(eventually([&] {
        body = healthz(proc->admin_port(), status);
        return status == 503;
    }));
    EXPECT_GE(failed.load(), 3);
    EXPECT_EQ(body.at("upstream").at("state").as_string(), "unreachable");
    EXPECT_EQ(http_get(proc->admin_port(), "/readyz")->status, 503);
}

// A 405 says which methods are allowed; a 401 of the event API says which scheme it wants.
TEST(AdminTest, RefusalsCarryAllowAndWwwAuthenticate) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir,
        "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n  token: t0k\n"
        "upstream:\n  address: 127.0.0.1:" +
            std::to_string(app.port()) + "\n");
    auto c = connection::connect(proc->admin_port());
    c.send("POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 405);
    EXPECT_EQ(res->header("Allow"), "GET, HEAD");

    res = http_get(proc->admin_port(), "/v1/events");
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(res->header("WWW-Authenticate"), "Bearer");
    res = http_get(proc->admin_port(), "/v1/events", "Authorization: Bearer wrong\r\n");
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(res->header("WWW-Authenticate"), "Bearer");

    auto api = connection::connect(proc->admin_port());
    api.send(json_request("POST", "/v1/events", "{}", "Authorization: Bearer t0k\r\n"));
    res = api.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 405);
    EXPECT_EQ(res->header("Allow"), "GET");
    api.send(json_request("GET", "/v1/audit", "", "Authorization: Bearer t0k\r\n"));
    res = api.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 405);
    EXPECT_EQ(res->header("Allow"), "POST");
    // A path the API does not have is 404 whatever the method; the scheme is case-insensitive.
    for (const char* path : {"/v1/audits", "/v1/events/", "/v1/../metrics"}) {
        api.send(json_request("GET", path, "", "Authorization: Bearer t0k\r\n"));
        res = api.read_message(true);
        ASSERT_TRUE(res) << path;
        EXPECT_EQ(res->status, 404) << path;
    }
    api.send(json_request("GET", "/v1/events", "", "Authorization: bearer t0k\r\n"));
    res = api.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
}

// HEAD gets the GET's headers and no body, so the next answer on the connection is read whole;
// a client that sends Expect: 100-continue gets the 100 and then the answer.
TEST(AdminTest, HeadHasNoBodyAndExpectContinueIsAnswered) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir,
        "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n  token: t0k\n"
        "audit:\n  store:\n    path: audit.db\n  batch_interval: 5ms\n"
        "upstream:\n  address: 127.0.0.1:" +
            std::to_string(app.port()) + "\n");
    auto c = connection::connect(proc->admin_port());
    c.send("HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\nGET /livez HTTP/1.1\r\nHost: a\r\n\r\n");
    const auto head = c.read_message(true, true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_GT(std::stoul(head->header("Content-Length")), 1000u);  // what GET would send
    EXPECT_TRUE(head->body.empty());
    const auto next = c.read_message(true);
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
    EXPECT_EQ(next->body, "ok\n");

    auto api = connection::connect(proc->admin_port());
    const std::string body = R"({"action":"A","entity_type":"t","entity_id":"1"})";
    api.send(
        "POST /v1/audit HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t0k\r\n"
        "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n");
    const auto go_on = api.read_message(true, false, 2s);
    ASSERT_TRUE(go_on);
    EXPECT_EQ(go_on->status, 100);
    api.send(body);
    const auto created = api.read_message(true);
    ASSERT_TRUE(created);
    EXPECT_EQ(created->status, 201) << created->body;
}

// At most 256 connections at once: the next is closed at accept, and once one goes a new one is
// served again (slow clients cannot pile up bodies without bound).
TEST(AdminTest, ConnectionsBeyondTheCapAreClosedAtAccept) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    std::vector<connection> held;
    for (int i = 0; i < 256; ++i) {
        held.push_back(connection::connect(proc->admin_port()));
        ASSERT_TRUE(held.back().valid()) << i;
    }
    ASSERT_FALSE(http_get(proc->admin_port(), "/livez").has_value());  // closed unanswered
    EXPECT_TRUE(proc->wait_for_log("admin: 256 connections open, closing new ones"));
    held.front().send("GET /livez HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    const auto first = held.front().read_message(true);
    ASSERT_TRUE(first);  // the ones held are served
    EXPECT_EQ(first->status, 200);
    held.erase(held.begin());
    EXPECT_TRUE(eventually([&] {
        const auto r = http_get(proc->admin_port(), "/livez");
        return r && r->status == 200;
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
    expect_promtool_findings(dir, text);
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
        text = scrape_metrics(proc->admin_port());
        return text.find("route=\"/plain/{id}\"") != std::string::npos;
    })) << text;
    for (const char* needle :
         {"a\\\"b", "c\\\"d", "/line", "/back", "/brace", "/nul", "/bad", "/sp", "/x", "fake{"}) {
        EXPECT_EQ(text.find(needle), std::string::npos) << needle << "\n" << text;
    }
    expect_promtool_findings(dir, text);
}

}  // namespace
}  // namespace sidelight::test
