#include "proxy/http_head.hpp"

#include <boost/beast/core/string.hpp>

#include <charconv>

namespace sidelight::proxy {
namespace {

void append_version(std::string& out, unsigned version) {
    out += "HTTP/";
    out += static_cast<char>('0' + version / 10);
    out += '.';
    out += static_cast<char>('0' + version % 10);
}

void append_field(std::string& out, const fields::value_type& f) {
    out += f.name_string();
    out += ": ";
    out += f.value();
    out += "\r\n";
}

void append_fields(std::string& out, const fields& fields, std::string_view extra) {
    for (const auto& f : fields) append_field(out, f);
    out += extra;
    out += "\r\n";
}

bool allowed_in_trailer(std::string_view name) {
    using boost::beast::iequals;
    for (std::string_view banned : {"Content-Length",
                                    "Transfer-Encoding",
                                    "Host",
                                    "Connection",
                                    "Keep-Alive",
                                    "TE",
                                    "Trailer",
                                    "Upgrade",
                                    "Proxy-Connection",
                                    "Content-Type",
                                    "Content-Encoding",
                                    "Content-Range",
                                    "Authorization",
                                    "Proxy-Authorization",
                                    "Set-Cookie",
                                    "Cookie",
                                    "Cache-Control",
                                    "Expect",
                                    "Max-Forwards",
                                    "Pragma",
                                    "Range"}) {
        if (iequals(name, banned)) return false;
    }
    return true;
}

}  // namespace

void append_head(std::string& out, const request_head& h, std::string_view extra) {
    out += h.method_string();
    out += ' ';
    out += h.target();
    out += ' ';
    append_version(out, h.version());
    out += "\r\n";
    append_fields(out, h, extra);
}

void append_head(std::string& out, const response_head& h, std::string_view extra) {
    append_version(out, h.version());
    const unsigned status = h.result_int();
    out += ' ';
    out += static_cast<char>('0' + status / 100 % 10);
    out += static_cast<char>('0' + status / 10 % 10);
    out += static_cast<char>('0' + status % 10);
    out += ' ';
    const auto reason = h.reason();
    out += reason.empty() ? http::obsolete_reason(h.result()) : reason;
    out += "\r\n";
    append_fields(out, h, extra);
}

void append_last_chunk(std::string& out, const fields& fields, std::size_t first) {
    out += "0\r\n";
    std::size_t i = 0;
    for (const auto& f : fields) {
        if (i++ >= first && allowed_in_trailer(f.name_string())) append_field(out, f);
    }
    out += "\r\n";
}

void append_chunk_size(std::string& out, std::size_t size) {
    char digits[2 * sizeof(std::size_t)];
    const auto end = std::to_chars(digits, digits + sizeof digits, size, 16).ptr;
    out.append(digits, end);
    out += "\r\n";
}

}  // namespace sidelight::proxy
