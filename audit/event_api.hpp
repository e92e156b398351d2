#pragma once
// The event API's logic, for apps that log explicitly (the original system's logAudit() and
// logSecurityEvent()), served on the admin port by the agent:
//   POST /v1/audit     {user_id, action*, entity_type, entity_id, changes, ip_address,
//                       user_agent, event_id, created_at, request_id}   (* required)
//   POST /v1/security  {event_type*, user_id, ip_address, success, details, event_id,
//                       created_at, request_id}
//   Both take one object or an array (at most max_batch); 201 only after the durable commit;
//   a retried event_id is not stored twice.
//   GET /v1/events?table=&user_id=&entity_type=&entity_id=&event_type=&since=&until=
//                  &after_seq=&limit=   ->  {"events":[...],"next_after_seq":N}
// All need `Authorization: Bearer <admin.token>`, compared in constant time.
// Pure functions; thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event.hpp"
#include "audit/store.hpp"

namespace sidelight::audit {

inline constexpr std::size_t max_api_batch = 1000;

// True only for "Bearer <token>" with the configured, non-empty token.
bool token_matches(std::string_view authorization, std::string_view token);

struct parse_result {
    std::vector<event> events;
    std::string error;  // "events[2].action: required"; empty when valid
};
// Unknown fields, a duplicate key or a number that overflows a double anywhere in the body are
// refused. `changes` and `details` must be objects (or strings holding one, stored as that
// object); they are stored as compact JSON with their numbers as sent (audit/json_text.hpp) and
// the values of `redact_keys` (audit.redact_keys) replaced, as in rule-captured bodies.
parse_result parse_audit_events(std::string_view json_body,
                                const std::vector<std::string>& redact_keys);
parse_result parse_security_events(std::string_view json_body,
                                   const std::vector<std::string>& redact_keys);

// The query string of GET /v1/events; nullopt with `error` naming the parameter for an unknown
// or repeated one, malformed percent-encoding, limit outside 1..max_limit (not clamped) or a
// negative after_seq.
std::optional<query_filter> parse_query(std::string_view query, std::string& error);

// {"events":[...],"next_after_seq":N}: N is the last row's seq, or `after_seq` (the request's)
// when there is none, so that a client following it never goes back.
std::string events_json(const std::vector<stored_event>& rows, std::int64_t after_seq);

}  // namespace sidelight::audit
