#include "util/json_escape.hpp"

#include "util/utf8.hpp"

namespace sidelight::util {

void append_json_escaped(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else if (c >= 0x80) {
            const auto n = utf8_length(s, i);
            if (n == 0) {
                out += "\\ufffd";  // invalid UTF-8 is replaced, never passed through
                ++i;
                continue;
            }
            // U+2028/U+2029 end lines in some JSON consumers: escape them too.
            if (n == 3 && c == 0xe2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                (static_cast<unsigned char>(s[i + 2]) & 0xfe) == 0xa8) {
                out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
            } else {
                out.append(s.substr(i, n));
            }
            i += n;
            continue;
        } else {
            out += static_cast<char>(c);
        }
        ++i;
    }
}

}  // namespace sidelight::util
