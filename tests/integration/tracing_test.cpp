// Tracing (docs/TRACING.md) through the real binary: the traceparent the app receives, the
// spans a collector receives over OTLP/HTTP, the trace id in the access log, and what happens
// when the collector is gone or slow. The app and the collector are fake_upstreams; the spans
// are read as OTLP/JSON here (tests/tracing checks the protobuf encoding against the OTLP
// definitions, with the OpenTelemetry JS SDK as the app).
#include <gtest/gtest.h>

#include <zlib.h>
#include <boost/json.hpp>

#include <atomic>
#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/http_wire.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

namespace json = boost::json;

constexpr const char* caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* caller_span = "00f067aa0ba902b7";

// `otlp`: more keys of tracing.otlp (batch_interval is 50ms unless given).
std::string tracing_config(std::uint16_t app, std::uint16_t collector,
                           const std::string& otlp = "    batch_interval: 50ms\n") {
    return test_config(app,
                       "routes:\n  - GET /api/products/{id}\n"
                       "access_log: true\n"
                       "tracing:\n  enabled: true\n  service_name: shop-sidecar\n"
                       "  otlp:\n    endpoint: http://127.0.0.1:" +
                           std::to_string(collector) + "/v1/traces\n    encoding: json\n" + otlp);
}

fake_upstream ok_app() {
    return fake_upstream(
        [](const wire_message&) { return fake_reply{simple_response(200, "ok")}; });
}

// The spans of every export the collector received, flattened.
std::vector<json::object> spans_received(const fake_upstream& collector) {
    std::vector<json::object> out;
    for (const auto& r : collector.requests()) {
        const auto doc = json::parse(r.message.body).as_object();
        for (const auto& rs : doc.at("resourceSpans").as_array())
            for (const auto& ss : rs.at("scopeSpans").as_array())
                for (const auto& s : ss.at("spans").as_array()) out.push_back(s.as_object());
    }
    return out;
}

std::string attribute(const json::object& span, const std::string& key) {
    for (const auto& a : span.at("attributes").as_array()) {
        const auto& kv = a.as_object();
        if (kv.at("key").as_string() != key) continue;
        const auto& v = kv.at("value").as_object();
        if (auto* s = v.if_contains("stringValue")) return std::string(s->as_string());
        if (auto* i = v.if_contains("intValue")) return std::string(i->as_string());
    }
    return "";
}

std::string str(const json::object& o, const char* key) {
    const auto* v = o.if_contains(key);
    return v ? std::string(v->as_string()) : std::string();
}

