#pragma once
// The tamper-evidence chain: every row stores
//   hash = hex(SHA-256(prev_hash_bytes || canonical_row(row)))
// where prev_hash_bytes are the 32 raw bytes of the previous row's hash (64 zeros in hex for the
// first row). One chain per store, over both tables in `seq` order.
//
// canonical_row() encodes the table name and every stored column in a fixed order, each field as
// a 4-byte big-endian length followed by its bytes, so no two different rows encode alike:
//   common:         table, seq, event_id, created_at, source, request_id, method, route, status
//   audit_log:      user_id, action, entity_type, entity_id, changes, ip_address, user_agent
//   security_audit: event_type, user_id, ip_address, success ("1"/"0", "" for NULL), details
//   then, only when non-empty: trace_id
// Integers are decimal text; created_at is the stored ISO-8601 text. trace_id is appended only
// when the row has one, so a row without it (every row stored before trace ids existed, every
// row while tracing is off) encodes byte for byte as before and its stored hash still verifies;
// a row with one has it covered. NULL and "" are the same (no trace id).
//
// Pure functions; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

#include "audit/event.hpp"

namespace sidelight::audit {

inline constexpr std::string_view genesis_hash =
    "0000000000000000000000000000000000000000000000000000000000000000";

std::string canonical_row(std::int64_t seq, const event& ev);

// Empty when prev_hash is not 64 hex digits (a tampered link can never verify).
std::string chain_hash(std::string_view prev_hash, std::int64_t seq, const event& ev);

std::string sha256_hex(std::string_view data);

}  // namespace sidelight::audit
