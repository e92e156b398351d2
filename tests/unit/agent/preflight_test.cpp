// One preflight for check, run and reload: the config, the rules compiled against the route
// table, and the routing built with those rules' capture plans.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "agent/preflight.hpp"
#include "config/load.hpp"
#include "tests/unit/audit/test_util.hpp"

namespace sidelight::agent {
namespace {

using audit::testing::temp_dir;

std::string write(const temp_dir& dir, const std::string& text) {
    const auto path = dir.file("sidelight.yaml");
    std::ofstream(path) << text;
    return path;
}

TEST(PreflightTest, TheExampleConfigPasses) {
    const auto r = preflight(std::string(SIDELIGHT_SOURCE_DIR) + "/deploy/examples/sidelight.yaml");
    ASSERT_TRUE(r.cfg && r.rules && r.routes);
    EXPECT_GT(r.routes->table().size(), 0u);
}

// A config named by a relative path with a directory (`-c deploy/sidelight.yaml`) finds its
// relative OpenAPI file beside it, once (it was joined with the directory twice).
TEST(PreflightTest, ARelativeOpenApiFileIsBesideARelativelyNamedConfig) {
    temp_dir dir;
    std::filesystem::create_directories(dir.file("sub"));
    std::ofstream(dir.file("sub/api.yaml")) << R"(openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /api/pets/{petId}:
    get: {operationId: getPet, responses: {"200": {description: ok}}}
)";
    std::ofstream(dir.file("sub/rel.yaml")) << "upstream:\n  address: 127.0.0.1:3000\n"
                                               "routes:\n  openapi: api.yaml\n";
    const auto relative =
        std::filesystem::relative(dir.file("sub/rel.yaml"), std::filesystem::current_path());
    ASSERT_TRUE(relative.is_relative());
    const auto r = preflight(relative.string());
    ASSERT_TRUE(r.routes);
    EXPECT_EQ(r.routes->label(r.routes->resolve(routes::http_method::get, "/api/pets/7")),
              "/api/pets/{petId}");
}

TEST(PreflightTest, TheRoutingCarriesTheRulesPlans) {
    temp_dir dir;
    const auto r = preflight(write(dir, R"(upstream:
  address: 127.0.0.1:3000
routes:
  - PUT /api/products/{id}
  - GET /health
audit:
  rules:
    - name: update
      match: {routes: ["/api/products/{id}"], methods: [PUT]}
      action: UPDATE
      user: header:X-User-Id
      changes: true
)"));
    using routes::http_method;
    const auto put = r.routes->resolve(http_method::put, "/api/products/7");
    ASSERT_NE(put, routes::unmatched_route);
    const auto& plan = r.routes->plan(put);
    EXPECT_TRUE(plan.request_body.contains(http_method::put));
    ASSERT_EQ(plan.headers.size(), 1u);
    EXPECT_EQ(plan.headers[0].name, "x-user-id");
    EXPECT_TRUE(r.routes->plan(r.routes->resolve(http_method::get, "/health")).empty());
}

TEST(PreflightTest, ARuleNamingAnUnknownRouteIsRefusedAtItsLine) {
    temp_dir dir;
    try {
        preflight(write(dir, R"(upstream:
  address: 127.0.0.1:3000
routes:
  - GET /a
audit:
  rules:
    - name: r
      match: {routes: [/b]}
      action: X
)"));
        FAIL() << "accepted";
    } catch (const config::config_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("sidelight.yaml:7:"), std::string::npos) << what;
        EXPECT_NE(what.find("audit.rules[0].match.routes[0]"), std::string::npos) << what;
    }
}

TEST(PreflightTest, AListenerNameIsRefusedAsRunWouldRefuseIt) {
    temp_dir dir;
    try {
        preflight(write(dir,
                        "upstream:\n  address: 127.0.0.1:3000\nproxy:\n  listen: "
                        "localhost:8080\n"));
        FAIL() << "accepted";
    } catch (const config::config_error& e) {
        EXPECT_NE(std::string(e.what()).find("proxy.listen"), std::string::npos) << e.what();
    }
}

// The what() of the preflight's refusal, or "" when the file passes.
std::string refusal(const temp_dir& dir, const std::string& yaml) {
    try {
        preflight(write(dir, yaml));
    } catch (const config::config_error& e) {
        return e.what();
    }
    return "";
}

TEST(PreflightTest, DatabaseListenersNeedAnIpAndAReadableCa) {
    temp_dir dir;
    const std::string head = "upstream: {address: 127.0.0.1:3000}\ndatabases:\n";
    EXPECT_NE(refusal(dir, head + "  - {name: m, listen: localhost:6432, upstream: {address: "
                                  "db:5432}}\n")
                  .find("databases[0].listen: \"localhost\" is not an IP address"),
              std::string::npos);
    const auto bad_ca = refusal(dir, head +
                                         "  - {name: m, listen: 127.0.0.1:6432, upstream: "
                                         "{address: db:5432, tls: verify-full, ca_file: "
                                         "missing.pem}}\n");
    EXPECT_NE(bad_ca.find("sidelight.yaml:3:"), std::string::npos) << bad_ca;
    EXPECT_NE(bad_ca.find("databases[0].upstream.ca_file"), std::string::npos) << bad_ca;
    EXPECT_EQ(refusal(dir, head + "  - {name: m, listen: 127.0.0.1:6432, upstream: {address: "
                                  "db.internal:5432}}\n"),
              "");
}

const std::string slo_routes = R"(upstream:
  address: 127.0.0.1:3000
routes:
  - GET /api/products/{id}
  - POST /api/orders
  - /any
slos:
  - name: s
    objective: 99%
)";

TEST(PreflightTest, AnSloRouteIsAConfiguredTemplateWithItsMethod) {
    temp_dir dir;
    EXPECT_EQ(refusal(dir, slo_routes + "    route: GET /api/products/{id}\n"), "");
    EXPECT_EQ(refusal(dir, slo_routes + "    route: GET /api/products/:id\n"), "");  // the label
    EXPECT_EQ(refusal(dir, slo_routes + "    route: DELETE /any\n"), "");            // any method
    // A HEAD request to a GET-only route is that route's (method="HEAD" series).
    EXPECT_EQ(refusal(dir, slo_routes + "    route: HEAD /api/products/{id}\n"), "");
    const auto file = dir.file("sidelight.yaml");
    EXPECT_EQ(refusal(dir, slo_routes + "    route: GET /api/orders\n"),
              file +
                  ":10:12: slos[0].route: GET /api/orders is not a configured route: "
                  "/api/orders is configured for POST");
    EXPECT_EQ(refusal(dir, slo_routes + "    route: GET /api/products\n"),
              file +
                  ":10:12: slos[0].route: no configured route has the template "
                  "/api/products (`sidelight routes` lists the route table)");
}

}  // namespace
}  // namespace sidelight::agent

