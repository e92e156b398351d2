#pragma once
// HTTP request methods as a closed set for metric labels: the nine methods of RFC 9110 and
// RFC 5789 (PATCH), plus `other` for anything else (labelled "_OTHER", never the raw token).
// Pure functions, thread-safe.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sidelight::routes {

enum class http_method : std::uint8_t {
    get,
    head,
    post,
    put,
    delete_,
    connect,
    options,
    trace,
    patch,
    other,
};

// Number of standard methods (every enumerator before `other`).
inline constexpr std::size_t standard_method_count = 9;

// Exact, case-sensitive match (method tokens are case-sensitive, RFC 9110 section 9.1):
// "GET" is get, "get" is other.
http_method parse_method(std::string_view token);

// "GET", "HEAD", ..., "PATCH"; "_OTHER" for other.
std::string_view method_label(http_method method);

}  // namespace sidelight::routes
