// The audit trail end to end: real traffic through the proxy in front of a fake app, rows read
// back from the SQLite file, the event API on the admin port, and `sidelight audit verify`.

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

// /healthz's audit section, parsed.
boost::json::object audit_health(std::uint16_t admin_port, int* status = nullptr) {
    auto h = http_get(admin_port, "/healthz");
    if (!h) return {};
    if (status) *status = h->status;
    return boost::json::parse(h->body).as_object().at("audit").as_object();
}

// UTC now as ISO-8601 down to the second, "2026-12-05T19:56:28", to compare with a stored time.
std::string utc_seconds_now() {
    const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char out[32];
    std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
    return out;
}

const std::string audit_yaml = R"(routes:
  - POST /api/login
  - PUT /api/products/{id}
  - GET /api/products/{id}
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
      user: jwt:sub
      changes: true
    - name: product-read-strict
      match:
        routes: ["/api/products/{id}"]
        methods: [GET]
      action: READ_PRODUCT
      entity_type: product
      entity_id: path:id
      mode: strict
security:
  brute_force:
    threshold: 5
    window: 10m
  rules:
    - name: login
      match:
        routes: [/api/login]
        methods: [POST]
      event_type: LOGIN_ATTEMPT
      owasp: authn_login
      success:
        status: [2xx]
      user: request:/username
      login: true
admin:
  token: s3cret-token
)";

// A JWT whose payload is {"sub":"user-42","role":"admin"} (signature not checked).
const std::string jwt =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJl";

std::string config_with_admin_token(std::uint16_t port) {
    auto yaml = test_config(port, audit_yaml);
    // test_config has an admin section already: fold the token into it.
    yaml.replace(yaml.find("admin:\n  token: s3cret-token\n"), 29, "");
    yaml.insert(yaml.find("admin:\n  listen: 127.0.0.1:0\n") + 29, "  token: s3cret-token\n");
    return yaml;
}

struct row_counts {
    int audit = 0;
    int security = 0;
};

// A POST /v1/audit with the admin token of config_with_admin_token.
std::string api_audit_request(const std::string& body) {
    return json_request("POST", "/v1/audit", body, "Authorization: Bearer s3cret-token\r\n");
}

// Five wrong passwords for `user` (401 each from login_reply), then the right one (200): the
// brute-force detector's two kinds of event.
void five_failed_logins_then_one(connection& c, const std::string& user) {
    const auto login = [&](const std::string& password) {
        const std::string body =
            "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}";
        c.send(json_request("POST", "/api/login", body));
        return c.read_message(true)->status;
    };
    for (int i = 0; i < 5; ++i) ASSERT_EQ(login("wrong" + std::to_string(i)), 401);
    ASSERT_EQ(login("right"), 200);
}

row_counts count_rows(const std::string& db) {
    SQLite::Database d(db, SQLite::OPEN_READONLY);
    return {d.execAndGet("SELECT count(*) FROM audit_log").getInt(),
            d.execAndGet("SELECT count(*) FROM security_audit").getInt()};
}

fake_reply login_reply(const wire_message& m) {
    const bool good = m.body.find("\"password\":\"right\"") != std::string::npos;
    return fake_reply{simple_response(good ? 200 : 401, good ? "{\"token\":\"t\"}" : "no")};
}

class AuditTest : public ::testing::Test {
  protected:
    std::string db() const { return dir_.path() + "/audit.db"; }
    temp_dir dir_;
};

