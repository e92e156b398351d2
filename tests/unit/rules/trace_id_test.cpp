// The request's trace id on every event made from it (audit and security rules, the built-ins,
// the brute-force detector), none when tracing is off, and the event API's optional trace_id.

#include <gtest/gtest.h>

#include "audit/event_api.hpp"
#include "config/load.hpp"
#include "routes/routing.hpp"
#include "rules/brute_force.hpp"
#include "rules/rule_set.hpp"
#include "util/trace_context.hpp"

namespace sidelight::rules {
namespace {
using namespace sidelight::audit;

constexpr const char* trace = "4bf92f3577b34da6a3ce929d0e0e4736";

const char* yaml = R"(upstream:
  address: 127.0.0.1:3000
routes:
  - PUT /api/products/{id}
  - POST /api/login
  - GET /api/other
audit:
  rules:
    - name: update
      match: {routes: ["/api/products/{id}"], methods: [PUT]}
      action: UPDATE
      entity_id: path:id
security:
  rules:
    - name: login
      match: {routes: [/api/login]}
      event_type: LOGIN_ATTEMPT
      success: {status: [2xx]}
      login: true
)";

struct fixture {
    std::shared_ptr<const config::config> cfg = config::load_string(yaml, "t.yaml");
    std::shared_ptr<const routes::route_table> table = routes::routing::build_table(*cfg);
    rule_set rules{cfg, table};
    routes::routing routing{*cfg, table, rules.plans()};

    // The events of one request, traced (tracing on) or not.
    std::vector<derived_event> events(std::string method, const std::string& target, int status,
                                      bool traced) {
        routes::request_record r;
        r.method = method;
        r.method_id = routes::parse_method(method);
        r.route = routing.resolve(r.method_id, target, &r.params);
        r.route_label = routing.label(r.route);
        r.route_configured = routing.configured(r.route);
        r.plan = &routing.plan(r.route);
        r.status = status;
        r.client_ip = "203.0.113.7";
        r.path = target;
        r.wall_start = std::chrono::system_clock::now();
        if (traced) {
            util::traceparent tp;
            EXPECT_TRUE(
                util::parse_traceparent(std::string("00-") + trace + "-00f067aa0ba902b7-01", tp));
            r.trace.begin(&tp, util::sampler::parent_based, 1.0);
            EXPECT_EQ(r.trace.trace_hex(), trace);
        }
        std::vector<derived_event> out;
        rules.evaluate(r, out);
        return out;
    }
};

TEST(TraceIdTest, EveryEventOfATracedRequestCarriesItsTraceId) {
    fixture f;
    for (bool traced : {true, false}) {
        const std::string want = traced ? trace : "";
        auto update = f.events("PUT", "/api/products/42", 200, traced);
        ASSERT_EQ(update.size(), 1u);
        EXPECT_EQ(std::get<audit_event>(update[0].ev).trace_id, want);
        auto login = f.events("POST", "/api/login", 401, traced);
        ASSERT_EQ(login.size(), 1u);
        EXPECT_EQ(std::get<security_event>(login[0].ev).trace_id, want);
        auto builtin = f.events("GET", "/api/other", 403, traced);  // authz_fail
        ASSERT_EQ(builtin.size(), 1u);
        EXPECT_EQ(std::get<security_event>(builtin[0].ev).event_type, "authz_fail");
        EXPECT_EQ(std::get<security_event>(builtin[0].ev).trace_id, want);
    }
}

// A detection is the consequence of the attempt that tipped it: it carries that trace id.
TEST(TraceIdTest, DetectionsCarryTheTraceIdOfTheAttemptThatTippedThem) {
    config::brute_force_config cfg;  // threshold 5
    brute_force_detector d(cfg);
    std::vector<event> out;
    for (int i = 0; i < 5; ++i) {
        security_event attempt;
        attempt.event_type = "LOGIN_ATTEMPT";
        attempt.user_id = "alice";
        attempt.ip_address = "10.0.0.1";
        attempt.success = false;
        attempt.created_at = time_point{std::chrono::seconds(1'800'000'000 + i)};
        attempt.trace_id = i == 4 ? trace : "0af7651916cd43dd8448eb211c80319c";
        d.observe(attempt, out);
    }
    ASSERT_EQ(out.size(), 3u);
    for (const auto& ev : out) EXPECT_EQ(std::get<security_event>(ev).trace_id, trace);
}

TEST(TraceIdTest, TheEventApiTakesAValidTraceIdAndNamesABadOne) {
    const std::vector<std::string> keys{"password"};
    const auto audit =
        parse_audit_events(std::string(R"({"action":"A","trace_id":")") + trace + R"("})", keys);
    ASSERT_TRUE(audit.error.empty()) << audit.error;
    EXPECT_EQ(std::get<audit_event>(audit.events.at(0)).trace_id, trace);
    const auto security = parse_security_events(
        std::string(R"([{"event_type":"X"},{"event_type":"Y","trace_id":")") + trace + R"("}])",
        keys);
    ASSERT_TRUE(security.error.empty()) << security.error;
    EXPECT_EQ(std::get<security_event>(security.events.at(0)).trace_id, "");
    EXPECT_EQ(std::get<security_event>(security.events.at(1)).trace_id, trace);
    for (const char* bad : {"4BF92F3577B34DA6A3CE929D0E0E4736", "00000000000000000000000000000000",
                            "4bf92f3577b34da6a3ce929d0e0e473", "4bf92f3577b34da6a3ce929d0e0e47361",
                            "4bf92f3577b34da6a3ce929d0e0e473g", ""}) {
        const auto r =
            parse_audit_events(std::string(R"({"action":"A","trace_id":")") + bad + R"("})", keys);
        if (std::string_view(bad).empty()) {
            EXPECT_TRUE(r.error.empty()) << r.error;  // empty: none, as when absent
            continue;
        }
        EXPECT_EQ(r.error, "trace_id: expected 32 lower-case hex digits, not all zero") << bad;
    }
    EXPECT_EQ(parse_security_events(R"([{"event_type":"X","trace_id":7}])", keys).error,
              "events[0].trace_id: expected a string");
}

}  // namespace
}  // namespace sidelight::rules
