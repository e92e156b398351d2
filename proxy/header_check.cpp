#include "proxy/header_check.hpp"

#include "proxy/http_text.hpp"
#include "util/ascii.hpp"

#include <array>

namespace sidelight::proxy {
namespace {

constexpr std::array<bool, 256> make_tchar_table() {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
    return t;
}
constexpr auto tchar = make_tchar_table();

using util::iequals;

head_check_result bad(std::string_view why) {
    return {head_verdict::bad_request, why};
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// The request-target's form (RFC 9112 3.2): origin-form ("/path?q"), absolute-form
// ("http://host/path"), or asterisk-form ("*", OPTIONS only). Authority-form belongs to CONNECT,
// which is refused before. A fragment is never sent (RFC 9110 4.2.4).
head_check_result check_target(std::string_view method, std::string_view target) {
    if (target.find('#') != std::string_view::npos) return bad("fragment in request target");
    if (target.front() == '/') return {};
    if (target == "*") return method == "OPTIONS" ? head_check_result{} : bad("asterisk-form");
    if (starts_with_nocase(target, "http://") || starts_with_nocase(target, "https://")) return {};
    return bad("request target is not origin-form or absolute-form");
}

// Request line: method SP request-target SP HTTP/1.x
head_check_result check_request_line(std::string_view line, const head_limits& limits,
                                     bool& http10) {
    const auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos || !is_token(line.substr(0, sp1)))
        return bad("invalid method");
    const auto method = line.substr(0, sp1);
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return bad("malformed request line");
    const auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto version = line.substr(sp2 + 1);
    if (target.size() > limits.max_url_bytes) return {head_verdict::uri_too_long, "uri too long"};
    if (target.empty()) return bad("empty request target");
    for (unsigned char c : target) {
        if (c <= 0x20 || c >= 0x7f) return bad("invalid byte in request target");
    }
    if (version == "HTTP/1.1") {
        http10 = false;
    } else if (version == "HTTP/1.0") {
        http10 = true;
    } else {
        return bad("unsupported http version");
    }
    if (method == "CONNECT") return {head_verdict::not_allowed, "connect"};
    return check_target(method, target);
}

// Host = uri-host [ ":" port ]: reg-name or IP literal characters only. Userinfo ("user@host")
// was removed from http URIs (RFC 9110 4.2.4); a '/' or '\\' would let the app see another
// authority than the one sidelight forwarded for.
bool valid_host(std::string_view host) {
    for (unsigned char c : host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') ||
                        std::string_view("-._~!$&'()*+,;=%:[]").find(static_cast<char>(c)) !=
                            std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

struct framing_state {
    int content_length_count = 0;
    int transfer_encoding_count = 0;
    int host_count = 0;
    bool chunked_last = false;
};

// Connection's options (RFC 9110 7.6.1) are field names: tokens, and never one that sidelight
// reads (is_protected_field).
head_check_result check_connection(std::string_view value) {
    head_check_result r;
    any_list_element(value, [&](std::string_view option) {
        if (!is_token(option)) {
            r = bad("connection option is not a token");
        } else if (is_protected_field(option)) {
            r = bad("connection option names a framing, routing or identity field");
        }
        return r.verdict != head_verdict::ok;
    });
    return r;
}

head_check_result check_framing_field(std::string_view name, std::string_view value,
                                      framing_state& f) {
    if (iequals(name, "content-length")) {
        if (++f.content_length_count > 1) return bad("several content-length fields");
        if (value.empty() || value.size() > 18) return bad("invalid content-length");
        for (char c : value) {
            if (c < '0' || c > '9') return bad("invalid content-length");
        }
    } else if (iequals(name, "transfer-encoding")) {
        if (++f.transfer_encoding_count > 1) return bad("several transfer-encoding fields");
        // Only exactly `chunked` is accepted: any other coding, or a list, is refused.
        if (!iequals(value, "chunked")) return bad("transfer-encoding is not exactly chunked");
        f.chunked_last = true;
    } else if (iequals(name, "host")) {
        if (++f.host_count > 1) return bad("several host fields");
        if (!valid_host(value)) return bad("invalid host");
    } else if (iequals(name, "connection")) {
        return check_connection(value);
    }
    return {};
}

// One header field line (without its CRLF).
head_check_result check_field_line(std::string_view line, framing_state& f) {
    if (line.front() == ' ' || line.front() == '\t') return bad("obs-fold");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return bad("field without colon");
    const auto name = line.substr(0, colon);
    if (!is_token(name)) return bad("invalid field name or whitespace before colon");
    const auto value = trim_ows(line.substr(colon + 1));
    for (unsigned char c : value) {
        if ((c < 0x20 && c != '\t') || c == 0x7f) return bad("control character in field value");
    }
    return check_framing_field(name, value, f);
}

}  // namespace

bool is_framing_field(std::string_view name) {
    return iequals(name, "content-length") || iequals(name, "transfer-encoding");
}

bool is_protected_field(std::string_view name) {
    for (std::string_view f :
         {"content-length", "transfer-encoding", "host", "authorization", "user-agent", "expect",
          "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-request-id"}) {
        if (iequals(name, f)) return true;
    }
    return false;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        if (!tchar[c]) return false;
    }
    return true;
}

head_check_result check_request_head(std::string_view head, const head_limits& limits) {
    // Lines are split at CRLF only. A NUL, a bare CR or a bare LF anywhere else is refused by
    // the check of the part it lands in, so every byte is looked at once: the method and field
    // names must be tokens, the target and the version admit no control byte, and a field
    // value none but HTAB; a head that ends in bare LFs never finds its empty line.
    auto eol = head.find("\r\n");
    if (eol == std::string_view::npos) return bad("incomplete head");
    bool http10 = false;
    if (auto r = check_request_line(head.substr(0, eol), limits, http10);
        r.verdict != head_verdict::ok)
        return r;
    framing_state framing;
    std::size_t count = 0;
    std::size_t pos = eol + 2;
    while (pos < head.size()) {
        eol = head.find("\r\n", pos);
        if (eol == pos) break;  // the empty line that ends the head
        if (eol == std::string_view::npos) return bad("incomplete head");
        if (++count > limits.max_header_count)
            return {head_verdict::header_too_large, "too many header fields"};
        if (auto r = check_field_line(head.substr(pos, eol - pos), framing);
            r.verdict != head_verdict::ok)
            return r;
        pos = eol + 2;
    }
    if (framing.transfer_encoding_count > 0 && framing.content_length_count > 0)
        return bad("content-length with transfer-encoding");
    if (framing.transfer_encoding_count > 0 && http10)
        return bad("transfer-encoding in an http/1.0 request");
    // RFC 9112 3.2: an HTTP/1.1 request without Host is answered 400 (an empty one is valid).
    if (framing.host_count == 0 && !http10) return bad("no host field");
    return {};
}

}  // namespace sidelight::proxy
