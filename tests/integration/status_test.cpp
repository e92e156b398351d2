// The status page on the admin port: /status.json after traffic (exact counts in the 5-minute
// window, plausible quantiles, error rates), the security events only with the admin token,
// secrets never shown, the page self-contained, and `admin.status: false` turning it all off.

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

namespace json = boost::json;

const std::string token = "t0ken-Never-Shown-7f3a";

// test_config with `admin_extra` (indented lines) folded into its admin section.
std::string config(std::uint16_t upstream_port, const std::string& extra,
                   const std::string& admin_extra) {
    auto yaml = test_config(upstream_port, extra);
    const std::string admin = "admin:\n  listen: 127.0.0.1:0\n";
    yaml.insert(yaml.find(admin) + admin.size(), admin_extra);
    return yaml;
}

const std::string routes_yaml =
    "routes:\n  - GET /api/items/{id}\n  - POST /api/orders\naudit:\n  store:\n    path: "
    "audit.db\n  batch_interval: 5ms\n";

json::object status_json(std::uint16_t admin_port, const std::string& headers = "") {
    auto res = http_get(admin_port, "/status.json", headers);
    if (!res || res->status != 200) return {};
    return json::parse(res->body).as_object();
}

const json::object* find_route(const json::object& status, const std::string& method,
                               const std::string& route) {
    for (const auto& r : status.at("routes").as_array()) {
        const auto& o = r.as_object();
        if (o.at("method").as_string() == method && o.at("route").as_string() == route) return &o;
    }
    return nullptr;
}

// The requests of one route in its 5-minute window; -1 when the route is not listed.
std::int64_t requests_of(const json::object& status, const std::string& method,
                         const std::string& route) {
    const auto* r = status.empty() ? nullptr : find_route(status, method, route);
    return r ? r->at("last_5m").at("requests").to_number<std::int64_t>() : -1;
}

// /status.json once `method route` shows `count` requests: a response reaches the client just
// before the proxy records the request, so the tests wait for the count, then check it exactly.
json::object status_with(std::uint16_t admin_port, const std::string& method,
                         const std::string& route, std::int64_t count) {
    json::object status;
    eventually([&] {
        status = status_json(admin_port);
        return requests_of(status, method, route) >= count;
    });
    return status;
}

void send_post(std::uint16_t port, const std::string& target) {
    auto c = connection::connect(port);
    c.send(json_request("POST", target, "{}"));
    ASSERT_TRUE(c.read_message(true));
}