namespace sidelight::agent {
namespace {

// An egress listener gets its own table, plans and rules: a record of listener 1 is judged by
// the rules with `listener: mail`, and the proxy's rules never see it.
TEST(PreflightTest, EgressListenersGetTheirOwnRoutesPlansAndRules) {
    audit::testing::temp_dir dir;
    const auto r = preflight(write(dir, R"(upstream: {address: 127.0.0.1:3000}
routes: [POST /v3/mail/send]
egress:
  - name: mail
    listen: 127.0.0.1:15001
    upstream: {address: api.example.test:443, tls: true}
    routes: [POST /v3/mail/send]
audit:
  rules:
    - name: mail-sent
      listener: mail
      match: {routes: [/v3/mail/send], methods: [POST]}
      action: SEND_EMAIL
      entity_id: request:/template_id
    - name: ingress-send
      match: {routes: [/v3/mail/send]}
      action: INGRESS
)"));
    ASSERT_EQ(r.egress_routes.size(), 1u);
    using routes::http_method;
    const auto& egress = *r.egress_routes[0];
    const auto id = egress.resolve(http_method::post, "/v3/mail/send");
    ASSERT_NE(id, routes::unmatched_route);
    EXPECT_TRUE(egress.plan(id).request_body.contains(http_method::post));
    EXPECT_FALSE(r.routes->plan(r.routes->resolve(http_method::post, "/v3/mail/send"))
                     .request_body.contains(http_method::post));

    routes::request_record rec;
    rec.listener = 1;
    rec.method_id = http_method::post;
    rec.route = id;
    rec.route_label = egress.label(id);
    rec.route_configured = true;
    rec.status = 202;
    rec.request_body = R"({"template_id":"d-welcome"})";
    std::vector<rules::derived_event> out;
    r.rules->evaluate(rec, out);
    ASSERT_EQ(out.size(), 1u);
    const auto& ev = std::get<audit::audit_event>(out[0].ev);
    EXPECT_EQ(ev.action, "SEND_EMAIL");
    EXPECT_EQ(ev.entity_id, "d-welcome");
    out.clear();
    rec.listener = 0;  // the same route id on the proxy: its own rule
    rec.route_label = r.routes->label(r.routes->resolve(http_method::post, "/v3/mail/send"));
    r.rules->evaluate(rec, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(std::get<audit::audit_event>(out[0].ev).action, "INGRESS");

    // The built-in 401/403/429 events judge the proxy's traffic only: through the egress
    // listener they are the outside API's answers to the app.
    rec.route = routes::unmatched_route;
    rec.route_label = routes::unmatched_label;
    rec.route_configured = false;
    for (const int status : {401, 403, 429}) {
        rec.status = status;
        rec.listener = 1;
        out.clear();
        r.rules->evaluate(rec, out);
        EXPECT_TRUE(out.empty()) << status;
        rec.listener = 0;
        r.rules->evaluate(rec, out);
        ASSERT_EQ(out.size(), 1u) << status;
        EXPECT_TRUE(std::holds_alternative<audit::security_event>(out[0].ev)) << status;
    }
}

}  // namespace
}  // namespace sidelight::agent
