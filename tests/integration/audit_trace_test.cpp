// The trace id in the audit trail, through the real binary: with tracing on, the row an audit
// rule stores carries the request's trace id (the caller's when it sent a traceparent, the one
// sidelight started otherwise, as the app received it); with tracing off, none. The event API
// takes an app's trace id, its GET and `audit export` show it, and `audit verify` covers it.

#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/json/parse.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/http_wire.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

constexpr const char* caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* auth = "Authorization: Bearer s3cret-token\r\n";

const std::string audit_yaml = R"(routes:
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
      action: UPDATE_PRODUCT
      entity_type: product
      entity_id: path:id
)";

std::string config(std::uint16_t app, std::optional<std::uint16_t> collector) {
    auto yaml = test_config(
        app, audit_yaml + (collector
                               ? "tracing:\n  enabled: true\n  otlp:\n    endpoint: "
                                 "http://127.0.0.1:" +
                                     std::to_string(*collector) + "/v1/traces\n    encoding: json\n"
                               : std::string()));
    const std::string admin = "admin:\n  listen: 127.0.0.1:0\n";
    yaml.insert(yaml.find(admin) + admin.size(), "  token: s3cret-token\n");
    return yaml;
}

// seq -> trace_id ("NULL" for none) of every audit_log row, once `n` rows are there.
std::vector<std::string> stored_traces(const std::string& db, int n) {
    std::vector<std::string> out;
    EXPECT_TRUE(eventually(
        [&] {
            SQLite::Database d(db, SQLite::OPEN_READONLY);
            return d.execAndGet("SELECT count(*) FROM audit_log").getInt() >= n;
        },
        5s));
    SQLite::Database d(db, SQLite::OPEN_READONLY);
    SQLite::Statement st(d, "SELECT coalesce(trace_id, 'NULL') FROM audit_log ORDER BY seq");
    while (st.executeStep()) out.push_back(st.getColumn(0).getString());
    return out;
}

std::string put(std::uint16_t port, const std::string& headers) {
    auto c = connection::connect(port);
    c.send("PUT /api/products/42 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n" + headers +
           "\r\n{}");
    auto reply = c.read_message(true, false, 5s);
    return reply ? std::to_string(reply->status) : "none";
}

TEST(AuditTraceTest, TracingOnTheRowCarriesTheRequestsTraceIdAndVerifies) {
    temp_dir dir;
    fake_upstream app;
    fake_upstream collector;
    auto proc = sidelight_process::run(dir, config(app.port(), collector.port()));
    const auto db = dir.path() + "/audit.db";
    ASSERT_EQ(put(proc->proxy_port(),
                  std::string("traceparent: 00-") + caller_trace + "-00f067aa0ba902b7-01\r\n"),
              "200");
    // A row is queued after its response is written, by whichever worker served it: the first
    // is stored before the second request is sent, so the rows' order is the requests'.
    ASSERT_EQ(stored_traces(db, 1).size(), 1u);
    ASSERT_EQ(put(proc->proxy_port(), ""), "200");  // no traceparent: sidelight starts a trace
    ASSERT_TRUE(app.wait_requests(2));
    const auto started = app.requests().at(1).message.header("traceparent").substr(3, 32);
    ASSERT_EQ(started.size(), 32u);
    EXPECT_EQ(stored_traces(db, 2), (std::vector<std::string>{caller_trace, started}));

    // An app's explicit event with its trace id; a bad one is named.
    auto api = connection::connect(proc->admin_port());
    api.send(json_request(
        "POST", "/v1/audit",
        std::string(R"({"action":"EXPORT","trace_id":")") + caller_trace + R"("})", auth));
    EXPECT_EQ(api.read_message(true)->status, 201);
    api.send(json_request("POST", "/v1/security",
                          R"({"event_type":"MFA_FAIL","trace_id":"0000000000000000000000000000)"
                          R"(0000"})",
                          auth));
    const auto bad = api.read_message(true);
    EXPECT_EQ(bad->status, 400);
    EXPECT_NE(bad->body.find("trace_id: expected 32 lower-case hex digits"), std::string::npos)
        << bad->body;
    api.send(std::string("GET /v1/events?table=audit_log HTTP/1.1\r\nHost: a\r\n") + auth + "\r\n");
    const auto listed = api.read_message(true);
    ASSERT_TRUE(listed);
    const auto events = boost::json::parse(listed->body).at("events").as_array();
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].at("trace_id").as_string(), caller_trace);
    EXPECT_EQ(events[1].at("trace_id").as_string(), started);
    EXPECT_EQ(events[2].at("trace_id").as_string(), caller_trace);

    sidelight_process verify({"audit", "verify", "--store", db});
    EXPECT_EQ(verify.wait_exit(), 0) << verify.stdout_text();
    EXPECT_NE(verify.stdout_text().find("OK 3 events"), std::string::npos) << verify.stdout_text();
    sidelight_process exported({"audit", "export", "--store", db});
    EXPECT_EQ(exported.wait_exit(), 0);
    EXPECT_NE(exported.stdout_text().find(std::string("\"trace_id\":\"") + caller_trace + "\""),
              std::string::npos)
        << exported.stdout_text();
}

TEST(AuditTraceTest, TracingOffTheRowHasNoTraceId) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(dir, config(app.port(), std::nullopt));
    ASSERT_EQ(put(proc->proxy_port(),
                  std::string("traceparent: 00-") + caller_trace + "-00f067aa0ba902b7-01\r\n"),
              "200");
    const auto db = dir.path() + "/audit.db";
    EXPECT_EQ(stored_traces(db, 1), std::vector<std::string>{"NULL"});
    auto api = connection::connect(proc->admin_port());
    api.send(std::string("GET /v1/events HTTP/1.1\r\nHost: a\r\n") + auth + "\r\n");
    const auto listed = api.read_message(true);
    ASSERT_TRUE(listed);
    const auto events = boost::json::parse(listed->body).at("events").as_array();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].as_object().if_contains("trace_id"), nullptr) << listed->body;
}

}  // namespace
}  // namespace sidelight::test
