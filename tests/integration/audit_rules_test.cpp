// Audit and security rules end to end, for what a config switch or a store outage changes:
// built-in security rules on and off, the OWASP names stored, the detector metric, a strict rule
// decided by the response, the body cap, /healthz naming the store's error, and paging through
// the event API. Each test reads the rows back from the SQLite file or the admin port.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/json/parse.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

// The app answers GET /status/<code> with that status, and 200 to anything else.
fake_reply status_by_path(const wire_message& m) {
    const std::string prefix = "GET /status/";
    if (m.start_line.starts_with(prefix)) {
        return fake_reply{simple_response(std::stoi(m.start_line.substr(prefix.size(), 3)), "x")};
    }
    return fake_reply{simple_response(200, "{\"ok\":true}")};
}

class AuditRulesTest : public ::testing::Test {
  protected:
    std::string db() const { return dir_.path() + "/audit.db"; }

    // `event_type|details` of every security_audit row, in seq order.
    std::vector<std::string> security_rows() const {
        SQLite::Database d(db(), SQLite::OPEN_READONLY);
        SQLite::Statement st(d, "SELECT event_type, details FROM security_audit ORDER BY seq");
        std::vector<std::string> out;
        while (st.executeStep())
            out.push_back(st.getColumn(0).getString() + "|" + st.getColumn(1).getString());
        return out;
    }

    int count(const std::string& sql) const {
        SQLite::Database d(db(), SQLite::OPEN_READONLY);
        return d.execAndGet(sql).getInt();
    }

    temp_dir dir_;
};

