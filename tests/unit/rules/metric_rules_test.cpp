// Metric rules (rules/metric_rules.hpp): matching, label classification into closed sets, the
// number read, the skip reasons, the capture plans they ask for, the API's resolution; and
// hostile JSON bodies, which must be skipped and counted, never crash or guess.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include "config/load.hpp"
#include "routes/routing.hpp"
#include "rules/metric_rules.hpp"

namespace sidelight::rules {
namespace {

const char* shop_yaml = R"(upstream: {address: 127.0.0.1:3000}
routes:
  - POST /api/orders
  - GET /api/orders/{id}
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
      buckets: [10, 50, 100, 500, 1000, 5000, 10000]
      match: {routes: [/api/orders], methods: [POST], status: [2xx]}
      value: "response:/total"
      labels:
        platform: {from: "response:/platform", values: [web, ios, android], other: other}
    - name: order_reads_total
      type: counter
      match: {routes: ["/api/orders/{id}"]}
      labels:
        kind: {from: "query:kind", map: {full: full, brief: brief}}
egress:
  - name: mail
    listen: 127.0.0.1:15001
    upstream: {address: 127.0.0.1:2525}
    routes: [POST /v3/mail/send]
)";

struct fixture {
    std::shared_ptr<const config::config> cfg;
    std::vector<std::shared_ptr<const routes::route_table>> tables;
    std::unique_ptr<routes::routing> routing;
    std::unique_ptr<metric_rules> rules;

    explicit fixture(const std::string& yaml) {
        cfg = config::load_string(yaml, "m.yaml");
        tables.push_back(routes::routing::build_table(*cfg));
        for (std::size_t i = 0; i < cfg->egress.size(); ++i)
            tables.push_back(routes::routing::build_egress_table(*cfg, i));
        rules = std::make_unique<metric_rules>(cfg, tables);
        std::vector<routes::capture_plan> plans;
        rules->add_plans(0, plans);
        routing = std::make_unique<routes::routing>(*cfg, tables[0], plans);
    }

    routes::request_record record(const char* method, const std::string& target, int status,
                                  std::string response_body = "") const {
        routes::request_record r;
        r.method = method;
        r.method_id = routes::parse_method(method);
        r.route = routing->resolve(r.method_id, target.substr(0, target.find('?')), &r.params);
        r.route_label = routing->label(r.route);
        r.route_configured = routing->configured(r.route);
        r.plan = &routing->plan(r.route);
        r.status = status;
        if (auto q = target.find('?'); q != std::string::npos) r.query = target.substr(q + 1);
        r.response_body = std::move(response_body);
        return r;
    }

    // rule name -> what each observation gave ("labels=value" or "skip:reason")
    std::multimap<std::string, std::string> run(const routes::request_record& r) const {
        std::multimap<std::string, std::string> out;
        rules->evaluate(r, [&](const metric_observation& o) {
            std::string text;
            if (o.skipped) {
                text = "skip:" + std::string(skip_label(*o.skipped));
            } else {
                for (std::size_t i = 0; i < o.indexes.size(); ++i)
                    text += o.metric->labels[i].name + "=" +
                            o.metric->labels[i].values[o.indexes[i]] + ",";
                text += std::to_string(o.value);
            }
            out.emplace(o.metric->rule->name, text);
        });
        return out;
    }
};

TEST(MetricRules, ShopOrdersCountAndObserveByPlatformAndOutcome) {
    fixture f(shop_yaml);
    auto got =
        f.run(f.record("POST", "/api/orders", 201, R"({"id":7,"total":123.45,"platform":"web"})"));
    EXPECT_EQ(got.size(), 2u);
    EXPECT_EQ(got.find("orders_created_total")->second, "platform=web,status=success,1.000000");
    EXPECT_EQ(got.find("order_value_usd")->second, "platform=web,123.450000");

    // An unknown platform is `other`; a 4xx is counted as rejected and not observed (status).
    got =
        f.run(f.record("POST", "/api/orders", 201, R"({"total":"99.5","platform":"blackberry"})"));
    EXPECT_EQ(got.find("orders_created_total")->second, "platform=other,status=success,1.000000");
    EXPECT_EQ(got.find("order_value_usd")->second, "platform=other,99.500000");  // numeric string
    got = f.run(f.record("POST", "/api/orders", 422, R"({"error":"no stock"})"));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got.find("orders_created_total")->second, "platform=other,status=rejected,1.000000");
    got = f.run(f.record("POST", "/api/orders", 503, ""));
    EXPECT_EQ(got.find("orders_created_total")->second, "platform=other,status=failed,1.000000");

    // A status class the map does not name and no `other`: skipped, with the reason.
    got = f.run(f.record("POST", "/api/orders", 302, ""));
    EXPECT_EQ(got.find("orders_created_total")->second, "skip:unmapped_label");
    // Other methods and routes do not match.
    EXPECT_TRUE(f.run(f.record("GET", "/api/orders", 200, "{}")).empty());
    EXPECT_TRUE(f.run(f.record("POST", "/download", 201, "{}")).empty());
}

