// Route templates and traffic metrics, asserted on /metrics after real traffic.

#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

const std::string routes_yaml =
    "routes:\n"
    "  entries:\n"
    "    - GET /api/products/{id}\n"
    "    - PUT /api/products/{id}\n"
    "    - /api/orders/:order/items/{*rest}\n";

// Requests are recorded after their response is written, so a test that has read a response
// waits until the count of recorded requests reaches what it sent.
double recorded(const std::string& text, const std::string& prefix = "api_requests_total{") {
    double sum = 0;
    std::size_t pos = 0;
    while ((pos = text.find("\n" + prefix, pos)) != std::string::npos) {
        pos = text.find("} ", pos) + 2;
        sum += std::stod(text.substr(pos));
    }
    return sum;
}

// A scrape once `done(text)` holds. One request touches several families one after the other
// and a scrape reads them family by family: a test that waited for one must also wait for each
// other value it asserts on.
template <typename Done>
std::string scrape_until(const sidelight_process& p, Done done) {
    std::string text;
    eventually([&] {
        text = scrape_metrics(p.admin_port());
        return done(text);
    });
    return text;
}

std::string scrape_after(const sidelight_process& p, double requests,
                         const std::string& prefix = "api_requests_total{") {
    return scrape_until(p, [&](const std::string& t) { return recorded(t, prefix) >= requests; });
}

std::string requests_series(const std::string& method, const std::string& route, int status) {
    return "api_requests_total{method=\"" + method + "\",route=\"" + route + "\",status_code=\"" +
           std::to_string(status) + "\"}";
}

void get_many(std::uint16_t port, const std::vector<std::string>& paths) {
    auto c = connection::connect(port);
    for (const auto& path : paths) {
        c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
        ASSERT_TRUE(c.read_message(true)) << path;
    }
}

TEST(MetricsTest, DistinctIdsShareOneSeries) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port(), routes_yaml));
    std::vector<std::string> paths;
    for (int i = 0; i < 500; ++i) paths.push_back("/api/products/" + std::to_string(i) + "?q=1");
    get_many(proc->proxy_port(), paths);
    const std::string upstream_count =
        "api_upstream_latency_ms_count{method=\"GET\",route=\"/api/products/{id}\"}";
    const auto text = scrape_until(*proc, [&](const std::string& t) {
        return recorded(t) >= 500 && sample_value(t, upstream_count) >= 500;
    });
    EXPECT_EQ(sample_value(text, requests_series("GET", "/api/products/{id}", 200)), 500) << text;
    EXPECT_EQ(sample_count(text, "api_requests_total{"), 1u) << text;
    EXPECT_EQ(sample_value(text,
                           "api_latency_ms_count{method=\"GET\",route=\"/api/products/{id}"
                           "\",status_code=\"200\"}"),
              500);
    EXPECT_EQ(sample_value(text, upstream_count), 500);
    EXPECT_EQ(sample_value(text, "sidelight_routes_configured"), 3);
    EXPECT_EQ(sample_value(text, "sidelight_unmatched_requests_total"), 0);
    EXPECT_EQ(text.find("/api/products/1"), std::string::npos);  // never a raw path
}