TEST_F(AuditTest, FailedLoginsThenSuccessGiveSecurityRowsAndDetections) {
    fake_upstream app(login_reply);
    auto proc = sidelight_process::run(dir_, config_with_admin_token(app.port()));
    auto c = connection::connect(proc->proxy_port());
    five_failed_logins_then_one(c, "alice");
    if (HasFatalFailure()) return;
    ASSERT_TRUE(eventually([&] { return count_rows(db()).security == 10; }, 5s));
    SQLite::Database d(db(), SQLite::OPEN_READONLY);
    SQLite::Statement attempts(d,
                               "SELECT user_id, ip_address, success, details, source, route, "
                               "status FROM security_audit WHERE event_type='LOGIN_ATTEMPT' "
                               "ORDER BY seq");
    int n = 0, successes = 0;
    while (attempts.executeStep()) {
        ++n;
        EXPECT_EQ(attempts.getColumn(0).getString(), "alice");
        EXPECT_EQ(attempts.getColumn(1).getString(), "127.0.0.1");
        successes += attempts.getColumn(2).getInt();
        EXPECT_EQ(attempts.getColumn(4).getString(), "rule");
        EXPECT_EQ(attempts.getColumn(5).getString(), "/api/login");
        const auto details = attempts.getColumn(3).getString();
        EXPECT_EQ(details.find("wrong"), std::string::npos) << "a password leaked: " << details;
        EXPECT_EQ(details.find("right"), std::string::npos) << "a password leaked: " << details;
    }
    EXPECT_EQ(n, 6);
    EXPECT_EQ(successes, 1);
    EXPECT_EQ(d.execAndGet("SELECT count(*) FROM security_audit WHERE event_type="
                           "'authn_login_successafterfail' AND source='detector'")
                  .getInt(),
              1);
    // One authn_login_fail_max per key per window (issue 5, item 7): the client's address, the
    // user, and the two together.
    for (const char* kind : {"ip", "user", "user_ip"}) {
        EXPECT_EQ(d.execAndGet(std::string("SELECT count(*) FROM security_audit WHERE event_type="
                                           "'authn_login_fail_max' AND source='detector' AND "
                                           "details LIKE '%\"key_kind\":\"") +
                               kind + "\",%'")
                      .getInt(),
                  1)
            << kind;
    }
    EXPECT_EQ(d.execAndGet("SELECT count(*) FROM security_audit WHERE event_type="
                           "'authn_login_fail_max'")
                  .getInt(),
              3);
    // Without a security rule of their own, the five 401s are not also counted as authn_fail.
    EXPECT_EQ(
        d.execAndGet("SELECT count(*) FROM security_audit WHERE event_type='authn_fail'").getInt(),
        0);
    // Nobody can edit the trail afterwards.
    SQLite::Database rw(db(), SQLite::OPEN_READWRITE);
    EXPECT_THROW(rw.exec("UPDATE security_audit SET success=1"), SQLite::Exception);
    EXPECT_THROW(rw.exec("DELETE FROM security_audit"), SQLite::Exception);
}

TEST_F(AuditTest, ProductUpdateRowHasPathIdJwtUserAndRedactedChanges) {
    fake_upstream app;
    auto proc = sidelight_process::run(dir_, config_with_admin_token(app.port()));
    auto c = connection::connect(proc->proxy_port());
    const std::string body =
        R"({"name":"Lamp","price":12.5,"owner":{"Password":"hunter2","card_number":"4111-1111-1111-1111"}})";
    c.send(json_request(
        "PUT", "/api/products/42?token=qry-sekrit", body,
        "Authorization: Bearer " + jwt + "\r\nUser-Agent: curl/8\r\nCookie: session=xyz\r\n"));
    ASSERT_EQ(c.read_message(true)->status, 200);
    ASSERT_TRUE(app.wait_requests(1));
    EXPECT_EQ(app.requests().at(0).message.body, body);  // the app still gets it all
    ASSERT_TRUE(eventually([&] { return count_rows(db()).audit == 1; }, 5s));
    SQLite::Database d(db(), SQLite::OPEN_READONLY);
    SQLite::Statement row(d,
                          "SELECT user_id, action, entity_type, entity_id, changes, ip_address, "
                          "user_agent, method, route, status, source FROM audit_log");
    ASSERT_TRUE(row.executeStep());
    EXPECT_EQ(row.getColumn(0).getString(), "user-42");
    EXPECT_EQ(row.getColumn(1).getString(), "UPDATE_PRODUCT");
    EXPECT_EQ(row.getColumn(2).getString(), "product");
    EXPECT_EQ(row.getColumn(3).getString(), "42");
    const auto changes = boost::json::parse(row.getColumn(4).getString()).as_object();
    EXPECT_EQ(changes.at("name").as_string(), "Lamp");
    EXPECT_EQ(changes.at("owner").at("Password").as_string(), "[REDACTED]");
    EXPECT_EQ(changes.at("owner").at("card_number").as_string(), "[REDACTED]");
    EXPECT_EQ(row.getColumn(5).getString(), "127.0.0.1");
    EXPECT_EQ(row.getColumn(6).getString(), "curl/8");
    EXPECT_EQ(row.getColumn(7).getString(), "PUT");
    EXPECT_EQ(row.getColumn(8).getString(), "/api/products/{id}");
    EXPECT_EQ(row.getColumn(9).getInt(), 200);
    EXPECT_EQ(row.getColumn(10).getString(), "rule");
    sidelight_process queried(
        {"audit", "query", "--store", db(), "--filter", "table=audit_log&entity_id=42"});
    ASSERT_EQ(queried.wait_exit(), 0);
    const auto rows = boost::json::parse(queried.stdout_text()).as_array();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].at("user_id").as_string(), "user-42");
    // No secret anywhere in the file. (Secrets that cannot occur by chance in the hex of ids
    // and hashes: a short hex-like one did, once in a few hundred runs.)
    sidelight_process exported({"audit", "export", "--store", db()});
    ASSERT_EQ(exported.wait_exit(), 0);
    const auto all = exported.stdout_text();
    for (const char* secret :
         {"hunter2", "4111-1111-1111-1111", "session=xyz", "qry-sekrit", "c2lnbmF0dXJl"})
        EXPECT_EQ(all.find(secret), std::string::npos) << secret << " in " << all;
}