// An order the app created (201) whose client left while the answer was on its way: the
// request is a 499 for the client, the order a success for the business.
TEST(MetricRules, AClientThatLeftAfterTheAnswerCountsByTheAppsStatus) {
    fixture f(shop_yaml);
    auto r = f.record("POST", "/api/orders", 499, R"({"id":7,"total":10,"platform":"ios"})");
    r.error = routes::error_type::client_abort;
    r.upstream_status = 201;
    auto got = f.run(r);
    EXPECT_EQ(got.size(), 2u);
    EXPECT_EQ(got.find("orders_created_total")->second, "platform=ios,status=success,1.000000");
    EXPECT_EQ(got.find("order_value_usd")->second, "platform=ios,10.000000");  // status: [2xx]

    r.upstream_status = 0;  // left before the app answered: rejected, not observed
    got = f.run(r);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got.find("orders_created_total")->second, "platform=ios,status=rejected,1.000000");
}

TEST(MetricRules, AMissingOrNonNumericValueIsSkippedNeverGuessed) {
    fixture f(shop_yaml);
    const auto value_of = [&](const std::string& body, bool truncated = false) {
        auto r = f.record("POST", "/api/orders", 201, body);
        r.response_body_truncated = truncated;
        return f.run(r).find("order_value_usd")->second;
    };
    EXPECT_EQ(value_of(R"({"platform":"ios"})"), "skip:missing_value");
    EXPECT_EQ(value_of(R"({"total":null})"), "skip:missing_value");
    EXPECT_EQ(value_of(R"({"total":"12 dollars"})"), "skip:not_numeric");
    EXPECT_EQ(value_of(R"({"total":true})"), "skip:not_numeric");
    EXPECT_EQ(value_of(R"({"total":{"usd":3}})"), "skip:not_numeric");
    EXPECT_EQ(value_of(R"({"total":"NaN"})"), "skip:not_numeric");
    EXPECT_EQ(value_of(R"({"total":"inf"})"), "skip:not_numeric");
    EXPECT_EQ(value_of("not json"), "skip:missing_value");
    EXPECT_EQ(value_of(R"({"platform":"ios","total":)", true), "skip:body_truncated");
    // A histogram's bounds are all above 0 and its _sum must not go down: not observed.
    EXPECT_EQ(value_of(R"({"total":-5,"platform":"ios"})"), "skip:negative_value");
    EXPECT_EQ(value_of(R"({"total":0,"platform":"ios"})"), "platform=ios,0.000000");
}

TEST(MetricRules, QueryLabelsAndTheirMapWithoutOther) {
    fixture f(shop_yaml);
    EXPECT_EQ(f.run(f.record("GET", "/api/orders/9?kind=full", 200)).begin()->second,
              "kind=full,1.000000");
    EXPECT_EQ(f.run(f.record("GET", "/api/orders/9?x=1&kind=b%72ief", 200)).begin()->second,
              "kind=brief,1.000000");
    EXPECT_EQ(f.run(f.record("GET", "/api/orders/9?kind=other", 200)).begin()->second,
              "skip:unmapped_label");
}

TEST(MetricRules, OnlyTheRoutesThatARuleReadsCaptureTheirBodies) {
    fixture f(shop_yaml);
    const auto& orders = f.routing->plan(f.record("POST", "/api/orders", 201).route);
    EXPECT_TRUE(orders.response_body.contains(routes::http_method::post));
    EXPECT_FALSE(orders.response_body.contains(routes::http_method::get));
    EXPECT_TRUE(orders.request_body.empty());
    // The download route has no rule: it captures nothing, whatever its size.
    const auto& download = f.routing->plan(f.record("GET", "/download", 200).route);
    EXPECT_TRUE(download.empty());
}

TEST(MetricRules, EgressRulesSeeOnlyTheirListenersTraffic) {
    const std::string rule = R"(    - name: emails_sent_total
      type: counter
      listener: mail
      match: {routes: [/v3/mail/send], methods: [POST]}
      labels:
        template_type: {from: "request:/template_id", map: {d-welcome: welcome, d-receipt: receipt}, other: other}
        status: {from: status_class, map: {2xx: sent, 4xx: rejected, 5xx: failed}}
)";
    std::string fixed = shop_yaml;
    fixed.insert(fixed.find("egress:"), rule);
    fixture f(fixed);
    std::vector<routes::capture_plan> plans;
    f.rules->add_plans(1, plans);
    ASSERT_EQ(plans.size(), 2u);  // unmatched + the one route
    EXPECT_TRUE(plans[1].request_body.contains(routes::http_method::post));

    routes::request_record r;
    r.listener = 1;
    r.method_id = routes::http_method::post;
    r.route = 1;
    r.route_label = f.tables[1]->label(1);
    r.route_configured = true;
    r.status = 202;
    r.request_body = R"({"template_id":"d-receipt","to":"a@b.c"})";
    auto got = f.run(r);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got.begin()->second, "template_type=receipt,status=sent,1.000000");
    r.request_body = R"({"template_id":"d-unknown"})";
    r.status = 400;
    EXPECT_EQ(f.run(r).begin()->second, "template_type=other,status=rejected,1.000000");
    // The same route id on the proxy's listener is another route: no email counted there.
    r.listener = 0;
    for (const auto& [name, text] : f.run(r)) EXPECT_NE(name, "emails_sent_total");
}

