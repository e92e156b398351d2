#pragma once
// UUID v4 strings (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, lower-case hex) from a per-thread
// xoshiro256** generator seeded with getrandom(2) / std::random_device. Not for secrets: the
// ids are idempotency keys, they only need to be unique. Thread-safe (no shared state).

#include <string>
#include <string_view>

namespace sidelight::audit {

std::string make_uuid_v4();

// True for the canonical 36-character textual form (any version).
bool is_uuid(std::string_view text);

}  // namespace sidelight::audit
