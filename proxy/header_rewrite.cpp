#include "proxy/header_rewrite.hpp"

#include <boost/beast/core/string.hpp>

#include "proxy/header_check.hpp"
#include "proxy/http_text.hpp"
#include "util/request_id.hpp"

namespace sidelight::proxy {
namespace {

using boost::beast::iequals;

// The fields outside Beast's field enum that the proxy sets itself.
enum class own_field {
    none,
    forwarded_for,
    forwarded_proto,
    forwarded_host,
    request_id,
    traceparent,
    tracestate
};

own_field own_field_of(std::string_view name) {
    switch (name.size()) {  // a length check first: most unknown fields differ in length
        case 10:
            if (iequals(name, "tracestate")) return own_field::tracestate;
            break;
        case 11:
            if (iequals(name, "traceparent")) return own_field::traceparent;
            break;
        case 12:
            if (iequals(name, "X-Request-Id")) return own_field::request_id;
            break;
        case 15:
            if (iequals(name, "X-Forwarded-For")) return own_field::forwarded_for;
            break;
        case 16:
            if (iequals(name, "X-Forwarded-Host")) return own_field::forwarded_host;
            break;
        case 17:
            if (iequals(name, "X-Forwarded-Proto")) return own_field::forwarded_proto;
            break;
        default:
            break;
    }
    return own_field::none;
}

bool is_hop_by_hop(http::field f) {
    switch (f) {
        case http::field::connection:
        case http::field::keep_alive:
        case http::field::proxy_connection:
        case http::field::te:
        case http::field::trailer:
        case http::field::transfer_encoding:
        case http::field::upgrade:
        case http::field::proxy_authenticate:
        case http::field::proxy_authorization:
            return true;
        default:
            return false;
    }
}

// One pass: erases the hop-by-hop fields, and every field for which `other` returns true.
// Fields named by Connection ("Connection: close, X-Secret") are hop-by-hop too; their names
// are collected into `named` (comma-separated), then erased once the pass is over. The usual
// options need no second pass: `close` names no field, and Keep-Alive and Upgrade are gone
// with the pass. Returns false, erasing nothing named, when an option names a protected field
// (header_check.hpp): such a message is refused, never relayed with its framing removed.
template <class Other>
bool strip(fields& fields, std::string& named, Other&& other) {
    named.clear();
    bool refused = false;
    for (auto it = fields.begin(); it != fields.end();) {
        const auto name = it->name();
        if (name == http::field::connection) {
            any_list_element(it->value(), [&](std::string_view token) {
                if (iequals(token, "close") || iequals(token, "keep-alive") ||
                    iequals(token, "upgrade"))
                    return false;
                if (is_protected_field(token)) refused = true;
                named.append(token).push_back(',');
                return false;
            });
        }
        if (other(*it) || is_hop_by_hop(name)) {  // `other` sees the hop-by-hop fields too
            it = fields.erase(it);
        } else {
            ++it;
        }
    }
    if (refused) return false;
    if (named.empty()) return true;
    any_list_element(named, [&](std::string_view token) {
        fields.erase(token);
        return false;
    });
    return true;
}

}  // namespace

bool strip_request(fields& fields, request_origin& origin, rewrite_mode mode, bool tracing) {
    origin.clear();
    const bool transparent = mode == rewrite_mode::transparent;
    tracing = tracing && !transparent;
    int request_ids = 0;
    const bool ok = strip(fields, origin.connection_options, [&](const fields::value_type& f) {
        switch (f.name()) {
            case http::field::host:
                if (!origin.has_host && !transparent) origin.host = f.value();
                origin.has_host = true;
                return transparent;  // replaced by the upstream's own (append_host)
            case http::field::user_agent:
                origin.user_agent = f.value();
                return false;
            case http::field::expect:
                origin.expect.assign(f.value());
                return true;
            case http::field::upgrade:
                origin.upgrade.assign(f.value());
                return false;             // hop-by-hop: strip() removes it
            case http::field::forwarded:  // RFC 7239: a proxy's word, believed from a trusted one
                if (!transparent) {
                    if (!origin.forwarded.empty()) origin.forwarded += ", ";
                    origin.forwarded += trim_ows(f.value());
                }
                return !transparent;
            case http::field::unknown:
                break;
            default:
                return false;
        }
        const own_field own = own_field_of(f.name_string());
        switch (own) {
            case own_field::forwarded_for:
                // Several X-Forwarded-For lines are one comma-separated list (RFC 9110 5.3).
                if (!origin.forwarded_for.empty()) origin.forwarded_for += ", ";
                origin.forwarded_for += trim_ows(f.value());
                return !transparent;
            case own_field::request_id:
                if (++request_ids == 1) origin.request_id.assign(f.value());
                return !transparent;
            case own_field::forwarded_proto:  // a client cannot choose these: kept aside for
            case own_field::forwarded_host:   // append_forwarded, which believes a trusted peer
                if (!transparent) {
                    auto& kept = own == own_field::forwarded_proto ? origin.forwarded_proto
                                                                   : origin.forwarded_host;
                    kept.assign(trim_ows(f.value()));  // the last line: the nearest proxy's
                }
                return !transparent;
            case own_field::traceparent:
                if (tracing && ++origin.traceparents == 1) origin.traceparent.assign(f.value());
                return tracing;
            case own_field::tracestate:
                // Several tracestate lines are one list, in order (W3C Trace Context 3.3.1.1).
                if (tracing) {
                    if (!origin.tracestate.empty()) origin.tracestate += ',';
                    origin.tracestate += trim_ows(f.value());
                }
                return tracing;
            case own_field::none:
                return false;
        }
        return false;
    });
    if (request_ids != 1) origin.request_id.clear();
    return ok;
}

bool strip_response(fields& fields, std::string& named, rewrite_mode mode) {
    const bool transparent = mode == rewrite_mode::transparent;
    return strip(fields, named, [transparent](const fields::value_type& f) {
        return !transparent && f.name() == http::field::unknown &&
               own_field_of(f.name_string()) == own_field::request_id;
    });
}

void choose_request_id(const request_origin& origin, std::string& id) {
    if (!origin.request_id.empty() && util::is_sane_request_id(origin.request_id)) {
        id.assign(origin.request_id);
        return;
    }
    util::generate_request_id(id);
}

void append_forwarded(std::string& out, const request_origin& origin, std::string_view peer_ip,
                      std::string_view request_id, std::string_view default_host,
                      bool trusted_peer) {
    if (!origin.has_host) {
        out += "Host: ";
        out += default_host;
        out += "\r\n";
    }
    out += "X-Forwarded-For: ";
    if (!origin.forwarded_for.empty()) {
        out += origin.forwarded_for;
        out += ", ";
    }
    out += peer_ip;
    // The trusted proxy's own word, from it only: the scheme the client used, and the host it
    // asked for (an app behind a TLS-terminating ingress builds its links from them). The last
    // element: what the ingress added; anything before it came through it from the client.
    const auto last = [](std::string_view list) {
        const auto comma = list.rfind(',');
        return trim_ows(comma == std::string_view::npos ? list : list.substr(comma + 1));
    };
    const auto proto = last(origin.forwarded_proto);
    out += "\r\nX-Forwarded-Proto: ";
    out += trusted_peer && iequals(proto, "https") ? "https" : "http";
    out += "\r\n";
    const auto host = trusted_peer ? last(origin.forwarded_host) : std::string_view();
    if (!host.empty() || origin.has_host) {
        out += "X-Forwarded-Host: ";
        out += host.empty() ? origin.host : host;
        out += "\r\n";
    }
    if (const auto element = last(origin.forwarded); trusted_peer && !element.empty()) {
        out += "Forwarded: ";
        out += element;
        out += "\r\n";
    }
    append_request_id(out, request_id);
}

void begin_trace(const request_origin& origin, const config::tracing_config& tracing,
                 util::trace_context& trace) {
    util::traceparent incoming;
    const bool valid =
        origin.traceparents == 1 && util::parse_traceparent(origin.traceparent, incoming);
    trace.begin(valid ? &incoming : nullptr, tracing.sampler, tracing.ratio);
}

void append_trace(std::string& out, const util::trace_context& trace,
                  const request_origin& origin) {
    out += "traceparent: ";
    trace.write_traceparent(out);
    out += "\r\n";
    // The caller's tracestate, checked (an invalid one is dropped whole, the traceparent still
    // holds) and cut to 512 characters (util::append_tracestate).
    if (trace.has_parent && !origin.tracestate.empty()) {
        const auto mark = out.size();
        out += "tracestate: ";
        if (util::append_tracestate(out, origin.tracestate))
            out += "\r\n";
        else
            out.resize(mark);
    }
}

void append_request_id(std::string& out, std::string_view id) {
    out += "X-Request-Id: ";
    out += id;
    out += "\r\n";
}

void append_host(std::string& out, std::string_view authority) {
    out += "Host: ";
    out += authority;
    out += "\r\n";
}

void append_upgrade(std::string& out, std::string_view protocol) {
    out += "Upgrade: ";
    out += protocol;
    out += "\r\nConnection: Upgrade\r\n";
}

}  // namespace sidelight::proxy
