#pragma once
// UUID strings (lower-case hex, `xxxxxxxx-xxxx-Vxxx-yxxx-xxxxxxxxxxxx`) from the per-thread
// generator of util/random.hpp (xoshiro256**, seeded from getrandom(2)). Not for secrets: the
// ids are idempotency keys, they only need to be unique. Thread-safe (no shared state).
//
// Generated event ids are version 7 (RFC 9562): a 48-bit Unix millisecond timestamp, then a
// 12-bit counter, then 62 random bits. Ids from one thread sort in creation order, and ids from
// all threads share their leading bits for a millisecond, so the store's unique event_id index
// grows at its right edge instead of taking a random page per row (see docs/BENCHMARKS.md).
// The timestamp is the event's creation time, which the row stores in created_at anyway.

#include <string>
#include <string_view>

namespace sidelight::util {

std::string make_uuid_v4();

// Within a thread each id is greater (as a string, too) than the one before.
std::string make_uuid_v7();

// True for the canonical 36-character textual form (any version).
bool is_uuid(std::string_view text);

}  // namespace sidelight::util
