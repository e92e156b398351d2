#pragma once
// Strict validation of a raw HTTP/1.x request head (request line + header fields + CRLFCRLF)
// before it is parsed and forwarded. This is the request-smuggling defense: whatever passes
// here has exactly one unambiguous framing, and whatever fails never reaches the app.
// Pure function, thread-safe, no allocation.

#include <cstddef>
#include <string_view>

namespace sidelight::proxy {

enum class head_verdict {
    ok,
    bad_request,       // 400
    uri_too_long,      // 414
    header_too_large,  // 431
};

struct head_limits {
    std::size_t max_url_bytes = 8 * 1024;
    std::size_t max_header_count = 100;
};

struct head_check_result {
    head_verdict verdict = head_verdict::ok;
    std::string_view reason;  // static text for logs: "content-length with transfer-encoding"
};

// `head` spans from the first byte of the request line to the final CRLFCRLF inclusive.
head_check_result check_request_head(std::string_view head, const head_limits& limits);

// True for a valid RFC 9110 token (method names, field names).
bool is_token(std::string_view s);

}  // namespace sidelight::proxy
