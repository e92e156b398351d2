// Business metrics from the traffic (metrics.rules), through the real binary: the shop's
// orders, with exact counts and bucket counts on /metrics, the cardinality cap, a streamed
// download that a rule cannot make sidelight buffer, a reload that removes a rule's series,
// and the app-side POST /v1/metrics.

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"
#include "util/gzip.hpp"

namespace sidelight::test {
namespace {

const std::string shop_rules = R"(routes:
  - POST /api/orders
  - GET /download
metrics:
  rules:
    - name: orders_created_total
      type: counter
      help: Orders created, by platform and outcome
      match: {routes: [/api/orders], methods: [POST]}
      labels:
        platform: {from: "response:/platform", values: [web, ios, android], other: other}
        status: {from: status_class, map: {2xx: success, 4xx: rejected, 5xx: failed}}
    - name: order_value_usd
      type: histogram
      help: Order value in USD
      buckets: [10, 50, 100, 500, 1000, 5000, 10000]
      match: {routes: [/api/orders], methods: [POST], status: [2xx]}
      value: "response:/total"
      labels:
        platform: {from: "response:/platform", values: [web, ios, android], other: other}
    - name: download_bytes_total
      type: counter
      match: {routes: [/download]}
      value: "response:/size"
)";

// The shop: POST /api/orders answers with the status and fields the client asked for, as an
// order service would ({"status": 201, "platform": "web", "total": 123.45}); GET /download
// streams 20 MB.
fake_reply shop(const wire_message& req) {
    if (req.start_line.starts_with("GET /download")) {
        std::string big = "{\"size\":" + std::string(20 * 1024 * 1024, '1') + "}";
        return {simple_response(200, big, "Content-Type: application/json\r\n")};
    }
    const auto order = boost::json::parse(req.body).as_object();
    const int status = static_cast<int>(order.at("status").as_int64());
    boost::json::object out;
    if (status < 300) {
        out["id"] = 1;
        out["total"] = order.at("total");
        out["platform"] = order.at("platform");
    } else {
        out["error"] = "refused";
    }
    return {
        simple_response(status, boost::json::serialize(out), "Content-Type: application/json\r\n")};
}

std::string with_token(std::string yaml) {
    yaml.insert(yaml.find("admin:\n  listen: 127.0.0.1:0\n") + 29, "  token: s3cret-token\n");
    return yaml;
}

void order(connection& c, const std::string& platform, double total, int status) {
    boost::json::object o{{"platform", platform}, {"total", total}, {"status", status}};
    c.send(json_request("POST", "/api/orders", boost::json::serialize(o)));
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, status);
}