TEST(MetricsTest, UnknownPathsMethodsAndCatchAll) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port(), routes_yaml));
    get_many(proc->proxy_port(), {"/nope/1", "/nope/2", "/api/orders/9/items/a/b/c",
                                  "/api/products/%34%32", "/api/x/../products/5"});
    auto c = connection::connect(proc->proxy_port());
    c.send("BREW /api/products/1 HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(c.read_message(true));
    // HEAD to a route listed for GET only: that route, with its own method label.
    auto h = connection::connect(proc->proxy_port());
    h.send("HEAD /api/products/3 HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(h.read_message(true, true));
    // The unmatched counter is counted after the request, and scraped before it.
    const auto text = scrape_until(*proc, [](const std::string& t) {
        return recorded(t) >= 7 && sample_value(t, "sidelight_unmatched_requests_total") >= 3;
    });
    EXPECT_EQ(sample_value(text, requests_series("HEAD", "/api/products/{id}", 200)), 1) << text;
    EXPECT_EQ(sample_value(text, requests_series("GET", "unmatched", 200)), 2) << text;
    EXPECT_EQ(sample_value(text, requests_series("GET", "/api/orders/{order}/items/{*rest}", 200)),
              1)
        << text;
    EXPECT_EQ(sample_value(text, requests_series("GET", "/api/products/{id}", 200)), 2) << text;
    EXPECT_EQ(sample_value(text, requests_series("_OTHER", "unmatched", 200)), 1) << text;
    EXPECT_EQ(sample_value(text, "sidelight_unmatched_requests_total"), 3);
    EXPECT_EQ(text.find("BREW"), std::string::npos);
    EXPECT_EQ(text.find("nope"), std::string::npos);
}

TEST(MetricsTest, NormalizeModeFoldsIdsUnderACap) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir, test_config(app.port(), "routes:\n  unmatched: normalize\n  max_routes: 2\n"));
    get_many(proc->proxy_port(),
             {"/users/123", "/users/456", "/users/3f2b8c1e-9d4a-4b6e-8f1a-2c3d4e5f6a7b/orders",
              "/other/1/x", "/third/9"});
    const auto text = scrape_after(*proc, 5);
    EXPECT_EQ(sample_value(text, requests_series("GET", "/users/{id}", 200)), 2) << text;
    EXPECT_EQ(sample_value(text, requests_series("GET", "/users/{id}/orders", 200)), 1) << text;
    // Beyond max_routes templates, everything else is `unmatched`.
    EXPECT_EQ(sample_value(text, requests_series("GET", "unmatched", 200)), 2) << text;
}

TEST(MetricsTest, ProxyErrorsGetTheirErrorType) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        if (m.start_line.starts_with("GET /api/products/slow"))
            return fake_reply{simple_response(200, "late"), false, 1500ms};
        if (m.start_line.starts_with("GET /api/products/404"))
            return fake_reply{simple_response(404, "no")};
        return fake_reply{simple_response(500, "boom")};
    });
    auto yaml = test_config(app.port(), routes_yaml);
    yaml.replace(yaml.find("response_timeout: 2s"), 20, "response_timeout: 300ms");
    auto proc = sidelight_process::run(dir, yaml);
    get_many(proc->proxy_port(), {"/api/products/slow", "/api/products/404", "/api/products/1"});
    {  // a client that goes away in the middle of its request body
        auto c = connection::connect(proc->proxy_port());
        c.send("PUT /api/products/7 HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc");
    }
    const auto err = [](const std::string& method, const std::string& type) {
        return "api_error_total{error_type=\"" + type + "\",method=\"" + method +
               "\",route=\"/api/products/{id}\"}";
    };
    // Each request is recorded after its answer, by whichever worker served it: wait for all.
    std::string text;
    ASSERT_TRUE(eventually([&] {
        text = scrape_metrics(proc->admin_port());
        return sample_value(text, err("PUT", "client_abort")) == 1 &&
               sample_value(text, err("GET", "upstream_timeout")) == 1 &&
               sample_value(text, err("GET", "client_error")) == 1 &&
               sample_value(text, err("GET", "server_error")) == 1 &&
               sample_value(text, requests_series("GET", "/api/products/{id}", 504)) == 1 &&
               sample_value(text, requests_series("PUT", "/api/products/{id}", 499)) == 1;
    })) << text;
    EXPECT_EQ(sample_value(text, err("GET", "upstream_timeout")), 1) << text;
    EXPECT_EQ(sample_value(text, err("GET", "client_error")), 1) << text;
    EXPECT_EQ(sample_value(text, err("GET", "server_error")), 1) << text;
    EXPECT_EQ(sample_value(text, requests_series("GET", "/api/products/{id}", 504)), 1);
    EXPECT_EQ(sample_value(text, requests_series("PUT", "/api/products/{id}", 499)), 1);
    app.stop();  // and now the app is gone altogether
    get_many(proc->proxy_port(), {"/api/products/2"});
    text = scrape_until(*proc, [&](const std::string& t) {
        return recorded(t) >= 5 && sample_value(t, err("GET", "upstream_connect")) >= 1;
    });
    EXPECT_EQ(sample_value(text, err("GET", "upstream_connect")), 1) << text;
    EXPECT_EQ(sample_value(text, requests_series("GET", "/api/products/{id}", 502)), 1);
}

