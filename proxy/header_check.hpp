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
    not_allowed,       // 405: CONNECT (sidelight is no forward proxy)
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

// True when `name` (any case) is a field sidelight reads to frame, route or attribute a
// request: Content-Length, Transfer-Encoding, Host, Authorization, User-Agent, Expect and the
// fields it sets itself (X-Forwarded-*, X-Request-Id). A Connection option may never name one:
// the field would be removed as hop-by-hop between what sidelight parsed and what the app
// reads (`Connection: Content-Length` smuggled the body as a second request).
bool is_protected_field(std::string_view name);

// True when `name` frames a message (Content-Length, Transfer-Encoding): what a response's
// Connection option may not name either.
bool is_framing_field(std::string_view name);

}  // namespace sidelight::proxy
