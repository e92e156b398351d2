#pragma once
// Header rewrites applied to every message that crosses the proxy:
//  - hop-by-hop fields are removed (RFC 9110 7.6.1): Connection and every field it names,
//    Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
//    Proxy-Authenticate, Proxy-Authorization. Framing is set again when the head is written
//    (http_head.hpp).
//  - requests get X-Forwarded-For (appended), X-Forwarded-Proto and X-Forwarded-Host (set),
//    and an X-Request-Id (the client's when sane, else a new one).
// Pure functions over the fields they are given; thread-safe.

#include <string>
#include <string_view>

#include "proxy/http_fields.hpp"

namespace sidelight::proxy {

void strip_hop_by_hop(fields& fields);

// Joins every X-Forwarded-For line into one comma-separated list in `out` ("" when absent).
void joined_forwarded_for(const fields& fields, std::string& out);

// Appends `peer_ip` (the address this hop came from) to X-Forwarded-For and sets
// X-Forwarded-Proto and X-Forwarded-Host. `scratch` is reused storage.
void set_forwarded(fields& fields, std::string_view peer_ip, std::string& scratch);

// Ensures a sane X-Request-Id on the request, writing its value to `id`.
void ensure_request_id(fields& fields, std::string& id);

}  // namespace sidelight::proxy
