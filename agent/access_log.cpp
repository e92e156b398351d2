#include "agent/access_log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "util/json_escape.hpp"

namespace sidelight::agent {
namespace {

using util::append_json_escaped;

// User agents are client-chosen and unbounded; the log keeps their first bytes.
constexpr std::size_t max_user_agent_bytes = 256;

void append_time(std::string& out, std::chrono::system_clock::time_point t) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch());
    const std::time_t secs = static_cast<std::time_t>(us.count() / 1000000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                tm.tm_sec, static_cast<long long>(us.count() % 1000000));
    out.append(buf, static_cast<std::size_t>(n));
}

void field(std::string& out, std::string_view name, std::string_view value) {
    out += ",\"";
    out += name;
    out += "\":\"";
    append_json_escaped(out, value);
    out += '"';
}

void field(std::string& out, std::string_view name, long long value) {
    out += ",\"";
    out += name;
    out += "\":";
    out += std::to_string(value);
}

}  // namespace

void format_access_line(std::string& out, const routes::request_record& r,
                        std::string_view listener) {
    out.clear();
    out += "{\"time\":\"";
    append_time(out, r.wall_start);
    out += '"';
    field(out, "request_id", r.request_id);
    if (r.trace.active) {
        out += ",\"trace_id\":\"";
        util::append_hex(out, r.trace.trace.data(), r.trace.trace.size());
        out += "\",\"span_id\":\"";
        util::append_hex(out, r.trace.server_span.data(), r.trace.server_span.size());
        out += '"';
    }
    field(out, "client_ip", r.client_ip);
    field(out, "method", r.method);
    field(out, "path", r.path);
    field(out, "route", r.route_label);
    field(out, "status", r.status);
    field(out, "duration_us", r.duration().count());
    field(out, "upstream_duration_us", r.upstream_duration().count());
    field(out, "bytes_in", static_cast<long long>(r.bytes_in));
    field(out, "bytes_out", static_cast<long long>(r.bytes_out));
    field(out, "error_type", routes::error_label(r.error));
    field(out, "upstream", r.upstream);
    if (!listener.empty()) field(out, "listener", listener);
    // A cut inside a UTF-8 sequence leaves a partial one, which the escaper replaces.
    field(out, "user_agent", std::string_view(r.user_agent).substr(0, max_user_agent_bytes));
    out += "}\n";
}

void write_access_line(const routes::request_record& r, std::string_view listener) {
    thread_local std::string line;
    format_access_line(line, r, listener);
    std::size_t off = 0;
    while (off < line.size()) {
        const auto n = ::write(STDOUT_FILENO, line.data() + off, line.size() - off);
        if (n <= 0) break;  // stdout gone: the access log is best effort
        off += static_cast<std::size_t>(n);
    }
}

}  // namespace sidelight::agent
