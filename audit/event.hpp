#pragma once
// The events sidelight records: `audit_event` rows go to `audit_log`, `security_event` rows to
// `security_audit`. Plain values, no invariants beyond what `normalize` fills in; safe to copy
// and move between threads. Free functions here are pure and thread-safe.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace sidelight::audit {

// UTC, microsecond resolution; stored as `2026-11-26T23:59:01.123456Z`.
using time_point = std::chrono::sys_time<std::chrono::microseconds>;

// Who produced the event: a configured rule, the explicit event API, or a detector.
enum class event_source { rule, api, detector };

enum class table_kind { audit_log, security_audit };

struct audit_event {
    std::string user_id;
    std::string action;
    std::string entity_type;
    std::string entity_id;
    std::string changes;  // JSON text (may be empty)
    std::string ip_address;
    std::string user_agent;
    time_point created_at{};  // epoch: filled with "now" by normalize()
    std::string event_id;     // a UUID; empty: generated (v7) by normalize()
    std::string request_id;
    std::string method;
    std::string route;
    int status = 0;
    event_source source = event_source::rule;
    // The request's W3C trace id (32 lower-case hex digits) when tracing is on, or one the event
    // API was given; empty: none (stored NULL, and left out of the chain's canonical form).
    std::string trace_id;
    // Set by normalize() when it generated event_id: new by construction, so the store need not
    // look it up before inserting. Not stored.
    bool generated_id = false;
};

struct security_event {
    std::string event_type;
    std::string user_id;
    std::string ip_address;
    // Unknown (stored NULL) when the client went away before the app answered (status 499):
    // an abandoned login is neither a success nor a failure.
    std::optional<bool> success = false;
    std::string details;  // JSON text (may be empty)
    time_point created_at{};
    std::string event_id;
    std::string request_id;
    std::string method;
    std::string route;
    int status = 0;
    event_source source = event_source::rule;
    std::string trace_id;       // as in audit_event
    bool generated_id = false;  // as in audit_event
};

using event = std::variant<audit_event, security_event>;

// An event as committed: its place in the store-wide sequence and in the hash chain.
struct stored_event {
    std::int64_t seq = 0;
    std::string prev_hash;  // hex SHA-256 of the previous row (64 zeros for seq 1)
    std::string hash;       // hex SHA-256(prev_hash bytes || canonical row)
    event ev;
    std::string chain;  // the writer's chain in a fleet (Postgres) store; empty in SQLite

    table_kind table() const { return static_cast<table_kind>(ev.index()); }
};

table_kind table_of(const event& ev);
std::string_view table_name(table_kind table);
std::optional<table_kind> parse_table(std::string_view name);

std::string_view to_string(event_source source);
std::optional<event_source> parse_source(std::string_view text);

// `2026-11-26T23:59:01.123456Z`; parse accepts exactly that shape (and nothing that would
// format differently), so a stored value round-trips byte for byte.
std::string format_time(time_point tp);
std::optional<time_point> parse_time(std::string_view text);
// What a client may send (the event API): YYYY-MM-DDTHH:MM:SS with an optional fraction of 1 to
// 9 digits (truncated to the microsecond) and Z or an offset ±HH:MM, as JavaScript's
// toISOString(), RFC 3339 and parse_time's own form write it. Only years 1 to 9999 (in UTC, the
// offset applied): what both stores hold and read back (Postgres has no year 0).
std::optional<time_point> parse_client_time(std::string_view text);
time_point now();

const std::string& event_id_of(const event& ev);
bool generated_id_of(const event& ev);
time_point created_at_of(const event& ev);
event_source source_of(const event& ev);
const std::string& trace_id_of(const event& ev);

// Fills an empty event_id with a fresh UUID v7 and an epoch created_at with now().
void normalize(event& ev);

}  // namespace sidelight::audit
