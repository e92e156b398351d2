#pragma once
// The one JSON string escaper for sidelight's line-oriented output (the access log, JSON log
// lines): quotes, backslashes and every control character are escaped, invalid UTF-8 becomes
// U+FFFD and U+2028/U+2029 are escaped, so a value can never break or forge a line.
// Pure function; thread-safe.

#include <string>
#include <string_view>

namespace sidelight::util {

// Appends `s` to `out` as the inside of a JSON string (without the surrounding quotes).
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace sidelight::util
