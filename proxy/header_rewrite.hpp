#pragma once
// Header rewrites applied to every message that crosses the proxy:
//  - hop-by-hop fields are removed (RFC 9110 7.6.1): Connection and every field it names,
//    Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
//    Proxy-Authenticate, Proxy-Authorization. Framing is set again when the head is written
//    (http_head.hpp).
//  - requests get X-Forwarded-For (appended), X-Forwarded-Proto and X-Forwarded-Host (set),
//    and an X-Request-Id (the client's when sane, else a new one); responses get the same
//    X-Request-Id.
// The fields the proxy sets are removed from the message in the same pass as the hop-by-hop
// ones and written as extra header lines after the message's own (append_head's `extra`):
// they never go into the field container, whose inserts and lookups by name walk a tree.
// An egress listener rewrites `transparent`ly instead: the app's call to an outside API keeps
// its own fields (X-Request-Id and X-Forwarded-* included) and gets none of the proxy's, only
// the upstream's Host in place of its own; hop-by-hop fields go all the same.
// Pure functions over the fields they are given; thread-safe.

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "proxy/http_fields.hpp"
#include "util/trace_context.hpp"

namespace sidelight::proxy {

// forwarding: the proxy's own fields (ingress). transparent: none of them (egress).
enum class rewrite_mode : bool { forwarding, transparent };

// What a request said in the fields the proxy sets itself.
struct request_origin {
    std::string forwarded_for;    // its X-Forwarded-For lines joined into one list, or ""
    std::string request_id;       // its X-Request-Id, when exactly one came, else ""
    std::string_view host;        // its Host (a view into the fields; "" when transparent)
    std::string_view user_agent;  // its User-Agent (a view: the fields keep it too)
    std::string expect;           // its Expect, which the proxy answers, or ""
    std::string upgrade;          // its Upgrade, or "" (hop-by-hop: passed on by the session)
    // The fields its Connection options named, removed as hop-by-hop: "X-A,X-B," or "".
    std::string connection_options;
    // With tracing on (forwarding mode only): its traceparent (the first), how many came, and
    // its tracestate lines joined, all removed from the fields and sent anew by the session.
    std::string traceparent;
    std::string tracestate;
    int traceparents = 0;
    bool has_host = false;
    // What a proxy in front said (removed; append_forwarded believes them from a trusted peer
    // only): the first X-Forwarded-Proto and X-Forwarded-Host, and the Forwarded lines joined.
    std::string forwarded_proto;
    std::string forwarded_host;
    std::string forwarded;

    void clear() {
        forwarded_for.clear();
        request_id.clear();
        host = {};
        user_agent = {};
        expect.clear();
        upgrade.clear();
        connection_options.clear();
        traceparent.clear();
        tracestate.clear();
        traceparents = 0;
        has_host = false;
        forwarded_proto.clear();
        forwarded_host.clear();
        forwarded.clear();
    }
};

// One pass over a request's fields: removes the hop-by-hop fields, Expect (the proxy answers
// it), X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, Forwarded and X-Request-Id, keeping
// what the removed ones (and Upgrade) said, the Host and the User-Agent in `origin`. Returns false
// when a Connection option names a field sidelight reads (is_protected_field): the request must be
// refused (400), not forwarded. transparent: X-Forwarded-* and X-Request-Id stay in the fields (the
// id is still read into `origin`), and Host is removed instead, for append_host(). tracing
// (forwarding only): traceparent and tracestate are removed too, kept in `origin`, and sent anew by
// append_trace(); without it they pass through untouched.
[[nodiscard]] bool strip_request(fields& fields, request_origin& origin,
                                 rewrite_mode mode = rewrite_mode::forwarding,
                                 bool tracing = false);

// Starts the request's trace context (tracing on): the client's traceparent continued when it
// sent exactly one valid one, else a new trace; sampled as `tracing` says.
void begin_trace(const request_origin& origin, const config::tracing_config& tracing,
                 util::trace_context& trace);

// "traceparent: 00-<trace>-<sidelight's client span>-<flags>" and CRLF, then the client's
// tracestate when its trace was continued (a new trace drops it, as W3C asks), checked and cut
// to size by util::append_tracestate (an invalid one is not sent).
void append_trace(std::string& out, const util::trace_context& trace, const request_origin& origin);

// One pass over a response's fields: removes the hop-by-hop fields and X-Request-Id. Returns
// false when a Connection option names a protected field (its framing above all): the response
// must not be relayed (502). `named` is scratch storage for the options. transparent: the
// response's X-Request-Id stays.
[[nodiscard]] bool strip_response(fields& fields, std::string& named,
                                  rewrite_mode mode = rewrite_mode::forwarding);

// The request's id: the client's when it sent exactly one sane one, else a new one.
void choose_request_id(const request_origin& origin, std::string& id);

// "X-Request-Id: `id`" and CRLF.
void append_request_id(std::string& out, std::string_view id);

// "Host: `authority`" and CRLF: the Host a transparent rewrite sends.
void append_host(std::string& out, std::string_view authority);

// "Upgrade: `protocol`", CRLF, "Connection: Upgrade", CRLF: the one hop-by-hop exchange that
// crosses the proxy.
void append_upgrade(std::string& out, std::string_view protocol);

// The header lines (each ending in CRLF) the proxy adds to a request it forwards:
// Host: `default_host` when the request had none; X-Forwarded-For: the client's list, then
// `peer_ip`; X-Forwarded-Proto: http; X-Forwarded-Host: the request's Host, when it had one;
// X-Request-Id: `request_id`. From a `trusted_peer` (proxy.trusted_proxies: a TLS-terminating
// ingress), its own X-Forwarded-Proto (http or https), X-Forwarded-Host and Forwarded element
// are passed on instead (the last of each: what came before passed through it from the
// client); from anyone else those are the client's claims and go.
void append_forwarded(std::string& out, const request_origin& origin, std::string_view peer_ip,
                      std::string_view request_id, std::string_view default_host,
                      bool trusted_peer = false);

}  // namespace sidelight::proxy