TEST(BusinessMetricsTest, ShopOrdersExactCountsAndBuckets) {
    temp_dir dir;
    fake_upstream app(shop);
    auto proc = sidelight_process::run(dir, test_config(app.port(), shop_rules));
    auto c = connection::connect(proc->proxy_port());
    for (int i = 0; i < 10; ++i) order(c, "web", 123.45, 201);
    for (int i = 0; i < 5; ++i) order(c, "ios", 20, 201);
    for (int i = 0; i < 3; ++i) order(c, "android", 700, 201);
    for (int i = 0; i < 2; ++i) order(c, "blackberry", 5, 201);
    for (int i = 0; i < 4; ++i) order(c, "web", 1, 422);
    for (int i = 0; i < 2; ++i) order(c, "web", 1, 500);
    order(c, "web", -20, 201);  // a refund's negative total: counted, not observed
    // A total that is not a number: counted as an order, not observed, and said why.
    c.send(
        json_request("POST", "/api/orders", R"({"platform":"web","total":"twelve","status":201})"));
    ASSERT_TRUE(c.read_message(true));

    // Recorded after each response is written: wait for the last request's mark. Its request
    // count and its order are counted before the mark but scraped before it: wait for them too.
    std::string text;
    ASSERT_TRUE(eventually([&] {
        text = scrape_metrics(proc->admin_port());
        return sample_value(
                   text,
                   R"(sidelight_metric_rule_skipped_total{reason="not_numeric",rule="order_value_usd"})") ==
                   1 &&
               sample_value(text, R"(orders_created_total{platform="web",status="success"})") ==
                   12 &&
               sample_value(
                   text,
                   R"(api_requests_total{method="POST",route="/api/orders",status_code="201"})") ==
                   22;
    })) << text;
    const auto value = [&](const std::string& series) { return sample_value(text, series); };
    EXPECT_EQ(value(R"(orders_created_total{platform="web",status="success"})"), 12);
    EXPECT_EQ(value(R"(orders_created_total{platform="ios",status="success"})"), 5);
    EXPECT_EQ(value(R"(orders_created_total{platform="android",status="success"})"), 3);
    EXPECT_EQ(value(R"(orders_created_total{platform="other",status="success"})"), 2);
    EXPECT_EQ(value(R"(orders_created_total{platform="other",status="rejected"})"), 4);
    EXPECT_EQ(sample_count(text, "orders_created_total{"), 6u) << text;
    EXPECT_NE(text.find("# HELP orders_created_total Orders created, by platform and outcome"),
              std::string::npos);
    EXPECT_NE(text.find("# TYPE order_value_usd histogram"), std::string::npos);

    EXPECT_EQ(value(R"(order_value_usd_bucket{platform="web",le="100"})"), 0);
    EXPECT_EQ(value(R"(order_value_usd_bucket{platform="web",le="500"})"), 10);
    EXPECT_EQ(value(R"(order_value_usd_count{platform="web"})"), 10);
    EXPECT_NEAR(value(R"(order_value_usd_sum{platform="web"})"), 1234.5, 1e-6);
    EXPECT_EQ(value(R"(order_value_usd_bucket{platform="ios",le="10"})"), 0);
    EXPECT_EQ(value(R"(order_value_usd_bucket{platform="ios",le="50"})"), 5);
    EXPECT_EQ(value(R"(order_value_usd_bucket{platform="android",le="500"})"), 0);
    EXPECT_EQ(value(R"(order_value_usd_bucket{platform="android",le="1000"})"), 3);
    EXPECT_EQ(value(R"(order_value_usd_bucket{platform="other",le="10"})"), 2);
    EXPECT_EQ(value(R"(order_value_usd_count{platform="other"})"), 2);
    EXPECT_EQ(
        value(
            R"(sidelight_metric_rule_skipped_total{reason="not_numeric",rule="order_value_usd"})"),
        1);
    // The traffic families keep their names and labels: no `listener` without egress.
    EXPECT_EQ(value(R"(api_requests_total{method="POST",route="/api/orders",status_code="201"})"),
              22);
    EXPECT_EQ(
        value(
            R"(sidelight_metric_rule_skipped_total{reason="negative_value",rule="order_value_usd"})"),
        1);
    EXPECT_EQ(text.find("listener="), std::string::npos);

    // promtool parses the exposition; any lint finding about the business families fails.
    const auto path = dir.write("metrics.txt", text);
    FILE* p = ::popen(("promtool check metrics < " + path + " 2>&1").c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    const int status = ::pclose(p);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_TRUE(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3) << out;
    for (const char* family : {"orders_created_total", "order_value_usd", "sidelight_metric_rule"})
        EXPECT_EQ(out.find(family), std::string::npos) << out;
}

// 10,000 distinct platform values add exactly one series: `other`.
TEST(BusinessMetricsTest, TenThousandPlatformsAddOneOtherSeries) {
    temp_dir dir;
    fake_upstream app(shop);
    auto proc = sidelight_process::run(dir, test_config(app.port(), shop_rules));
    auto c = connection::connect(proc->proxy_port());
    order(c, "web", 10, 201);
    ASSERT_TRUE(eventually([&] {
        return sample_count(scrape_metrics(proc->admin_port()), "orders_created_total{") == 1;
    }));
    for (int i = 0; i < 10000; ++i) order(c, "p" + std::to_string(i), 10, 201);
    std::string text;
    ASSERT_TRUE(eventually([&] {
        text = scrape_metrics(proc->admin_port());
        return sample_value(text, R"(orders_created_total{platform="other",status="success"})") ==
               10000;
    })) << text;
    EXPECT_EQ(sample_count(text, "orders_created_total{"), 2u);
    EXPECT_EQ(sample_count(text, "order_value_usd_count{"), 2u);
    EXPECT_EQ(text.find("platform=\"p1"), std::string::npos);
}

// A rule reading the body of a 20 MB download gets at most audit.max_body_bytes of it: the
// client gets every byte, the value past the cap is skipped as body_truncated, and sidelight's
// memory does not grow by the body.
TEST(BusinessMetricsTest, AStreamedDownloadIsNotBufferedForARule) {
    temp_dir dir;
    fake_upstream app(shop);
    auto proc = sidelight_process::run(dir, test_config(app.port(), shop_rules));
    const auto rss_before =
        sample_value(scrape_metrics(proc->admin_port()), "process_resident_memory_bytes");
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /download HTTP/1.1\r\nHost: a\r\n\r\n");
    auto res = c.read_message(true, false, 30s);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body.size(), 20u * 1024 * 1024 + 9);
    std::string text;
    ASSERT_TRUE(eventually([&] {
        text = scrape_metrics(proc->admin_port());
        return sample_value(
                   text,
                   R"(sidelight_metric_rule_skipped_total{reason="body_truncated",rule="download_bytes_total"})") ==
               1;
    })) << text;
    EXPECT_GT(rss_before, 0);
#ifdef __SANITIZE_ADDRESS__
    // ASan's shadow memory and quarantine count in the RSS: still well below the 20 MB body.
    constexpr double allowed = 16.0 * 1024 * 1024;
#else
    constexpr double allowed = 8.0 * 1024 * 1024;
#endif
    EXPECT_LT(sample_value(text, "process_resident_memory_bytes") - rss_before, allowed) << text;
}