TEST(StatusTest, RoutesShowTheTrafficOfTheLastMinutes) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        const bool order = m.start_line.starts_with("POST");
        return fake_reply{simple_response(order ? 503 : 200, "ok")};
    });
    auto proc = sidelight_process::run(dir, config(app.port(), routes_yaml, ""));
    for (int i = 0; i < 7; ++i) {
        auto res = http_get(proc->proxy_port(), "/api/items/" + std::to_string(i));
        ASSERT_TRUE(res);
        ASSERT_EQ(res->status, 200);
    }
    for (int i = 0; i < 3; ++i) send_post(proc->proxy_port(), "/api/orders");

    ASSERT_EQ(requests_of(status_with(proc->admin_port(), "POST", "/api/orders", 3), "POST",
                          "/api/orders"),
              3);
    auto status = status_with(proc->admin_port(), "GET", "/api/items/{id}", 7);
    ASSERT_FALSE(status.empty());
    EXPECT_EQ(status.at("build").at("version").as_string(), "0.1.0");
    EXPECT_GE(status.at("build").at("uptime_s").as_int64(), 0);
    EXPECT_TRUE(status.at("health").as_object().contains("upstream"));
    EXPECT_TRUE(status.at("health").at("audit").as_object().contains("store"));
    EXPECT_EQ(status.at("step_s").as_int64(), 5);
    // The request counts are exact (the newest edge of a window is read when asked, not at the
    // last 5 s sample).
    const auto* items = find_route(status, "GET", "/api/items/{id}");
    ASSERT_NE(items, nullptr) << json::serialize(status);
    for (const char* w : {"last_1m", "last_5m"}) {
        const auto& win = items->at(w).as_object();
        EXPECT_EQ(win.at("requests").to_number<std::int64_t>(), 7) << w;
        EXPECT_GT(win.at("rate").as_double(), 0) << w;
        const double p50 = win.at("p50").as_double(), p95 = win.at("p95").as_double(),
                     p99 = win.at("p99").as_double();
        EXPECT_GT(p50, 0) << w;
        EXPECT_LE(p50, p95) << w;
        EXPECT_LE(p95, p99) << w;
        EXPECT_LT(p99, 1000) << w;  // a local fake app answers in well under a second
        EXPECT_EQ(win.at("error_rate").as_double(), 0) << w;
    }
    EXPECT_FALSE(items->at("sparkline").as_array().empty());
    const auto* orders = find_route(status, "POST", "/api/orders");
    ASSERT_NE(orders, nullptr);
    EXPECT_EQ(orders->at("last_5m").at("requests").to_number<std::int64_t>(), 3);
    EXPECT_EQ(orders->at("last_5m").at("error_rate").as_double(), 1.0);

    // More traffic shows at once.
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(http_get(proc->proxy_port(), "/api/items/x"));
    EXPECT_EQ(requests_of(status_with(proc->admin_port(), "GET", "/api/items/{id}", 12), "GET",
                          "/api/items/{id}"),
              12);
}

// A reload that changes the buckets replaces the traffic families: the windows count from 0 with
// the new ones, as Prometheus reads a counter reset, and the config shown is the new one.
TEST(StatusTest, AReloadThatReplacesTheFamiliesCountsFromZero) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, config(app.port(), routes_yaml, ""));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(http_get(proc->proxy_port(), "/api/items/1"));
    const auto route_requests = [&](std::int64_t expected) {
        return requests_of(status_with(proc->admin_port(), "GET", "/api/items/{id}", expected),
                           "GET", "/api/items/{id}");
    };
    EXPECT_EQ(route_requests(5), 5);
    dir.write("sidelight.yaml",
              config(app.port(), routes_yaml + "metrics:\n  buckets: [1, 2, 3000]\n", ""));
    proc->signal(SIGHUP);
    ASSERT_TRUE(proc->wait_for_log("reload: ok"));
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(http_get(proc->proxy_port(), "/api/items/2"));
    EXPECT_EQ(route_requests(2), 2);
    const auto status = status_json(proc->admin_port());
    EXPECT_NE(std::string(status.at("config").as_string()).find("buckets: [1, 2, 3000]"),
              std::string::npos)
        << status.at("config").as_string();
    const double p99 =
        find_route(status, "GET", "/api/items/{id}")->at("last_1m").at("p99").as_double();
    EXPECT_GT(p99, 0);
    EXPECT_LE(p99, 3000);
}

// A reload applies what it can at once (routes, rules, metrics, the log level) and names the
// settings that changed but take a restart, in the log and above the config the page shows.
TEST(StatusTest, AReloadNamesTheSettingsThatWaitForARestartAndAppliesTheLogLevel) {
    temp_dir dir;
    fake_upstream app;
    // Without --log-level (which the tests' run() passes, and which a reload leaves alone).
    auto proc = std::make_unique<sidelight_process>(std::vector<std::string>{
        "run", "--config", dir.write("sidelight.yaml", config(app.port(), routes_yaml, ""))});
    ASSERT_TRUE(proc->wait_started()) << proc->stderr_text();
    const auto bad_request = [&] {
        auto c = connection::connect(proc->proxy_port());
        c.send("GARBAGE\r\n\r\n");
        c.read_all(2s);
    };
    bad_request();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(proc->stderr_text().find("event=bad_request"), std::string::npos)
        << proc->stderr_text();  // info: not logged
    dir.write("sidelight.yaml",
              config(app.port(),
                     routes_yaml + "  queue_size: 5000\naccess_log: true\nlog_level: debug\n", ""));
    proc->signal(SIGHUP);
    ASSERT_TRUE(proc->wait_for_log("reload: ok"));
    const std::string later =
        "audit queue_size, batch_max, batch_interval and strict_timeout, access_log";
    EXPECT_NE(proc->stderr_text().find(
                  "reload: these settings changed and take effect at restart: " + later),
              std::string::npos)
        << proc->stderr_text();
    const auto status = status_json(proc->admin_port());
    EXPECT_EQ(std::string(status.at("config").as_string())
                  .rfind("# changed by the last reload, in force after a restart: " + later, 0),
              0u)
        << status.at("config").as_string();
    bad_request();  // logged at debug: the new level is in force
    EXPECT_TRUE(proc->wait_for_log("event=bad_request"));
}

