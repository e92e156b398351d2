#pragma once
// The per-request record a client session hands to its observers (observer.hpp) once the
// response is written (or has failed). It is the single hand-off from the data path (`proxy/`)
// to telemetry (metrics and the access log in `agent/`, the rules in `rules/`): observers never
// see Beast types. Two parts: request_timing (times and labels, what metrics need) and
// request_capture (what the request said, what the access log and the rules read).
//
// A session owns one record and reuses it for every request on its connection. Not
// thread-safe: filled on the session's worker thread, read there by the observers.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "routes/capture.hpp"
#include "routes/method.hpp"
#include "routes/route_table.hpp"
#include "util/trace_context.hpp"

namespace sidelight::routes {

// Closed set, used as the `error_type` label value.
enum class error_type : std::uint8_t {
    none,
    client_error,           // 4xx from the app
    server_error,           // 5xx from the app
    upstream_connect,       // 502: could not connect to the app
    upstream_timeout,       // 504: no response header in time
    upstream_reset,         // 502 or aborted response: the app closed or reset mid-exchange
    client_abort,           // 499: the client went away before the response was complete
    bad_request,            // 400 / 413 / 414 / 431: the request was refused by the proxy
    audit_unavailable,      // 503: a strict audit event could not be committed
    upstream_bad_response,  // 502: the app's response could not be relayed as it was framed
    upstream_tls,           // 502: no TLS session with the upstream (certificate, handshake)
};
inline constexpr std::size_t error_type_count = 11;
std::string_view error_label(error_type e);

// db: a client connection of a database listener (dbproxy/), counted by the agent.
enum class connection_type : std::uint8_t { client, upstream, websocket, db };
std::string_view connection_label(connection_type t);

// What metrics need of a request: its times and labels. Plain values only, so a reset is a
// value-initialisation that cannot forget a field.
struct request_timing {
    using clock = std::chrono::steady_clock;

    std::chrono::system_clock::time_point wall_start;  // for logs and audit rows
    // Which HTTP listener served it: 0 the proxy, i egress[i - 1] (set per listener; kept
    // across reset() like the client's address).
    std::uint8_t listener = 0;
    clock::time_point start;            // first byte of the request header read
    clock::time_point upstream_start;   // request header sent to the app (or epoch if never)
    clock::time_point upstream_header;  // response header received from the app
    clock::time_point end;              // last byte of the response written (or failure)

    std::string_view method;  // as sent by the client (points into session storage)
    http_method method_id = http_method::other;  // the closed set used as the `method` label
    route_id route = unmatched_route;
    std::string_view route_label = unmatched_label;  // the template; lives in the routing value
    std::uint64_t routing_generation = 0;            // which published routing `route` belongs to
    bool route_configured = false;  // matched a configured template (not normalized)
    std::string_view upstream;      // the app's address once the request was sent ("" if never)
    int status = 0;                 // what the client got; 499 when it went away first
    int upstream_status = 0;        // the app's final response status (0: it never answered)
    error_type error = error_type::none;
    std::uint64_t bytes_in = 0;   // request body bytes read from the client
    std::uint64_t bytes_out = 0;  // response body bytes written to the client

    // The status rules and audit events judge the request by: the app's answer when the client
    // left after it came (the app acted on the request), else what the client got.
    int outcome_status() const {
        return error == error_type::client_abort && upstream_status != 0 ? upstream_status : status;
    }
    // The client left before the app answered: the request's outcome is unknown.
    bool abandoned() const { return error == error_type::client_abort && upstream_status == 0; }

    std::chrono::microseconds duration() const {
        return std::chrono::duration_cast<std::chrono::microseconds>(end - start);
    }
    // The app's own time (request sent -> response header), zero when it was never reached.
    std::chrono::microseconds upstream_duration() const {
        if (upstream_header < upstream_start || upstream_start == clock::time_point{}) return {};
        return std::chrono::duration_cast<std::chrono::microseconds>(upstream_header -
                                                                     upstream_start);
    }
    void reset() {
        const auto l = listener;
        *this = request_timing{};
        listener = l;
    }
};

// What the request said, for the access log and the audit rules of its route (what they read
// is decided by the route's capture_plan; nothing is captured when the plan asks nothing).
// Strings keep their capacity across requests, so recording allocates nothing in steady state;
// reset() must therefore clear each member (a new member is added to it).
struct request_capture {
    std::string path;   // request target without the query string
    std::string query;  // the query string, without '?'
    std::string request_id;
    std::string user_agent;
    util::trace_context trace;           // when tracing is on: the trace and sidelight's two spans
    const capture_plan* plan = nullptr;  // the route's plan, owned by the routing value
    param_list params;                   // path parameters of the matched template
    std::vector<std::pair<std::string, std::string>> headers;  // names lower case, per plan
    std::string request_body;                                  // at most plan->max_body_bytes
    bool request_body_truncated = false;
    std::string response_body;
    bool response_body_truncated = false;
    bool held_request = false;   // the strict gate was consulted before forwarding
    bool held_response = false;  // ... and before the response was written

    void reset() {
        path.clear();
        query.clear();
        request_id.clear();
        user_agent.clear();
        trace.reset();
        plan = nullptr;
        params.clear();
        headers.clear();
        request_body.clear();
        request_body_truncated = false;
        response_body.clear();
        response_body_truncated = false;
        held_request = held_response = false;
    }
};

// One request as the session hands it over: its timing and labels, what it said, and the
// client's address (per connection: kept across reset()).
struct request_record : request_timing, request_capture {
    std::string client_ip;

    void reset() {
        request_timing::reset();
        request_capture::reset();
    }
};

}  // namespace sidelight::routes
