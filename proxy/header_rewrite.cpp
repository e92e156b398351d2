#include "proxy/header_rewrite.hpp"

#include <boost/beast/core/string.hpp>

#include "proxy/http_text.hpp"
#include "proxy/request_id.hpp"

namespace sidelight::proxy {

void strip_hop_by_hop(fields& fields) {
    // One pass over the fields. Those named by Connection are hop-by-hop too ("Connection:
    // close, X-Secret"); their names are copied, then erased once the pass is over.
    std::string named;
    for (auto it = fields.begin(); it != fields.end();) {
        switch (it->name()) {
            case http::field::connection:
                named.append(it->value()).push_back(',');
                [[fallthrough]];
            case http::field::keep_alive:
            case http::field::proxy_connection:
            case http::field::te:
            case http::field::trailer:
            case http::field::transfer_encoding:
            case http::field::upgrade:
            case http::field::proxy_authenticate:
            case http::field::proxy_authorization:
                it = fields.erase(it);
                break;
            default:
                ++it;
        }
    }
    any_list_element(named, [&](std::string_view token) {
        fields.erase(token);
        return false;
    });
}

void joined_forwarded_for(const fields& fields, std::string& out) {
    out.clear();
    // Several X-Forwarded-For lines are one comma-separated list (RFC 9110 5.3).
    for (const auto& field : fields) {
        if (!boost::beast::iequals(field.name_string(), "X-Forwarded-For")) continue;
        if (!out.empty()) out += ", ";
        out += trim_ows(field.value());
    }
}

void set_forwarded(fields& fields, std::string_view peer_ip, std::string& scratch) {
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

void ensure_request_id(fields& fields, std::string& id) {
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
