#pragma once
// The one fast pseudo-random source: xoshiro256** (Blackman & Vigna), one generator per thread,
// seeded from getrandom(2) (std::random_device if that fails). For ids that must be unique
// (request ids, event UUIDs), never for secrets or keys. Thread-safe: no shared state.

#include <cstdint>

namespace sidelight::util {

// The next 64 random bits of this thread's generator.
std::uint64_t random_u64();

}  // namespace sidelight::util