// 401 and 429 give their built-in events with the OWASP names; 403 gives none once switched off;
// a configured rule stores its own OWASP name.
TEST_F(AuditRulesTest, BuiltinsCanBeSwitchedOffAndOwaspNamesAreStored) {
    fake_upstream app(status_by_path);
    auto proc = sidelight_process::run(dir_, test_config(app.port(), R"(routes:
  - GET /status/{code}
  - GET /export
audit:
  store:
    path: audit.db
  batch_interval: 5ms
security:
  builtin:
    authz_fail: false
  rules:
    - name: export
      match:
        routes: [/export]
      event_type: DATA_EXPORT
      owasp: sensitive_read
      success:
        status: [2xx]
)"));
    auto c = connection::connect(proc->proxy_port());
    for (const char* path : {"/status/401", "/status/403", "/status/429", "/export"}) {
        c.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
        ASSERT_TRUE(c.read_message(true)) << path;
    }
    ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM security_audit") >= 3; }));
    std::this_thread::sleep_for(100ms);  // a fourth row, if there were one, would be in by now
    const auto rows = security_rows();
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_TRUE(rows[0].starts_with("authn_fail|")) << rows[0];
    EXPECT_NE(rows[0].find("\"owasp\":\"authn_fail\""), std::string::npos) << rows[0];
    EXPECT_TRUE(rows[1].starts_with("excess_rate_limit_exceeded|")) << rows[1];
    EXPECT_NE(rows[1].find("\"owasp\":\"excess_rate_limit_exceeded\""), std::string::npos);
    EXPECT_TRUE(rows[2].starts_with("DATA_EXPORT|")) << rows[2];
    EXPECT_NE(rows[2].find("\"owasp\":\"sensitive_read\""), std::string::npos) << rows[2];
    EXPECT_EQ(count("SELECT count(*) FROM security_audit WHERE event_type = 'authz_fail'"), 0);
}

// Five failed logins from one client as one user: the detector fires once per key kind (IP,
// user, user and IP), and its metric says so.
TEST_F(AuditRulesTest, DetectorMetricCountsWhatTheDetectorRecorded) {
    fake_upstream app([](const wire_message&) { return fake_reply{simple_response(401, "no")}; });
    auto proc = sidelight_process::run(dir_, test_config(app.port(), R"(routes:
  - POST /login
audit:
  store:
    path: audit.db
  batch_interval: 5ms
security:
  brute_force:
    threshold: 5
    window: 10m
  rules:
    - name: login
      match:
        routes: [/login]
        methods: [POST]
      event_type: LOGIN_ATTEMPT
      owasp: authn_login
      success:
        status: [2xx]
      user: header:X-User
      login: true
)"));
    const auto detections = [&](const char* detector) {
        return sample_value(
            scrape_metrics(proc->admin_port()),
            std::string("sidelight_security_detections_total{detector=\"") + detector + "\"}");
    };
    EXPECT_EQ(detections("authn_login_fail_max"), 0);
    auto c = connection::connect(proc->proxy_port());
    for (int i = 0; i < 5; ++i) {
        c.send("POST /login HTTP/1.1\r\nHost: a\r\nX-User: bob\r\nContent-Length: 0\r\n\r\n");
        ASSERT_EQ(c.read_message(true)->status, 401);
    }
    ASSERT_TRUE(eventually([&] {
        return count("SELECT count(*) FROM security_audit WHERE source = 'detector'") == 3;
    }));
    EXPECT_EQ(detections("authn_login_fail_max"), 3);
    EXPECT_EQ(detections("authn_login_successafterfail"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM security_audit WHERE event_type = "
                    "'authn_login_fail_max' AND details LIKE '%\"window_s\":600%'"),
              3);
}

// A strict rule with a status condition is decided by the app's answer: while the store is down
// the app sees the request, but the client gets 503 instead of the unrecorded answer.
TEST_F(AuditRulesTest, StrictResponseRuleAnswers503WhileTheStoreIsDown) {
    fake_upstream app(status_by_path);
    const auto fault = dir_.path() + "/store-fault";
    ::setenv("SIDELIGHT_FAULT_STORE_FILE", fault.c_str(), 1);
    auto proc = sidelight_process::run(dir_, test_config(app.port(), R"(routes:
  - GET /export
audit:
  store:
    path: audit.db
  batch_interval: 5ms
  strict_timeout: 300ms
  rules:
    - name: export
      match:
        routes: [/export]
        status: [2xx]
      action: EXPORT
      entity_type: report
      entity_id: header:X-Report
      mode: strict
)"),
                                       SIDELIGHT_FAULT_BINARY);
    ::unsetenv("SIDELIGHT_FAULT_STORE_FILE");
    dir_.write("store-fault", "");
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /export HTTP/1.1\r\nHost: a\r\n\r\n");
    auto refused = c.read_message(true);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503);
    EXPECT_EQ(refused->body.find("\"ok\":true"), std::string::npos) << refused->body;
    EXPECT_EQ(app.request_count(), 1u);  // decided after the app answered
    // /healthz says why.
    auto health = http_get(proc->admin_port(), "/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 503);
    const auto doc = boost::json::parse(health->body).as_object();
    EXPECT_FALSE(doc.at("audit").at("healthy").as_bool());
    EXPECT_NE(std::string(doc.at("audit").at("last_error").at("message").as_string())
                  .find("injected store fault"),
              std::string::npos)
        << health->body;

    std::filesystem::remove(fault);
    ASSERT_TRUE(
        eventually([&] { return http_get(proc->admin_port(), "/healthz")->status == 200; }, 10s));
    auto again = connection::connect(proc->proxy_port());
    again.send("GET /export HTTP/1.1\r\nHost: a\r\nX-Report: q3-sales\r\n\r\n");
    auto served = again.read_message(true);
    ASSERT_TRUE(served);
    EXPECT_EQ(served->status, 200);
    EXPECT_NE(served->body.find("\"ok\":true"), std::string::npos);
    EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE action = 'EXPORT' AND entity_id = "
                    "'q3-sales'"),
              1);
    sidelight_process verify({"audit", "verify", "--store", db()});
    EXPECT_EQ(verify.wait_exit(), 0) << verify.stdout_text();
    EXPECT_NE(verify.stdout_text().find("OK 1 events"), std::string::npos) << verify.stdout_text();
}

