// What the audit rules capture and hold, end to end through the real binary in front of a fake
// app: a strict rule holds only the requests it can match (route and method), and no secret
// reaches the store, whether it came in a body, a query string, a header or the event API.

#include <gtest/gtest.h>

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/json/parse.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"
#include "util/gzip.hpp"

namespace sidelight::test {
namespace {

const std::string admin_auth = "Authorization: Bearer adm-token-7\r\n";

// test_config with `extra` and the admin token folded into its admin section.
std::string config(std::uint16_t upstream_port, const std::string& extra) {
    auto yaml = test_config(upstream_port, extra);
    const std::string admin = "admin:\n  listen: 127.0.0.1:0\n";
    yaml.insert(yaml.find(admin) + admin.size(), "  token: adm-token-7\n");
    return yaml;
}

std::string file_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// `secret` where it occurs in `text`, with some context around it; "" when it does not.
std::string leak(const std::string& text, const std::string& secret) {
    const auto at = text.find(secret);
    if (at == std::string::npos) return "";
    return text.substr(at < 40 ? 0 : at - 40, secret.size() + 80);
}

wire_message post(std::uint16_t port, const std::string& path, const std::string& body,
                  const std::string& headers) {
    auto c = connection::connect(port);
    c.send(json_request("POST", path, body, headers));
    auto reply = c.read_message(true);
    return reply ? *reply : wire_message{};
}

class AuditCaptureTest : public ::testing::Test {
  protected:
    std::string db() const { return dir_.path() + "/audit.db"; }
    // Every byte the store holds: the database file and its write-ahead log.
    std::string store_bytes() const {
        std::string all = file_text(db());
        if (std::filesystem::exists(db() + "-wal")) all += file_text(db() + "-wal");
        return all;
    }
    temp_dir dir_;
};

// One template for every method, a strict rule for its GETs and a batch rule keeping the
// body of its PUTs. With the store down, a PUT larger than the capture cap still streams to
// the app whole and gets the app's answer (not 413, not 503), while a GET is held and refused.
TEST_F(AuditCaptureTest, AStrictGetRuleNeitherHoldsNorBuffersAPutOnTheSameRoute) {
    fake_upstream app;
    const auto fault = dir_.path() + "/store-fault";
    ::setenv("SIDELIGHT_FAULT_STORE_FILE", fault.c_str(), 1);
    auto proc = sidelight_process::run(dir_, config(app.port(), R"(routes:
  - /api/products/{id}
audit:
  store:
    path: audit.db
  batch_interval: 5ms
  strict_timeout: 2s
  max_body_bytes: 64KiB
  rules:
    - name: product-read-strict
      match:
        routes: ["/api/products/{id}"]
        methods: [GET]
      action: READ_PRODUCT
      entity_type: product
      entity_id: path:id
      mode: strict
    - name: product-update
      match:
        routes: ["/api/products/{id}"]
        methods: [PUT]
      action: UPDATE_PRODUCT
      entity_type: product
      entity_id: path:id
      changes: true
)"),
                                       SIDELIGHT_FAULT_BINARY);
    ::unsetenv("SIDELIGHT_FAULT_STORE_FILE");
    dir_.write("store-fault", "");  // from now on every store write fails
    auto c = connection::connect(proc->proxy_port());

    const std::string body = R"({"name":"big","blob":")" + std::string(200 * 1024, 'b') + "\"}";
    c.send(json_request("PUT", "/api/products/42", body));
    auto put = c.read_message(true);
    ASSERT_TRUE(put);
    EXPECT_EQ(put->status, 200);
    EXPECT_EQ(put->body, "hello\n");  // the app's answer
    ASSERT_TRUE(app.wait_requests(1));
    EXPECT_EQ(app.requests().at(0).message.body, body);
    const auto seen = app.request_count();

    c.send("GET /api/products/7 HTTP/1.1\r\nHost: a\r\n\r\n");  // the strict rule's
    auto refused = c.read_message(true);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503);
    EXPECT_EQ(app.request_count(), seen);  // held: the app never saw it

    std::filesystem::remove(fault);  // the store comes back
    ASSERT_TRUE(eventually(
        [&] {
            const auto r = http_get(proc->admin_port(), "/healthz");
            return r && r->status == 200;
        },
        10s));
    auto c2 = connection::connect(proc->proxy_port());
    c2.send("GET /api/products/7 HTTP/1.1\r\nHost: a\r\n\r\n");
    auto read = c2.read_message(true);
    ASSERT_TRUE(read);
    EXPECT_EQ(read->status, 200);
    EXPECT_EQ(app.request_count(), seen + 1);
    // The PUT's batch event, retried after the outage, kept what streamed past the capture
    // tap: the body was cut at the cap, so it is described, never stored raw.
    ASSERT_TRUE(eventually(
        [&] {
            SQLite::Database d(db(), SQLite::OPEN_READONLY);
            return d.execAndGet("SELECT count(*) FROM audit_log").getInt() == 2;
        },
        5s));
    SQLite::Database d(db(), SQLite::OPEN_READONLY);
    EXPECT_EQ(
        d.execAndGet("SELECT changes FROM audit_log WHERE action='UPDATE_PRODUCT'").getString(),
        R"({"_unparsed":true,"bytes":65536,"truncated":true})");
    EXPECT_EQ(d.execAndGet("SELECT count(*) FROM audit_log WHERE action='READ_PRODUCT'").getInt(),
              1);
}