// A metric rule never changes what the app gets: a request carrying the header it reads twice
// (a gateway appended one) is forwarded as it came, and counted by the first value. An audit
// rule reading the same header refuses such a request (tests/integration/audit_rules_test).
TEST(BusinessMetricsTest, AHeaderARuleReadsTwiceIsForwardedAndCountedByTheFirst) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, test_config(app.port(), R"(routes:
  - GET /api/items/{id}
metrics:
  rules:
    - name: tenant_reads_total
      type: counter
      match: {routes: ["/api/items/{id}"], methods: [GET]}
      labels:
        tenant: {from: "header:X-Tenant", values: [acme, globex], other: other}
)"));
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /api/items/1 HTTP/1.1\r\nHost: a\r\nX-Tenant: acme\r\nX-Tenant: globex\r\n\r\n");
    const auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    ASSERT_EQ(app.requests().size(), 1u);
    EXPECT_NE(app.requests()[0].message.raw_head.find("X-Tenant: globex"), std::string::npos)
        << app.requests()[0].message.raw_head;
    EXPECT_TRUE(eventually([&] {
        return sample_value(scrape_metrics(proc->admin_port()),
                            "tenant_reads_total{tenant=\"acme\"}") == 1;
    }));
}

// An app that gzips its answers (Express's compression, nginx): the rules read the JSON the app
// wrote, and the client gets the compressed bytes as they were.
TEST(BusinessMetricsTest, AGzippedAnswerIsReadAsTheJsonTheAppWrote) {
    temp_dir dir;
    const std::string body = R"({"id":1,"total":120.5,"platform":"ios"})";
    const std::string packed = util::gzip(body);
    fake_upstream app([&](const wire_message&) {
        return fake_reply{simple_response(
            201, packed, "Content-Type: application/json\r\nContent-Encoding: gzip\r\n")};
    });
    auto proc = sidelight_process::run(dir, test_config(app.port(), shop_rules));
    auto c = connection::connect(proc->proxy_port());
    c.send(json_request("POST", "/api/orders", "{}", "Accept-Encoding: gzip\r\n"));
    const auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 201);
    EXPECT_EQ(res->body, packed);
    std::string text;
    EXPECT_TRUE(eventually([&] {
        text = scrape_metrics(proc->admin_port());
        return sample_value(text, R"(orders_created_total{platform="ios",status="success"})") == 1;
    })) << text;
    EXPECT_EQ(sample_value(text, R"(order_value_usd_sum{platform="ios"})"), 120.5);
}