TEST(MetricRules, TheApiResolvesOnlyDeclaredRulesAndLabelValues) {
    fixture f(shop_yaml);
    metric_observation o;
    const auto labels = [](const char* json) { return boost::json::parse(json).as_object(); };
    EXPECT_FALSE(f.rules->resolve("orders_created_total",
                                  labels(R"({"platform":"ios","status":"success"})"), o));
    EXPECT_EQ(o.metric->rule->name, "orders_created_total");
    EXPECT_EQ(*f.rules->resolve("nope_total", labels("{}"), o),
              "no metric rule is named \"nope_total\" in the config");
    EXPECT_EQ(*f.rules->resolve("orders_created_total",
                                labels(R"({"platform":"symbian","status":"success"})"), o),
              "label \"platform\" cannot be \"symbian\" (its values: web, ios, android, other)");
    EXPECT_EQ(*f.rules->resolve("orders_created_total", labels(R"({"platform":"ios"})"), o),
              "label \"status\" is missing");
    EXPECT_EQ(*f.rules->resolve("orders_created_total",
                                labels(R"({"platform":"ios","status":"success","x":"1"})"), o),
              "metric orders_created_total has no label \"x\"");
}

// Hostile bodies: deep nesting, huge numbers, invalid UTF-8, duplicate keys, random bytes.
// Every evaluation ends in a recorded value or a counted skip; nothing crashes or throws.
TEST(MetricRules, HostileJsonIsSkippedAndCountedNeverACrash) {
    fixture f(shop_yaml);
    std::vector<std::string> bodies = {
        std::string(100000, '[') + std::string(100000, ']'),
        "{\"total\":" + std::string(100000, '{'),
        R"({"total":1e999999,"platform":"web"})",
        R"({"total":-1e400,"platform":"web"})",
        R"({"total":123456789012345678901234567890,"platform":"web"})",
        "{\"total\":1,\"platform\":\"w\xff\xfe"
        "b\"}",
        "{\"platform\":\"\xed\xa0\x80\",\"total\":\"\xc3\x28\"}",
        R"({"total":1,"total":2,"platform":"web"})",
        R"({"total":"1e308","platform":"ios"})",
        "{\"total\":\"\\u0000\"}",
    };
    std::mt19937 rng(14);
    for (int i = 0; i < 2000; ++i) {
        std::string b(rng() % 200, '\0');
        for (auto& c : b) c = "{}[]\":,0123456789.eE-+tfnul\\ \xff\x80platformtotal"[rng() % 44];
        bodies.push_back(std::move(b));
    }
    std::size_t recorded = 0, skipped = 0;
    for (const auto& body : bodies) {
        const auto got = f.run(f.record("POST", "/api/orders", 201, body));
        const auto it = got.find("order_value_usd");
        ASSERT_NE(it, got.end());
        (it->second.starts_with("skip:") ? skipped : recorded)++;
    }
    EXPECT_EQ(recorded + skipped, bodies.size());
    // The exact cases above: the huge integer is a number, but beyond ±10^15 (where a sum loses
    // the increments after it) it is not recorded; an overflowing one, invalid UTF-8 and a
    // duplicate key read as missing, as the audit store reads them.
    EXPECT_EQ(
        f.run(f.record("POST", "/api/orders", 201, bodies[4])).find("order_value_usd")->second,
        "skip:not_numeric");
    EXPECT_EQ(
        f.run(f.record("POST", "/api/orders", 201, bodies[2])).find("order_value_usd")->second,
        "skip:missing_value");
    EXPECT_EQ(
        f.run(f.record("POST", "/api/orders", 201, bodies[5])).find("order_value_usd")->second,
        "skip:missing_value");  // invalid UTF-8: the body is not JSON
    EXPECT_EQ(
        f.run(f.record("POST", "/api/orders", 201, bodies[7])).find("order_value_usd")->second,
        "skip:missing_value");
    EXPECT_GT(skipped, 0u);
}

TEST(MetricRules, ParseNumber) {
    EXPECT_EQ(parse_number("12.5"), 12.5);
    EXPECT_EQ(parse_number(" 7 "), 7.0);
    EXPECT_EQ(parse_number("+3"), 3.0);
    EXPECT_EQ(parse_number("-0.25"), -0.25);
    EXPECT_EQ(parse_number("1e15"), 1e15);
    EXPECT_EQ(parse_number("-1e15"), -1e15);
    for (const char* bad :
         {"", "abc", "1x", "1e999", "nan", "inf", "0x10", "--1", "1e308", "-1.0000001e15"})
        EXPECT_FALSE(parse_number(bad)) << bad;
}

}  // namespace
}  // namespace sidelight::rules
