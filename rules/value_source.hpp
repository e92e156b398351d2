#pragma once
// Reads a configured value source (config::value_source) from a finished request:
//   path:id            a parameter of the matched route template
//   header:X-User      a captured request header (secret headers read as "[REDACTED]")
//   query:page         a query parameter, percent-decoded (a redacted key reads "[REDACTED]")
//   jwt:sub            a claim of the `Authorization: Bearer` JWT's payload. Without a
//                      verifier (no `audit.jwt` key configured) the token is decoded, NOT
//                      verified: it names who the client says it is. With one, only a token the
//                      verifier accepts is read (rules/jwt_verifier.hpp); a refused one reads ""
//   request:/a/b       a JSON pointer into the request body
//   response:/id       a JSON pointer into the response body
//   status, status_class, method, route   the exchange itself ("201", "2xx", "POST", the
//                      route template), for metric rules
// Missing values read as "". Strings are returned as is (the caller sanitizes), numbers and
// booleans as their JSON text, objects and arrays as JSON text with the values of redacted
// keys replaced. Secrets are never read out: a pointer with any token that is a redacted key
// (case-insensitive: request:/password, request:/user/Token/0) and a claim named by one read
// as "[REDACTED]", as secret headers do. Pure functions; thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "config/config.hpp"
#include "routes/request_record.hpp"

namespace sidelight::rules {

class jwt_verifier;

// How `jwt:` sources are read: decoded only (no verifier) or verified; with `count`, a refused
// token is counted in the verifier's stats (once per request).
struct jwt_reading {
    const jwt_verifier* verifier = nullptr;
    bool count = false;
};

// `redact_keys`: audit.redact_keys.
std::string extract(const config::value_source& source, const routes::request_record& r,
                    const std::vector<std::string>& redact_keys, jwt_reading jwt = {});

// The token of a "Bearer <token>" Authorization header value (the scheme in any case, blanks
// around the token dropped), or "" when there is none.
std::string_view bearer_token(std::string_view authorization);

// The JSON object that the base64url text `part` decodes to, or nullopt.
std::optional<boost::json::object> decode_json_object(std::string_view part);

// The decoded (not verified) payload of a "Bearer <jwt>" header value, or nullopt.
std::optional<boost::json::object> jwt_payload(std::string_view authorization);

// The base64url (or base64) decoding of `in`; nullopt on an invalid character.
std::optional<std::string> base64url_decode(std::string_view in);

}  // namespace sidelight::rules
