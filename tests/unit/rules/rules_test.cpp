// The rules layer: redaction, value sources, rule_set matching and plans, the brute-force
// detector, the event API parsing.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "audit/event_api.hpp"
#include "audit/redact.hpp"
#include "config/load.hpp"
#include "routes/routing.hpp"
#include "rules/brute_force.hpp"
#include "rules/rule_set.hpp"
#include "rules/value_source.hpp"

namespace sidelight::rules {
namespace {
using namespace sidelight::audit;  // events, redaction: what the rules make

const std::vector<std::string> keys{"password", "token", "secret", "card_number"};

TEST(RedactTest, JsonBodiesAtAnyDepthAndCase) {
    const auto out = changes_json(
        R"({"user":"a","PASSWORD":"p1","nested":{"Token":"t1","list":[{"secret":"s1"},{"x":1}]},)"
        R"("card_number":4111111111111111})",
        false, keys);
    for (const char* secret : {"p1", "t1", "s1", "4111111111111111"})
        EXPECT_EQ(out.find(secret), std::string::npos) << out;
    const auto v = boost::json::parse(out);
    EXPECT_EQ(v.at("user").as_string(), "a");
    EXPECT_EQ(v.at("PASSWORD").as_string(), "[REDACTED]");
    EXPECT_EQ(v.at("nested").at("list").as_array()[0].at("secret").as_string(), "[REDACTED]");
    EXPECT_EQ(v.at("nested").at("list").as_array()[1].at("x").as_int64(), 1);
}

TEST(RedactTest, UnparsableOrTruncatedBodiesAreNeverStoredRaw) {
    const auto raw = changes_json("password=hunter2&x=1", false, keys);
    EXPECT_EQ(raw.find("hunter2"), std::string::npos);
    EXPECT_NE(raw.find("\"_unparsed\":true"), std::string::npos);
    const auto cut = changes_json(R"({"password":"hunter2")", true, keys);
    EXPECT_EQ(cut.find("hunter2"), std::string::npos);
    EXPECT_EQ(changes_json("", false, keys), "");
}

// A body is stored as written (numbers exactly) or, when a reader could not take it back
// exactly, as unparsed: never Infinity, never one of two values of a duplicate key.
TEST(RedactTest, CapturedBodiesKeepNumbersAndRefuseWhatIsNotExact) {
    EXPECT_EQ(changes_json(R"({ "n": 123456789012345678901234567890, "d": 123.45 })", false, keys),
              R"({"n":123456789012345678901234567890,"d":123.45})");
    for (const char* body : {R"({"n":1e999999})", R"({"a":1,"a":2})", R"([{"x":-1e400}])"}) {
        EXPECT_EQ(changes_json(body, false, keys), R"({"_unparsed":true,"bytes":)" +
                                                       std::to_string(std::strlen(body)) +
                                                       R"(,"truncated":false})")
            << body;
    }
}

TEST(RedactTest, QueryStrings) {
    EXPECT_EQ(redact_query("a=1&password=x&Token=y&b", keys),
              "a=1&password=[REDACTED]&Token=[REDACTED]&b");
    EXPECT_EQ(redact_query("pass%77ord=x", keys), "pass%77ord=[REDACTED]");
    EXPECT_EQ(redact_query("", keys), "");
}

TEST(RedactTest, SecretHeaders) {
    for (const char* h : {"Authorization", "cookie", "Set-Cookie", "proxy-authorization",
                          "X-Api-Key", "x-auth-token", "X-Access-Token", "api-key"})
        EXPECT_TRUE(is_secret_header(h)) << h;
    EXPECT_FALSE(is_secret_header("X-User"));
}

// The default names catch the spellings apps use for secrets, not words that merely contain
// them.
TEST(RedactTest, DefaultKeysMatchWholeNamesAndTheirEndings) {
    const auto defaults = config::audit_config{}.redact_keys;
    for (const char* secret :
         {"password", "new_password", "Password", "passwd", "accessToken", "refresh_token",
          "X-CSRF-Token", "client_secret", "api_key", "apiKey", "x-api-key", "credit_card_number",
          "cvv", "private_key", "Authorization", "access.token"})
        EXPECT_TRUE(is_redacted_key(secret, defaults)) << secret;
    for (const char* kept : {"total_tokens", "token_count", "name", "secretary_name", "user",
                             "password_hint_shown", "cardholder"})
        EXPECT_FALSE(is_redacted_key(kept, defaults)) << kept;
    EXPECT_EQ(redact_query("access_token=QS&api_key=K&q=lamp", defaults),
              "access_token=[REDACTED]&api_key=[REDACTED]&q=lamp");
}

TEST(RedactTest, SanitizeEscapesControlsAndInvalidUtf8AndCaps) {
    EXPECT_EQ(sanitize("a\r\nb\tc\x01"), "a\\r\\nb\\tc\\u0001");
    // A backslash is doubled: a client's literal "\n" never reads as an escaped LF.
    EXPECT_EQ(sanitize("lit\\nx"), "lit\\\\nx");
    EXPECT_NE(sanitize("a\nb"), sanitize("a\\nb"));
    EXPECT_EQ(sanitize("next\xc2\x85line\xc2\xa0"), "next\\u0085line\xc2\xa0");  // NEL, NBSP
    EXPECT_EQ(sanitize("caf\xc3\xa9"), "caf\xc3\xa9");
    EXPECT_EQ(sanitize("bad\xff\xc3"), "bad\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(sanitize("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
    EXPECT_EQ(sanitize(std::string(2000, 'u'), max_user_agent_bytes).size(), 1024u);
    EXPECT_EQ(sanitize("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9");  // never splits a character
}

routes::request_record record(const routes::routing& routes, std::string method, std::string target,
                              int status) {
    routes::request_record r;
    r.method = method;
    r.method_id = routes::parse_method(method);
    r.route = routes.resolve(r.method_id, target, &r.params);
    r.route_label = routes.label(r.route);
    r.route_configured = routes.configured(r.route);
    r.plan = &routes.plan(r.route);
    r.status = status;
    r.client_ip = "203.0.113.7";
    r.request_id = "req-1";
    r.user_agent = "agent\r\nX-Forged: 1";
    r.path = target.substr(0, target.find('?'));
    if (auto q = target.find('?'); q != std::string::npos) r.query = target.substr(q + 1);
    r.wall_start = std::chrono::system_clock::now();
    return r;
}

const char* rules_yaml = R"(upstream:
  address: 127.0.0.1:3000
routes:
  - GET /api/products/{id}
  - PUT /api/products/:id
  - POST /api/login
  - GET /health
audit:
  rules:
    - name: first
      match: {routes: ["/api/products/{id}"], methods: [PUT], status: [2xx]}
      action: UPDATE
      entity_type: product
      entity_id: path:id
      user: jwt:sub
      changes: true
    - name: second-never-wins
      match: {routes: ["/api/products/{id}"], methods: [PUT]}
      action: SHADOWED
    - name: strict-read
      match: {routes: ["/api/products/{id}"], methods: [GET]}
      action: READ
      entity_id: response:/sku
      user: header:X-User
      mode: strict
security:
  rules:
    - name: login
      match: {routes: [/api/login]}
      event_type: LOGIN_ATTEMPT
      owasp: authn_login
      success: {status: [2xx]}
      user: request:/username
      login: true
)";

struct fixture {
    std::shared_ptr<const config::config> cfg = config::load_string(rules_yaml, "r.yaml");
    std::shared_ptr<const routes::route_table> table = routes::routing::build_table(*cfg);
    rule_set rules{cfg, table};
    std::shared_ptr<const routes::routing> routes =
        std::make_shared<const routes::routing>(*cfg, table, rules.plans());
};

TEST(RuleSetTest, FirstMatchWinsWithFieldsFromPathJwtAndBody) {
    fixture f;
    auto r = record(*f.routes, "PUT", "/api/products/42?token=abc", 200);
    r.headers = {{"authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1LTEiLCJuIjo1fQ.sig"}};
    r.request_body = R"({"name":"x","password":"p"})";
    std::vector<derived_event> out;
    f.rules.evaluate(r, out);
    ASSERT_EQ(out.size(), 1u);
    const auto& ev = std::get<audit_event>(out[0].ev);
    EXPECT_EQ(ev.action, "UPDATE");
    EXPECT_EQ(ev.entity_id, "42");
    EXPECT_EQ(ev.user_id, "u-1");
    EXPECT_EQ(ev.changes, R"({"name":"x","password":"[REDACTED]"})");
    EXPECT_EQ(ev.user_agent, "agent\\r\\nX-Forged: 1");
    EXPECT_EQ(ev.route, "/api/products/{id}");
    EXPECT_EQ(ev.method, "PUT");
    EXPECT_EQ(ev.source, event_source::rule);
    // A 500 misses the first rule's status: the second one matches.
    out.clear();
    f.rules.evaluate(record(*f.routes, "PUT", "/api/products/42", 500), out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(std::get<audit_event>(out[0].ev).action, "SHADOWED");
}

TEST(RuleSetTest, PlansCaptureOnlyWhatRulesRead) {
    fixture f;
    using routes::http_method;
    const auto& put = f.routes->plan(f.routes->resolve(http_method::put, "/api/products/1"));
    EXPECT_TRUE(put.request_body.contains(http_method::put));
    // The strict GET rule on the same template (response:/sku) asks nothing of a PUT.
    EXPECT_TRUE(put.response_body.empty());
    EXPECT_TRUE(put.strict_request.empty());
    EXPECT_TRUE(put.strict_response.empty());
    const auto wants = [](const routes::capture_plan& plan, std::string_view name, http_method m) {
        return std::any_of(plan.headers.begin(), plan.headers.end(),
                           [&](const auto& h) { return h.name == name && h.methods.contains(m); });
    };
    EXPECT_TRUE(wants(put, "authorization", http_method::put));
    const auto& get = f.routes->plan(f.routes->resolve(http_method::get, "/api/products/1"));
    EXPECT_TRUE(get.response_body.contains(http_method::get));
    EXPECT_TRUE(get.strict_response.contains(http_method::get));  // it reads the response
    EXPECT_TRUE(get.strict_request.empty());
    EXPECT_TRUE(get.request_body.empty());
    EXPECT_TRUE(wants(get, "x-user", http_method::get));
    const auto& health = f.routes->plan(f.routes->resolve(http_method::get, "/health"));
    EXPECT_TRUE(health.empty());
    const auto& login = f.routes->plan(f.routes->resolve(http_method::post, "/api/login"));
    EXPECT_TRUE(login.request_body.contains(http_method::post));
    EXPECT_TRUE(login.strict_request.empty());
    EXPECT_TRUE(login.strict_response.empty());
}

// One template for every method: a strict rule holds (and may buffer) only the requests it can
// match; the other methods on the route stream, captured only for the rules that read them.
TEST(RuleSetTest, AStrictRuleHoldsOnlyTheMethodsItMatches) {
    auto cfg = config::load_string(R"(upstream:
  address: 127.0.0.1:3000
routes:
  - /api/items/{id}
  - /api/other
audit:
  rules:
    - name: held-reads
      match: {routes: ["/api/items/{id}"], methods: [GET]}
      action: READ
      mode: strict
    - name: updates
      match: {routes: ["/api/items/{id}"], methods: [PUT, PATCH]}
      action: UPDATE
      changes: true
      user: header:X-Editor
    - name: held-any
      match: {routes: [/api/other]}
      action: ANY
      user: request:/user
      mode: strict
security:
  rules:
    - name: held-deletes
      match: {routes: ["/api/items/{id}"], methods: [DELETE]}
      event_type: ITEM_DELETE
      owasp: authz_admin
      mode: strict
)",
                                   "m.yaml");
    const auto table = routes::routing::build_table(*cfg);
    rule_set rules(cfg, table);
    const routes::routing routes(*cfg, table, rules.plans());
    using routes::http_method;
    const auto& items = routes.plan(routes.resolve(http_method::put, "/api/items/1"));
    EXPECT_EQ(&items, &routes.plan(routes.resolve(http_method::get, "/api/items/1")));
    for (auto m : {http_method::get, http_method::head, http_method::post, http_method::put,
                   http_method::delete_, http_method::patch, http_method::other}) {
        const auto i = static_cast<int>(m);
        EXPECT_EQ(items.strict_request.contains(m), m == http_method::get) << i;
        EXPECT_EQ(items.strict_response.contains(m), m == http_method::delete_) << i;
        EXPECT_EQ(items.request_body.contains(m), m == http_method::put || m == http_method::patch)
            << i;
    }
    // A header only the update rule reads is kept for PUT and PATCH, not for a GET.
    ASSERT_EQ(items.headers.size(), 1u);
    EXPECT_EQ(items.headers[0].name, "x-editor");
    EXPECT_TRUE(items.headers[0].methods.contains(http_method::patch));
    EXPECT_FALSE(items.headers[0].methods.contains(http_method::get));
    // Without `methods` a strict rule holds every method; reading the body, it buffers it.
    const auto& other = routes.plan(routes.resolve(http_method::post, "/api/other"));
    for (auto m : {http_method::get, http_method::post, http_method::other}) {
        EXPECT_TRUE(other.strict_request.contains(m));
        EXPECT_TRUE(other.request_body.contains(m));
        EXPECT_FALSE(other.strict_response.contains(m));
    }
    EXPECT_TRUE(routes.plan(routes::unmatched_route).empty());
}

// A HEAD request to a route listed for GET only resolves to it: a rule that matches HEAD
// there (no `methods`, or HEAD listed) gets its captures and its hold for the HEAD request.
TEST(RuleSetTest, AHeadOnAGetRouteIsCapturedForTheRulesThatMatchHead) {
    auto cfg = config::load_string(R"(upstream:
  address: 127.0.0.1:3000
routes:
  - GET /api/reports/{id}
audit:
  rules:
    - name: report-reads
      match: {routes: ["/api/reports/{id}"]}
      action: READ
      entity_id: path:id
      user: header:X-User
      mode: strict
    - name: report-probes
      match: {routes: ["/api/reports/{id}"], methods: [HEAD]}
      action: PROBE
      entity_id: path:id
      user: header:X-Prober
)",
                                   "h.yaml");
    const auto table = routes::routing::build_table(*cfg);
    rule_set rules(cfg, table);
    const routes::routing routes(*cfg, table, rules.plans());
    using routes::http_method;
    const auto id = routes.resolve(http_method::head, "/api/reports/7");
    ASSERT_NE(id, routes::unmatched_route);
    EXPECT_EQ(id, routes.resolve(http_method::get, "/api/reports/7"));
    const auto& plan = routes.plan(id);
    EXPECT_TRUE(plan.strict_request.contains(http_method::head));
    EXPECT_TRUE(plan.strict_request.contains(http_method::get));
    EXPECT_FALSE(plan.strict_request.contains(http_method::post));
    ASSERT_EQ(plan.headers.size(), 2u);
    for (const auto& h : plan.headers) {
        EXPECT_TRUE(h.methods.contains(http_method::head)) << h.name;
        EXPECT_EQ(h.methods.contains(http_method::get), h.name == "x-user") << h.name;
    }

    auto r = record(routes, "HEAD", "/api/reports/7", 200);
    r.headers = {{"x-user", "ann"}, {"x-prober", "uptime"}};
    std::vector<derived_event> out;
    rules.evaluate(r, out);
    ASSERT_EQ(out.size(), 1u);  // the first rule that matches
    const auto& ev = std::get<audit_event>(out[0].ev);
    EXPECT_EQ(ev.action, "READ");
    EXPECT_EQ(ev.entity_id, "7");
    EXPECT_EQ(ev.user_id, "ann");
}

TEST(RuleSetTest, StrictEventsBelongToTheirPhaseAndAreNotRecordedTwice) {
    fixture f;
    auto r = record(*f.routes, "GET", "/api/products/9", 200);
    r.response_body = R"({"sku":"SKU-9"})";
    r.headers = {{"x-user", "bob"}};
    std::vector<derived_event> out;
    f.rules.evaluate_strict(r, routes::audit_phase::request, out);
    EXPECT_TRUE(out.empty());  // it reads the response: a response-phase rule
    f.rules.evaluate_strict(r, routes::audit_phase::response, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(std::get<audit_event>(out[0].ev).entity_id, "SKU-9");
    EXPECT_EQ(std::get<audit_event>(out[0].ev).user_id, "bob");
    out.clear();
    r.held_response = true;
    f.rules.evaluate(r, out);
    EXPECT_TRUE(out.empty());
}

TEST(RuleSetTest, SecurityRulesAndBuiltins) {
    fixture f;
    auto login = record(*f.routes, "POST", "/api/login?password=zzz", 401);
    login.request_body = R"({"username":"alice","password":"zzz"})";
    std::vector<derived_event> out;
    f.rules.evaluate(login, out);
    ASSERT_EQ(out.size(), 1u);  // the login rule, not also the authn_fail built-in
    const auto& ev = std::get<security_event>(out[0].ev);
    EXPECT_EQ(ev.event_type, "LOGIN_ATTEMPT");
    EXPECT_EQ(ev.user_id, "alice");
    EXPECT_EQ(ev.success, false);
    EXPECT_TRUE(out[0].login);
    EXPECT_EQ(ev.details.find("zzz"), std::string::npos) << ev.details;
    for (auto [status, type] : {std::pair{401, "authn_fail"}, std::pair{403, "authz_fail"},
                                std::pair{429, "excess_rate_limit_exceeded"}}) {
        out.clear();
        f.rules.evaluate(record(*f.routes, "GET", "/health", status), out);
        ASSERT_EQ(out.size(), 1u) << status;
        EXPECT_EQ(std::get<security_event>(out[0].ev).event_type, type);
    }
    out.clear();
    f.rules.evaluate(record(*f.routes, "GET", "/health", 404), out);
    EXPECT_TRUE(out.empty());
}

// A login the client abandoned (499: the app never answered) has no outcome: success is
// unknown, details say why, and it is still a login for the rule (the detector skips it).
TEST(RuleSetTest, AbandonedLoginHasNoOutcome) {
    fixture f;
    auto login = record(*f.routes, "POST", "/api/login", 499);
    login.error = routes::error_type::client_abort;
    login.request_body = R"({"username":"alice","password":"zzz"})";
    std::vector<derived_event> out;
    f.rules.evaluate(login, out);
    ASSERT_EQ(out.size(), 1u);
    const auto& ev = std::get<security_event>(out[0].ev);
    EXPECT_EQ(ev.event_type, "LOGIN_ATTEMPT");
    EXPECT_EQ(ev.success, std::nullopt);
    EXPECT_EQ(boost::json::parse(ev.details).at("outcome").as_string(), "client_abort");
    EXPECT_EQ(ev.status, 499);
}

// A login the app answered whose client left while the answer was on its way (499 for the
// client, 200 from the app) is judged by the app's answer: a success, with no unknown outcome.
TEST(RuleSetTest, LoginTheClientLeftAfterTheAnswerIsJudgedByTheAnswer) {
    fixture f;
    auto login = record(*f.routes, "POST", "/api/login", 499);
    login.error = routes::error_type::client_abort;
    login.upstream_status = 200;
    login.request_body = R"({"username":"alice","password":"zzz"})";
    std::vector<derived_event> out;
    f.rules.evaluate(login, out);
    ASSERT_EQ(out.size(), 1u);
    const auto& ev = std::get<security_event>(out[0].ev);
    EXPECT_EQ(ev.success, std::optional<bool>(true));
    EXPECT_EQ(ev.status, 200);
    EXPECT_FALSE(boost::json::parse(ev.details).as_object().contains("outcome"));
}

// First match must be decidable when a strict rule holds the request: an earlier rule that
// matches the same requests by status would only be decided after the app answered.
TEST(RuleSetTest, AStrictRequestRuleBehindAStatusRuleForTheSameRequestsIsRefused) {
    const auto load = [](const std::string& rules) {
        auto cfg = config::load_string(
            "upstream:\n  address: 127.0.0.1:3000\nroutes:\n"
            "  - GET /a/{id}\n  - PUT /a/{id}\n  - GET /b\n"
            "audit:\n  rules:\n" +
                rules,
            "strict.yaml");
        routes::routing routes(*cfg);
        rule_set built(cfg, routes.shared_table());
    };
    const std::string status_rule =
        "    - name: ok-reads\n      match: {routes: [\"/a/{id}\"], status: [2xx]}\n"
        "      action: READ_OK\n";
    const std::string strict_rule =
        "    - name: held-reads\n      match: {routes: [\"/a/{id}\"], methods: [GET]}\n"
        "      action: READ\n      mode: strict\n";
    try {
        load(status_rule + strict_rule);
        FAIL() << "accepted";
    } catch (const config::config_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("strict.yaml:12:"), std::string::npos) << what;
        EXPECT_NE(what.find("audit.rules[1]"), std::string::npos) << what;
        EXPECT_NE(what.find("'ok-reads' (line 9)"), std::string::npos) << what;
    }
    EXPECT_NO_THROW(load(strict_rule + status_rule));  // the strict rule first: decidable
    // Disjoint requests (other methods, or other routes) cannot compete.
    EXPECT_NO_THROW(
        load("    - name: ok-writes\n      match: {routes: [\"/a/{id}\"], methods: [PUT], status: "
             "[2xx]}\n"
             "      action: WRITE_OK\n" +
             strict_rule));
    EXPECT_NO_THROW(
        load("    - name: b\n      match: {routes: [/b], status: [2xx]}\n"
             "      action: B\n" +
             strict_rule));
}

TEST(RuleSetTest, UnknownRouteInARuleIsAConfigErrorWithItsLine) {
    auto cfg = config::load_string(R"(upstream:
  address: 127.0.0.1:3000
routes:
  - GET /a/{id}
audit:
  rules:
    - name: r
      match: {routes: ["/b/{id}"]}
      action: X
)",
                                   "bad.yaml");
    routes::routing routes(*cfg);
    try {
        rule_set rules(cfg, routes.shared_table());
        FAIL() << "accepted";
    } catch (const config::config_error& e) {
        EXPECT_NE(std::string(e.what()).find("bad.yaml:7:"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("audit.rules[0].match.routes[0]"), std::string::npos)
            << e.what();
    }
}

// A pointer through a redacted key reads as the marker, whatever the body holds (the way a
// secret header does); an object or array read out has the secrets inside it redacted.
TEST(ValueSourceTest, PointersAndClaimsNamingSecretsReadAsRedacted) {
    routes::request_record r;
    r.request_body =
        R"({"username":"ann","Password":"S3CRET-q7Zt-a","a/b":{"TOKEN":"S3CRET-q7Zt-b"},)"
        R"("profile":{"name":"Ann","card_number":"S3CRET-q7Zt-c","list":[{"secret":"S3CRET-q7Zt-d"}]}})";
    r.response_body = R"({"session":{"token":"S3CRET-q7Zt-e"},"id":7})";
    // {"sub":"u-1","password":"S3CRET-q7Zt-f","grp":{"secret":"S3CRET-q7Zt-g","k":1}}
    r.headers = {{"authorization",
                  "Bearer eyJhbGciOiJub25lIn0."
                  "eyJzdWIiOiJ1LTEiLCJwYXNzd29yZCI6IlMzQ1JFVC1xN1p0LWYiLCJncnAiOnsic2VjcmV0IjoiUz"
                  "NDUkVULXE3WnQtZyIsImsiOjF9fQ.sig"}};
    using kind = config::value_source::kind;
    const auto get = [&](kind k, std::string key) { return extract({k, key, {}}, r, keys); };
    EXPECT_EQ(get(kind::request_body, "/username"), "ann");
    EXPECT_EQ(get(kind::request_body, "/password"), "[REDACTED]");  // any case, even if absent
    EXPECT_EQ(get(kind::request_body, "/Password"), "[REDACTED]");
    EXPECT_EQ(get(kind::request_body, "/a~1b/TOKEN"), "[REDACTED]");
    EXPECT_EQ(get(kind::request_body, "/profile/card_number"), "[REDACTED]");
    EXPECT_EQ(get(kind::request_body, "/profile/name"), "Ann");
    EXPECT_EQ(get(kind::request_body, "/secret/0"), "[REDACTED]");
    EXPECT_EQ(get(kind::response_body, "/session/token"), "[REDACTED]");
    EXPECT_EQ(get(kind::response_body, "/id"), "7");
    EXPECT_EQ(get(kind::request_body, "/profile"),
              R"({"name":"Ann","card_number":"[REDACTED]","list":[{"secret":"[REDACTED]"}]})");
    EXPECT_EQ(get(kind::response_body, "/session"), R"({"token":"[REDACTED]"})");
    EXPECT_EQ(get(kind::jwt_claim, "sub"), "u-1");
    EXPECT_EQ(get(kind::jwt_claim, "password"), "[REDACTED]");
    EXPECT_EQ(get(kind::jwt_claim, "grp"), R"({"secret":"[REDACTED]","k":1})");
    for (const auto& k : {"/a~1b", "", "/profile/list"}) {
        const auto out = get(kind::request_body, k);
        EXPECT_EQ(out.find("S3CRET-q7Zt"), std::string::npos) << k << ": " << out;
    }
}

// Pointer values read as stored JSON is written: numbers as sent, and nothing out of a body a
// reader could not take back exactly.
TEST(ValueSourceTest, PointersReadNumbersAsWritten) {
    routes::request_record r;
    r.request_body = R"({"id":123456789012345678901234567890,"p":{"price":123.45,"n":[1E5]},)"
                     R"("s":"a\u0041","z":null})";
    using kind = config::value_source::kind;
    const auto get = [&](std::string key) {
        return extract({kind::request_body, key, {}}, r, keys);
    };
    EXPECT_EQ(get("/id"), "123456789012345678901234567890");
    EXPECT_EQ(get("/p"), R"({"price":123.45,"n":[1E5]})");
    EXPECT_EQ(get("/p/n/0"), "1E5");
    EXPECT_EQ(get("/s"), "aA");
    EXPECT_EQ(get("/z"), "");
    EXPECT_EQ(get("/p/n/01"), "");
    EXPECT_EQ(get("p"), "");
    r.request_body = R"({"id":7,"id":8})";
    EXPECT_EQ(get("/id"), "");
    r.request_body = R"({"id":7,"x":1e999})";
    EXPECT_EQ(get("/id"), "");
}

TEST(ValueSourceTest, JwtDecodingIsLenientAboutPaddingAndStrictAboutShape) {
    EXPECT_EQ(base64url_decode("aGk"), "hi");
    EXPECT_FALSE(base64url_decode("a*b"));
    EXPECT_FALSE(jwt_payload("Bearer onlyonepart"));
    EXPECT_FALSE(jwt_payload("Basic eyJ9.eyJ9.x"));
    EXPECT_TRUE(jwt_payload("bearer eyJhIjoxfQ.eyJzdWIiOiJ4In0.s"));
}

security_event attempt(std::string user, std::string ip, bool ok, int second) {
    security_event ev;
    ev.event_type = "LOGIN_ATTEMPT";
    ev.user_id = std::move(user);
    ev.ip_address = std::move(ip);
    ev.success = ok;
    ev.created_at = time_point{std::chrono::seconds(1'800'000'000 + second)};
    return ev;
}

TEST(BruteForceTest, FailMaxOncePerKeyPerWindowAndSuccessAfterFail) {
    config::brute_force_config cfg;  // threshold 5, window 10 m
    brute_force_detector d(cfg);
    std::vector<event> out;
    for (int i = 0; i < 4; ++i) d.observe(attempt("alice", "10.0.0.1", false, i), out);
    EXPECT_TRUE(out.empty());
    d.observe(attempt("alice", "10.0.0.1", false, 5), out);
    EXPECT_EQ(out.size(), 3u);  // per ip, per user, per (user, ip)
    out.clear();
    d.observe(attempt("alice", "10.0.0.1", false, 6), out);
    EXPECT_TRUE(out.empty());  // not again within the window
    d.observe(attempt("alice", "10.0.0.1", true, 7), out);
    ASSERT_EQ(out.size(), 1u);
    const auto& ev = std::get<security_event>(out[0]);
    EXPECT_EQ(ev.event_type, "authn_login_successafterfail");
    EXPECT_EQ(ev.source, event_source::detector);
    EXPECT_NE(ev.details.find("\"count\":6"), std::string::npos) << ev.details;
    EXPECT_EQ(d.fail_max_count(), 3u);
    EXPECT_EQ(d.success_after_fail_count(), 1u);
}

// Logins whose outcome is unknown (the client went away) are not failures: they neither fire
// nor fill a window, nor reset one.
TEST(BruteForceTest, UnknownOutcomesAreNotCounted) {
    config::brute_force_config cfg;  // threshold 5
    brute_force_detector d(cfg);
    std::vector<event> out;
    auto unknown = attempt("alice", "10.0.0.1", false, 0);
    unknown.success = std::nullopt;
    for (int i = 0; i < 10; ++i) d.observe(unknown, out);
    EXPECT_TRUE(out.empty());
    for (int i = 0; i < 4; ++i) d.observe(attempt("alice", "10.0.0.1", false, i), out);
    d.observe(unknown, out);
    EXPECT_TRUE(out.empty());
    d.observe(attempt("alice", "10.0.0.1", false, 5), out);
    EXPECT_EQ(out.size(), 3u);  // the fifth real failure
    EXPECT_EQ(d.fail_max_count(), 3u);
}

TEST(BruteForceTest, FailuresOutsideTheWindowDoNotCount) {
    config::brute_force_config cfg;
    cfg.window = std::chrono::seconds(60);
    brute_force_detector d(cfg);
    std::vector<event> out;
    for (int i = 0; i < 5; ++i) d.observe(attempt("bob", "", false, i * 20), out);
    EXPECT_TRUE(out.empty());  // at most four of them fall within any 60 s
}

// Once the failures that fired it have left the window, a key fires again; each detection names
// its key kind and the window.
TEST(BruteForceTest, FiresAgainInTheNextWindowNamingKeyKindAndWindow) {
    config::brute_force_config cfg;
    cfg.window = std::chrono::seconds(60);
    brute_force_detector d(cfg);
    std::vector<event> out;
    for (int i = 0; i < 5; ++i) d.observe(attempt("carol", "10.0.0.9", false, i), out);
    ASSERT_EQ(out.size(), 3u);
    std::vector<std::string> kinds;
    for (const auto& e : out) {
        const auto details = boost::json::parse(std::get<security_event>(e).details).as_object();
        kinds.emplace_back(details.at("key_kind").as_string());
        EXPECT_EQ(details.at("window_s").as_int64(), 60);
        EXPECT_EQ(details.at("count").as_int64(), 5);
    }
    EXPECT_EQ(kinds, (std::vector<std::string>{"ip", "user", "user_ip"}));
    out.clear();
    for (int i = 0; i < 4; ++i) d.observe(attempt("carol", "10.0.0.9", false, 100 + i), out);
    EXPECT_TRUE(out.empty());  // the first five are out of the window: four is below threshold
    d.observe(attempt("carol", "10.0.0.9", false, 104), out);
    EXPECT_EQ(out.size(), 3u);
    EXPECT_EQ(d.fail_max_count(), 6u);
}

// match.status takes single codes and ranges as well as classes.
TEST(RuleSetTest, StatusCodesAndRanges) {
    auto cfg = config::load_string(R"(upstream:
  address: 127.0.0.1:3000
routes:
  - GET /a
audit:
  rules:
    - name: redirects-and-missing
      match: {routes: [/a], status: [404, "300-304"]}
      action: ODD
)",
                                   "status.yaml");
    routes::routing routes(*cfg);
    rule_set rules(cfg, routes.shared_table());
    for (const int status : {200, 299, 300, 302, 304, 305, 403, 404, 405, 500}) {
        std::vector<derived_event> out;
        rules.evaluate(record(routes, "GET", "/a", status), out);
        const auto audit_rows = std::count_if(out.begin(), out.end(), [](const auto& e) {
            return std::holds_alternative<audit_event>(e.ev);
        });  // 403 also gives the built-in authz_fail security event
        const bool expected = status == 404 || (status >= 300 && status <= 304);
        EXPECT_EQ(audit_rows, expected ? 1 : 0) << status;
    }
}

TEST(EventApiTest, TokenIsComparedExactly) {
    EXPECT_TRUE(token_matches("Bearer abc", "abc"));
    EXPECT_FALSE(token_matches("Bearer abd", "abc"));
    EXPECT_FALSE(token_matches("Bearer abcd", "abc"));
    EXPECT_FALSE(token_matches("abc", "abc"));
    EXPECT_FALSE(token_matches("Bearer ", ""));       // no token configured: nobody gets in
    EXPECT_TRUE(token_matches("bearer abc", "abc"));  // the scheme is case-insensitive
    EXPECT_TRUE(token_matches("BEARER abc", "abc"));
    EXPECT_FALSE(token_matches("Bearer ABC", "abc"));  // the token is not
    EXPECT_FALSE(token_matches("Basic abc", "abc"));
}

TEST(EventApiTest, ValidationNamesTheField) {
    EXPECT_EQ(parse_audit_events("{", keys).error.substr(0, 5), "body:");
    EXPECT_EQ(parse_audit_events(R"({"user_id":"u"})", keys).error, "action: required");
    EXPECT_EQ(parse_audit_events(R"([{"action":"a"},{"action":5}])", keys).error,
              "events[1].action: expected a string");
    EXPECT_EQ(parse_audit_events(R"({"action":"a","event_id":"nope"})", keys).error,
              "event_id: expected a UUID");
    EXPECT_EQ(parse_security_events(R"({"event_type":"X","success":"yes"})", keys).error,
              "success: expected a boolean");
    const auto ok = parse_security_events(
        R"([{"event_type":"MFA","success":true,"details":{"k":1}},{"event_type":"X\n"}])", keys);
    ASSERT_TRUE(ok.error.empty()) << ok.error;
    ASSERT_EQ(ok.events.size(), 2u);
    EXPECT_EQ(std::get<security_event>(ok.events[1]).event_type, "X\\n");
    EXPECT_EQ(std::get<security_event>(ok.events[0]).source, event_source::api);
    EXPECT_FALSE(std::get<security_event>(ok.events[0]).event_id.empty());
}

// The event API stores what the app sends through the same redaction as rule-captured
// bodies: the configured keys at any depth and in any case, in objects and in strings that
// hold JSON.
TEST(EventApiTest, ChangesAndDetailsAreRedacted) {
    const auto audit = parse_audit_events(
        R"({"action":"UPDATE","changes":{"Password":"hunter2-SECRET-x9",)"
        R"("nested":{"card_number":"4111-S3CRET-q7Zt","list":[{"TOKEN":"S3CRET-q7Zt-t"}]},"n":1}})",
        keys);
    ASSERT_TRUE(audit.error.empty()) << audit.error;
    EXPECT_EQ(std::get<audit_event>(audit.events.at(0)).changes,
              R"({"Password":"[REDACTED]","nested":{"card_number":"[REDACTED]",)"
              R"("list":[{"TOKEN":"[REDACTED]"}]},"n":1})");
    const auto security = parse_security_events(
        R"([{"event_type":"MFA","details":{"secret":"S3CRET-q7Zt-s","ok":true}},)"
        R"({"event_type":"MFA","details":"{\"password\":\"S3CRET-q7Zt-p\",\"x\":\"a\\nb\"}"}])",
        keys);
    ASSERT_TRUE(security.error.empty()) << security.error;
    EXPECT_EQ(std::get<security_event>(security.events.at(0)).details,
              R"({"secret":"[REDACTED]","ok":true})");
    // A string holding an object is stored as that object, its secrets redacted.
    EXPECT_EQ(std::get<security_event>(security.events.at(1)).details,
              R"({"password":"[REDACTED]","x":"a\nb"})");
    // The configured keys are the ones applied.
    const auto other = parse_audit_events(R"({"action":"A","changes":{"pin":"1234","k":"v"}})",
                                          std::vector<std::string>{"PIN"});
    EXPECT_EQ(std::get<audit_event>(other.events.at(0)).changes, R"({"pin":"[REDACTED]","k":"v"})");
}

TEST(EventApiTest, QueryParameters) {
    std::string error;
    const auto f = parse_query("table=audit_log&user_id=u%207+x&after_seq=5&limit=1000", error);
    ASSERT_TRUE(f) << error;
    EXPECT_EQ(*f->table, table_kind::audit_log);
    EXPECT_EQ(*f->user_id, "u 7 x");
    EXPECT_EQ(f->after_seq, 5);
    // Spelled as stored values are (sanitize): CORP\alice finds what was stored for it.
    const auto domain = parse_query("user_id=CORP%5Calice&entity_id=a%0Ab", error);
    ASSERT_TRUE(domain) << error;
    EXPECT_EQ(*domain->user_id, sanitize("CORP\\alice"));
    EXPECT_EQ(*domain->user_id, "CORP\\\\alice");
    EXPECT_EQ(*domain->entity_id, "a\\nb");
    EXPECT_EQ(f->limit, query_filter::max_limit);
    const std::pair<const char*, const char*> refused[] = {
        {"limit=x", "limit: expected a positive integer"},
        {"limit=1001", "limit: at most 1000"},
        {"colour=red", "colour: unknown parameter"},
        {"after_seq=-1", "after_seq: expected a non-negative integer"},
        {"user_id=a%zz", "user_id: malformed percent-encoding"},
        {"user_id=a%4", "user_id: malformed percent-encoding"},
        {"us%er_id=a", "us%er_id: malformed percent-encoding"},
        {"user_id=a&limit=5&user_id=b", "user_id: repeated parameter"},
        {"=x", "query: a parameter without a name"},
    };
    for (const auto& [query, message] : refused) {
        EXPECT_FALSE(parse_query(query, error)) << query;
        EXPECT_EQ(error, message) << query;
    }
}

// Stored JSON is what was sent: numbers as written, and nothing a reader could not take back
// exactly (a duplicate key, a number that overflows a double).
TEST(EventApiTest, StoredJsonIsExactAndValid) {
    const auto ok = parse_audit_events(
        R"({"action":"A","changes":{"big":123456789012345678901234567890,"d":123.45,"e":1E5}})",
        keys);
    ASSERT_TRUE(ok.error.empty()) << ok.error;
    EXPECT_EQ(std::get<audit_event>(ok.events.at(0)).changes,
              R"({"big":123456789012345678901234567890,"d":123.45,"e":1E5})");
    const std::pair<const char*, const char*> refused[] = {
        {R"({"action":"A","changes":{"n":1e999999}})", "changes.n: number out of range"},
        {R"([{"action":"A"},{"action":"A","changes":{"a":{"x":1,"x":2}}}])",
         "events[1].changes.a.x: duplicate key"},
        {R"({"action":"A","action":"B"})", "action: duplicate key"},
        {R"({"action":"A","user_id":-1e400})", "user_id: number out of range"},
        {R"({"action":"A","changes":"{\"n\":1e999}"})", "changes.n: number out of range"},
        {R"({"action":"A","changes":"plain text"})", "changes: not valid JSON (syntax error)"},
        {R"({"action":"A","changes":"[1,2]"})",
         "changes: expected an object (or a string holding one)"},
        {R"({"action":"A","changes":[1]})",
         "changes: expected an object (or a string holding one)"},
        {R"({"action":"A","changes":7})", "changes: expected an object (or a string holding one)"},
        {R"({"action":"A","colour":"red"})", "colour: unknown field"},
        {R"([{"action":"A","Action":"B"}])", "events[0].Action: unknown field"},
    };
    for (const auto& [body, message] : refused)
        EXPECT_EQ(parse_audit_events(body, keys).error, message) << body;
    EXPECT_EQ(
        parse_security_events(R"({"event_type":"X","details":{"ok":1},"extra":1})", keys).error,
        "extra: unknown field");
    EXPECT_EQ(parse_security_events(R"({"event_type":"X","details":"null"})", keys).error,
              "details: expected an object (or a string holding one)");
}

// Rules are bucketed by route id: a request looks only at the rules naming its route and at
// those naming none, merged in config order, so first-match is the config's order.
TEST(RuleSetTest, BucketsKeepTheConfigOrderAcrossRouteAndAnyRouteRules) {
    const auto cfg = config::load_string(R"(upstream:
  address: 127.0.0.1:3000
routes:
  unmatched: normalize
  entries:
    - GET /a/{id}
    - PUT /a/{id}
    - GET /b
audit:
  rules:
    - name: b-only
      match: {routes: [/b]}
      action: B
    - name: any-put
      match: {methods: [PUT]}
      action: ANY_PUT
    - name: a-any-method
      match: {routes: ["/a/{id}"]}
      action: A
    - name: anything
      action: ANY
)",
                                         "buckets.yaml");
    const auto table = routes::routing::build_table(*cfg);
    const rule_set rules(cfg, table);
    const routes::routing routing(*cfg, table, rules.plans());
    const auto action = [&](const routes::routing& labelled_by, const char* method,
                            const char* target) {
        std::vector<derived_event> out;
        rules.evaluate(record(labelled_by, method, target, 200), out);
        for (const auto& d : out)
            if (const auto* a = std::get_if<audit_event>(&d.ev)) return a->action;
        return std::string("none");
    };
    EXPECT_EQ(action(routing, "GET", "/b"), "B");
    EXPECT_EQ(action(routing, "PUT", "/a/1"), "ANY_PUT");  // an any-route rule placed first
    EXPECT_EQ(action(routing, "GET", "/a/1"), "A");
    EXPECT_EQ(action(routing, "GET", "/users/42"), "ANY");  // normalized: no route names it
    EXPECT_EQ(action(routing, "GET", "/nowhere"), "ANY");
    // A request labelled by another table of the same config (in flight across a reload) is
    // looked up by its label: the same answers.
    const routes::routing other(*cfg);
    ASSERT_NE(&other.table(), &routing.table());
    EXPECT_EQ(action(other, "GET", "/b"), "B");
    EXPECT_EQ(action(other, "GET", "/a/1"), "A");
    EXPECT_EQ(action(other, "PUT", "/a/1"), "ANY_PUT");
}

}  // namespace
}  // namespace sidelight::rules
