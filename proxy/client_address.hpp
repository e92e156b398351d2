#pragma once
// The client address sidelight reports everywhere (access log, audit rows): the peer address,
// with IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) written as plain IPv4.
// Pure function, thread-safe.

#include <string>

#include <boost/asio/ip/address.hpp>

namespace sidelight::proxy {

std::string client_ip_string(const boost::asio::ip::address& peer);

}  // namespace sidelight::proxy
