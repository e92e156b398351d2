#pragma once
// The one UTF-8 decoder: well-formed sequences only (RFC 3629): no overlong forms, no
// surrogates (U+D800..U+DFFF), nothing past U+10FFFF, no stray continuation bytes. Callers
// decide what to do with what is not well formed (replace it, refuse the text).
// Pure functions; thread-safe.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sidelight::util {

// The length (1 to 4) of the well-formed sequence at s[i], writing its code point to `cp`;
// 0 when the bytes at s[i] are not a well-formed sequence (or i is past the end).
std::size_t utf8_decode(std::string_view s, std::size_t i, std::uint32_t& cp);

inline std::size_t utf8_length(std::string_view s, std::size_t i) {
    std::uint32_t cp;
    return utf8_decode(s, i, cp);
}

// True when all of `s` is well-formed UTF-8.
bool is_valid_utf8(std::string_view s);

}  // namespace sidelight::util
