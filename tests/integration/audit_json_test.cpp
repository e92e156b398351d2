// What the audit trail stores as JSON, and what the event API refuses, end to end: the exact
// `changes` text of rule captures and API events read back from the SQLite file, the 400s (and
// the 413) with the message naming the field, and logins the client abandoned (499), which are
// stored with an unknown outcome and never feed the brute-force detector unless the app had
// answered them (then they are judged by that answer).

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

const std::string json_yaml = R"(routes:
  - POST /api/login
  - PUT /api/products/{id}
audit:
  store:
    path: audit.db
  batch_interval: 5ms
  redact_keys: [password]
  rules:
    - name: product-update
      match:
        routes: ["/api/products/{id}"]
        methods: [PUT]
      action: UPDATE_PRODUCT
      entity_type: product
      entity_id: request:/sku
      changes: true
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
      user: request:/email
      login: true
)";

const std::string auth = "Authorization: Bearer s3cret-token\r\n";

std::string config(std::uint16_t port) {
    auto yaml = test_config(port, json_yaml);
    yaml.insert(yaml.find("admin:\n  listen: 127.0.0.1:0\n") + 29, "  token: s3cret-token\n");
    return yaml;
}

class AuditJsonTest : public ::testing::Test {
  protected:
    std::string db() const { return dir_.path() + "/audit.db"; }
    std::vector<std::string> column(const std::string& sql) const {
        SQLite::Database d(db(), SQLite::OPEN_READONLY);
        SQLite::Statement st(d, sql);
        std::vector<std::string> out;
        while (st.executeStep())
            out.push_back(st.getColumn(0).isNull() ? "NULL" : st.getColumn(0).getString());
        return out;
    }
    int count(const std::string& sql) const {
        SQLite::Database d(db(), SQLite::OPEN_READONLY);
        return d.execAndGet(sql).getInt();
    }
    // Six logins for victim@example.com, each on a connection of its own that `leave` is given
    // once the app has the request (the connection closes when `leave` returns).
    template <class Leave>
    void six_logins(const sidelight_process& proc, const fake_upstream& app, Leave leave) const {
        for (std::size_t i = 1; i <= 6; ++i) {
            auto c = connection::connect(proc.proxy_port());
            c.send(json_request("POST", "/api/login",
                                R"({"email":"victim@example.com","password":"x"})"));
            ASSERT_TRUE(app.wait_requests(i));
            leave(c);
        }
    }
    temp_dir dir_;
};

wire_message call(std::uint16_t port, const std::string& request) {
    auto c = connection::connect(port);
    c.send(request);
    auto m = c.read_message(true);
    return m ? *m : wire_message{};
}

// A captured body is stored with its numbers as written; one a reader could not take back
// exactly (a number that overflows a double, a duplicate key) is stored as unparsed.
TEST_F(AuditJsonTest, CapturedBodiesAreExactOrUnparsed) {
    fake_upstream app;
    auto proc = sidelight_process::run(dir_, config(app.port()));
    const std::vector<std::string> bodies = {
        R"({"sku":123456789012345678901234567890, "price": 123.45, "e": 1E5, "password":"p"})",
        R"({"sku":"S2","price":1e999999})",
        R"({"sku":"S3","price":1,"price":2})",
    };
    for (const auto& body : bodies)
        ASSERT_EQ(call(proc->proxy_port(), json_request("PUT", "/api/products/1", body)).status,
                  200);
    ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM audit_log") == 3; }, 5s));
    // Each request is recorded by the worker that served it, after its answer: rows of
    // requests on different connections may be committed in either order. Compared as a set.
    auto rows = column("SELECT entity_id || ' ' || changes FROM audit_log");
    std::sort(rows.begin(), rows.end());
    std::vector<std::string> expected = {
        // A pointer reads the number as written, and nothing out of a body that is not exact.
        R"(123456789012345678901234567890 {"sku":123456789012345678901234567890,"price":123.45,)"
        R"("e":1E5,"password":"[REDACTED]"})",
        R"( {"_unparsed":true,"bytes":)" + std::to_string(bodies[1].size()) +
            R"(,"truncated":false})",
        R"( {"_unparsed":true,"bytes":)" + std::to_string(bodies[2].size()) +
            R"(,"truncated":false})"};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(rows, expected);
}

