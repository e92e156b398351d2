#pragma once
// The one way JSON text that is stored is checked and written: the event API's `changes` and
// `details`, rule-captured request bodies (`changes_json`) and JSON pointer values.
//
// A document is accepted only when it is strict JSON (RFC 8259, UTF-8, depth <= 32) and also:
//  - no object has the same key twice (compared after unescaping: "a" and "\u0061" collide);
//  - every number is finite as a double (`1e999999` would read back as Infinity, which is not
//    JSON).
// What is written is compact JSON: no whitespace, strings re-escaped (quote, backslash and every
// control character), and each number exactly as it was written (`123.45`, a 30-digit integer
// and `1E5` stay as they are; a DOM round trip would print 1.2345E2). The values of the keys in
// `redact_keys` (audit.redact_keys, case-insensitive, at any depth) become "[REDACTED]".
// Pure functions; thread-safe. No exceptions beyond std::bad_alloc.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sidelight::audit {

// Where a value sits: ".user.emails[2]" (keys sanitized and capped), "" for the document.
struct json_span {
    std::string path;
    std::size_t begin = 0;  // [begin, end) of the value in json_text::text
    std::size_t end = 0;
};

struct json_text {
    std::string text;  // compact JSON; meaningless when error is set
    // Empty when the document is accepted; else what is wrong, e.g. "duplicate key",
    // "number out of range", "not valid JSON (syntax error)", at error_path.
    std::string error;
    std::string error_path;        // as json_span::path
    std::vector<json_span> spans;  // the values `want_span` asked for, in document order

    bool ok() const { return error.empty(); }
    // "<prefix><error_path>: <error>"; a leading '.' of the path is dropped when prefix is empty.
    std::string message(std::string_view prefix) const;
    const json_span* span(std::string_view path) const;
    std::string_view text_of(const json_span& s) const {
        return std::string_view(text).substr(s.begin, s.end - s.begin);
    }
};

// The reference tokens of a value: object keys as they are, array indices in decimal.
using json_tokens = std::vector<std::string>;
// Asked for every value; true records its span.
using json_span_filter = std::function<bool(const json_tokens&)>;

json_text canonical_json(std::string_view in, const std::vector<std::string>& redact_keys,
                         const json_span_filter& want_span = {});

// The tokens of a JSON pointer (RFC 6901: "~1" is '/', "~0" is '~'); "" is the document.
json_tokens pointer_tokens(std::string_view pointer);

// The string a canonical JSON string literal holds ("\"a\\nb\"" -> "a\nb"); "" when `literal`
// is not a string.
std::string unquote(std::string_view literal);

}  // namespace sidelight::audit