TEST(TracingTest, AValidCallerContextIsContinuedAndSidelightsSpansSitBetween) {
    temp_dir dir;
    auto app = ok_app();
    fake_upstream collector;
    auto proc = sidelight_process::run(dir, tracing_config(app.port(), collector.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send(std::string("GET /api/products/7?q=1 HTTP/1.1\r\nHost: a\r\ntraceparent: 00-") +
           caller_trace + "-" + caller_span + "-01\r\ntracestate: vendor=abc\r\n" +
           "tracestate: other=1\r\n\r\n");
    auto res = c.read_message(true, false, 5s);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);

    // What the app got: one traceparent, the caller's trace, sidelight's client span as parent.
    ASSERT_EQ(app.request_count(), 1u);
    const auto got = app.requests()[0].message;
    ASSERT_EQ(got.header_count("traceparent"), 1u);
    const std::string tp = got.header("traceparent");
    ASSERT_EQ(tp.size(), 55u) << tp;
    EXPECT_EQ(tp.substr(0, 36), std::string("00-") + caller_trace + "-");
    const std::string app_parent = tp.substr(36, 16);
    EXPECT_NE(app_parent, caller_span);
    EXPECT_EQ(tp.substr(52), "-01");
    EXPECT_EQ(got.header_count("tracestate"), 1u);
    EXPECT_EQ(got.header("tracestate"), "vendor=abc,other=1");

    // What the collector got: a server span under the caller's, a client span under it whose
    // id the app received.
    ASSERT_TRUE(eventually([&] { return spans_received(collector).size() == 2; }, 5s));
    EXPECT_EQ(collector.requests()[0].message.header("content-type"), "application/json");
    EXPECT_EQ(collector.requests()[0].message.start_line, "POST /v1/traces HTTP/1.1");
    const auto spans = spans_received(collector);
    const auto& server = spans[0];
    const auto& client = spans[1];
    EXPECT_EQ(str(server, "traceId"), caller_trace);
    EXPECT_EQ(str(client, "traceId"), caller_trace);
    EXPECT_EQ(str(server, "parentSpanId"), caller_span);
    EXPECT_EQ(str(client, "parentSpanId"), str(server, "spanId"));
    EXPECT_EQ(str(client, "spanId"), app_parent);
    EXPECT_EQ(server.at("kind").as_int64(), 2);
    EXPECT_EQ(client.at("kind").as_int64(), 3);
    EXPECT_EQ(str(server, "name"), "GET /api/products/{id}");
    EXPECT_EQ(attribute(server, "http.route"), "/api/products/{id}");
    EXPECT_EQ(attribute(server, "http.request.method"), "GET");
    EXPECT_EQ(attribute(server, "url.path"), "/api/products/7");  // never the query string
    EXPECT_EQ(attribute(server, "http.response.status_code"), "200");
    EXPECT_EQ(attribute(server, "network.peer.address"), "127.0.0.1");
    EXPECT_EQ(attribute(client, "server.address"), "127.0.0.1");
    EXPECT_EQ(attribute(client, "server.port"), std::to_string(app.port()));
    const auto start = std::stoull(str(server, "startTimeUnixNano"));
    const auto end = std::stoull(str(server, "endTimeUnixNano"));
    EXPECT_LE(start, std::stoull(str(client, "startTimeUnixNano")));
    EXPECT_LE(std::stoull(str(client, "endTimeUnixNano")), end);
    const auto doc = json::parse(collector.requests()[0].message.body).as_object();
    const auto& resource = doc.at("resourceSpans").as_array()[0].at("resource").as_object();
    EXPECT_EQ(attribute(resource, "service.name"), "shop-sidecar");

    // The access log line carries the trace and the server span.
    ASSERT_TRUE(
        eventually([&] { return proc->stdout_text().find(caller_trace) != std::string::npos; }));
    EXPECT_NE(proc->stdout_text().find(std::string("\"trace_id\":\"") + caller_trace +
                                       "\",\"span_id\":\"" + str(server, "spanId") + "\""),
              std::string::npos)
        << proc->stdout_text();
    // Counted once the collector has answered, a moment after it received the batch.
    std::string metrics;
    EXPECT_TRUE(eventually([&] {
        metrics = scrape_metrics(proc->admin_port());
        return sample_value(metrics, "sidelight_tracing_spans_exported_total") == 2;
    })) << metrics;
}

// The spans' status codes and errors (OpenTelemetry HTTP conventions): the app's 500 is on the
// client span with its code; a body cut off after the 200 head was relayed is an error on both
// spans, with the 200 the client got; a request no template matched is named by its method.
TEST(TracingTest, TheSpansTellTheAppsAnswerAndAFailureAfterIt) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        if (m.start_line.find("/api/products/1 ") != std::string::npos)  // 5 of 100 bytes
            return fake_reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", true};
        if (m.start_line.find("/api/products/2 ") != std::string::npos)
            return fake_reply{simple_response(500, "boom")};
        return fake_reply{simple_response(200, "ok")};
    });
    fake_upstream collector;
    auto proc = sidelight_process::run(dir, tracing_config(app.port(), collector.port()));
    for (const char* path : {"/api/products/1", "/api/products/2", "/elsewhere"}) {
        auto c = connection::connect(proc->proxy_port());
        c.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
        c.read_message(true, false, 5s);  // the first is cut off: the connection is aborted
    }
    ASSERT_TRUE(eventually([&] { return spans_received(collector).size() == 6; }, 5s));
    const auto spans = spans_received(collector);
    // Each request's server span, by its url.path, with the client span under it.
    std::map<std::string, std::pair<json::object, json::object>> by_path;
    for (const auto& s : spans) {
        if (s.at("kind").as_int64() != 2) continue;
        for (const auto& c : spans) {
            if (c.at("kind").as_int64() == 3 && str(c, "parentSpanId") == str(s, "spanId"))
                by_path[attribute(s, "url.path")] = {s, c};
        }
    }
    ASSERT_EQ(by_path.size(), 3u);
    const auto code = [](const json::object& span) {
        return span.at("status").as_object().at("code").as_int64();
    };
    {  // cut off after the 200 head went to the client
        const auto& [server, client] = by_path.at("/api/products/1");
        EXPECT_EQ(attribute(server, "http.response.status_code"), "200");
        EXPECT_EQ(attribute(server, "error.type"), "upstream_reset");
        EXPECT_EQ(code(server), 2);
        EXPECT_EQ(attribute(client, "http.response.status_code"), "200");
        EXPECT_EQ(attribute(client, "error.type"), "upstream_reset");
        EXPECT_EQ(code(client), 2);
    }
    {  // the app's 500, relayed
        const auto& [server, client] = by_path.at("/api/products/2");
        EXPECT_EQ(attribute(server, "http.response.status_code"), "500");
        EXPECT_EQ(attribute(server, "error.type"), "500");
        EXPECT_EQ(code(server), 2);
        EXPECT_EQ(attribute(client, "http.response.status_code"), "500");
        EXPECT_EQ(attribute(client, "error.type"), "500");
        EXPECT_EQ(code(client), 2);
    }
    {  // no template: no http.route, named "GET"
        const auto& [server, client] = by_path.at("/elsewhere");
        EXPECT_EQ(str(server, "name"), "GET");
        EXPECT_EQ(str(client, "name"), "GET");
        EXPECT_EQ(attribute(server, "http.route"), "");
        EXPECT_EQ(code(server), 0);
        EXPECT_EQ(code(client), 0);
    }
}

