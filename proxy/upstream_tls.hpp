#pragma once
// TLS from the proxy to its upstream (`upstream.tls.enabled`): the client context a server
// builds once at start, and the handshake of each new pooled connection. The certificate is
// verified against `ca_file` (or the system's trust store) and the TLS name (`sni`, else the
// address's host), which also goes out as SNI. There is no way to skip verification.
//
// The stream is Asio's ssl::stream over a reference to the connection's own socket
// (tls_stream): the socket stays where the pool, the watchdog and the client watch find it
// (staleness peek on its fd, cancel on a deadline), and plain connections carry no TLS state.
// make_tls_context runs at start (control plane: it throws); tls_handshake runs on the
// connection's worker thread.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "config/config.hpp"
#include "proxy/upstream_pool.hpp"

namespace sidelight::proxy {

// A TLS client context: verify_peer, TLS 1.2 at least, the CA certificates of `tls.ca_file`
// or the default verify paths. Throws std::runtime_error naming the file (`where` says whose
// upstream) when they cannot be loaded.
std::shared_ptr<net::ssl::context> make_tls_context(const config::upstream_tls& tls,
                                                    const std::string& where);

// The name the certificate must match and SNI carries: `sni`, else the address's host.
std::string tls_name(const config::upstream_config& upstream);

// Starts TLS on `conn` (connected): SNI (not for an IP address), host name verification, the
// client handshake. On failure `reason` says why in words (the certificate error when the
// verification failed, else the TLS error), and the error is returned. Not timed: the caller
// bounds it.
task<beast::error_code> tls_handshake(upstream_connection& conn, net::ssl::context& ctx,
                                      const std::string& name, std::string& reason);

}  // namespace sidelight::proxy