TEST(MetricsTest, ConstantLabelsAndPrefixAndBuckets) {
    temp_dir dir;
    fake_upstream app;
    ::setenv("SIDELIGHT_TEST_POD", "pod-7", 1);
    auto proc = sidelight_process::run(
        dir, test_config(app.port(),
                         "metrics:\n  prefix: shop_\n  buckets: [1, 2.5, 1000]\n"
                         "  const_labels:\n    pod: ${SIDELIGHT_TEST_POD}\n"));
    get_many(proc->proxy_port(), {"/a"});
    const auto text = scrape_after(*proc, 1, "shop_api_requests_total{");
    // prometheus-cpp writes the constant labels first, then the series' own.
    EXPECT_EQ(sample_value(text,
                           "shop_api_requests_total{pod=\"pod-7\",method=\"GET\","
                           "route=\"unmatched\",status_code=\"200\"}"),
              1)
        << text;
    EXPECT_NE(text.find("shop_api_latency_ms_bucket{pod=\"pod-7\",method=\"GET\",route=\"unmatched"
                        "\",status_code=\"200\",le=\"2.5\"}"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find("\napi_requests_total"), std::string::npos);
    EXPECT_NE(text.find("shop_active_connections{type=\"client\",pod=\"pod-7\"}"),
              std::string::npos)
        << text;
    // "every series": sidelight_*, db_query_duration_ms and process_* carry them too.
    std::istringstream lines(text);
    std::string line;
    int samples = 0;
    while (std::getline(lines, line)) {
        if (line.empty() || line.starts_with('#')) continue;
        ++samples;
        EXPECT_NE(line.find("pod=\"pod-7\""), std::string::npos) << line;
    }
    EXPECT_GT(samples, 20);
    for (const char* family : {"sidelight_build_info{", "sidelight_config_reloads_total{",
                               "sidelight_routes_configured{", "process_open_fds{"}) {
        EXPECT_NE(text.find(family), std::string::npos) << family << "\n" << text;
    }
}

// A reload that changes metrics.const_labels reaches the families built once at start.
TEST(MetricsTest, ReloadedConstantLabelsReachEveryFamily) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir, test_config(app.port(), "metrics:\n  const_labels:\n    zone: a\n"));
    dir.write("sidelight.yaml",
              test_config(app.port(), "metrics:\n  const_labels:\n    zone: b\n"));
    proc->signal(SIGHUP);
    ASSERT_TRUE(proc->wait_for_log("reload: ok"));
    const auto text = scrape_metrics(proc->admin_port());
    EXPECT_NE(text.find("sidelight_build_info{version=\"0.1.0\",zone=\"b\"} 1"), std::string::npos)
        << text;
    EXPECT_NE(text.find("sidelight_config_reloads_total{result=\"success\",zone=\"b\"} 1"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find("zone=\"a\""), std::string::npos) << text;
}

