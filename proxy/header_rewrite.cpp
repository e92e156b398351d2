#include "proxy/header_rewrite.hpp"

#include <boost/beast/core/string.hpp>

#include "proxy/http_text.hpp"
#include "proxy/request_id.hpp"

namespace sidelight::proxy {
namespace {}  // namespace

void strip_hop_by_hop(http::fields& fields) {
    // Fields named by Connection are hop-by-hop too (e.g. "Connection: close, X-Secret").
    // Copy the lists first: erasing while a Connection value is borrowed would dangle.
    std::string named;
    for (auto it = fields.find(http::field::connection); it != fields.end();
         it = fields.find(http::field::connection)) {
        named.append(it->value()).push_back(',');
        fields.erase(it);
    }
    any_list_element(named, [&](std::string_view token) {
        fields.erase(token);
        return false;
    });
    static constexpr http::field hop_by_hop[] = {
        http::field::keep_alive,
        http::field::proxy_connection,
        http::field::te,
        http::field::trailer,
        http::field::transfer_encoding,
        http::field::upgrade,
        http::field::proxy_authenticate,
        http::field::proxy_authorization,
    };
    for (auto f : hop_by_hop) fields.erase(f);
}

void joined_forwarded_for(const http::fields& fields, std::string& out) {
    out.clear();
    // Several X-Forwarded-For lines are one comma-separated list (RFC 9110 5.3).
    for (const auto& field : fields) {
        if (!boost::beast::iequals(field.name_string(), "X-Forwarded-For")) continue;
        if (!out.empty()) out += ", ";
        out += trim_ows(field.value());
    }
}

void set_forwarded(http::fields& fields, std::string_view peer_ip, std::string& scratch) {
    joined_forwarded_for(fields, scratch);
    if (!scratch.empty()) scratch += ", ";
    scratch += peer_ip;
    fields.set("X-Forwarded-For", scratch);
    fields.set("X-Forwarded-Proto", "http");
    if (auto host = fields.find(http::field::host); host != fields.end()) {
        fields.set("X-Forwarded-Host", host->value());
    } else {
        fields.erase("X-Forwarded-Host");
    }
}

void ensure_request_id(http::fields& fields, std::string& id) {
    auto it = fields.find("X-Request-Id");
    if (it != fields.end() && is_sane_request_id(it->value()) &&
        fields.count("X-Request-Id") == 1) {
        id.assign(it->value());
        return;
    }
    generate_request_id(id);
    fields.set("X-Request-Id", id);
}

}  // namespace sidelight::proxy
