#include "tests/support/http_wire.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

namespace sidelight::test {
namespace {

bool iequal(const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<long long>(0, left.count()));
}

}  // namespace

std::string wire_message::header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
        if (iequal(k, name)) return v;
    }
    return "";
}

std::size_t wire_message::header_count(const std::string& name) const {
    return static_cast<std::size_t>(std::count_if(
        headers.begin(), headers.end(), [&](const auto& h) { return iequal(h.first, name); }));
}

connection::~connection() {
    close();
}

connection::connection(connection&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)), eof_(o.eof_) {}

connection& connection::operator=(connection&& o) noexcept {
    if (this != &o) {
        close();
        fd_ = std::exchange(o.fd_, -1);
        buf_ = std::move(o.buf_);
        eof_ = o.eof_;
    }
    return *this;
}

int listen_loopback(int backlog, std::uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd, backlog) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0) ::close(fd);
        throw std::runtime_error("listen_loopback: " + std::string(std::strerror(errno)));
    }
    port = ntohs(a.sin_port);
    return fd;
}

std::uint16_t free_port() {
    std::uint16_t port = 0;
    ::close(listen_loopback(1, port));
    return port;
}

dead_port::dead_port() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        const std::string why = std::strerror(errno);
        if (fd_ >= 0) ::close(fd_);
        throw std::runtime_error("dead_port: " + why);
    }
    port_ = ntohs(a.sin_port);
}

dead_port::~dead_port() {
    ::close(fd_);
}

connection connection::connect(std::uint16_t port, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return connection(fd);
        }
        ::close(fd);
        if (std::chrono::steady_clock::now() >= deadline) return connection();
        std::this_thread::sleep_for(10ms);  // retry loop bounded by the deadline
    }
}

void connection::send(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        const auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;  // the peer closed: the test asserts on what it reads
        off += static_cast<std::size_t>(n);
    }
}

void connection::shutdown_write() {
    ::shutdown(fd_, SHUT_WR);
}

void connection::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void connection::reset() {
    if (fd_ < 0) return;
    const linger now{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &now, sizeof now);
    close();
}

bool connection::fill(std::chrono::steady_clock::time_point deadline) {
    if (eof_ || fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return false;
    char tmp[16384];
    const auto n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
        eof_ = true;
        return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
}

std::optional<wire_message> connection::read_message(bool is_response, bool head_only_body,
                                                     std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
        if (!fill(deadline)) return std::nullopt;
    }
    wire_message m;
    m.raw_head = buf_.substr(0, end + 4);
    std::size_t pos = m.raw_head.find("\r\n");
    m.start_line = m.raw_head.substr(0, pos);
    pos += 2;
    while (pos < end) {
        const auto eol = m.raw_head.find("\r\n", pos);
        const auto line = m.raw_head.substr(pos, eol - pos);
        const auto colon = line.find(':');
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        value.erase(value.find_last_not_of(" \t") + 1);
        m.headers.emplace_back(line.substr(0, colon), value);
        pos = eol + 2;
    }
    buf_.erase(0, end + 4);
    if (is_response) m.status = std::atoi(m.start_line.c_str() + 9);
    const bool no_body =
        head_only_body ||
        (is_response && (m.status / 100 == 1 || m.status == 204 || m.status == 304));
    if (no_body) return m;
    m.chunked = iequal(m.header("Transfer-Encoding"), "chunked");
    if (m.chunked) {
        for (;;) {
            std::size_t eol;
            while ((eol = buf_.find("\r\n")) == std::string::npos) {
                if (!fill(deadline)) return std::nullopt;
            }
            const auto size = std::stoul(buf_.substr(0, eol), nullptr, 16);
            if (size == 0) {  // the last chunk, then trailer fields up to an empty line
                buf_.erase(0, eol + 2);
                for (;;) {
                    while ((eol = buf_.find("\r\n")) == std::string::npos) {
                        if (!fill(deadline)) return std::nullopt;
                    }
                    const auto line = buf_.substr(0, eol);
                    buf_.erase(0, eol + 2);
                    if (line.empty()) return m;
                    const auto colon = line.find(':');
                    auto value = line.substr(colon + 1);
                    value.erase(0, value.find_first_not_of(" \t"));
                    m.trailers.emplace_back(line.substr(0, colon), value);
                }
            }
            while (buf_.size() < eol + 2 + size + 2) {
                if (!fill(deadline)) return std::nullopt;
            }
            m.body.append(buf_, eol + 2, size);
            buf_.erase(0, eol + 2 + size + 2);
        }
    }
    const auto cl = m.header("Content-Length");
    if (!cl.empty()) {
        const auto len = std::stoul(cl);
        while (buf_.size() < len) {
            if (!fill(deadline)) return std::nullopt;
        }
        m.body = buf_.substr(0, len);
        buf_.erase(0, len);
        return m;
    }
    if (!is_response) return m;  // a request without framing has no body
    while (fill(deadline)) {
    }
    if (!eof_) return std::nullopt;
    m.body = std::move(buf_);
    buf_.clear();
    return m;
}

bool connection::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_) {
        if (!fill(deadline) && !eof_) return false;
    }
    return true;
}

std::string connection::read_all(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    return std::exchange(buf_, {});
}

std::string json_request(const std::string& method, const std::string& target,
                         const std::string& body, const std::string& extra_headers) {
    return method + " " + target + " HTTP/1.1\r\nHost: a\r\n" + extra_headers +
           "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

std::optional<wire_message> http_get(std::uint16_t port, const std::string& path,
                                     const std::string& extra_headers) {
    auto c = connection::connect(port);
    if (!c.valid()) return std::nullopt;
    c.send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers +
           "Connection: close\r\n\r\n");
    return c.read_message(true);
}

std::string scrape_metrics(std::uint16_t admin_port) {
    const auto res = http_get(admin_port, "/metrics");
    return res ? res->body : "";
}

}  // namespace sidelight::test

namespace sidelight::test {

double sample_value(const std::string& exposition, const std::string& series) {
    std::size_t pos = 0;
    while ((pos = exposition.find(series + " ", pos)) != std::string::npos) {
        if (pos == 0 || exposition[pos - 1] == '\n') {
            return std::stod(exposition.substr(pos + series.size() + 1));
        }
        pos += series.size();
    }
    return -1;
}

std::size_t sample_count(const std::string& exposition, const std::string& prefix) {
    std::size_t n = 0;
    std::size_t pos = 0;
    while ((pos = exposition.find(prefix, pos)) != std::string::npos) {
        if (pos == 0 || exposition[pos - 1] == '\n') ++n;
        pos += prefix.size();
    }
    return n;
}

}  // namespace sidelight::test
