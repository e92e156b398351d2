#pragma once
// Is a database server there? One probe with no credentials, for /healthz: a TCP connect, an
// SSLRequest, and the TLS handshake when the server answers 'S' — the path a real connection of
// this database takes, so a `verify-full` certificate problem shows before an app connects.
// Then the probe closes. PostgreSQL logs nothing for a connection that closes before its
// startup packet; it would log an SSL error for one that closed in the middle of the
// handshake, which is why `tls: disable` probes complete it too (with a context that checks
// nothing). Any answer but 'S' or 'N' is not a PostgreSQL server.
//
// Thread-safe as far as separate calls go; each call owns its socket.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "config/config.hpp"
#include "dbproxy/io.hpp"

namespace sidelight::dbproxy {

class database_probe {
  public:
    // Builds the TLS context once (throws std::runtime_error naming the database when its
    // ca_file cannot be loaded, as the listener does at start).
    explicit database_probe(config::database_config db);

    // "" when the server answered as a PostgreSQL server within connect_timeout, else why not.
    task<std::string> check() const;

    const config::database_config& database() const { return db_; }

  private:
    config::database_config db_;     // as configured
    config::database_config probe_;  // tls: disable probed as `prefer`
    std::shared_ptr<net::ssl::context> tls_;
};

}  // namespace sidelight::dbproxy
