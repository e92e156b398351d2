#pragma once
// The optional JSON access log (`access_log: true`): one line per request on stdout with
// time, request_id, client_ip, method, path (no query), status, duration_us,
// upstream_duration_us, bytes_in, bytes_out, error_type. Every string is JSON-escaped (control
// characters, quotes, backslashes, invalid UTF-8), so a hostile path cannot forge a line.
// Thread-safe: each line is formatted in a thread-local buffer and written with one write(2).

#include <string>
#include <string_view>

#include "proxy/request_record.hpp"

namespace sidelight::agent {

// Appends `s` to `out` as the inside of a JSON string.
void append_json_escaped(std::string& out, std::string_view s);

// Formats one access log line (with its trailing newline) into `out`.
void format_access_line(std::string& out, const proxy::request_record& r);

void write_access_line(const proxy::request_record& r);

}  // namespace sidelight::agent
