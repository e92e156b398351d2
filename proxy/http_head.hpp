#pragma once
// Writes message heads as HTTP/1.x text, in place of Beast's serializer: one contiguous
// buffer per head (a single write with the body that follows), no per-field iovecs.
// The fields are written as they are: framing (Content-Length or Transfer-Encoding) must
// already be what the body that follows will carry. Pure functions; thread-safe.

#include <cstddef>
#include <string>
#include <string_view>

#include "proxy/http_fields.hpp"

namespace sidelight::proxy {

// "METHOD target HTTP/1.x" CRLF, the fields, `extra`, CRLF. `extra` is header lines the proxy
// adds, each ending in CRLF (header_rewrite.hpp).
void append_head(std::string& out, const request_head& h, std::string_view extra = {});
// "HTTP/1.x status reason" CRLF, the fields, `extra`, CRLF (the reason is the standard one
// when the message has none).
void append_head(std::string& out, const response_head& h, std::string_view extra = {});

// The last chunk of a chunked body: "0" CRLF, then the trailer fields of `fields` from the
// `first`-th field on (those the parser appended after the head), CRLF. Fields that may not
// appear in a trailer (RFC 9110 6.5.1: framing, routing, hop-by-hop) are dropped.
void append_last_chunk(std::string& out, const fields& fields, std::size_t first);

// A chunk's size line: hex digits and CRLF.
void append_chunk_size(std::string& out, std::size_t size);

}  // namespace sidelight::proxy
