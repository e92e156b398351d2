#include "rules/value_source.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include "util/ascii.hpp"

#include "audit/json_text.hpp"
#include "audit/redact.hpp"
#include "rules/jwt_verifier.hpp"
#include "util/percent.hpp"

namespace sidelight::rules {
namespace {

std::string as_text(const boost::json::value& v) {
    if (const auto* s = v.if_string()) return std::string(*s);
    if (v.is_null()) return "";
    return boost::json::serialize(v);
}

// True when a reference token of the JSON pointer is a redacted key: such a pointer names a
// secret or something inside one.
bool names_secret(std::string_view pointer, const std::vector<std::string>& keys) {
    for (const auto& token : audit::pointer_tokens(pointer)) {
        if (audit::is_redacted_key(token, keys)) return true;
    }
    return false;
}

// An object or array value is stored as JSON text: redact the secrets inside it first.
std::string redacted_text(const boost::json::value& v, const std::vector<std::string>& keys) {
    if (!v.is_object() && !v.is_array()) return as_text(v);
    auto copy = v;
    audit::redact_json(copy, keys);
    return as_text(copy);
}

// The body is read as stored JSON is (audit/json_text.hpp): a body with a duplicate key or a
// number that overflows a double reads as missing, and a number reads as it was written.
std::string pointer_into(std::string_view body, const std::string& pointer,
                         const std::vector<std::string>& keys) {
    if (names_secret(pointer, keys)) return std::string(audit::redacted);
    if (!pointer.empty() && pointer.front() != '/') return "";
    const auto tokens = audit::pointer_tokens(pointer);
    const auto doc =
        audit::canonical_json(body, keys, [&](const audit::json_tokens& t) { return t == tokens; });
    if (!doc.ok() || doc.spans.empty()) return "";
    const auto text = doc.text_of(doc.spans.front());
    if (text.starts_with('"')) return audit::unquote(text);
    if (text == "null") return "";
    return std::string(text);
}

std::string_view header(const routes::request_record& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
        if (util::iequals(n, name)) return v;
    }
    return {};
}

// The first `name=value` of the query string, percent-decoded ('+' as a space); "" when absent
// or not decodable.
std::string query_value(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const auto key = util::percent_decoded(pair.substr(0, eq), true);
        if (!key || *key != name) continue;
        if (eq == std::string_view::npos) return "";
        return util::percent_decoded(pair.substr(eq + 1), true).value_or("");
    }
    return "";
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view in) {
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-' || c == '+')
            v = 62;
        else if (c == '_' || c == '/')
            v = 63;
        else if (c == '=')
            break;
        else
            return std::nullopt;
        buffer = (buffer << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xff);
        }
    }
    return out;
}

std::string_view bearer_token(std::string_view authorization) {
    constexpr std::string_view bearer = "Bearer ";
    if (authorization.size() <= bearer.size() ||
        !util::iequals(authorization.substr(0, bearer.size()), bearer))
        return {};
    auto token = authorization.substr(bearer.size());
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
        token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    return token;
}

std::optional<boost::json::object> decode_json_object(std::string_view part) {
    const auto text = base64url_decode(part);
    if (!text) return std::nullopt;
    boost::json::error_code ec;
    auto v = boost::json::parse(*text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::optional<boost::json::object> jwt_payload(std::string_view authorization) {
    const auto token = bearer_token(authorization);
    const auto dot1 = token.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos) return std::nullopt;
    return decode_json_object(token.substr(dot1 + 1, dot2 - dot1 - 1));
}

std::string extract(const config::value_source& source, const routes::request_record& r,
                    const std::vector<std::string>& redact_keys, jwt_reading jwt) {
    using kind = config::value_source::kind;
    switch (source.from) {
        case kind::none:
            return "";
        case kind::path_param:
            return std::string(r.params.find(source.key).value_or(""));
        case kind::header:
            if (audit::is_secret_header(source.key)) return std::string(audit::redacted);
            return std::string(header(r, source.key));
        case kind::jwt_claim: {
            if (audit::is_redacted_key(source.key, redact_keys))
                return std::string(audit::redacted);
            const auto authorization = header(r, "authorization");
            std::optional<boost::json::object> decoded;
            const boost::json::object* claims = nullptr;
            if (jwt.verifier)
                claims = jwt.verifier->claims(authorization, r, jwt.count);
            else if ((decoded = jwt_payload(authorization)))
                claims = &*decoded;
            const auto* claim = claims ? claims->if_contains(source.key) : nullptr;
            return claim ? redacted_text(*claim, redact_keys) : "";
        }
        case kind::request_body:
            return pointer_into(r.request_body, source.key, redact_keys);
        case kind::response_body:
            return pointer_into(r.response_body, source.key, redact_keys);
        case kind::query_param:
            if (audit::is_redacted_key(source.key, redact_keys))
                return std::string(audit::redacted);
            return query_value(r.query, source.key);
        case kind::status: {
            const int status = r.outcome_status();
            return status ? std::to_string(status) : "";
        }
        case kind::status_class: {
            const int status = r.outcome_status();
            if (status < 100 || status > 599) return "";
            return std::string(1, static_cast<char>('0' + status / 100)) + "xx";
        }
        case kind::method:
            return std::string(routes::method_label(r.method_id));
        case kind::route:
            return std::string(r.route_label);
    }
    return "";
}

}  // namespace sidelight::rules