TEST(MetricsTest, SighupReloadChangesTemplatesWithoutDroppingKeepAlive) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port(), routes_yaml));
    auto c = connection::connect(proc->proxy_port());
    const auto get = [&](const std::string& path) {
        c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
        auto res = c.read_message(true);
        return res ? res->status : 0;
    };
    ASSERT_EQ(get("/api/v2/products/1"), 200);
    dir.write("sidelight.yaml",
              test_config(app.port(), "routes:\n  - GET /api/v2/products/{sku}\n"));
    proc->signal(SIGHUP);
    ASSERT_TRUE(proc->wait_for_log("reload: ok routes=1"));
    ASSERT_EQ(get("/api/v2/products/2"), 200);  // same keep-alive connection
    auto text = scrape_after(*proc, 2);
    EXPECT_EQ(sample_value(text, requests_series("GET", "unmatched", 200)), 1) << text;
    EXPECT_EQ(sample_value(text, requests_series("GET", "/api/v2/products/{sku}", 200)), 1);
    EXPECT_EQ(sample_value(text, "sidelight_config_reloads_total{result=\"success\"}"), 1);
    EXPECT_EQ(app.request_connections(), 1u) << "one upstream connection, kept across the reload";

    // A broken file is rejected with its position, and the running table stays.
    dir.write("sidelight.yaml",
              test_config(app.port(), "routes:\n  - GET /a/{x}\n  - GET /a/{y}\n"));
    proc->signal(SIGHUP);
    ASSERT_TRUE(proc->wait_for_log("reload: rejected"));
    EXPECT_NE(proc->stderr_text().find("sidelight.yaml:18:5: routes.entries[1]: ambiguous route"),
              std::string::npos)
        << proc->stderr_text();
    ASSERT_EQ(get("/api/v2/products/3"), 200);
    text = scrape_after(*proc, 3);
    EXPECT_EQ(sample_value(text, requests_series("GET", "/api/v2/products/{sku}", 200)), 2);
    EXPECT_EQ(sample_value(text, "sidelight_config_reloads_total{result=\"error\"}"), 1);
}

TEST(MetricsTest, ConfigWatchFollowsASymlinkSwap) {
    temp_dir dir;
    fake_upstream app;
    // Kubernetes ConfigMap layout: sidelight.yaml -> ..data/sidelight.yaml, ..data -> ..v1
    std::filesystem::create_directory(dir.path() + "/..v1");
    std::filesystem::create_directory(dir.path() + "/..v2");
    dir.write("..v1/sidelight.yaml", test_config(app.port(), "config_watch: true\n"));
    dir.write("..v2/sidelight.yaml",
              test_config(app.port(), "config_watch: true\nroutes:\n  - GET /w/{id}\n"));
    std::filesystem::create_directory_symlink("..v1", dir.path() + "/..data");
    std::filesystem::create_symlink("..data/sidelight.yaml", dir.path() + "/sidelight.yaml");
    sidelight_process proc(
        {"run", "--config", dir.path() + "/sidelight.yaml", "--log-level", "debug"});
    ASSERT_TRUE(proc.wait_started());
    std::filesystem::create_directory_symlink("..v2", dir.path() + "/..data_tmp");
    std::filesystem::rename(dir.path() + "/..data_tmp", dir.path() + "/..data");
    ASSERT_TRUE(proc.wait_for_log("reload: ok routes=1", 5s)) << proc.stderr_text();
    get_many(proc.proxy_port(), {"/w/5"});
    EXPECT_EQ(sample_value(scrape_after(proc, 1), requests_series("GET", "/w/{id}", 200)), 1);
}

TEST(MetricsTest, RoutesCommandPrintsTableAndMatches) {
    temp_dir dir;
    const auto path = dir.write("r.yaml", "upstream:\n  address: 127.0.0.1:3000\n" + routes_yaml);
    sidelight_process table({"routes", "--config", path});
    EXPECT_EQ(table.wait_exit(), 0);
    const auto out = table.stdout_text();
    EXPECT_NE(out.find("/api/products/{id}"), std::string::npos) << out;
    EXPECT_NE(out.find("/api/orders/{order}/items/{*rest}"), std::string::npos) << out;
    sidelight_process one({"routes", "--config", path, "PUT", "/api/products/%34%32"});
    EXPECT_EQ(one.wait_exit(), 0);
    EXPECT_NE(one.stdout_text().find("-> PUT /api/products/{id} id=42"), std::string::npos)
        << one.stdout_text();
}

}  // namespace
}  // namespace sidelight::test
