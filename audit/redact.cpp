#include "audit/redact.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "audit/json_text.hpp"
#include "util/ascii.hpp"
#include "util/percent.hpp"
#include "util/utf8.hpp"

namespace sidelight::audit {
namespace {

using util::iequals;

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
        else if (c == '\\')  // escaped too, so that a stored "\n" is always an escaped LF
            piece = "\\\\";
        else if (c < 0x80)
            piece = std::string(1, static_cast<char>(c));
        else if (const auto n = util::utf8_length(s, i); n > 0) {
            const auto next = static_cast<unsigned char>(s[i + 1]);
            if (n == 2 && c == 0xc2 && next < 0xa0)  // C1 controls (NEL, CSI, ...): U+0080-009F
                piece = {'\\', 'u', '0', '0', hex[next >> 4], hex[next & 0xf]};
            else
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
    for (std::string_view secret : {"authorization", "cookie", "set-cookie", "proxy-authorization",
                                    "x-api-key", "api-key", "x-auth-token", "x-access-token"}) {
        if (iequals(name, secret)) return true;
    }
    return false;
}

namespace {

// A key as compared: lower case, without the separators that spell one name several ways
// (access_token, access-token, accessToken and access.token are all "accesstoken").
std::string folded_key(std::string_view key) {
    std::string out;
    out.reserve(key.size());
    for (char c : key) {
        if (c == '_' || c == '-' || c == '.' || c == ' ') continue;
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return out;
}

}  // namespace

// The whole key or its ending: `token` also matches access_token and refreshToken, `password`
// new_password; a key that merely contains the name (total_tokens, token_count) does not.
bool is_redacted_key(std::string_view key, const std::vector<std::string>& keys) {
    const auto folded = folded_key(key);
    for (const auto& k : keys) {
        const auto name = folded_key(k);
        if (!name.empty() && folded.size() >= name.size() &&
            folded.compare(folded.size() - name.size(), name.size(), name) == 0)
            return true;
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
            is_redacted_key(util::percent_decoded(pair.substr(0, eq), true)
                                .value_or(std::string(pair.substr(0, eq))),
                            keys)) {
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
