#pragma once
// The admin HTTP server (/metrics, /healthz, /readyz, /livez, /v1/*) on its own port and its
// own thread's io_context, so a scrape never competes with proxy workers. It knows nothing of
// the endpoints: each request goes to the `admin_handler` as plain strings (admin_routes.hpp),
// which keeps Beast in this one translation unit.
// Requests under /v1/ (the event API, which waits for durable commits) run on a thread of
// their own, one at a time, so a slow store never delays a scrape or a probe; every other
// request runs on the admin thread. A request whose body is over 4 MiB is answered 413 (JSON).
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

namespace sidelight::agent {

struct admin_request {
    std::string_view method;
    std::string_view target;  // path and query
    std::string_view authorization;
    std::string_view content_type;
    std::string_view body;
};

struct admin_response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    // Further response headers: `WWW-Authenticate` with a 401, `Allow` with a 405.
    std::vector<std::pair<std::string, std::string>> headers = {};
};

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
