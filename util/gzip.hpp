#pragma once
// gzip for response bodies (zlib, RFC 1952), and whether a request's Accept-Encoding takes it.
// Pure functions; thread-safe.

#include <string>
#include <string_view>

namespace sidelight::util {

// `text` gzip-compressed (zlib's default level); throws std::runtime_error if zlib fails.
std::string gzip(std::string_view text);

// A captured body as the rules read it, given its Content-Encoding: gzip, x-gzip and deflate
// (zlib-wrapped) are inflated, up to `cap` bytes (more sets `truncated`); a body captured only
// in part (`truncated` on entry) cannot be inflated and is emptied, still truncated; a body in
// another encoding (br, zstd, a list of several) or that does not inflate is emptied. Identity
// (or no header) leaves it as it is.
void decode_captured_body(std::string_view content_encoding, std::string& body, bool& truncated,
                          std::size_t cap);

// The same for a body the client sent, whose Content-Encoding it alone chose: false, the body
// left as it came, when it cannot be inflated (another encoding, a list, a body cut by the
// capture, or bytes that are not what the header says). The rules then read it as it is: a
// client cannot hide plain JSON from them by naming an encoding, and bytes that are not JSON
// are kept only as `_unparsed`, never raw.
bool inflate_captured_body(std::string_view content_encoding, std::string& body, bool& truncated,
                           std::size_t cap);

// Whether an Accept-Encoding value accepts gzip: `gzip` or `x-gzip` (or `*`) listed with a
// q-value above 0 (RFC 9110 12.5.3), case-insensitively.
bool accepts_gzip(std::string_view accept_encoding);

// Whether an Accept value lists `media_type` (e.g. "application/openmetrics-text") with a
// q-value above 0, case-insensitively.
bool accepts_media_type(std::string_view accept, std::string_view media_type);
// Whether `media_type` is accepted with a q-value at least that of `other` (or of */*): what a
// server choosing between the two should send.
bool prefers_media_type(std::string_view accept, std::string_view media_type,
                        std::string_view other);

}  // namespace sidelight::util
