// The SLO rule generator: what each rule selects and the alerts' thresholds, read back from the
// YAML it writes. promtool proves the rules' behaviour: tests/integration/slo_rules_test.cpp.
#include "agent/slo_rules.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "config/load.hpp"

namespace sidelight::agent {
namespace {

const std::string shop = R"(upstream: {address: 127.0.0.1:3000}
metrics:
  prefix: shop_
  const_labels: {service: "Shop Front"}
routes:
  - GET /api/products/{id}
  - POST /api/orders
slos:
  - {name: latency, route: "GET /api/products/:id", objective: 99%, latency: 500ms}
  - {name: checkout, route: POST /api/orders, objective: 99.9%, window: 30d}
)";

YAML::Node rules_of(const std::string& yaml, const slo_rules_options& options = {}) {
    return YAML::Load(slo_rules(*config::load_string(yaml, "shop.yaml"), options));
}

// The rule of `group` named `name` (a record or an alert).
YAML::Node rule(const YAML::Node& groups, std::size_t group, const std::string& name) {
    for (const auto& r : groups[group]["rules"])
        if (r["record"].as<std::string>("") == name || r["alert"].as<std::string>("") == name)
            return r;
    ADD_FAILURE() << "no rule " << name;
    return {};
}

TEST(SloRulesTest, OneGroupPerSloWithItsThirteenRules) {
    const auto groups = rules_of(shop)["groups"];
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0]["name"].as<std::string>(), "sidelight-slo-latency");
    EXPECT_EQ(groups[1]["name"].as<std::string>(), "sidelight-slo-checkout");
    // Seven look-backs, the SLO's window, the budget left, four alerts.
    EXPECT_EQ(groups[1]["rules"].size(), 13u);
    EXPECT_TRUE(rule(groups, 1, "slo:sli_error:ratio_rate30d")["expr"]);
    EXPECT_TRUE(rule(groups, 0, "slo:sli_error:ratio_rate28d")["expr"]);
}

TEST(SloRulesTest, TheAvailabilitySliCountsThe5xxOfItsRouteAndMethod) {
    const auto groups = rules_of(shop)["groups"];
    const auto r = rule(groups, 1, "slo:sli_error:ratio_rate5m");
    const std::string selector = R"({service="Shop Front",method="POST",route="/api/orders")";
    EXPECT_EQ(r["expr"].as<std::string>(),
              "(\n  sum(rate(shop_api_requests_total" + selector + R"(,status_code=~"5.."}[5m])))" +
                  "\n  or vector(0)\n)\n/\n" + "sum(rate(shop_api_requests_total" + selector +
                  "}[5m]))\n");
    EXPECT_EQ(r["labels"]["slo"].as<std::string>(), "checkout");
    EXPECT_EQ(r["labels"]["route"].as<std::string>(), "/api/orders");
    EXPECT_EQ(r["labels"]["method"].as<std::string>(), "POST");
    EXPECT_EQ(r["labels"]["service"].as<std::string>(), "Shop Front");
}

TEST(SloRulesTest, TheLatencySliReadsTheThresholdBucketOfTheNormalizedRoute) {
    const auto groups = rules_of(shop)["groups"];
    const auto expr = rule(groups, 0, "slo:sli_error:ratio_rate1h")["expr"].as<std::string>();
    const std::string selector = R"({service="Shop Front",method="GET",route="/api/products/{id}")";
    EXPECT_EQ(expr, "1 - (\n  sum(rate(shop_api_latency_ms_bucket" + selector +
                        R"(,le=~"500(\\.0)?"}[1h])))" +
                        "\n  /\n  sum(rate(shop_api_latency_ms_count" + selector + "}[1h]))\n)\n");
}

TEST(SloRulesTest, TheFourBurnRateAlertsOfTheWorkbook) {
    const auto groups = rules_of(shop)["groups"];
    const struct {
        const char* name;
        const char* expr;
        const char* severity;
    } expected[] = {
        {"SLOErrorBudgetBurn1h",
         "ratio_rate1h{service=\"Shop Front\",slo=\"checkout\"} > (14.4 * "
         "0.001)\nand\nslo:sli_error:ratio_rate5m",
         "page"},
        {"SLOErrorBudgetBurn6h",
         "ratio_rate6h{service=\"Shop Front\",slo=\"checkout\"} > (6 * "
         "0.001)\nand\nslo:sli_error:ratio_rate30m",
         "page"},
        {"SLOErrorBudgetBurn1d",
         "ratio_rate1d{service=\"Shop Front\",slo=\"checkout\"} > (3 * "
         "0.001)\nand\nslo:sli_error:ratio_rate2h",
         "ticket"},
        {"SLOErrorBudgetBurn3d",
         "ratio_rate3d{service=\"Shop Front\",slo=\"checkout\"} > (1 * "
         "0.001)\nand\nslo:sli_error:ratio_rate6h",
         "ticket"},
    };
    for (const auto& e : expected) {
        const auto a = rule(groups, 1, e.name);
        EXPECT_NE(a["expr"].as<std::string>().find(e.expr), std::string::npos)
            << a["expr"].as<std::string>();
        EXPECT_EQ(a["labels"]["severity"].as<std::string>(), e.severity);
        EXPECT_EQ(a["labels"]["slo"].as<std::string>(), "checkout");
        EXPECT_EQ(a["labels"]["route"].as<std::string>(), "/api/orders");
        EXPECT_TRUE(a["annotations"]["summary"]);
    }
    const auto fast = rule(groups, 1, "SLOErrorBudgetBurn1h");
    EXPECT_EQ(fast["annotations"]["runbook_url"].as<std::string>(),
              "docs/SLO.md#sloerrorbudgetburn1h");
    EXPECT_EQ(fast["annotations"]["description"].as<std::string>(),
              "Over the last 1h and 5m more than 1.44% of POST /api/orders requests were "
              "answered with a 5xx (objective 99.9% over 30d); at this rate the 30d error budget "
              "lasts 2.08 days.");
    // The latency SLO's budget is 1%.
    EXPECT_NE(
        rule(groups, 0, "SLOErrorBudgetBurn6h")["expr"].as<std::string>().find("> (6 * 0.01)"),
        std::string::npos);
}