TEST_F(AuditTest, SigtermRightAfterABurstLosesNoEvent) {
    fake_upstream app;
    auto proc = sidelight_process::run(dir_, config_with_admin_token(app.port()));
    constexpr int burst = 300;
    {
        auto c = connection::connect(proc->proxy_port());
        for (int i = 0; i < burst; ++i) {
            c.send("PUT /api/products/" + std::to_string(i) +
                   " HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
            ASSERT_TRUE(c.read_message(true));
        }
    }
    proc->signal(SIGTERM);
    ASSERT_EQ(proc->wait_exit(15s), 0);
    EXPECT_EQ(count_rows(db()).audit, burst);
    sidelight_process verify({"audit", "verify", "--store", db()});
    EXPECT_EQ(verify.wait_exit(), 0) << verify.stdout_text();
    EXPECT_NE(verify.stdout_text().find("OK " + std::to_string(burst) + " events"),
              std::string::npos)
        << verify.stdout_text();
}

TEST_F(AuditTest, EventApiNeedsTheTokenValidatesAndIsIdempotent) {
    fake_upstream app;
    auto proc = sidelight_process::run(dir_, config_with_admin_token(app.port()));
    const auto post = [&](const std::string& path, const std::string& body,
                          const std::string& auth) {
        auto c = connection::connect(proc->admin_port());
        c.send(json_request("POST", path, body, auth));
        return *c.read_message(true);
    };
    const std::string event =
        R"({"event_id":"6f1c1d52-8a1e-4c8e-9d55-0b3a5c2f7e10","user_id":"u7","action":"EXPORT",)"
        R"("entity_type":"report","entity_id":"r1","changes":{"rows":10}})";
    EXPECT_EQ(post("/v1/audit", event, "").status, 401);
    EXPECT_EQ(post("/v1/audit", event, "Authorization: Bearer wrong\r\n").status, 401);
    const std::string auth = "Authorization: Bearer s3cret-token\r\n";
    auto bad = post("/v1/audit", R"({"user_id":"u7"})", auth);
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find("action"), std::string::npos) << bad.body;
    EXPECT_EQ(post("/v1/audit", event, auth).status, 201);
    EXPECT_EQ(count_rows(db()).audit, 1);                   // committed before the 201
    EXPECT_EQ(post("/v1/audit", event, auth).status, 201);  // a retry: same event_id
    EXPECT_EQ(count_rows(db()).audit, 1);
    EXPECT_EQ(post("/v1/security",
                   R"([{"event_type":"PASSWORD_RESET","user_id":"u7","success":true},)"
                   R"({"event_type":"MFA_FAIL","user_id":"u8","success":false}])",
                   auth)
                  .status,
              201);
    EXPECT_EQ(count_rows(db()).security, 2);
    auto c = connection::connect(proc->admin_port());
    c.send("GET /v1/events?table=audit_log&user_id=u7 HTTP/1.1\r\nHost: a\r\n" + auth + "\r\n");
    auto listed = c.read_message(true);
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->status, 200);
    const auto doc = boost::json::parse(listed->body).as_object();
    ASSERT_EQ(doc.at("events").as_array().size(), 1u);
    EXPECT_EQ(doc.at("events").as_array()[0].at("action").as_string(), "EXPORT");
}

