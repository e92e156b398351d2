#pragma once
// X-Request-Id handling: a client's id is kept when it is sane (1..128 visible ASCII bytes),
// otherwise a fresh one is generated. Thread-safe: the generator is per thread.

#include <string>
#include <string_view>

namespace sidelight::util {

inline constexpr std::size_t max_request_id_length = 128;

bool is_sane_request_id(std::string_view id);

// Writes a new random id (32 lower-case hex digits, 128 bits) into `out`, reusing its capacity.
void generate_request_id(std::string& out);

}  // namespace sidelight::util
