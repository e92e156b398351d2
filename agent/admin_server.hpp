#pragma once
// The admin HTTP server (/metrics, /healthz, /readyz, /livez, /v1/*, the status page) on its own
// port and its own thread's io_context, so a scrape never competes with proxy workers. It knows
// nothing of the endpoints: each request goes to the `admin_handler` as plain strings
// (util/plain_http.hpp), which keeps Beast in this one translation unit.
// Requests under /v1/ (the event API, which waits for durable commits), and /status.json with an
// Authorization header (it reads the store's security events), run on a thread of their own, one
// at a time, so a slow store never delays a scrape or a probe; every other request runs on the
// admin thread. A request whose body is over 4 MiB is answered 413 (JSON).
// Thread-safety: constructed, run and stopped through the io_context it is given.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include "config/config.hpp"
#include "util/plain_http.hpp"

namespace sidelight::agent {

using admin_request = util::plain_request;
using admin_response = util::plain_response;

using admin_handler = std::function<admin_response(const admin_request&)>;

class admin_server {
  public:
    // Binds at once; throws std::runtime_error ("cannot listen on ...") on failure.
    admin_server(boost::asio::io_context& ioc, const config::address& listen,
                 admin_handler handler);
    ~admin_server();
    void start();
    void stop();
    std::uint16_t port() const { return port_; }

  private:
    boost::asio::io_context& ioc_;
    boost::asio::ip::tcp::acceptor acceptor_;
    admin_handler handler_;
    boost::asio::thread_pool api_thread_{1};  // runs the /v1/ requests
    std::uint16_t port_ = 0;
};

}  // namespace sidelight::agent
