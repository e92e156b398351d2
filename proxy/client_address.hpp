#pragma once
// The client address sidelight reports everywhere (access log, audit rows).
//
// It is the peer address — with IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) written as plain
// IPv4 — unless the peer is one of `proxy.trusted_proxies`: then X-Forwarded-For is read from
// the right, skipping trusted hops, and the first untrusted address is the client (the
// left-most one if every hop is trusted). A client can thus never choose its own address by
// sending X-Forwarded-For to a sidelight that does not trust it.
// Pure functions and immutable data; thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace sidelight::proxy {

struct cidr {
    boost::asio::ip::address network;
    unsigned prefix = 0;
    bool contains(const boost::asio::ip::address& a) const;
};

// "10.0.0.0/8", "::1/128", "192.168.1.7" (a single host). nullopt when invalid.
std::optional<cidr> parse_cidr(std::string_view text);

// IPv4-mapped IPv6 becomes IPv4; everything else is returned as is.
boost::asio::ip::address normalize_address(const boost::asio::ip::address& a);
std::string client_ip_string(const boost::asio::ip::address& peer);

// Whether `peer` is one of `trusted` (proxy.trusted_proxies).
bool is_trusted_peer(const boost::asio::ip::address& peer, const std::vector<cidr>& trusted);

// Writes the client address for a request from `peer` that carried `forwarded_for` (the
// joined X-Forwarded-For value, "" when absent) into `out`.
void resolve_client_ip(const boost::asio::ip::address& peer, std::string_view forwarded_for,
                       const std::vector<cidr>& trusted, std::string& out);

}  // namespace sidelight::proxy