// Events the store never took by the end of shutdown.grace are lost: logged, and the exit
// status says so (an orchestrator or a wrapper script sees it).
TEST_F(AuditTest, EventsTheStoreDidNotTakeAtShutdownMakeTheExitStatusOne) {
    fake_upstream app;
    const auto fault = dir_.path() + "/store-fault";
    ::setenv("SIDELIGHT_FAULT_STORE_FILE", fault.c_str(), 1);
    auto yaml = config_with_admin_token(app.port());
    const std::string shutdown = "shutdown:\n  delay: 300ms\n  grace: 5s\n";
    ASSERT_NE(yaml.find(shutdown), std::string::npos);
    yaml.replace(yaml.find(shutdown), shutdown.size(), "shutdown:\n  delay: 0s\n  grace: 500ms\n");
    auto proc = sidelight_process::run(dir_, yaml, SIDELIGHT_FAULT_BINARY);
    ::unsetenv("SIDELIGHT_FAULT_STORE_FILE");
    dir_.write("store-fault", "");  // every store write fails from now on
    auto c = connection::connect(proc->proxy_port());
    c.send("PUT /api/products/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
    ASSERT_EQ(c.read_message(true)->status, 200);
    c.close();
    ASSERT_TRUE(proc->wait_for_log("injected store fault"));
    proc->signal(SIGTERM);
    EXPECT_EQ(proc->wait_exit(15s), 1) << proc->stderr_text();
    EXPECT_NE(proc->stderr_text().find("event=audit_drain_incomplete"), std::string::npos);
    EXPECT_NE(proc->stderr_text().find("audit events lost"), std::string::npos);
}

TEST_F(AuditTest, StoreOutageBatchKeepsServingStrictAnswers503ThenRecovers) {
    fake_upstream app;
    const auto fault = dir_.path() + "/store-fault";
    ::setenv("SIDELIGHT_FAULT_STORE_FILE", fault.c_str(), 1);
    auto yaml = config_with_admin_token(app.port());
    yaml.insert(yaml.find("  batch_interval: 5ms\n"), "  queue_size: 4\n  strict_timeout: 300ms\n");
    auto proc = sidelight_process::run(dir_, yaml, SIDELIGHT_FAULT_BINARY);
    ::unsetenv("SIDELIGHT_FAULT_STORE_FILE");
    // Before any failure: healthy, and no error to show.
    auto audit = audit_health(proc->admin_port());
    EXPECT_TRUE(audit.at("healthy").as_bool());
    EXPECT_TRUE(audit.at("last_error").is_null()) << boost::json::serialize(audit);
    dir_.write("store-fault", "");  // from now on every store write fails
    auto c = connection::connect(proc->proxy_port());
    // Batch mode: served, events queue up then drop. The writer takes the queue into its retried
    // batch between backoff sleeps (10 ms doubling), so the queue of 4 overflows only once more
    // than 4 requests arrive within one sleep: 40 requests make sure of it even when every
    // request is slow (ThreadSanitizer on a busy machine).
    for (int i = 0; i < 40; ++i) {
        c.send("PUT /api/products/" + std::to_string(i) +
               " HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
        ASSERT_EQ(c.read_message(true)->status, 200);
    }
    ASSERT_TRUE(eventually([&] {
        auto h = http_get(proc->admin_port(), "/healthz");
        return h && h->status == 503 && h->body.find("\"healthy\":false") != std::string::npos;
    }));
    const auto before = app.request_count();
    c.send("GET /api/products/7 HTTP/1.1\r\nHost: a\r\n\r\n");  // strict rule
    auto refused = c.read_message(true);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503);
    EXPECT_EQ(app.request_count(), before);  // the app never saw the strict request
    std::string metrics = scrape_metrics(proc->admin_port());
    EXPECT_GT(
        sample_value(metrics,
                     "sidelight_audit_dropped_total{reason=\"queue_full\",table=\"audit_log\"}"),
        0)
        << metrics;
    EXPECT_GT(sample_value(metrics, "sidelight_audit_store_errors_total"), 0);
    // During: unhealthy, with the current error and when it happened.
    int status = 0;
    audit = audit_health(proc->admin_port(), &status);
    EXPECT_EQ(status, 503);
    EXPECT_FALSE(audit.at("healthy").as_bool());
    const auto& during = audit.at("last_error").as_object();
    EXPECT_NE(std::string(during.at("message").as_string()).find("injected store fault"),
              std::string::npos)
        << boost::json::serialize(audit);
    const std::string during_at(during.at("at").as_string());
    EXPECT_EQ(during_at.size(), std::string("2026-11-26T23:59:01.123456Z").size()) << during_at;
    EXPECT_EQ(during_at.back(), 'Z');

    std::filesystem::remove(fault);  // the store comes back
    const auto back = utc_seconds_now();
    ASSERT_TRUE(
        eventually([&] { return http_get(proc->admin_port(), "/healthz")->status == 200; }, 10s));
    // After: healthy, and the last error stays visible with a time before the recovery.
    audit = audit_health(proc->admin_port(), &status);
    EXPECT_EQ(status, 200);
    EXPECT_TRUE(audit.at("healthy").as_bool());
    const auto& after = audit.at("last_error").as_object();
    EXPECT_NE(std::string(after.at("message").as_string()).find("injected store fault"),
              std::string::npos);
    const std::string after_at(after.at("at").as_string());
    EXPECT_GE(after_at, during_at);                    // probes failed until the fault went away
    EXPECT_LE(after_at.substr(0, back.size()), back);  // and none since
    ASSERT_TRUE(eventually(
        [&] {
            SQLite::Database d(db(), SQLite::OPEN_READONLY);
            return d.execAndGet(
                        "SELECT count(*) FROM security_audit WHERE event_type="
                        "'audit_events_dropped'")
                       .getInt() == 1;
        },
        5s));
    c.send("GET /api/products/7 HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(c.read_message(true)->status, 200);  // strict works again
    EXPECT_EQ(app.request_count(), before + 1);
    SQLite::Database d(db(), SQLite::OPEN_READONLY);
    EXPECT_EQ(d.execAndGet("SELECT count(*) FROM audit_log WHERE action='READ_PRODUCT'").getInt(),
              1);
}

// An event API call waiting on a slow store (another connection holds its write lock) does
// not hold up the admin port: /metrics and /healthz answer while it waits.
TEST_F(AuditTest, AWaitingEventApiCallDoesNotBlockScrapes) {
    fake_upstream app;
    auto yaml = config_with_admin_token(app.port());
    yaml.insert(yaml.find("  batch_interval: 5ms\n"), "  strict_timeout: 1s\n");
    auto proc = sidelight_process::run(dir_, yaml);
    SQLite::Database locker(db(), SQLite::OPEN_READWRITE);
    locker.exec("BEGIN IMMEDIATE");  // the store's writer now waits for this lock
    const std::string body = R"({"user_id":"u7","action":"EXPORT","entity_type":"report"})";
    auto api = connection::connect(proc->admin_port());
    api.send(api_audit_request(body));
    std::atomic<bool> answered{false};
    std::optional<wire_message> api_reply;
    std::thread waiter([&] {
        api_reply = api.read_message(true, false, 10s);
        answered = true;
    });
    std::this_thread::sleep_for(200ms);  // the call is now waiting on the store
    auto scrape = http_get(proc->admin_port(), "/metrics");
    auto health = http_get(proc->admin_port(), "/healthz");
    const bool scrapes_first = !answered.load();
    waiter.join();
    locker.exec("ROLLBACK");
    ASSERT_TRUE(scrape);
    EXPECT_EQ(scrape->status, 200);
    EXPECT_TRUE(health);
    EXPECT_TRUE(scrapes_first) << "the scrape waited for the event API call";
    ASSERT_TRUE(api_reply);
    EXPECT_EQ(api_reply->status, 503) << api_reply->body;  // not committed in time
}

// sidelight_security_events_total (issue 18): the security_audit rows, by event type and
// success, as the store holds them; the config's types shown from zero; a type that is no plain
// name counted as other.
TEST_F(AuditTest, SecurityEventsMetricMatchesTheStoredRowsByTypeAndSuccess) {
    fake_upstream app([](const wire_message& m) {
        if (m.start_line.starts_with("POST /api/login")) return login_reply(m);
        return fake_reply{simple_response(403, "{}")};
    });
    auto proc = sidelight_process::run(dir_, config_with_admin_token(app.port()));
    auto c = connection::connect(proc->proxy_port());
    five_failed_logins_then_one(c, "bob");
    if (HasFatalFailure()) return;
    c.send("GET /admin/panel HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(c.read_message(true)->status, 403);  // the built-in authz_fail
    auto api = connection::connect(proc->admin_port());
    for (const char* body : {R"({"event_type":"password_reset","success":true})",
                             R"({"event_type":"x\"} 1\nforged{a=\"","success":false})"}) {
        api.send(
            json_request("POST", "/v1/security", body, "Authorization: Bearer s3cret-token\r\n"));
        ASSERT_EQ(api.read_message(true)->status, 201);
    }
    // 6 LOGIN_ATTEMPT, 3 authn_login_fail_max, 1 authn_login_successafterfail, 1 authz_fail and
    // the 2 posted.
    const auto family_sum = [](const std::string& text) {
        double sum = 0;
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);) {
            if (line.starts_with("sidelight_security_events_total{"))
                sum += std::stod(line.substr(line.rfind(' ') + 1));
        }
        return sum;
    };
    std::string text;
    ASSERT_TRUE(eventually(
        [&] {
            text = scrape_metrics(proc->admin_port());
            return family_sum(text) == 13;
        },
        5s))
        << text;
    SQLite::Database d(db(), SQLite::OPEN_READONLY);
    SQLite::Statement groups(d,
                             "SELECT event_type, success, count(*) FROM security_audit "
                             "GROUP BY event_type, success");
    int rows = 0;
    while (groups.executeStep()) {
        std::string type = groups.getColumn(0).getString();
        if (type.find('"') != std::string::npos) type = "other";
        const auto success = groups.getColumn(1).isNull()   ? "unknown"
                             : groups.getColumn(1).getInt() ? "true"
                                                            : "false";
        const auto count = groups.getColumn(2).getInt();
        rows += count;
        EXPECT_EQ(sample_value(text, "sidelight_security_events_total{event_type=\"" + type +
                                         "\",success=\"" + success + "\"}"),
                  count)
            << type << " " << success << "\n"
            << text;
    }
    EXPECT_EQ(rows, 13);
    EXPECT_EQ(sample_value(text,
                           "sidelight_security_events_total{event_type=\"LOGIN_ATTEMPT\","
                           "success=\"false\"}"),
              5);
    // Types the config can produce are there before the first one.
    EXPECT_EQ(sample_value(text,
                           "sidelight_security_events_total{event_type=\"authn_fail\","
                           "success=\"false\"}"),
              0);
    EXPECT_EQ(sample_value(text,
                           "sidelight_security_events_total{event_type="
                           "\"excess_rate_limit_exceeded\",success=\"true\"}"),
              0);
    EXPECT_EQ(text.find("forged"), std::string::npos) << "an event type became a label";
}