// Issue 5, item 6: the event API's `changes` and `details` go through the configured
// redaction like rule-captured bodies.
TEST_F(AuditCaptureTest, EventApiRedactsChangesAndDetails) {
    fake_upstream app;
    auto proc = sidelight_process::run(dir_, config(app.port(), R"(audit:
  store:
    path: audit.db
  batch_interval: 5ms
)"));
    const auto audit = post(
        proc->admin_port(), "/v1/audit",
        R"({"action":"UPDATE_PROFILE","user_id":"u7","entity_type":"user","entity_id":"u7",)"
        R"("changes":{"Password":"hunter2-SECRET-x9","nested":{"card_number":"4111-S3CRET-q7Zt"},)"
        R"("name":"Ann"}})",
        admin_auth);
    EXPECT_EQ(audit.status, 201) << audit.body;
    const auto security = post(proc->admin_port(), "/v1/security",
                               R"({"event_type":"PASSWORD_CHANGE","user_id":"u7","success":true,)"
                               R"("details":{"old":{"TOKEN":"S3CRET-q7Zt-tok"},"via":"web"}})",
                               admin_auth);
    EXPECT_EQ(security.status, 201) << security.body;

    SQLite::Database d(db(), SQLite::OPEN_READONLY);  // committed before the 201s
    EXPECT_EQ(d.execAndGet("SELECT changes FROM audit_log").getString(),
              R"({"Password":"[REDACTED]","nested":{"card_number":"[REDACTED]"},"name":"Ann"})");
    EXPECT_EQ(d.execAndGet("SELECT details FROM security_audit").getString(),
              R"({"old":{"TOKEN":"[REDACTED]"},"via":"web"})");
    auto c = connection::connect(proc->admin_port());
    c.send("GET /v1/events?table=audit_log HTTP/1.1\r\nHost: a\r\n" + admin_auth + "\r\n");
    auto listed = c.read_message(true);
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->status, 200);
    EXPECT_NE(listed->body.find("[REDACTED]"), std::string::npos) << listed->body;
    for (const auto& [what, text] :
         {std::pair{"listed", listed->body}, std::pair{"store", store_bytes()}}) {
        for (const char* secret : {"hunter2", "SECRET-x9", "S3CRET-q7Zt"})
            EXPECT_EQ(leak(text, secret), "") << what;
    }
}