// A reload that drops a rule drops its series; an unchanged rule keeps its counts.
TEST(BusinessMetricsTest, ReloadRemovesARulesSeriesAndKeepsTheOthers) {
    temp_dir dir;
    fake_upstream app(shop);
    auto proc = sidelight_process::run(dir, test_config(app.port(), shop_rules));
    auto c = connection::connect(proc->proxy_port());
    for (int i = 0; i < 3; ++i) order(c, "ios", 70, 201);
    ASSERT_TRUE(eventually([&] {
        return sample_value(scrape_metrics(proc->admin_port()),
                            R"(order_value_usd_count{platform="ios"})") == 3;
    }));
    auto reduced = shop_rules;
    reduced.erase(reduced.find("    - name: order_value_usd"),
                  reduced.find("    - name: download_bytes_total") -
                      reduced.find("    - name: order_value_usd"));
    dir.write("sidelight.yaml", test_config(app.port(), reduced));
    proc->signal(SIGHUP);
    ASSERT_TRUE(proc->wait_for_log("reload: ok"));
    const auto text = scrape_metrics(proc->admin_port());
    EXPECT_EQ(text.find("order_value_usd"), std::string::npos) << text;
    EXPECT_EQ(sample_value(text, R"(orders_created_total{platform="ios",status="success"})"), 3);
    order(c, "ios", 70, 201);
    EXPECT_TRUE(eventually([&] {
        return sample_value(scrape_metrics(proc->admin_port()),
                            R"(orders_created_total{platform="ios",status="success"})") == 4;
    }));
}

TEST(BusinessMetricsTest, AppSideCounterApiTakesOnlyDeclaredMetrics) {
    temp_dir dir;
    fake_upstream app(shop);
    auto proc = sidelight_process::run(dir, with_token(test_config(app.port(), shop_rules)));
    const auto post = [&](const std::string& body, const std::string& token = "s3cret-token") {
        auto c = connection::connect(proc->admin_port());
        c.send(json_request("POST", "/v1/metrics", body,
                            token.empty() ? "" : "Authorization: Bearer " + token + "\r\n"));
        return c.read_message(true);
    };
    const std::string inc =
        R"({"name":"orders_created_total","labels":{"platform":"ios","status":"success"},"inc":2})";
    auto res = post(inc, "");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    res = post(inc, "wrong");
    EXPECT_EQ(res->status, 401);
    res = post(inc);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    res = post(R"([{"name":"order_value_usd","labels":{"platform":"web"},"observe":12.5},)"
               R"({"name":"order_value_usd","labels":{"platform":"web"},"observe":7}])");
    EXPECT_EQ(res->status, 200) << res->body;
    const auto text = scrape_metrics(proc->admin_port());
    EXPECT_EQ(sample_value(text, R"(orders_created_total{platform="ios",status="success"})"), 2);
    EXPECT_EQ(sample_value(text, R"(order_value_usd_bucket{platform="web",le="10"})"), 1);
    EXPECT_EQ(sample_value(text, R"(order_value_usd_count{platform="web"})"), 2);

    const std::vector<std::pair<std::string, std::string>> refused = {
        {R"({"name":"emails_sent_total","inc":1})",
         "no metric rule is named \"emails_sent_total\" in the config"},
        {R"({"name":"orders_created_total","labels":{"platform":"nokia","status":"success"}})",
         "label \"platform\" cannot be \"nokia\" (its values: web, ios, android, other)"},
        {R"({"name":"orders_created_total","labels":{"platform":"web","status":"success"},"inc":-1})",
         "a counter only goes up: \"inc\" must be >= 0"},
        {R"({"name":"orders_created_total","labels":{"platform":"web","status":"success"},"inc":1e308})",
         "the value must be a number within ±1e15"},
        {R"({"name":"order_value_usd","labels":{"platform":"web"},"observe":-5})",
         "\"observe\" must be >= 0"},
        {R"({"name":"order_value_usd","labels":{"platform":"web"},"inc":1})",
         "order_value_usd is a histogram: use \"observe\""},
        {R"([{"name":"order_value_usd","labels":{"platform":"web"},"observe":1},{"name":"x"}])",
         "[1]: no metric rule is named \"x\" in the config"},
        {"not json", "the body is not JSON: syntax error"},
    };
    for (const auto& [body, error] : refused) {
        res = post(body);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 400) << body;
        EXPECT_EQ(boost::json::parse(res->body).at("error").as_string(), error) << body;
    }
    // Nothing of a refused batch was recorded.
    EXPECT_EQ(sample_value(scrape_metrics(proc->admin_port()),
                           R"(order_value_usd_count{platform="web"})"),
              2);
}

}  // namespace
}  // namespace sidelight::test
