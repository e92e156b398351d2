#pragma once
// What may be stored about a request, and in what form.
//  - sanitize(): every stored string — control characters escaped (CR -> \r, LF -> \n,
//    others, C1 controls included, \u00XX), a backslash doubled (so an escape is never
//    ambiguous), invalid UTF-8 replaced by U+FFFD, length capped without splitting a
//    character. A CRLF in a user agent can thus never forge a line in an export or a log.
//  - secrets are never stored: the Authorization, Cookie, Set-Cookie, Proxy-Authorization,
//    X-Api-Key, Api-Key, X-Auth-Token and X-Access-Token headers, and the values of the
//    configured keys (audit.redact_keys) in bodies and query strings, become "[REDACTED]". A
//    key matches a name case-insensitively, ignoring _ - . and spaces, as a whole or as its
//    ending (token: access_token, refreshToken; not total_tokens), at any depth.
// Pure functions; thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace sidelight::audit {

inline constexpr std::string_view redacted = "[REDACTED]";
inline constexpr std::size_t max_user_agent_bytes = 1024;

std::string sanitize(std::string_view s, std::size_t cap = 0);

bool is_secret_header(std::string_view name);
bool is_redacted_key(std::string_view key, const std::vector<std::string>& keys);

// Replaces, in place, the value of every object member whose key is in `keys`.
void redact_json(boost::json::value& v, const std::vector<std::string>& keys);

// "a=1&Password=x" -> "a=1&Password=[REDACTED]" (names compared after percent-decoding).
std::string redact_query(std::string_view query, const std::vector<std::string>& keys);

// The `changes` column for a request body: the body as compact JSON with secrets redacted and
// numbers as written (audit/json_text.hpp); a body that is not JSON, is JSON with a duplicate key
// or a number that overflows a double, or was cut at the capture cap, is never stored raw:
// {"_unparsed":true,"bytes":N,"truncated":B}.
std::string changes_json(std::string_view body, bool truncated,
                         const std::vector<std::string>& keys);

}  // namespace sidelight::audit