TEST_F(AuditJsonTest, EventApiStoresExactJsonAndNamesWhatItRefuses) {
    fake_upstream app;
    auto proc = sidelight_process::run(dir_, config(app.port()));
    const auto post = [&](const std::string& path, const std::string& body) {
        return call(proc->admin_port(), json_request("POST", path, body, auth));
    };
    ASSERT_EQ(post("/v1/audit", R"({"action":"A","changes":{"n":123456789012345678901234567890,)"
                                R"("d":123.45,"password":{"x":1}}})")
                  .status,
              201);
    ASSERT_EQ(post("/v1/security", R"({"event_type":"E","details":"{\"d\": 0.10}"})").status, 201);
    EXPECT_EQ(column("SELECT changes FROM audit_log"),
              std::vector<std::string>{
                  R"({"n":123456789012345678901234567890,"d":123.45,"password":"[REDACTED]"})"});
    EXPECT_EQ(column("SELECT details FROM security_audit"),
              std::vector<std::string>{R"({"d":0.10})"});

    const std::pair<std::string, std::string> refused[] = {
        {R"({"action":"A","changes":{"n":1e999999}})", "changes.n: number out of range"},
        {R"([{"action":"A","changes":{"k":1,"k":2}}])", "events[0].changes.k: duplicate key"},
        {R"({"action":"A","colour":"red"})", "colour: unknown field"},
        {R"({"action":"A","changes":"not json"})", "changes: not valid JSON (syntax error)"},
        {R"({"action":"A","changes":[1]})",
         "changes: expected an object (or a string holding one)"},
    };
    for (const auto& [body, message] : refused) {
        const auto res = post("/v1/audit", body);
        EXPECT_EQ(res.status, 400) << body;
        EXPECT_EQ(res.body, R"({"error":")" + message + "\"}\n") << body;
    }
    const auto big = post("/v1/audit", R"({"action":"A","changes":{"x":")" +
                                           std::string(4 * 1024 * 1024, 'a') + "\"}}");
    EXPECT_EQ(big.status, 413);
    EXPECT_EQ(big.body, "{\"error\":\"body: more than 4194304 bytes\"}\n");
    EXPECT_EQ(count("SELECT count(*) FROM audit_log"), 1);

    const std::pair<std::string, std::string> queries[] = {
        {"limit=1001", "limit: at most 1000"},
        {"after_seq=-1", "after_seq: expected a non-negative integer"},
        {"user_id=%zz", "user_id: malformed percent-encoding"},
        {"user_id=a&user_id=b", "user_id: repeated parameter"},
    };
    for (const auto& [query, message] : queries) {
        const auto res = call(proc->admin_port(), "GET /v1/events?" + query +
                                                      " HTTP/1.1\r\nHost: a\r\n" + auth + "\r\n");
        EXPECT_EQ(res.status, 400) << query;
        EXPECT_EQ(res.body, R"({"error":")" + message + "\"}\n") << query;
    }
}

// Six logins the client gave up on before the app answered: six rows with success NULL and
// outcome client_abort, and no detector row against the user they name.
TEST_F(AuditJsonTest, AbandonedLoginsAreNotFailedLogins) {
    fake_upstream app([](const wire_message&) {
        return fake_reply{simple_response(401, "no"), false, 2000ms};
    });
    auto proc = sidelight_process::run(dir_, config(app.port()));
    // Each client goes away while the app is still working.
    ASSERT_NO_FATAL_FAILURE(six_logins(*proc, app, [](connection&) {}));
    ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM security_audit") >= 6; }, 5s));
    EXPECT_EQ(count("SELECT count(*) FROM security_audit WHERE event_type='LOGIN_ATTEMPT' AND "
                    "user_id='victim@example.com' AND status=499 AND success IS NULL AND "
                    "details LIKE '%\"outcome\":\"client_abort\"%'"),
              6);
    EXPECT_EQ(count("SELECT count(*) FROM security_audit WHERE success = 0"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM security_audit WHERE source='detector'"), 0);
    EXPECT_EQ(column("SELECT count(*) FROM security_audit"), std::vector<std::string>{"6"});
}

// Six logins the app answered 401 whose client left while the answer's body was still on its
// way (a reset after reading nothing): the requests count as 499 in the metrics, but the app
// acted on each, so each row carries the app's 401 and success 0, and the detector fires.
TEST_F(AuditJsonTest, LoginsTheClientLeftAfterTheAppAnsweredAreJudgedByTheAnswer) {
    const std::string body(16 << 20, 'x');  // more than both sockets' buffers take
    fake_upstream app([&](const wire_message&) { return fake_reply{simple_response(401, body)}; });
    auto proc = sidelight_process::run(dir_, config(app.port()));
    ASSERT_NO_FATAL_FAILURE(six_logins(*proc, app, [](connection& c) {
        std::this_thread::sleep_for(300ms);  // the head is in, the body stalls on the client
        c.reset();
    }));
    ASSERT_TRUE(eventually(
        [&] { return count("SELECT count(*) FROM security_audit WHERE source='rule'") >= 6; }, 5s));
    EXPECT_EQ(count("SELECT count(*) FROM security_audit WHERE event_type='LOGIN_ATTEMPT' AND "
                    "user_id='victim@example.com' AND status=401 AND success=0 AND "
                    "details NOT LIKE '%outcome%'"),
              6);
    ASSERT_TRUE(eventually([&] {
        return count("SELECT count(*) FROM security_audit WHERE source='detector'") == 3;
    }));  // by user, by address, by both
    EXPECT_EQ(count("SELECT count(*) FROM security_audit WHERE event_type='authn_login_fail_max'"),
              3);
    const auto text = scrape_metrics(proc->admin_port());
    EXPECT_EQ(sample_value(text, R"(api_requests_total{method="POST",route="/api/login",)"
                                 R"(status_code="499"})"),
              6)
        << text;
}

}  // namespace
}  // namespace sidelight::test
