#pragma once
// The one percent-decoder (RFC 3986 2.1): "%" followed by exactly two hex digits, any case;
// anything else after a "%" ("%zz", "%4x", "%4" at the end) makes the whole text invalid.
// Pure functions; thread-safe.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sidelight::util {

// The value of a hex digit, or -1.
constexpr int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes `in` into `out` (room for in.size() bytes; decoding never grows); returns the decoded
// length, or -1 at an invalid escape. No allocation: for the request path.
std::ptrdiff_t percent_decode(std::string_view in, char* out);

// The decoded text, or nullopt at an invalid escape. With `plus_is_space` (a query string,
// application/x-www-form-urlencoded) '+' decodes to a space.
std::optional<std::string> percent_decoded(std::string_view in, bool plus_is_space = false);

}  // namespace sidelight::util
