#include "audit/value_source.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "audit/jwt_verifier.hpp"
#include "audit/redact.hpp"

namespace sidelight::audit {
namespace {

std::string as_text(const boost::json::value& v) {
    if (const auto* s = v.if_string()) return std::string(*s);
    if (v.is_null()) return "";
    return boost::json::serialize(v);
}

std::string pointer_into(std::string_view body, const std::string& pointer) {
    boost::json::error_code ec;
    const auto doc = boost::json::parse(body, ec);
    if (ec) return "";
    const auto* found = doc.find_pointer(pointer, ec);
    return found && !ec ? as_text(*found) : "";
}

std::string_view header(const proxy::request_record& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
        if (boost::beast::iequals(n, name)) return v;
    }
    return {};
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

std::optional<boost::json::value> jwt_payload(std::string_view authorization) {
    constexpr std::string_view bearer = "Bearer ";
    if (authorization.size() <= bearer.size() ||
        !boost::beast::iequals(authorization.substr(0, bearer.size()), bearer))
        return std::nullopt;
    const auto token = authorization.substr(bearer.size());
    const auto dot1 = token.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos) return std::nullopt;
    const auto payload = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    if (!payload) return std::nullopt;
    boost::json::error_code ec;
    auto v = boost::json::parse(*payload, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return v;
}

std::string extract(const config::value_source& source, const proxy::request_record& r,
                    jwt_reading jwt) {
    using kind = config::value_source::kind;
    switch (source.from) {
        case kind::none:
            return "";
        case kind::path_param:
            return std::string(r.params.find(source.key).value_or(""));
        case kind::header:
            if (is_secret_header(source.key)) return std::string(redacted);
            return std::string(header(r, source.key));
        case kind::jwt_claim: {
            const auto authorization = header(r, "authorization");
            if (jwt.verifier) {
                const auto claims = jwt.verifier->claims(authorization, r, jwt.count);
                const auto* claim = claims ? claims->if_contains(source.key) : nullptr;
                return claim ? as_text(*claim) : "";
            }
            const auto claims = jwt_payload(authorization);
            if (!claims) return "";
            const auto* claim = claims->as_object().if_contains(source.key);
            return claim ? as_text(*claim) : "";
        }
        case kind::request_body:
            return pointer_into(r.request_body, source.key);
        case kind::response_body:
            return pointer_into(r.response_body, source.key);
    }
    return "";
}

}  // namespace sidelight::audit
