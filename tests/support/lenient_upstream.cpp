#include "tests/support/lenient_upstream.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "tests/support/http_wire.hpp"

namespace sidelight::test {

lenient_upstream::lenient_upstream() : listen_fd_(listen_loopback(128, port_)) {
    acceptor_ = std::thread([this] { accept_loop(); });
}

lenient_upstream::~lenient_upstream() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    {
        std::lock_guard lock(mutex_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
}

void lenient_upstream::accept_loop() {
    for (int id = 1; !stopping_;) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard lock(mutex_);
        fds_.push_back(fd);
        workers_.emplace_back([this, fd, n = id++] { serve(fd, n); });
    }
}

void lenient_upstream::serve(int fd, int id) {
    static constexpr std::string_view ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static constexpr std::string_view ok_head = ok.substr(0, ok.size() - 2);
    std::string buf;
    char chunk[16 * 1024];
    bool open = true;
    while (open && !stopping_) {
        const auto n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
        std::string_view rest(buf);
        lenient_request r;
        lenient_status s;
        while ((s = parse_lenient(rest, r)) == lenient_status::complete) {
            r.connection_id = id;
            bool close = false;
            for (const auto& v : r.values("connection")) {
                if (v.find("close") != std::string::npos) close = true;
            }
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(r);
            }
            const auto answer = r.method == "HEAD" ? ok_head : ok;
            if (::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL) < 0 || close) {
                open = false;
                break;
            }
        }
        if (s == lenient_status::garbage) break;
        buf.erase(0, buf.size() - rest.size());
    }
    std::lock_guard lock(mutex_);
    std::erase(fds_, fd);
    ::close(fd);
}

std::vector<lenient_request> lenient_upstream::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

std::size_t lenient_upstream::request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
}

}  // namespace sidelight::test
