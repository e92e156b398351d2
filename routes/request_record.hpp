#pragma once
// The per-request record a client session hands to its observers once the response is written
// (or has failed). It is the single hand-off from the data path (`proxy/`) to telemetry
// (`agent/` metrics and access log, then `audit/` rules): observers never see Beast types.
//
// A session owns one record and reuses it for every request on its connection, so its strings
// keep their capacity and recording allocates nothing in steady state. Observers are called on
// the session's worker thread and must not block; they copy what they keep.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "routes/capture.hpp"
#include "routes/method.hpp"
#include "routes/route_table.hpp"

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
};
inline constexpr std::size_t error_type_count = 10;
std::string_view error_label(error_type e);

enum class connection_type : std::uint8_t { client, upstream, websocket };
std::string_view connection_label(connection_type t);

struct request_record {
    using clock = std::chrono::steady_clock;

    std::chrono::system_clock::time_point wall_start;  // for logs and audit rows
    clock::time_point start;                           // first byte of the request header read
    clock::time_point upstream_start;   // request header sent to the app (or epoch if never)
    clock::time_point upstream_header;  // response header received from the app
    clock::time_point end;              // last byte of the response written (or failure)

    std::string_view method;  // as sent by the client (points into session storage)
    http_method method_id = http_method::other;  // the closed set used as the `method` label
    route_id route = unmatched_route;
    std::string_view route_label = unmatched_label;  // the template; lives in the routing value
    std::uint64_t routing_generation = 0;            // which published routing `route` belongs to
    bool route_configured = false;  // matched a configured template (not normalized)
    std::string path;               // request target without the query string
    std::string request_id;
    std::string_view upstream;  // the app's address once the request was sent ("" if never)
    std::string client_ip;      // per connection: kept across reset()
    int status = 0;             // what the client got; 499 when it went away first
    error_type error = error_type::none;
    std::uint64_t bytes_in = 0;   // request body bytes read from the client
    std::uint64_t bytes_out = 0;  // response body bytes written to the client

    // For the audit rules of the route (see capture_plan); empty when the plan asks nothing.
    const capture_plan* plan = nullptr;  // the route's plan, owned by the routing value
    param_list params;                   // path parameters of the matched template
    std::string query;                   // the query string, without '?'
    std::string user_agent;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower case, per plan
    std::string request_body;                                  // at most plan->max_body_bytes
    bool request_body_truncated = false;
    std::string response_body;
    bool response_body_truncated = false;
    bool held_request = false;   // the strict gate was consulted before forwarding
    bool held_response = false;  // ... and before the response was written

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
        method = {};
        method_id = http_method::other;
        route = unmatched_route;
        route_label = unmatched_label;
        route_configured = false;
        plan = nullptr;
        params.clear();
        query.clear();
        user_agent.clear();
        headers.clear();
        request_body.clear();
        response_body.clear();
        request_body_truncated = response_body_truncated = false;
        held_request = held_response = false;
        path.clear();
        request_id.clear();
        upstream = {};
        status = 0;
        error = error_type::none;
        bytes_in = bytes_out = 0;
        start = upstream_start = upstream_header = end = clock::time_point{};
    }
};

// What the proxy reports to. Implemented by the agent (metrics, access log, audit pipeline).
// Thread-safety: called concurrently from every worker thread.
class observer {
  public:
    virtual ~observer() = default;
    virtual void on_request(const request_record& record) = 0;
    virtual void on_connection(connection_type type, int delta) = 0;
};

}  // namespace sidelight::routes