// The stored client address is the proxy's: X-Forwarded-For only from a trusted peer. The user
// agent is cut to 1 KiB.
TEST_F(AuditRulesTest, ClientAddressFollowsTrustedProxiesAndUserAgentIsCapped) {
    fake_upstream app;
    const auto stored_ip = [&](const std::string& trusted) {
        temp_dir dir;
        auto yaml = test_config(app.port(), R"(routes:
  - GET /me
audit:
  store:
    path: audit.db
  batch_interval: 5ms
  rules:
    - name: me
      match:
        routes: [/me]
      action: READ_ME
      entity_type: account
)");
        const std::string workers = "  workers: 2\n";
        yaml.insert(yaml.find(workers) + workers.size(), "  trusted_proxies: [" + trusted + "]\n");
        auto proc = sidelight_process::run(dir, yaml);
        auto c = connection::connect(proc->proxy_port());
        c.send("GET /me HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.7\r\nUser-Agent: " +
               std::string(4000, 'U') + "\r\n\r\n");
        EXPECT_EQ(c.read_message(true)->status, 200);
        const auto file = dir.path() + "/audit.db";
        EXPECT_TRUE(eventually([&] {
            SQLite::Database d(file, SQLite::OPEN_READONLY);
            return d.execAndGet("SELECT count(*) FROM audit_log").getInt() == 1;
        }));
        SQLite::Database d(file, SQLite::OPEN_READONLY);
        const auto agent = d.execAndGet("SELECT user_agent FROM audit_log").getString();
        EXPECT_LE(agent.size(), 1024u);
        EXPECT_GE(agent.size(), 1000u);
        EXPECT_TRUE(agent.starts_with("UUUU")) << agent;
        return d.execAndGet("SELECT ip_address FROM audit_log").getString();
    };
    EXPECT_EQ(stored_ip("127.0.0.1"), "198.51.100.7");
    EXPECT_EQ(stored_ip("10.0.0.0/8"), "127.0.0.1");  // an untrusted peer's header is ignored
}

// A body past max_body_bytes reaches the app whole; the stored changes only say it was cut.
TEST_F(AuditRulesTest, BodyOverTheCapStreamsWholeAndChangesSayTruncated) {
    fake_upstream app;
    auto proc = sidelight_process::run(dir_, test_config(app.port(), R"(routes:
  - PUT /items/{id}
audit:
  store:
    path: audit.db
  batch_interval: 5ms
  max_body_bytes: 1024
  rules:
    - name: item-update
      match:
        routes: ["/items/{id}"]
        methods: [PUT]
      action: UPDATE_ITEM
      entity_type: item
      entity_id: path:id
      changes: true
)"));
    const std::string body = "{\"blob\":\"" + std::string(100 * 1024, 'q') + "\"}";
    auto c = connection::connect(proc->proxy_port());
    c.send(json_request("PUT", "/items/9", body));
    auto reply = c.read_message(true);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200);
    ASSERT_EQ(app.requests().size(), 1u);
    EXPECT_EQ(app.requests()[0].message.body, body);
    ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM audit_log") == 1; }));
    SQLite::Database d(db(), SQLite::OPEN_READONLY);
    const auto changes = d.execAndGet("SELECT changes FROM audit_log").getString();
    EXPECT_NE(changes.find("\"truncated\":true"), std::string::npos) << changes;
    EXPECT_LT(changes.size(), 1024u);
    EXPECT_EQ(d.execAndGet("SELECT entity_id FROM audit_log").getString(), "9");
}

