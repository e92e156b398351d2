#pragma once
// A fake app that reads requests as a naive app would (lenient_http.hpp) and records each one.
// A thread per connection; the destructor stops them all.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/support/lenient_http.hpp"

namespace sidelight::test {

// A fake app on 127.0.0.1:0 that reads requests with parse_lenient and answers each with
// "200 ok" (keeping the connection unless the request said `Connection: close`).
class lenient_upstream {
  public:
    lenient_upstream();
    ~lenient_upstream();
    std::uint16_t port() const { return port_; }
    std::vector<lenient_request> requests() const;
    std::size_t request_count() const;

  private:
    void accept_loop();
    void serve(int fd, int id);

    std::uint16_t port_ = 0;  // before listen_fd_: its initializer writes the port
    int listen_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    mutable std::mutex mutex_;
    std::vector<lenient_request> requests_;
    std::vector<std::thread> workers_;
    std::vector<int> fds_;
};

}  // namespace sidelight::test