// An error ratio is at most 1: with a 10% budget the 14.4x page (1.44) can never fire, and with
// 20% the 6x one (1.2) neither. They are left out, with a comment atop the file and a warning,
// rather than shipped as alerts that look like protection and are not.
TEST(SloRulesTest, AlertsThatCanNeverFireAreLeftOutAndSaidSo) {
    const std::string loose = R"(upstream: {address: 127.0.0.1:3000}
routes: [GET /a, GET /b]
slos:
  - {name: ninety, route: GET /a, objective: 90%}
  - {name: eighty, route: GET /b, objective: 80%}
)";
    const auto cfg = config::load_string(loose, "loose.yaml");
    const std::string text = slo_rules(*cfg);
    const auto groups = YAML::Load(text)["groups"];
    std::vector<std::string> alerts[2];
    for (std::size_t g = 0; g < 2; ++g)
        for (const auto& r : groups[g]["rules"])
            if (r["alert"]) alerts[g].push_back(r["alert"].as<std::string>());
    EXPECT_EQ(alerts[0], (std::vector<std::string>{"SLOErrorBudgetBurn6h", "SLOErrorBudgetBurn1d",
                                                   "SLOErrorBudgetBurn3d"}));
    EXPECT_EQ(alerts[1],
              (std::vector<std::string>{"SLOErrorBudgetBurn1d", "SLOErrorBudgetBurn3d"}));
    EXPECT_NE(text.find("\n# slos[0] (ninety): SLOErrorBudgetBurn1h left out: it would fire above "
                        "14.4 x 10% = 144% "
                        "bad requests, which cannot happen (objective 90%)"),
              std::string::npos)
        << text;
    EXPECT_EQ(slo_rules_warnings(*cfg),
              (std::vector<std::string>{
                  "slos[0] (ninety): SLOErrorBudgetBurn1h left out: it would fire above 14.4 x "
                  "10% = 144% bad requests, which cannot happen (objective 90%)",
                  "slos[1] (eighty): SLOErrorBudgetBurn1h left out: it would fire above 14.4 x "
                  "20% = 288% bad requests, which cannot happen (objective 80%)",
                  "slos[1] (eighty): SLOErrorBudgetBurn6h left out: it would fire above 6 x 20% "
                  "= 120% bad requests, which cannot happen (objective 80%)"}));
    EXPECT_TRUE(slo_rules_warnings(*config::load_string(shop, "shop.yaml")).empty());
}

TEST(SloRulesTest, RunbookBaseIsAnOption) {
    const auto groups = rules_of(shop, {false, "https://wiki.example.com/slo"})["groups"];
    EXPECT_EQ(
        rule(groups, 0, "SLOErrorBudgetBurn3d")["annotations"]["runbook_url"].as<std::string>(),
        "https://wiki.example.com/slo#sloerrorbudgetburn3d");
}

TEST(SloRulesTest, WithEgressListenersTheSelectorsReadTheIngressOnly) {
    const auto groups =
        rules_of(shop +
                 "egress:\n  - {name: mail, listen: 127.0.0.1:9000, upstream: {address: "
                 "mail.example.com:443, tls: true}}\n")["groups"];
    EXPECT_NE(rule(groups, 1, "slo:sli_error:ratio_rate6h")["expr"].as<std::string>().find(
                  R"(service="Shop Front",listener="ingress",method="POST")"),
              std::string::npos);
}

TEST(SloRulesTest, TheCrdWrapsTheSameGroupsInAPrometheusRule) {
    const auto plain = rules_of(shop);
    const auto crd = rules_of(shop, {true});
    EXPECT_EQ(crd["apiVersion"].as<std::string>(), "monitoring.coreos.com/v1");
    EXPECT_EQ(crd["kind"].as<std::string>(), "PrometheusRule");
    EXPECT_EQ(crd["metadata"]["name"].as<std::string>(), "shop-front-slos");
    EXPECT_EQ(crd["metadata"]["labels"]["app.kubernetes.io/managed-by"].as<std::string>(),
              "sidelight");
    EXPECT_EQ(YAML::Dump(crd["spec"]["groups"]), YAML::Dump(plain["groups"]));
}

}  // namespace
}  // namespace sidelight::agent
