#include "audit/redact.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "audit/json_text.hpp"

namespace sidelight::audit {
namespace {

// Length of the valid UTF-8 sequence at s[i] (no overlongs, no surrogates), 0 if invalid.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    std::size_t n = 0;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    if (n == 0 || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((b(k) & 0xc0) != 0x80) return 0;
    }
    if (c == 0xe0 && b(1) < 0xa0) return 0;   // overlong
    if (c == 0xed && b(1) >= 0xa0) return 0;  // surrogate
    if (c == 0xf0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xf4 && b(1) >= 0x90) return 0;  // beyond U+10FFFF
    return n;
}

bool iequals(std::string_view a, std::string_view b) {
    return boost::beast::iequals(a, b);
}

std::string percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() &&
            std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i] == '+' ? ' ' : s[i];
        }
    }
    return out;
}

}  // namespace

std::string sanitize(std::string_view s, std::size_t cap) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::string piece;
        std::size_t used = 1;
        if (c == '\r')
            piece = "\\r";
        else if (c == '\n')
            piece = "\\n";
        else if (c == '\t')
            piece = "\\t";
        else if (c < 0x20 || c == 0x7f)
            piece = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
        else if (c < 0x80)
            piece = std::string(1, static_cast<char>(c));
        else if (const auto n = utf8_length(s, i); n > 0) {
            piece = std::string(s.substr(i, n));
            used = n;
        } else {
            piece = "\xef\xbf\xbd";  // U+FFFD
        }
        if (cap && out.size() + piece.size() > cap) break;
        out += piece;
        i += used;
    }
    return out;
}

bool is_secret_header(std::string_view name) {
    for (std::string_view secret :
         {"authorization", "cookie", "set-cookie", "proxy-authorization"}) {
        if (iequals(name, secret)) return true;
    }
    return false;
}

bool is_redacted_key(std::string_view key, const std::vector<std::string>& keys) {
    for (const auto& k : keys) {
        if (iequals(key, k)) return true;
    }
    return false;
}

void redact_json(boost::json::value& v, const std::vector<std::string>& keys) {
    if (auto* o = v.if_object()) {
        for (auto& member : *o) {
            if (is_redacted_key(member.key(), keys))
                member.value() = redacted;
            else
                redact_json(member.value(), keys);
        }
    } else if (auto* a = v.if_array()) {
        for (auto& item : *a) redact_json(item, keys);
    }
}

std::string redact_query(std::string_view query, const std::vector<std::string>& keys) {
    std::string out;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (!out.empty()) out += '&';
        if (eq != std::string_view::npos &&
            is_redacted_key(percent_decode(pair.substr(0, eq)), keys)) {
            out.append(pair.substr(0, eq + 1)).append(redacted);
        } else {
            out.append(pair);
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

std::string changes_json(std::string_view body, bool truncated,
                         const std::vector<std::string>& keys) {
    if (body.empty() && !truncated) return "";
    if (!truncated) {
        auto parsed = canonical_json(body, keys);
        if (parsed.ok()) return std::move(parsed.text);
    }
    // Cut, not JSON, or JSON a reader could not take back exactly (a duplicate key, a number
    // that overflows a double): only its size is stored.
    boost::json::object o;
    o["_unparsed"] = true;
    o["bytes"] = body.size();
    o["truncated"] = truncated;
    return boost::json::serialize(o);
}

}  // namespace sidelight::audit
