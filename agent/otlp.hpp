#pragma once
// OTLP/HTTP trace payloads (opentelemetry-proto, collector/trace/v1 ExportTraceServiceRequest):
// sidelight's two spans per sampled request, encoded as protobuf (hand-written: a few message
// types, no protobuf library) or as OTLP/JSON (ids in hex, 64-bit integers as strings, enums
// as numbers). Pure functions; thread-safe.
//
// Per request: a SERVER span (the client's request, named "<METHOD> <route template>", or
// "<METHOD>" alone for a request no template matched, parent the caller's span when a
// traceparent was continued) and under it a CLIENT span (the request to the app; its id is the
// parent the app received). Attributes and status follow the OpenTelemetry HTTP semantic
// conventions: http.request.method, http.route, url.path, url.scheme,
// http.response.status_code, network.peer.address, server.address, server.port, error.type
// (the failure's label, else the status code as text: a 5xx on both spans, a 4xx on the
// client span only); the span's status is ERROR exactly when it has an error.type.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/trace_context.hpp"

namespace sidelight::agent {

// What one request contributes: copied off the request record on the worker thread.
struct span_pair {
    util::trace_id trace{};
    util::span_id parent{};  // all zero: the server span is a root
    util::span_id server_span{};
    util::span_id client_span{};
    std::uint64_t start_ns = 0;           // Unix time, nanoseconds: the request's first byte
    std::uint64_t end_ns = 0;             // its response's last byte (or the failure)
    std::uint64_t upstream_start_ns = 0;  // request sent to the app; 0: never reached
    std::uint64_t upstream_end_ns = 0;
    std::string method;
    std::string route;  // the template; empty: no template matched
    std::string path;   // without the query string
    std::string peer;   // the client's address
    std::string upstream_host;
    std::uint16_t upstream_port = 0;
    int status = 0;           // what the client got; 0: no response (the client left first)
    int upstream_status = 0;  // the app's final response status; 0: it never answered
    // A failure other than the status itself (the metrics' error_type label: upstream_reset,
    // client_abort, ...); empty when none, or when the status says it all (the app's 4xx or
    // 5xx, the proxy's own 4xx refusal).
    std::string error_type;
};

struct otlp_resource {
    std::string service_name;
    std::string service_version;
};

std::string encode_protobuf(const otlp_resource& resource, const std::vector<span_pair>& spans);
std::string encode_json(const otlp_resource& resource, const std::vector<span_pair>& spans);

// The collector's answer to an accepted export (ExportTraceServiceResponse): how many spans it
// rejected all the same (partial_success.rejected_spans) and why. Zero and "" for an empty
// body, one without partial_success, or one that is not such a message at all.
struct otlp_partial_success {
    std::int64_t rejected_spans = 0;
    std::string error_message;
};
otlp_partial_success decode_partial_success(std::string_view body, bool json);

}  // namespace sidelight::agent