// GET /v1/events pages with after_seq and limit, and filters by time (since inclusive, until
// exclusive).
TEST_F(AuditRulesTest, EventApiPagesAndFiltersByTime) {
    fake_upstream app;
    auto yaml = test_config(app.port(), "audit:\n  store:\n    path: audit.db\n");
    const std::string admin = "admin:\n  listen: 127.0.0.1:0\n";
    yaml.insert(yaml.find(admin) + admin.size(), "  token: paging-t0ken\n");
    auto proc = sidelight_process::run(dir_, yaml);
    const std::string auth = "Authorization: Bearer paging-t0ken\r\n";
    std::string events = "[";
    // created_at as clients write it: the stored form, milliseconds (toISOString), an offset.
    const char* times[] = {"2026-01-01T00:00:01.000000Z", "2026-01-01T00:00:02.000000Z",
                           "2026-01-01T00:00:03Z", "2026-01-01T00:00:04.000Z",
                           "2026-01-01T01:00:05+01:00"};
    for (int i = 1; i <= 5; ++i) {
        events += std::string(i == 1 ? "" : ",") + R"({"action":"EXPORT","entity_type":"report",)" +
                  R"("entity_id":"r)" + std::to_string(i) + R"(","created_at":")" + times[i - 1] +
                  R"("})";
    }
    events += "]";
    auto api = connection::connect(proc->admin_port());
    api.send(json_request("POST", "/v1/audit", events, auth));
    ASSERT_EQ(api.read_message(true)->status, 201);
    // entity_ids of the page, and its next_after_seq.
    const auto page = [&](const std::string& query) {
        api.send("GET /v1/events?" + query + " HTTP/1.1\r\nHost: a\r\n" + auth + "\r\n");
        auto reply = api.read_message(true);
        EXPECT_TRUE(reply && reply->status == 200) << query;
        const auto doc = boost::json::parse(reply ? reply->body : "{}").as_object();
        std::string ids;
        for (const auto& e : doc.at("events").as_array())
            ids += std::string(e.at("entity_id").as_string()) + " ";
        return ids + "next=" + std::to_string(doc.at("next_after_seq").to_number<std::int64_t>());
    };
    EXPECT_EQ(page("limit=2"), "r1 r2 next=2");
    EXPECT_EQ(page("limit=2&after_seq=2"), "r3 r4 next=4");
    EXPECT_EQ(page("limit=2&after_seq=4"), "r5 next=5");
    EXPECT_EQ(page("after_seq=5"), "next=5");  // caught up: stays where it was
    // Times as clients write them: no fraction, milliseconds, an offset (+ percent-encoded).
    EXPECT_EQ(page("since=2026-01-01T00:00:02Z&until=2026-01-01T00:00:04.000Z"), "r2 r3 next=3");
    EXPECT_EQ(page("since=2026-01-01T01:00:02%2B01:00&until=2026-01-01T00:00:03.5Z"),
              "r2 r3 next=3");
    EXPECT_EQ(page("since=2026-01-01T00:00:02.000000Z&until=2026-01-01T00:00:04.000000Z"),
              "r2 r3 next=3");
    EXPECT_EQ(page("entity_id=r4&table=audit_log"), "r4 next=4");
    api.send("GET /v1/events?since=yesterday HTTP/1.1\r\nHost: a\r\n" + auth + "\r\n");
    auto bad = api.read_message(true);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    EXPECT_NE(bad->body.find("since"), std::string::npos) << bad->body;
}

// routes.case_sensitive is false by default: a client's "/API/products/7" is the configured
// route, so its audit rule fires; the row carries the template and the id as sent.
TEST_F(AuditRulesTest, RuleFiresForAPathInAnotherCase) {
    fake_upstream app(status_by_path);
    auto proc = sidelight_process::run(dir_, test_config(app.port(), R"(routes:
  - PUT /api/products/{id}
audit:
  store:
    path: audit.db
  batch_interval: 5ms
  rules:
    - action: UPDATE_PRODUCT
      match:
        routes: ["/api/products/{id}"]
        methods: [PUT]
      entity_id: path:id
)"));
    auto c = connection::connect(proc->proxy_port());
    for (const char* path : {"/API/products/7", "/api/Products/Ab8"}) {
        c.send(std::string("PUT ") + path + " HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
        ASSERT_EQ(c.read_message(true)->status, 200) << path;
    }
    ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM audit_log") >= 2; }));
    SQLite::Database d(db(), SQLite::OPEN_READONLY);
    SQLite::Statement st(d, "SELECT action, entity_id, route FROM audit_log ORDER BY seq");
    std::vector<std::string> rows;
    while (st.executeStep())
        rows.push_back(st.getColumn(0).getString() + "|" + st.getColumn(1).getString() + "|" +
                       st.getColumn(2).getString());
    EXPECT_EQ(rows, (std::vector<std::string>{"UPDATE_PRODUCT|7|/api/products/{id}",
                                              "UPDATE_PRODUCT|Ab8|/api/products/{id}"}));
    ASSERT_TRUE(app.wait_requests(2));
    EXPECT_EQ(app.requests().at(0).message.start_line, "PUT /API/products/7 HTTP/1.1");  // as sent
}

}  // namespace
}  // namespace sidelight::test

