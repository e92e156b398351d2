#pragma once
// The upstream side: keep-alive connections to the app, pooled per worker.
//
// One pool per worker thread, used only from that worker's io_context, so it takes no lock.
// Checkout is LIFO (the most recently used connection is the warmest); a pooled connection
// that the app has closed or written to while idle is detected with a non-blocking peek and
// discarded, and connections idle longer than `upstream.idle_timeout` are swept.
// With `upstream.tls`, a new connection does its TLS handshake in connect() (bounded, like the
// connect, by `connect_timeout`) and is pooled with its TLS session; the peek on its socket
// sees a close_notify or an EOF the same way (upstream_tls.hpp).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>

#include "config/config.hpp"
#include "proxy/io.hpp"
#include "proxy/io_deadline.hpp"
#include "proxy/vocabulary.hpp"

// Declared only: the TLS types are complete in the proxy's .cpp files that use them, so the
// headers above the proxy (the agent's) do not pull in OpenSSL.
namespace boost::asio::ssl {
class context;
template <typename Stream>
class stream;
}  // namespace boost::asio::ssl

namespace sidelight::proxy {

namespace beast = boost::beast;

// A TLS session over an upstream connection's own socket (upstream_tls.hpp).
using tls_stream = net::ssl::stream<tcp_socket&>;

// Where the app is: resolved once at startup; an egress listener's upstream named by a host
// name is resolved when a connection is made instead (`per_connect`): an outside API's
// addresses change, and a sidelight started without DNS must still start.
struct upstream_target {
    std::vector<tcp::endpoint> endpoints;  // empty with per_connect
    bool per_connect = false;
    std::string host_header;  // "127.0.0.1:3000", used when a client sent no Host
    std::string authority;    // the Host an egress listener sends (listener.hpp)
    config::upstream_config settings;
    std::shared_ptr<net::ssl::context> tls;  // with upstream.tls only; built by the server
    std::string tls_name;                    // what the certificate must match, and the SNI
};

// Resolves the configured upstream address; throws std::runtime_error naming it on failure.
// With `defer`, a host that is not an IP address is left for connect() (per_connect).
upstream_target resolve_upstream(const config::upstream_config& cfg, bool defer = false);

class upstream_connection {
  public:
    upstream_connection(executor ex, observer& obs);
    ~upstream_connection();
    upstream_connection(const upstream_connection&) = delete;
    upstream_connection& operator=(const upstream_connection&) = delete;

    tcp_socket socket;
    std::unique_ptr<tls_stream> tls;  // over `socket`, with upstream.tls; else null
    beast::flat_buffer buffer;        // bytes read from the app beyond the current parse
    io_deadline deadline;             // of the exchange's I/O (the watchdog enforces it)
    std::chrono::steady_clock::time_point idle_since;
    bool reused = false;  // came out of the pool rather than a fresh connect

  private:
    observer& observer_;
};

class upstream_pool {
  public:
    upstream_pool(net::io_context& ioc, const upstream_target& target, observer& obs);

    // A pooled connection that is still usable, or null. Synchronous: under load almost every
    // request is served by one, without a coroutine frame.
    std::unique_ptr<upstream_connection> take_idle();
    // Why connect() failed: `ec` (a timeout: beast::error::timeout), and whether it was the TLS
    // handshake (the TCP connect had succeeded), which is logged at warn with its reason.
    struct connect_error {
        beast::error_code ec;
        bool tls = false;
    };
    // A new connection, its TLS session started when the upstream has TLS. Null on failure.
    task<std::unique_ptr<upstream_connection>> connect(connect_error& err);
    // Returns a connection whose last exchange ended cleanly with keep-alive.
    void release(std::unique_ptr<upstream_connection> conn);
    // Closes every idle connection (drain) and stops the sweeper.
    void close_all();
    // Runs until close_all(): closes connections idle longer than the idle timeout.
    task<void> sweep();

    std::size_t idle_count() const { return idle_.size(); }

  private:
    task<beast::error_code> start_tls(upstream_connection& conn);

    net::io_context& ioc_;
    const upstream_target& target_;
    observer& observer_;
    std::vector<std::unique_ptr<upstream_connection>> idle_;
    io_timer sweep_timer_;
    bool closed_ = false;
};

}  // namespace sidelight::proxy
