#pragma once
// A fake app for tests: a real TCP server on 127.0.0.1:0 that records every request it receives
// (raw head, headers, de-chunked body, which connection) and answers with whatever the test's
// handler returns as raw bytes. A thread per connection; stop() or the destructor ends all.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_wire.hpp"

namespace sidelight::test {

struct received_request {
    wire_message message;
    int connection_id = 0;
};

// What to do with a request: raw bytes to send back (may be split into several writes by
// `chunks`), and whether to close afterwards. An empty `response` with close=true drops the
// connection without answering.
struct fake_reply {
    std::string response;
    bool close = false;
    std::chrono::milliseconds delay{0};  // before answering
};

using fake_handler = std::function<fake_reply(const wire_message&)>;
// Also told which request this is on its connection (1 for the first).
using fake_conn_handler = std::function<fake_reply(const wire_message&, int nth_on_connection)>;

// "HTTP/1.1 <status> X\r\nContent-Length: n\r\n<extra>\r\n<body>"
std::string simple_response(int status, const std::string& body,
                            const std::string& extra_headers = "");

class fake_upstream {
  public:
    explicit fake_upstream(fake_handler handler = nullptr, std::uint16_t port = 0);
    explicit fake_upstream(fake_conn_handler handler);
    ~fake_upstream();
    std::uint16_t port() const { return port_; }
    void stop();

    // Every accepted connection, health checks included.
    int accepts() const { return accepts_.load(); }
    // Connections that carried at least one request.
    std::size_t request_connections() const;
    std::vector<received_request> requests() const;
    std::size_t request_count() const;
    // Waits until at least n requests were received (or the deadline).
    bool wait_requests(std::size_t n, std::chrono::milliseconds timeout = 5s) const;

  private:
    void accept_loop();
    void serve(int fd, int id);

    fake_conn_handler handler_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> accepts_{0};
    std::thread acceptor_;
    mutable std::mutex mutex_;
    mutable std::condition_variable cv_;
    std::vector<received_request> requests_;
    std::vector<std::thread> workers_;
    std::vector<int> fds_;
};

}  // namespace sidelight::test
