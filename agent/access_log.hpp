#pragma once
// The optional JSON access log (`access_log: true`): one line per request on stdout with
// time, request_id, client_ip, method, path (no query), route (the template label), status,
// duration_us, upstream_duration_us, bytes_in, bytes_out, error_type, upstream (the address
// the request was sent to, "" when the proxy answered itself) and user_agent (its first 256
// bytes), and listener with egress listeners configured. Every string is JSON-escaped
// (util/json_escape.hpp), so a hostile path or user agent cannot forge a line. Thread-safe: each
// line is formatted in a thread-local buffer and written with one write(2).

#include <string>
#include <string_view>

#include "routes/request_record.hpp"

namespace sidelight::agent {

// Formats one access log line (with its trailing newline) into `out`. `listener`: the
// request's listener ("ingress", an egress listener's name), a field only when not empty (with
// egress listeners configured, as the metrics' label).
void format_access_line(std::string& out, const routes::request_record& r,
                        std::string_view listener = {});

void write_access_line(const routes::request_record& r, std::string_view listener = {});

}  // namespace sidelight::agent