// Where a setting is written is no setting: a reload of the same file with a line added at the
// top (every position below it moves) names nothing to restart for.
TEST(StatusTest, AReloadThatOnlyMovesSettingsNamesNothingToRestartFor) {
    temp_dir dir;
    fake_upstream app;
    const auto yaml = config(app.port(),
                             "routes:\n  - GET /api/items/{id}\naudit:\n  store:\n    type: "
                             "sqlite\n    path: audit.db\ndatabases:\n  - name: main\n    listen: "
                             "127.0.0.1:0\n    upstream: {address: 127.0.0.1:1}\n    audit:\n"
                             "      - {name: deletes, match: {operations: [delete]}}\n",
                             "");
    auto proc = sidelight_process::run(dir, yaml);
    dir.write("sidelight.yaml", "# a comment above everything\n" + yaml);
    proc->signal(SIGHUP);
    ASSERT_TRUE(proc->wait_for_log("reload: ok")) << proc->stderr_text();
    EXPECT_EQ(proc->stderr_text().find("take effect at restart"), std::string::npos)
        << proc->stderr_text();
}

TEST(StatusTest, SecurityEventsOnlyWithTheToken) {
    temp_dir dir;
    fake_upstream app;
    auto proc =
        sidelight_process::run(dir, config(app.port(), routes_yaml, "  token: " + token + "\n"));
    const std::string auth = "Authorization: Bearer " + token + "\r\n";
    auto c = connection::connect(proc->admin_port());
    c.send(json_request("POST", "/v1/security",
                        R"([{"event_type":"LOGIN_FAILED","user_id":"u1","success":false},)"
                        R"({"event_type":"ACCOUNT_LOCKED","user_id":"u1"}])",
                        auth));
    const auto posted = c.read_message(true);
    ASSERT_TRUE(posted);
    ASSERT_EQ(posted->status, 201) << posted->body;

    for (const auto& [headers, note] : {std::pair<std::string, std::string>{"", "token required"},
                                        {"Authorization: Bearer wrong\r\n", "wrong token"}}) {
        const auto res = http_get(proc->admin_port(), "/status.json", headers);
        ASSERT_TRUE(res);
        ASSERT_EQ(res->status, 200);
        const auto body = json::parse(res->body).as_object();
        EXPECT_TRUE(body.at("security_events").is_null());
        EXPECT_EQ(body.at("security_events_note").as_string(), note);
    }
    const auto res = http_get(proc->admin_port(), "/status.json", auth);
    ASSERT_TRUE(res);
    const auto body = json::parse(res->body).as_object();
    const auto& events = body.at("security_events").as_array();
    ASSERT_EQ(events.size(), 2u) << res->body;
    EXPECT_EQ(events[0].at("event_type").as_string(), "ACCOUNT_LOCKED");  // newest first
    EXPECT_EQ(events[1].at("event_type").as_string(), "LOGIN_FAILED");
    EXPECT_FALSE(body.contains("security_events_note"));
}

