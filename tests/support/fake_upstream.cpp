#include "tests/support/fake_upstream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <stdexcept>

namespace sidelight::test {

std::string simple_response(int status, const std::string& body, const std::string& extra_headers) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers +
           "\r\n" + body;
}

fake_upstream::fake_upstream(fake_conn_handler handler) : fake_upstream(nullptr, 0) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
}

fake_upstream::fake_upstream(fake_handler handler, std::uint16_t port) {
    if (!handler) {
        handler = [](const wire_message&) { return fake_reply{simple_response(200, "hello\n")}; };
    }
    handler_ = [h = std::move(handler)](const wire_message& m, int) { return h(m); };
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 128) != 0) {
        throw std::runtime_error("fake_upstream: cannot bind");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

fake_upstream::~fake_upstream() {
    stop();
}

void fake_upstream::stop() {
    if (stopping_.exchange(true)) return;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    {
        std::lock_guard lock(mutex_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
}

void fake_upstream::accept_loop() {
    for (int id = 1;; ++id) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            if (stopping_) return;
            --id;
            continue;
        }
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (stopping_) return;
            --id;
            continue;
        }
        ++accepts_;
        std::lock_guard lock(mutex_);
        fds_.push_back(fd);
        workers_.emplace_back([this, fd, id] { serve(fd, id); });
    }
}

void fake_upstream::serve(int fd, int id) {
    connection conn(fd);
    for (int nth = 1;; ++nth) {
        auto msg = conn.read_message(false, false, 30s);
        if (!msg || stopping_) break;
        {
            std::lock_guard lock(mutex_);
            requests_.push_back({*msg, id});
        }
        cv_.notify_all();
        fake_conn_handler handler;
        {
            std::lock_guard lock(mutex_);
            handler = handler_;
        }
        const auto reply = handler(*msg, nth);
        if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
        if (!reply.response.empty()) conn.send(reply.response);
        if (reply.close) break;
    }
    // The connection object closes the socket; keep fds_ entries (shutdown on a closed fd
    // number is harmless for these short-lived tests only if not reused: remove it).
    std::lock_guard lock(mutex_);
    std::erase(fds_, fd);
}

std::vector<received_request> fake_upstream::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

std::size_t fake_upstream::request_connections() const {
    std::lock_guard lock(mutex_);
    std::set<int> ids;
    for (const auto& r : requests_) ids.insert(r.connection_id);
    return ids.size();
}

std::size_t fake_upstream::request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
}

bool fake_upstream::wait_requests(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

}  // namespace sidelight::test