// A security rule added by a reload has its series from zero before its first event.
TEST_F(AuditTest, ASecurityRuleAddedByAReloadIsShownFromZero) {
    fake_upstream app;
    auto proc = sidelight_process::run(dir_, config_with_admin_token(app.port()));
    const std::string series =
        "sidelight_security_events_total{event_type=\"PASSWORD_CHANGE\",success=\"true\"}";
    EXPECT_EQ(sample_value(scrape_metrics(proc->admin_port()), series), -1);
    auto yaml = config_with_admin_token(app.port());
    const std::string last_rule = "      login: true\n";
    yaml.insert(yaml.find(last_rule) + last_rule.size(),
                "    - name: password\n"
                "      match: {routes: [/api/login], methods: [POST]}\n"
                "      event_type: PASSWORD_CHANGE\n");
    dir_.write("sidelight.yaml", yaml);
    proc->signal(SIGHUP);
    ASSERT_TRUE(proc->wait_for_log("reload: ok"));
    EXPECT_EQ(sample_value(scrape_metrics(proc->admin_port()), series), 0);
}

// The audit metrics (issue 5, item 10) move with what was committed: events by table and
// source, the store's own insert and query durations, and the queue back at zero.
TEST_F(AuditTest, AuditMetricsCountWhatWasCommitted) {
    fake_upstream app([](const wire_message& m) {
        if (m.start_line.starts_with("POST /api/login")) return login_reply(m);
        return fake_reply{simple_response(200, "{}")};
    });
    auto proc = sidelight_process::run(dir_, config_with_admin_token(app.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send("PUT /api/products/5 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
    ASSERT_EQ(c.read_message(true)->status, 200);  // an audit_log row from a rule
    const std::string login = R"({"username":"ann","password":"wrong"})";
    c.send(json_request("POST", "/api/login", login));
    ASSERT_EQ(c.read_message(true)->status, 401);  // a security_audit row from a rule
    const std::string body = R"({"user_id":"u1","action":"EXPORT","entity_type":"report"})";
    auto api = connection::connect(proc->admin_port());
    api.send(api_audit_request(body));
    ASSERT_EQ(api.read_message(true)->status, 201);  // an audit_log row from the API
    api.send(
        "GET /v1/events?table=audit_log HTTP/1.1\r\nHost: a\r\n"
        "Authorization: Bearer s3cret-token\r\n\r\n");
    ASSERT_EQ(api.read_message(true)->status, 200);  // a query
    std::string text;
    ASSERT_TRUE(eventually([&] {
        text = scrape_metrics(proc->admin_port());
        // One commit may count both tables, one after the other: wait for each.
        return sample_value(
                   text,
                   "sidelight_audit_events_total{source=\"rule\",table=\"security_audit\"}") == 1 &&
               sample_value(text,
                            "sidelight_audit_events_total{source=\"rule\",table=\"audit_log\"}") ==
                   1 &&
               sample_value(
                   text, "sidelight_audit_events_total{source=\"api\",table=\"audit_log\"}") == 1;
    })) << text;
    EXPECT_EQ(
        sample_value(text, "sidelight_audit_events_total{source=\"rule\",table=\"audit_log\"}"), 1)
        << text;
    EXPECT_EQ(
        sample_value(text, "sidelight_audit_events_total{source=\"api\",table=\"audit_log\"}"), 1)
        << text;
    EXPECT_EQ(sample_value(text, "sidelight_audit_queue_depth"), 0) << text;
    EXPECT_EQ(sample_value(text, "sidelight_audit_store_errors_total"), 0) << text;
    // Every commit observed one duration, labelled by its table (or "both" when a batch held
    // rows of each): three events, so one to three commits.
    double appends = 0;
    for (const char* table : {"audit_log", "security_audit", "both"}) {
        const double n =
            sample_value(text, std::string("sidelight_store_query_duration_ms_count{operation=") +
                                   "\"append\",table=\"" + table + "\"}");
        if (n > 0) appends += n;
    }
    EXPECT_GE(appends, 1) << text;
    EXPECT_LE(appends, 3) << text;
    // The issue's buckets, and nothing else (how many fall under each depends on the machine).
    const std::string select_bucket =
        "sidelight_store_query_duration_ms_bucket{operation=\"select\",table=\"audit_log\",le=\"";
    for (const char* le : {"1", "5", "10", "50", "100", "500", "1000", "+Inf"})
        EXPECT_GE(sample_value(text, select_bucket + le + "\"}"), 0) << le << "\n" << text;
    EXPECT_EQ(sample_count(text, select_bucket), 8u) << text;
    EXPECT_EQ(
        sample_value(
            text,
            "sidelight_store_query_duration_ms_count{operation=\"select\",table=\"audit_log\"}"),
        1)
        << text;
}

TEST_F(AuditTest, VerifyFindsTheFirstTamperedRow) {
    fake_upstream app;
    {
        auto proc = sidelight_process::run(dir_, config_with_admin_token(app.port()));
        auto c = connection::connect(proc->proxy_port());
        for (int i = 0; i < 5; ++i) {
            c.send("PUT /api/products/" + std::to_string(i) +
                   " HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
            ASSERT_TRUE(c.read_message(true));
        }
        proc->signal(SIGTERM);
        ASSERT_EQ(proc->wait_exit(15s), 0);
    }
    sidelight_process ok({"audit", "verify", "--store", db()});
    EXPECT_EQ(ok.wait_exit(), 0);
    // sidelight-audit (the audit room alone) gives the same verdict and the same rows.
    sidelight_process tool_ok({"verify", "--store", db()}, SIDELIGHT_AUDIT_BINARY);
    EXPECT_EQ(tool_ok.wait_exit(), 0) << tool_ok.stderr_text();
    EXPECT_EQ(tool_ok.stdout_text(), ok.stdout_text());
    sidelight_process exported({"audit", "export", "--store", db()});
    sidelight_process tool_exported({"export", "--store", db()}, SIDELIGHT_AUDIT_BINARY);
    ASSERT_EQ(exported.wait_exit(), 0);
    ASSERT_EQ(tool_exported.wait_exit(), 0);
    const auto rows = exported.stdout_text();
    EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 5);
    EXPECT_EQ(tool_exported.stdout_text(), exported.stdout_text());
    {  // an attacker with write access drops the guard and edits a row
        SQLite::Database d(db(), SQLite::OPEN_READWRITE);
        for (const char* t : {"audit_log", "security_audit"}) {
            SQLite::Statement triggers(
                d, "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name=?");
            triggers.bind(1, t);
            std::vector<std::string> names;
            while (triggers.executeStep()) names.push_back(triggers.getColumn(0).getString());
            for (const auto& n : names) d.exec("DROP TRIGGER \"" + n + "\"");
        }
        d.exec("UPDATE audit_log SET entity_id='999' WHERE entity_id='3'");
    }
    sidelight_process broken({"audit", "verify", "--store", db()});
    EXPECT_EQ(broken.wait_exit(), 1);
    EXPECT_NE(broken.stdout_text().find("BROKEN at seq 4"), std::string::npos)
        << broken.stdout_text();
    sidelight_process tool_broken({"verify", "--store", db()}, SIDELIGHT_AUDIT_BINARY);
    EXPECT_EQ(tool_broken.wait_exit(), 1);
    EXPECT_EQ(tool_broken.stdout_text(), broken.stdout_text());
}

// stdout carries only data: on a tampered store `audit export` and `audit query` still print
// JSON only, and the diagnostics (triggers missing, a store that cannot be read) go to stderr.
TEST_F(AuditTest, ExportAndQueryKeepDiagnosticsOffStdout) {
    fake_upstream app;
    {
        auto proc = sidelight_process::run(dir_, config_with_admin_token(app.port()));
        auto c = connection::connect(proc->proxy_port());
        for (int i = 0; i < 3; ++i) {
            c.send("PUT /api/products/" + std::to_string(i) +
                   " HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
            ASSERT_TRUE(c.read_message(true));
        }
        proc->signal(SIGTERM);
        ASSERT_EQ(proc->wait_exit(15s), 0);
    }
    {  // the guard dropped and a row edited
        SQLite::Database d(db(), SQLite::OPEN_READWRITE);
        d.exec("DROP TRIGGER audit_log_no_update");
        d.exec("UPDATE audit_log SET entity_id='999' WHERE entity_id='1'");
    }
    auto only_json_lines = [](const std::string& out) {
        std::size_t lines = 0;
        for (std::size_t at = 0; at < out.size(); ++lines) {
            const auto end = out.find('\n', at);
            if (end == std::string::npos) return false;
            boost::system::error_code ec;
            boost::json::parse(out.substr(at, end - at), ec);
            if (ec) return false;
            at = end + 1;
        }
        return lines > 0;
    };
    sidelight_process exported({"audit", "export", "--store", db()});
    ASSERT_EQ(exported.wait_exit(), 0) << exported.stderr_text();
    EXPECT_TRUE(only_json_lines(exported.stdout_text())) << exported.stdout_text();
    sidelight_process queried({"audit", "query", "--store", db(), "--filter", "table=audit_log"});
    ASSERT_EQ(queried.wait_exit(), 0) << queried.stderr_text();
    EXPECT_TRUE(only_json_lines(queried.stdout_text())) << queried.stdout_text();
    // The warning is a JSON log line (stderr is a pipe here) on stderr.
    for (const auto* p : {&exported, &queried}) {
        const auto err = p->stderr_text();
        ASSERT_NE(err.find("append-only triggers missing"), std::string::npos) << err;
        const auto line = err.substr(0, err.find('\n'));
        const auto o = boost::json::parse(line).as_object();
        EXPECT_EQ(o.at("level").as_string(), "error") << line;
        EXPECT_EQ(o.at("store").as_string(), db()) << line;
    }
    // A store that cannot be read at all: nothing on stdout, the error on stderr.
    std::ofstream(db(), std::ios::trunc) << std::string(4096, 'x');
    for (const std::string command : {"export", "query"}) {
        sidelight_process failed({"audit", command, "--store", db()});
        EXPECT_EQ(failed.wait_exit(), 2) << command;
        EXPECT_EQ(failed.stdout_text(), "") << command;
        EXPECT_NE(failed.stderr_text().find("sidelight: audit "), std::string::npos)
            << command << ": " << failed.stderr_text();
    }
}

// Signed checkpoints through the binary: keygen, checkpoints on stdout while serving, verify
// with them; then the newest rows deleted — invisible to the chain alone, caught by them.
TEST_F(AuditTest, SignedCheckpointsCatchADeletedTail) {
    const auto key = dir_.path() + "/cp.pem", pub = dir_.path() + "/cp.pub.pem";
    sidelight_process keygen({"audit", "keygen", "--key", key, "--public-key", pub});
    ASSERT_EQ(keygen.wait_exit(), 0) << keygen.stderr_text();
    fake_upstream app;
    auto yaml = config_with_admin_token(app.port());
    yaml.replace(
        yaml.find("  batch_interval: 5ms\n"), 22,
        "  batch_interval: 5ms\n  checkpoint:\n    every_events: 4\n    key_file: " + key + "\n");
    auto proc = sidelight_process::run(dir_, yaml);
    {
        auto c = connection::connect(proc->proxy_port());
        for (int i = 0; i < 10; ++i) {
            c.send("PUT /api/products/" + std::to_string(i) +
                   " HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
            ASSERT_TRUE(c.read_message(true));
        }
    }
    proc->signal(SIGTERM);
    ASSERT_EQ(proc->wait_exit(15s), 0);
    // The checkpoint lines, as log shipping would keep them off the pod.
    const auto out = proc->stdout_text();
    std::string lines;
    for (std::size_t at = out.find("\"audit_checkpoint\""); at != std::string::npos;
         at = out.find("\"audit_checkpoint\"", at + 1)) {
        const auto begin = out.rfind('\n', at) == std::string::npos ? 0 : out.rfind('\n', at) + 1;
        lines += out.substr(begin, out.find('\n', at) - begin) + "\n";
    }
    ASSERT_NE(lines.find("\"sig\""), std::string::npos) << out;
    const auto cp_file = dir_.write("checkpoints.jsonl", lines);
    sidelight_process ok(
        {"audit", "verify", "--store", db(), "--checkpoints", cp_file, "--public-key", pub});
    EXPECT_EQ(ok.wait_exit(), 0) << ok.stdout_text() << ok.stderr_text();
    EXPECT_NE(ok.stdout_text().find("OK 10 events"), std::string::npos) << ok.stdout_text();
    {  // an attacker drops the guard and deletes the two newest rows
        SQLite::Database d(db(), SQLite::OPEN_READWRITE);
        d.exec("DROP TRIGGER audit_log_no_delete");
        d.exec("DELETE FROM audit_log WHERE seq > 8");
    }
    sidelight_process chain_only({"audit", "verify", "--store", db()});
    EXPECT_EQ(chain_only.wait_exit(), 0) << "a chain alone cannot see a shortened tail";
    sidelight_process caught(
        {"audit", "verify", "--store", db(), "--checkpoints", cp_file, "--public-key", pub});
    EXPECT_EQ(caught.wait_exit(), 1) << caught.stdout_text();
    EXPECT_NE(caught.stdout_text().find("truncated"), std::string::npos) << caught.stdout_text();
    // A checkpoint file signed by another key is refused outright.
    const auto other = dir_.path() + "/other.pem", other_pub = dir_.path() + "/other.pub.pem";
    sidelight_process keygen2({"audit", "keygen", "--key", other, "--public-key", other_pub});
    ASSERT_EQ(keygen2.wait_exit(), 0);
    sidelight_process forged(
        {"audit", "verify", "--store", db(), "--checkpoints", cp_file, "--public-key", other_pub});
    EXPECT_EQ(forged.wait_exit(), 2) << forged.stdout_text();
}

}  // namespace
}  // namespace sidelight::test