// The admin token and a DSN password never leave the process, whoever asks.
TEST(StatusTest, SecretsNeverShown) {
    temp_dir dir;
    fake_upstream app;
    // A Postgres store nobody listens for (the spool takes the events): its DSN has a password,
    // and reading the events fails (the note says why, without the DSN).
    const dead_port pg;
    const auto pg_port = pg.port();
    const std::string password = "Pg-Passw0rd-Never-Shown";
    // A password may not be written in the file: it comes from the environment, as it should.
    const std::string dsn = "host=127.0.0.1 port=" + std::to_string(pg_port) +
                            " user=app password=" + password + " dbname=audit connect_timeout=1";
    ::setenv("SIDELIGHT_STATUS_TEST_DSN", dsn.c_str(), 1);
    const std::string extra =
        "routes:\n  - GET /api/items/{id}\naudit:\n  store:\n    type: postgres\n    dsn: "
        "${SIDELIGHT_STATUS_TEST_DSN}\n    spool: {path: spool.db}\n";
    auto proc = sidelight_process::run(dir, config(app.port(), extra, "  token: " + token + "\n"));
    for (const std::string& headers : std::vector<std::string>{
             "", "Authorization: Bearer wrong\r\n", "Authorization: Bearer " + token + "\r\n"}) {
        const auto res = http_get(proc->admin_port(), "/status.json", headers);
        ASSERT_TRUE(res);
        ASSERT_EQ(res->status, 200);
        EXPECT_EQ(res->body.find(token), std::string::npos) << headers;
        EXPECT_EQ(res->body.find(password), std::string::npos) << headers;
        const auto body = json::parse(res->body).as_object();
        // The config in force is there, its secrets redacted.
        const auto text = std::string(body.at("config").as_string());
        EXPECT_NE(text.find("token: <redacted>"), std::string::npos) << text;
        EXPECT_NE(text.find("password=***"), std::string::npos) << text;
        EXPECT_NE(text.find("status: true"), std::string::npos) << text;
    }
    const auto with_token = json::parse(http_get(proc->admin_port(), "/status.json",
                                                 "Authorization: Bearer " + token + "\r\n")
                                            ->body)
                                .as_object();
    EXPECT_TRUE(with_token.at("security_events").is_null());
    EXPECT_TRUE(with_token.at("security_events_note").as_string().starts_with("audit store: "));
    ::unsetenv("SIDELIGHT_STATUS_TEST_DSN");
}

TEST(StatusTest, ThePageIsSelfContained) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    for (const char* path : {"/", "/status"}) {
        const auto res = http_get(proc->admin_port(), path);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200) << path;
        EXPECT_EQ(res->header("Content-Type"), "text/html; charset=utf-8");
        EXPECT_NE(res->header("Content-Security-Policy").find("default-src 'none'"),
                  std::string::npos);
        EXPECT_NE(res->body.find("<title>sidelight status</title>"), std::string::npos);
        // No URL to fetch anything from: the one http:// is the SVG namespace, a name.
        std::string rest = res->body;
        const std::string svg_ns = "http://www.w3.org/2000/svg";
        for (auto at = rest.find(svg_ns); at != std::string::npos; at = rest.find(svg_ns))
            rest.erase(at, svg_ns.size());
        EXPECT_EQ(rest.find("http://"), std::string::npos);
        EXPECT_EQ(rest.find("https://"), std::string::npos);
        EXPECT_EQ(rest.find("//cdn"), std::string::npos);
        EXPECT_EQ(rest.find(" src="), std::string::npos);
    }
    auto c = connection::connect(proc->admin_port());
    c.send(json_request("POST", "/status.json", "{}"));
    const auto post = c.read_message(true);
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 405);
}

TEST(StatusTest, OffMeansNotFound) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, config(app.port(), "", "  status: false\n"));
    for (const char* path : {"/", "/status", "/status.json"}) {
        const auto res = http_get(proc->admin_port(), path);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 404) << path;
    }
    const auto metrics = http_get(proc->admin_port(), "/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->status, 200);
}

}  // namespace
}  // namespace sidelight::test