namespace sidelight::test {
namespace {

// A Connection option naming a header a rule of the route reads: the rule would attribute the
// request to a value the app never receives (the option removes it as hop-by-hop), so it is
// refused, as is the header sent twice; the same header once, not named by Connection, is read
// as usual.
TEST_F(AuditRulesTest, ConnectionNamingARuleCapturedHeaderIsRefused) {
    fake_upstream app;
    auto proc = sidelight_process::run(dir_, test_config(app.port(), R"(routes:
  - PUT /api/products/{id}
audit:
  store:
    path: audit.db
  batch_interval: 5ms
  rules:
    - name: product-update
      match:
        routes: ["/api/products/{id}"]
        methods: [PUT]
        status: [2xx]
      action: UPDATE_PRODUCT
      entity_type: product
      entity_id: path:id
      user: header:X-User-Id
)"));
    auto c = connection::connect(proc->proxy_port());
    c.send(json_request("PUT", "/api/products/7", "{}",
                        "Connection: keep-alive, X-User-Id\r\nX-User-Id: attacker\r\n"));
    auto refused = c.read_message(true);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400);
    EXPECT_TRUE(c.wait_closed(5s));
    EXPECT_EQ(app.request_count(), 0u);

    // Twice the header the rule reads: which one would the app believe? Refused as well.
    auto twice = connection::connect(proc->proxy_port());
    twice.send(
        json_request("PUT", "/api/products/7", "{}", "X-User-Id: attacker\r\nX-User-Id: u42\r\n"));
    auto refused_twice = twice.read_message(true);
    ASSERT_TRUE(refused_twice);
    EXPECT_EQ(refused_twice->status, 400);
    EXPECT_EQ(app.request_count(), 0u);

    auto ok = connection::connect(proc->proxy_port());
    ok.send(json_request("PUT", "/api/products/8", "{}",
                         "Connection: X-Hop\r\nX-Hop: 1\r\nX-User-Id: u42\r\n"));
    auto res = ok.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    ASSERT_TRUE(app.wait_requests(1));
    EXPECT_EQ(app.requests().at(0).message.header("X-User-Id"), "u42");
    EXPECT_EQ(app.requests().at(0).message.header_count("X-Hop"), 0u);
    ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM audit_log") == 1; }));
    SQLite::Database d(db(), SQLite::OPEN_READONLY);
    EXPECT_EQ(d.execAndGet("SELECT user_id || '|' || entity_id FROM audit_log").getString(),
              "u42|8");
}

}  // namespace
}  // namespace sidelight::test

namespace sidelight::test {
namespace {

// Fault injection lives in the test build of the binary only: the shipped sidelight ignores
// the switch the outage tests use, and its store keeps working with the trigger file present.
TEST_F(AuditRulesTest, TheShippedBinaryHasNoFaultSwitch) {
    fake_upstream app;
    const auto fault = dir_.path() + "/store-fault";
    dir_.write("store-fault", "");
    ::setenv("SIDELIGHT_FAULT_STORE_FILE", fault.c_str(), 1);
    auto proc = sidelight_process::run(dir_, test_config(app.port(), R"(routes:
  - GET /export
audit:
  store:
    path: audit.db
  batch_interval: 5ms
  rules:
    - name: export
      match:
        routes: [/export]
      action: EXPORT
      entity_type: report
)"));
    ::unsetenv("SIDELIGHT_FAULT_STORE_FILE");
    auto res = http_get(proc->proxy_port(), "/export");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM audit_log") == 1; }));
    EXPECT_EQ(proc->stderr_text().find("fault injection"), std::string::npos);
}

}  // namespace
}  // namespace sidelight::test