// A collector named by a host name (looked up on a thread of its own, within the timeout).
TEST(TracingTest, ACollectorNamedByAHostNameIsReached) {
    temp_dir dir;
    fake_upstream app;
    fake_upstream collector;
    auto yaml = tracing_config(app.port(), collector.port());
    const std::string ip = "http://127.0.0.1:";
    ASSERT_NE(yaml.find(ip), std::string::npos);
    yaml.replace(yaml.find(ip), ip.size(), "http://localhost:");
    auto proc = sidelight_process::run(dir, yaml);
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /api/products/7 HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(c.read_message(true));
    EXPECT_TRUE(eventually([&] { return spans_received(collector).size() == 2; }, 5s))
        << proc->stderr_text();
}

// A collector that accepts an export but rejects some of its spans (OTLP partial_success):
// those are counted as dropped, not exported, and the collector's reason is logged.
TEST(TracingTest, SpansTheCollectorRejectsAreDroppedNotExported) {
    temp_dir dir;
    fake_upstream app;
    fake_upstream collector([](const wire_message&) {
        const std::string body =
            R"({"partialSuccess":{"rejectedSpans":"1","errorMessage":"span too large"}})";
        return fake_reply{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body};
    });
    auto proc = sidelight_process::run(dir, tracing_config(app.port(), collector.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /api/products/7 HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(c.read_message(true));
    std::string metrics;
    EXPECT_TRUE(eventually([&] {
        metrics = scrape_metrics(proc->admin_port());
        return sample_value(metrics,
                            R"(sidelight_tracing_spans_dropped_total{reason="rejected"})") == 1;
    })) << metrics;
    EXPECT_EQ(sample_value(metrics, "sidelight_tracing_spans_exported_total"), 1) << metrics;
    EXPECT_TRUE(proc->wait_for_log("span too large"));
}

// The caller's tracestate is checked (W3C Trace Context 3.3): empty members are dropped, and
// an invalid list is dropped whole while the traceparent is still continued.
TEST(TracingTest, AnInvalidTracestateIsDroppedAndTheTraceStillContinued) {
    temp_dir dir;
    auto app = ok_app();
    fake_upstream collector;
    auto proc = sidelight_process::run(dir, tracing_config(app.port(), collector.port()));
    const std::string tp =
        std::string("traceparent: 00-") + caller_trace + "-" + caller_span + "-01\r\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"tracestate: a=1, ,b=2\r\ntracestate: \r\n", "a=1,b=2"},
        {"tracestate: a=1\r\ntracestate: a=2\r\n", ""},  // a key twice
        {"tracestate: Vendor=1\r\n", ""},                // not a key
        {"tracestate: a=b=c\r\n", ""},                   // not a value
    };
    for (const auto& [lines, sent] : cases) {
        auto c = connection::connect(proc->proxy_port());
        c.send("GET /api/products/1 HTTP/1.1\r\nHost: a\r\n" + tp + lines + "\r\n");
        ASSERT_TRUE(c.read_message(true, false, 5s));
        const auto got = app.requests().back().message;
        EXPECT_EQ(got.header("traceparent").substr(3, 32), caller_trace) << lines;
        EXPECT_EQ(got.header_count("tracestate"), sent.empty() ? 0u : 1u) << lines;
        EXPECT_EQ(got.header("tracestate"), sent) << lines;
    }
}

// A request the proxy refuses once its head is parsed, before rewriting it (417 for its
// Expect), still has its server span, in the caller's trace, and no client span.
TEST(TracingTest, ARequestRefusedBeforeItIsRewrittenHasItsServerSpan) {
    temp_dir dir;
    auto app = ok_app();
    fake_upstream collector;
    auto proc = sidelight_process::run(dir, tracing_config(app.port(), collector.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send(std::string("GET /api/products/1 HTTP/1.1\r\nHost: a\r\ntraceparent: 00-") +
           caller_trace + "-" + caller_span + "-01\r\nExpect: later\r\n\r\n");
    auto res = c.read_message(true, false, 5s);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 417);
    EXPECT_EQ(app.request_count(), 0u);
    ASSERT_TRUE(eventually([&] { return spans_received(collector).size() == 1; }, 5s));
    const auto span = spans_received(collector)[0];
    EXPECT_EQ(span.at("kind").as_int64(), 2);
    EXPECT_EQ(str(span, "traceId"), caller_trace);
    EXPECT_EQ(str(span, "parentSpanId"), caller_span);
    EXPECT_EQ(str(span, "name"), "GET /api/products/{id}");
    EXPECT_EQ(attribute(span, "http.response.status_code"), "417");
    EXPECT_EQ(attribute(span, "error.type"), "");  // the proxy's 4xx: not a server error
    ASSERT_TRUE(
        eventually([&] { return proc->stdout_text().find(caller_trace) != std::string::npos; }));
}

TEST(TracingTest, NoneOrAnInvalidContextStartsANewTraceAndDropsTracestate) {
    temp_dir dir;
    auto app = ok_app();
    fake_upstream collector;
    auto proc = sidelight_process::run(dir, tracing_config(app.port(), collector.port()));
    const std::string valid = std::string("00-") + caller_trace + "-" + caller_span + "-01";
    const std::vector<std::string> heads = {
        "",                                                                           // none
        "traceparent: 00-" + std::string(caller_trace) + "-0000000000000000-01\r\n",  // zero
        "traceparent: " + valid + "\r\ntraceparent: " + valid + "\r\n",  // two: ambiguous
        "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01\r\n",
    };
    std::set<std::string> traces;
    for (std::size_t i = 0; i < heads.size(); ++i) {
        auto c = connection::connect(proc->proxy_port());
        c.send("GET /api/products/1 HTTP/1.1\r\nHost: a\r\n" + heads[i] +
               "tracestate: vendor=abc\r\n\r\n");
        ASSERT_TRUE(c.read_message(true, false, 5s));
        const auto got = app.requests().back().message;
        ASSERT_EQ(got.header_count("traceparent"), 1u) << i;
        const auto tp = got.header("traceparent");
        EXPECT_EQ(tp.size(), 55u) << tp;
        EXPECT_NE(tp.substr(3, 32), caller_trace) << i;
        EXPECT_EQ(tp.substr(52), "-01") << i;  // parent-based at ratio 1: sampled
        traces.insert(tp.substr(3, 32));
        EXPECT_EQ(got.header_count("tracestate"), 0u) << i;  // it belonged to another trace
    }
    EXPECT_EQ(traces.size(), heads.size());
    ASSERT_TRUE(eventually([&] { return spans_received(collector).size() == 8; }));
    for (const auto& s : spans_received(collector)) {
        if (s.at("kind").as_int64() == 2) {
            EXPECT_EQ(s.if_contains("parentSpanId"), nullptr);
        }
    }
}

TEST(TracingTest, AnUnsampledCallerIsFollowedAndNothingIsExported) {
    temp_dir dir;
    auto app = ok_app();
    fake_upstream collector;
    auto proc = sidelight_process::run(dir, tracing_config(app.port(), collector.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send(std::string("GET /api/products/1 HTTP/1.1\r\nHost: a\r\ntraceparent: 00-") +
           caller_trace + "-" + caller_span + "-00\r\n\r\n");
    ASSERT_TRUE(c.read_message(true, false, 5s));
    const auto tp = app.requests().back().message.header("traceparent");
    EXPECT_EQ(tp.substr(0, 35), std::string("00-") + caller_trace);
    EXPECT_EQ(tp.substr(52), "-00");
    // A sampled request after it: its batch is the only one, and holds only its own trace.
    c.send("GET /api/products/2 HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(c.read_message(true, false, 5s));
    ASSERT_TRUE(eventually([&] { return spans_received(collector).size() >= 2; }));
    std::this_thread::sleep_for(200ms);  // four batch intervals: nothing else comes
    const auto spans = spans_received(collector);
    EXPECT_EQ(spans.size(), 2u);
    for (const auto& s : spans) EXPECT_NE(str(s, "traceId"), caller_trace);
    // The unsampled request still has its trace id in the access log.
    EXPECT_NE(proc->stdout_text().find(caller_trace), std::string::npos);
}

TEST(TracingTest, TracingOffPassesTraceContextThroughUntouched) {
    temp_dir dir;
    auto app = ok_app();
    auto proc = sidelight_process::run(dir, test_config(app.port(), "access_log: true\n"));
    auto c = connection::connect(proc->proxy_port());
    const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    c.send("GET /x HTTP/1.1\r\nHost: a\r\ntraceparent: " + tp + "\r\ntracestate: v=1\r\n\r\n");
    ASSERT_TRUE(c.read_message(true, false, 5s));
    const auto got = app.requests().back().message;
    EXPECT_EQ(got.header("traceparent"), tp);
    EXPECT_EQ(got.header("tracestate"), "v=1");
    ASSERT_TRUE(eventually([&] { return !proc->stdout_text().empty(); }));
    EXPECT_EQ(proc->stdout_text().find("trace_id"), std::string::npos);
}

TEST(TracingTest, ACollectorThatIsGoneCostsTheRequestNothingAndIsCounted) {
    temp_dir dir;
    auto app = ok_app();
    const dead_port gone;  // nothing listens there
    const auto dead = gone.port();
    // A key in the endpoint's query (some vendors take one there): never written to the log.
    auto yaml = tracing_config(app.port(), dead);
    yaml.replace(yaml.find("/v1/traces\n"), 11, "/v1/traces?key=s3cret\n");
    auto proc = sidelight_process::run(dir, yaml);
    for (int i = 0; i < 3; ++i) {
        auto c = connection::connect(proc->proxy_port());
        c.send("GET /api/products/1 HTTP/1.1\r\nHost: a\r\n\r\n");
        auto res = c.read_message(true, false, 5s);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200);
    }
    std::string text;
    ASSERT_TRUE(eventually(
        [&] {
            text = scrape_metrics(proc->admin_port());
            return sample_value(
                       text, "sidelight_tracing_spans_dropped_total{reason=\"export_failed\"}") ==
                   6;
        },
        5s))
        << text;
    EXPECT_EQ(sample_value(text, "sidelight_tracing_spans_exported_total"), 0);
    EXPECT_GE(sample_value(text, "sidelight_tracing_export_requests_total{result=\"error\"}"), 1);
    EXPECT_TRUE(proc->wait_for_log("event=trace_export_failed endpoint=http://127.0.0.1:" +
                                   std::to_string(dead) + "/v1/traces?key=*** "))
        << proc->stderr_text();
    EXPECT_EQ(proc->stderr_text().find("s3cret"), std::string::npos) << proc->stderr_text();
}

// A collector (or a proxy before it) that answers chunked: the body's length is not known, so
// the connection is not reused, and every export after the first still succeeds.
TEST(TracingTest, ACollectorThatAnswersChunkedTakesEveryExport) {
    temp_dir dir;
    auto app = ok_app();
    fake_upstream collector([](const wire_message&) {
        return fake_reply{
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: "
            "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"};
    });
    auto proc = sidelight_process::run(dir, tracing_config(app.port(), collector.port()));
    for (int i = 0; i < 4; ++i) {
        auto c = connection::connect(proc->proxy_port());
        c.send("GET /api/products/1 HTTP/1.1\r\nHost: a\r\n\r\n");
        ASSERT_TRUE(c.read_message(true, false, 5s));
        // One export per request: the next waits for this one to have gone.
        ASSERT_TRUE(
            eventually([&] { return collector.requests().size() == std::size_t(i) + 1; }, 5s));
    }
    std::string text;
    EXPECT_TRUE(eventually(
        [&] {
            text = scrape_metrics(proc->admin_port());
            return sample_value(text, "sidelight_tracing_export_requests_total{result=\"ok\"}") ==
                   4;
        },
        5s))
        << text;
    EXPECT_EQ(sample_value(text, "sidelight_tracing_export_requests_total{result=\"error\"}"), 0);
}

TEST(TracingTest, AFullQueueDropsAndCountsInsteadOfWaiting) {
    temp_dir dir;
    auto app = ok_app();
    // A collector that holds its answer until the test lets it go: the first batch (one
    // request) stays in flight, the queue holds two requests' spans, the others are dropped.
    std::atomic<bool> release{false};
    fake_upstream collector([&](const wire_message&) {
        for (int i = 0; i < 2000 && !release; ++i) std::this_thread::sleep_for(10ms);
        return fake_reply{simple_response(200, "")};
    });
    auto proc = sidelight_process::run(
        dir, tracing_config(app.port(), collector.port(),
                            "    batch_max: 1\n    queue_size: 2\n    timeout: 30s\n"));
    auto c = connection::connect(proc->proxy_port());
    auto get = [&] {
        c.send("GET /api/products/1 HTTP/1.1\r\nHost: a\r\n\r\n");
        auto res = c.read_message(true, false, 5s);
        return res && res->status == 200;
    };
    ASSERT_TRUE(get());
    ASSERT_TRUE(collector.wait_requests(1));
    // Every request is answered while the export is stuck: none waits for the collector.
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(get());
    std::string metrics;
    ASSERT_TRUE(eventually([&] {
        metrics = scrape_metrics(proc->admin_port());
        return sample_value(metrics,
                            "sidelight_tracing_spans_dropped_total{reason=\"queue_full\"}") == 4;
    })) << metrics;
    EXPECT_EQ(collector.request_count(), 1u);
    release = true;
    ASSERT_TRUE(eventually(
        [&] {
            metrics = scrape_metrics(proc->admin_port());
            return sample_value(metrics, "sidelight_tracing_spans_exported_total") == 6;
        },
        10s))
        << metrics;
    EXPECT_EQ(sample_value(metrics, "sidelight_tracing_spans_dropped_total{reason=\"queue_full\"}"),
              4);
}

// At exit what is queued gets one otlp.timeout in all: a collector that stopped answering
// costs the exit that much, not a timeout per queued batch (six here, 12 s).
TEST(TracingTest, ACollectorThatStoppedAnsweringHoldsTheExitUpOneTimeoutAtMost) {
    temp_dir dir;
    auto app = ok_app();
    std::atomic<bool> release{false};
    fake_upstream collector([&](const wire_message&) {
        for (int i = 0; i < 3000 && !release; ++i) std::this_thread::sleep_for(10ms);
        return fake_reply{simple_response(200, "")};
    });
    auto proc = sidelight_process::run(
        dir, tracing_config(app.port(), collector.port(),
                            "    batch_max: 1\n    queue_size: 16\n    timeout: 2s\n"));
    {
        auto c = connection::connect(proc->proxy_port());
        for (int i = 0; i < 6; ++i) {
            c.send("GET /api/products/1 HTTP/1.1\r\nHost: a\r\n\r\n");
            auto res = c.read_message(true, false, 5s);
            ASSERT_TRUE(res && res->status == 200);
        }
    }
    ASSERT_TRUE(collector.wait_requests(1));
    const auto asked = std::chrono::steady_clock::now();
    proc->signal(SIGTERM);
    const auto code = proc->wait_exit(8s);
    const auto took = std::chrono::steady_clock::now() - asked;
    release = true;
    ASSERT_TRUE(code) << "still running 8 s after SIGTERM\n" << proc->stderr_text();
    EXPECT_EQ(*code, 0) << proc->stderr_text();
    EXPECT_LT(took, 6s);
    EXPECT_LE(collector.request_count(), 2u);  // the stuck one, and none after the deadline
}

// /metrics: OpenMetrics with the trace ids as exemplars for a scraper that asks for it, the
// classic text (without them) otherwise, gzip when accepted.
std::optional<wire_message> scrape(std::uint16_t admin, const std::string& headers) {
    auto c = connection::connect(admin);
    c.send("GET /metrics HTTP/1.1\r\nHost: a\r\n" + headers + "\r\n");
    return c.read_message(true, false, 5s);
}

std::string gunzip(const std::string& in) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return "inflateInit2 failed";
    std::string out(4 << 20, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_FINISH);
    out.resize(z.total_out);
    inflateEnd(&z);
    return rc == Z_STREAM_END ? out : "not gzip";
}

TEST(TracingTest, MetricsCarryTheTraceAsAnExemplarInOpenMetricsOnly) {
    temp_dir dir;
    auto app = ok_app();
    fake_upstream collector;
    auto proc = sidelight_process::run(dir, tracing_config(app.port(), collector.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send(std::string("GET /api/products/7 HTTP/1.1\r\nHost: a\r\ntraceparent: 00-") +
           caller_trace + "-" + caller_span + "-01\r\n\r\n");
    ASSERT_TRUE(c.read_message(true, false, 5s));

    // The request is recorded once its response is written: the scrape may come first. A scrape
    // collects family by family (the registry has no snapshot), so one taken while the request's
    // series are being made may hold its histogram and not yet its counter: wait for both.
    std::optional<wire_message> open;
    ASSERT_TRUE(eventually([&] {
        open = scrape(proc->admin_port(),
                      "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n");
        return open && open->body.find(caller_trace) != std::string::npos &&
               open->body.find("# TYPE api_requests counter\n") != std::string::npos;
    })) << (open ? open->body : std::string("no answer"));
    EXPECT_EQ(open->header("content-type"),
              "application/openmetrics-text; version=1.0.0; charset=utf-8");
    EXPECT_TRUE(open->body.ends_with("# EOF\n"));
    EXPECT_NE(open->body.find("api_requests_total{"), std::string::npos);
    // The exemplar sits on a bucket line of the route's series.
    const auto at = open->body.find(std::string("# {trace_id=\"") + caller_trace + "\"}");
    ASSERT_NE(at, std::string::npos) << open->body;
    const auto line_start = open->body.rfind('\n', at) + 1;
    const auto line = open->body.substr(line_start, at - line_start);
    EXPECT_TRUE(line.starts_with("api_latency_ms_bucket{")) << line;
    EXPECT_NE(line.find("route=\"/api/products/{id}\""), std::string::npos) << line;

    auto classic = scrape(proc->admin_port(), "");
    ASSERT_TRUE(classic);
    EXPECT_EQ(classic->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(classic->body.find("trace_id"), std::string::npos);
    EXPECT_EQ(classic->body.find("# EOF"), std::string::npos);
    EXPECT_EQ(classic->header("content-encoding"), "");

    auto packed = scrape(proc->admin_port(), "Accept-Encoding: gzip, deflate\r\n");
    ASSERT_TRUE(packed);
    EXPECT_EQ(packed->header("content-encoding"), "gzip");
    EXPECT_NE(packed->header("vary").find("Accept-Encoding"), std::string::npos);
    const auto text = gunzip(packed->body);
    EXPECT_NE(text.find("# TYPE api_requests_total counter"), std::string::npos) << text;
    EXPECT_LT(packed->body.size(), text.size());
}

}  // namespace
}  // namespace sidelight::test
