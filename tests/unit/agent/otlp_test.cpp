// The spans of one request (agent/tracing.hpp spans_of, agent/otlp.hpp): their names,
// attributes and status by the OpenTelemetry HTTP semantic conventions, read back from the
// OTLP/JSON encoding; and the export request's head.
#include "agent/otlp.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <optional>

#include "agent/tracing.hpp"

namespace sidelight::agent {
namespace {

namespace json = boost::json;
using routes::error_type;

struct request {
    int status = 200;
    error_type error = error_type::none;
    int upstream_status = 200;  // 0: the app never answered
    bool reached = true;        // the request was sent to the app
    bool matched = true;        // a route template matched
};

// The record of a sampled GET /api/products/7 as a session would hand it over.
routes::request_record record_of(const request& q) {
    routes::request_record r;
    r.trace.active = r.trace.sampled = true;
    r.trace.trace[0] = 1;
    r.trace.server_span[0] = 2;
    r.trace.client_span[0] = 3;
    r.wall_start = std::chrono::system_clock::now();
    r.start = routes::request_timing::clock::now();
    r.end = r.start + std::chrono::milliseconds(5);
    if (q.reached) {
        r.upstream_start = r.start + std::chrono::milliseconds(1);
        r.upstream = "127.0.0.1:8080";
    }
    r.method = "GET";
    if (q.matched) {
        r.route = 1;
        r.route_label = "/api/products/{id}";
    }
    r.path = "/api/products/7";
    r.client_ip = "10.0.0.9";
    r.status = q.status;
    r.error = q.error;
    r.upstream_status = q.upstream_status;
    return r;
}

// The spans as a collector reads them: [server, client?].
std::vector<json::object> spans(const request& q) {
    const auto body = encode_json({"svc", "1"}, {spans_of(record_of(q))});
    const auto doc = json::parse(body).as_object();
    std::vector<json::object> out;
    for (const auto& s : doc.at("resourceSpans")
                             .as_array()[0]
                             .at("scopeSpans")
                             .as_array()[0]
                             .at("spans")
                             .as_array())
        out.push_back(s.as_object());
    return out;
}

// An attribute's value as text (an int as its digits), or nullopt when absent.
std::optional<std::string> attr(const json::object& span, std::string_view key) {
    for (const auto& a : span.at("attributes").as_array()) {
        const auto& kv = a.as_object();
        if (kv.at("key").as_string() != key) continue;
        const auto& v = kv.at("value").as_object();
        if (auto* s = v.if_contains("stringValue")) return std::string(s->as_string());
        return std::string(v.at("intValue").as_string());
    }
    return std::nullopt;
}

std::int64_t status_code(const json::object& span) {
    return span.at("status").as_object().at("code").as_int64();  // 0 unset, 2 error
}

TEST(OtlpSpansTest, ASuccessHasStatusCodesAndNoError) {
    const auto s = spans({});
    ASSERT_EQ(s.size(), 2u);
    for (const auto& span : s) {
        EXPECT_EQ(attr(span, "http.response.status_code"), "200");
        EXPECT_EQ(attr(span, "error.type"), std::nullopt);
        EXPECT_EQ(status_code(span), 0);
    }
    EXPECT_EQ(s[0].at("name").as_string(), "GET /api/products/{id}");
    EXPECT_EQ(attr(s[0], "http.route"), "/api/products/{id}");
}

TEST(OtlpSpansTest, TheAppsFourHundredIsTheClientSpansErrorOnly) {
    const auto s =
        spans({.status = 404, .error = error_type::client_error, .upstream_status = 404});
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(attr(s[0], "http.response.status_code"), "404");
    EXPECT_EQ(attr(s[0], "error.type"), std::nullopt);
    EXPECT_EQ(status_code(s[0]), 0);
    EXPECT_EQ(attr(s[1], "http.response.status_code"), "404");  // the app answered
    EXPECT_EQ(attr(s[1], "error.type"), "404");
    EXPECT_EQ(status_code(s[1]), 2);
}

TEST(OtlpSpansTest, TheAppsFiveHundredIsBothSpansErrorByItsCode) {
    const auto s =
        spans({.status = 503, .error = error_type::server_error, .upstream_status = 503});
    ASSERT_EQ(s.size(), 2u);
    for (const auto& span : s) {
        EXPECT_EQ(attr(span, "http.response.status_code"), "503");
        EXPECT_EQ(attr(span, "error.type"), "503");
        EXPECT_EQ(status_code(span), 2);
    }
}

TEST(OtlpSpansTest, AFailureAfterATwoHundredWasRelayedIsAnErrorOnBothSpans) {
    for (const auto error : {error_type::upstream_reset, error_type::upstream_timeout}) {
        const auto s = spans({.status = 200, .error = error});
        ASSERT_EQ(s.size(), 2u);
        for (const auto& span : s) {
            EXPECT_EQ(attr(span, "http.response.status_code"), "200");
            EXPECT_EQ(attr(span, "error.type"), std::string(routes::error_label(error)));
            EXPECT_EQ(status_code(span), 2);
        }
    }
}

TEST(OtlpSpansTest, TheProxysOwnAnswerIsTheServerSpansAndTheAppsIsTheClientSpans) {
    // No answer in time: 504 from sidelight, nothing from the app.
    auto s = spans({.status = 504, .error = error_type::upstream_timeout, .upstream_status = 0});
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(attr(s[0], "http.response.status_code"), "504");
    EXPECT_EQ(attr(s[0], "error.type"), "upstream_timeout");
    EXPECT_EQ(attr(s[1], "http.response.status_code"), std::nullopt);
    EXPECT_EQ(attr(s[1], "error.type"), "upstream_timeout");
    EXPECT_EQ(status_code(s[1]), 2);
    // The proxy's own 4xx refusal: no client span, and no error on the server span.
    s = spans(
        {.status = 413, .error = error_type::bad_request, .upstream_status = 0, .reached = false});
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(attr(s[0], "http.response.status_code"), "413");
    EXPECT_EQ(attr(s[0], "error.type"), std::nullopt);
    EXPECT_EQ(status_code(s[0]), 0);
}

TEST(OtlpSpansTest, AClientThatLeftGetsNo499OnTheServerSpan) {
    // The app answered 200, the client was gone before it got the response.
    const auto s =
        spans({.status = 499, .error = error_type::client_abort, .upstream_status = 200});
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(attr(s[0], "http.response.status_code"), std::nullopt);
    EXPECT_EQ(attr(s[0], "error.type"), "client_abort");
    EXPECT_EQ(status_code(s[0]), 2);
    EXPECT_EQ(attr(s[1], "http.response.status_code"), "200");
}

TEST(OtlpSpansTest, AnUnmatchedRequestIsNamedByItsMethodAndHasNoRoute) {
    const auto pair = spans_of(record_of({.matched = false}));
    const auto s = spans({.matched = false});
    ASSERT_EQ(s.size(), 2u);
    for (const auto& span : s) {
        EXPECT_EQ(span.at("name").as_string(), "GET");
        EXPECT_EQ(attr(span, "http.route"), std::nullopt);
    }
    // The protobuf span name (field 5) is the method alone too, its length included.
    const auto pb = encode_protobuf({"svc", "1"}, {pair});
    EXPECT_NE(pb.find(std::string("\x2a\x03GET\x30", 6)), std::string::npos);
    EXPECT_EQ(pb.find("unmatched"), std::string::npos);
}

TEST(OtlpExportTest, TheHostOfAnIPv6CollectorIsInBrackets) {
    config::otlp_config otlp;
    otlp.path = "/v1/traces";
    otlp.target = {"fd00::5", 4318};
    auto head = export_head(otlp, 10);
    EXPECT_NE(head.find("\r\nHost: [fd00::5]:4318\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("\r\nContent-Length: 10\r\n"), std::string::npos) << head;
    otlp.target = {"otel.monitoring", 4318};
    head = export_head(otlp, 10);
    EXPECT_NE(head.find("\r\nHost: otel.monitoring:4318\r\n"), std::string::npos) << head;
}

// The collector's partial_success, in either encoding; anything else is no rejection.
TEST(OtlpPartialSuccess, DecodesBothEncodingsAndIgnoresOtherBodies) {
    auto r = decode_partial_success(
        R"({"partialSuccess":{"rejectedSpans":"3","errorMessage":"too big"}})", true);
    EXPECT_EQ(r.rejected_spans, 3);
    EXPECT_EQ(r.error_message, "too big");
    EXPECT_EQ(
        decode_partial_success(R"({"partialSuccess":{"rejectedSpans":2}})", true).rejected_spans,
        2);
    EXPECT_EQ(decode_partial_success(R"({"partialSuccess":{}})", true).rejected_spans, 0);
    EXPECT_EQ(decode_partial_success("{}", true).rejected_spans, 0);
    EXPECT_EQ(decode_partial_success("ok", true).rejected_spans, 0);
    // ExportTraceServiceResponse { partial_success (1) { rejected_spans (1): 5,
    // error_message (2): "no" } }
    const std::string pb("\x0a\x06\x08\x05\x12\x02no", 8);
    r = decode_partial_success(pb, false);
    EXPECT_EQ(r.rejected_spans, 5);
    EXPECT_EQ(r.error_message, "no");
    EXPECT_EQ(decode_partial_success("", false).rejected_spans, 0);
    EXPECT_EQ(decode_partial_success("ok", false).rejected_spans, 0);             // not protobuf
    EXPECT_EQ(decode_partial_success(pb.substr(0, 5), false).rejected_spans, 0);  // cut short
    // An unknown field before it is skipped.
    EXPECT_EQ(decode_partial_success(std::string("\x10\x01", 2) + pb, false).rejected_spans, 5);
}

}  // namespace
}  // namespace sidelight::agent