// The golden test of issue 5, item 6: secrets in the body, the query string and the
// Authorization and Cookie headers, read by rules that keep the body (`changes`), take the
// entity and user from those headers and the user from the body's password; the stored text
// is exactly what is expected, with the marker where each secret was, and none of them left.
TEST_F(AuditCaptureTest, GoldenSecretsInBodyQueryAndHeadersAreNeverStored) {
    fake_upstream app;
    auto proc = sidelight_process::run(dir_, config(app.port(), R"(routes:
  - POST /api/accounts/{id}
audit:
  store:
    path: audit.db
  batch_interval: 5ms
  rules:
    - name: account-change
      match:
        routes: ["/api/accounts/{id}"]
      action: CHANGE_ACCOUNT
      entity_type: account
      entity_id: header:Cookie
      user: header:Authorization
      changes: true
security:
  rules:
    - name: account-security
      match:
        routes: ["/api/accounts/{id}"]
      event_type: ACCOUNT_CHANGE
      owasp: authz_admin
      user: request:/password
)"));
    const std::string body =
        R"({"name":"Ann","password":"S3CRET-q7Zt-body","card":{"Card_Number":"S3CRET-q7Zt-card"},)"
        R"("sessions":[{"token":"S3CRET-q7Zt-tok"}],"note":"line1\nline2"})";
    auto c = connection::connect(proc->proxy_port());
    c.send(
        json_request("POST", "/api/accounts/7?token=S3CRET-q7Zt-query&x=1", body,
                     "Authorization: Bearer S3CRET-q7Zt-auth\r\nCookie: sid=S3CRET-q7Zt-cookie\r\n"
                     "User-Agent: golden/1\r\n"));
    ASSERT_EQ(c.read_message(true)->status, 200);
    ASSERT_TRUE(app.wait_requests(1));
    EXPECT_EQ(app.requests().at(0).message.body, body);  // the app still gets it all
    ASSERT_TRUE(eventually(
        [&] {
            SQLite::Database d(db(), SQLite::OPEN_READONLY);
            return d.execAndGet("SELECT count(*) FROM audit_log").getInt() == 1 &&
                   d.execAndGet("SELECT count(*) FROM security_audit").getInt() == 1;
        },
        5s));
    proc->signal(SIGTERM);
    ASSERT_EQ(proc->wait_exit(15s), 0);

    SQLite::Database d(db(), SQLite::OPEN_READONLY);
    SQLite::Statement row(d, "SELECT user_id, entity_id, changes FROM audit_log");
    ASSERT_TRUE(row.executeStep());
    EXPECT_EQ(row.getColumn(0).getString(), "[REDACTED]");
    EXPECT_EQ(row.getColumn(1).getString(), "[REDACTED]");
    EXPECT_EQ(row.getColumn(2).getString(),
              R"({"name":"Ann","password":"[REDACTED]","card":{"Card_Number":"[REDACTED]"},)"
              R"("sessions":[{"token":"[REDACTED]"}],"note":"line1\nline2"})");
    SQLite::Statement sec(d, "SELECT user_id, details FROM security_audit");
    ASSERT_TRUE(sec.executeStep());
    EXPECT_EQ(sec.getColumn(0).getString(), "[REDACTED]");
    EXPECT_EQ(sec.getColumn(1).getString(),
              R"({"owasp":"authz_admin","rule":"account-security",)"
              R"("path":"/api/accounts/7?token=[REDACTED]&x=1","user_agent":"golden/1"})");

    sidelight_process exported({"audit", "export", "--store", db()});
    ASSERT_EQ(exported.wait_exit(), 0);
    const auto lines = exported.stdout_text();
    EXPECT_NE(lines.find("[REDACTED]"), std::string::npos) << lines;
    for (const auto& [what, text] : {std::pair{"store", store_bytes()}, std::pair{"export", lines},
                                     std::pair{"log", proc->stdout_text() + proc->stderr_text()}})
        EXPECT_EQ(leak(text, "S3CRET-q7Zt"), "") << what;
}

// A client that gzips its JSON (a mobile SDK, `Content-Encoding: gzip`): the rules keep the
// body as the client wrote it before compressing (redacted as any body), in batch and in strict
// mode (whose hold buffers it first), and the app gets the compressed bytes unchanged. A body
// that does not inflate is read as it came: plain JSON named gzip is still read (a client cannot
// hide its body from the rules by naming an encoding), other bytes are kept only as _unparsed.
TEST_F(AuditCaptureTest, AGzippedRequestBodyIsKeptAsTheJsonTheClientWrote) {
    fake_upstream app([](const wire_message&) {
        return fake_reply{simple_response(201, "{}", "Content-Type: application/json\r\n")};
    });
    auto proc = sidelight_process::run(dir_, config(app.port(), R"(routes:
  - /api/orders
  - /api/profile
audit:
  store:
    path: audit.db
  batch_interval: 5ms
  rules:
    - name: order
      match: {routes: [/api/orders], methods: [POST]}
      action: CREATE_ORDER
      changes: true
    - name: profile
      match: {routes: [/api/profile], methods: [PUT]}
      action: UPDATE_PROFILE
      changes: true
      mode: strict
)"));
    const std::string order = R"({"item":"book","qty":2,"password":"hunter2-GZ"})";
    const std::string profile = R"({"name":"Ann","password":"hunter2-GZ"})";
    const auto packed_order = util::gzip(order), packed_profile = util::gzip(profile);
    auto c = connection::connect(proc->proxy_port());
    c.send(json_request("POST", "/api/orders", packed_order, "Content-Encoding: gzip\r\n"));
    auto a = c.read_message(true);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, 201);
    c.send(json_request("PUT", "/api/profile", packed_profile, "Content-Encoding: gzip\r\n"));
    auto b = c.read_message(true);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->status, 201);
    c.send(json_request("POST", "/api/orders", "\x01\x02 not brotli", "Content-Encoding: br\r\n"));
    auto d = c.read_message(true);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 201);
    c.send(json_request("POST", "/api/orders", R"({"item":"pen","qty":1})",
                        "Content-Encoding: gzip\r\n"));
    auto e = c.read_message(true);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 201);
    ASSERT_TRUE(app.wait_requests(4));
    const auto got = app.requests();
    EXPECT_EQ(got[0].message.body, packed_order);
    EXPECT_EQ(got[1].message.body, packed_profile);

    std::vector<std::string> changes;
    ASSERT_TRUE(eventually([&] {
        changes.clear();
        SQLite::Database store(db(), SQLite::OPEN_READONLY);
        SQLite::Statement st(store, "SELECT changes FROM audit_log ORDER BY seq");
        while (st.executeStep()) changes.push_back(st.getColumn(0).getString());
        return changes.size() >= 4;
    }));
    ASSERT_EQ(changes.size(), 4u);
    EXPECT_EQ(changes[0], R"({"item":"book","qty":2,"password":"[REDACTED]"})");
    EXPECT_EQ(changes[1], R"({"name":"Ann","password":"[REDACTED]"})");
    EXPECT_EQ(changes[2], R"({"_unparsed":true,"bytes":13,"truncated":false})");
    EXPECT_EQ(changes[3], R"({"item":"pen","qty":1})");
    EXPECT_EQ(leak(store_bytes(), "hunter2"), "");
}

}  // namespace
}  // namespace sidelight::test
