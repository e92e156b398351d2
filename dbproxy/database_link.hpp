#pragma once
// sidelight's connection to one PostgreSQL server: TCP, and TLS when the database's `tls` asks
// for it. TLS is negotiated the PostgreSQL way: an SSLRequest, then 'S' (a TLS handshake
// follows) or 'N' (plain text: accepted with `prefer` only). `verify-full` checks the chain
// against ca_file (or the system's trust store) and the name (sni, else the address's host)
// against the certificate; `require` and `prefer` encrypt without checking who answers, as
// libpq's modes of the same names do.
//
// Not thread-safe: used from the database thread by one session.

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "config/config.hpp"
#include "dbproxy/io.hpp"

namespace sidelight::dbproxy {

// The TLS settings of one database, built once at start (throws std::runtime_error naming
// `where` when ca_file cannot be loaded); null for tls: disable.
std::shared_ptr<net::ssl::context> make_db_tls_context(const config::database_config& db,
                                                       const std::string& where);

class database_link {
  public:
    explicit database_link(tcp_socket socket) : socket_(std::move(socket)) {}

    task<std::pair<error_code, std::size_t>> read_some(net::mutable_buffer buffer);
    task<error_code> write(net::const_buffer buffer);
    void close();
    bool encrypted() const { return tls_ != nullptr; }
    // Gives up the socket of a plain-TCP link (the relay takes it over); -1 with TLS.
    int release();

    // Connects (resolving the host), then negotiates TLS as configured, within the database's
    // connect_timeout. None on failure, with `reason` saying why (for the log and the client).
    static task<std::unique_ptr<database_link>> open(const config::database_config& db,
                                                     net::ssl::context* tls, std::string& reason);

    // SSLRequest, then the TLS handshake on 'S' (open() calls it).
    task<bool> start_tls(const config::database_config& db, net::ssl::context& ctx,
                         std::string& reason);

  private:
    tcp_socket socket_;
    std::unique_ptr<net::ssl::stream<tcp_socket>> tls_;
};

}  // namespace sidelight::dbproxy
