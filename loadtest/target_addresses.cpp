// Resolving a target and walking its addresses (target_addresses.hpp).
#include "loadtest/target_addresses.hpp"

#include <netdb.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sidelight::loadtest {

std::vector<socket_address> resolve_addresses(const std::string& host, const std::string& port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return {};
    std::vector<socket_address> out;
    for (const addrinfo* a = found; a; a = a->ai_next) {
        if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
        socket_address s;
        std::memcpy(&s.storage, a->ai_addr, a->ai_addrlen);
        s.length = a->ai_addrlen;
        out.push_back(s);
    }
    freeaddrinfo(found);
    return out;
}

bool worth_the_next_address(int error) {
    return error == ECONNREFUSED || error == ENETUNREACH || error == EHOSTUNREACH ||
           error == EADDRNOTAVAIL || error == EAFNOSUPPORT;
}

address_walk::address_walk(std::vector<socket_address> addresses)
    : addresses_(std::move(addresses)) {}

bool address_walk::failed(std::size_t tried, int error) {
    if (!worth_the_next_address(error)) return false;
    if (tried != current_) return true;  // already moved on; try where it points now
    if (current_ + 1 < addresses_.size()) {
        ++current_;
        return true;
    }
    current_ = 0;
    return false;
}

int connect_walking(address_walk& walk, std::chrono::seconds timeout) {
    if (walk.empty()) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    for (;;) {
        const std::size_t tried = walk.current();
        const socket_address& a = walk.at(tried);
        const int fd = socket(a.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            timeval tv{static_cast<time_t>(timeout.count()), 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            if (connect(fd, a.get(), a.length) == 0) return fd;
        }
        const int error = errno;
        if (fd >= 0) ::close(fd);
        if (!walk.failed(tried, error)) {
            errno = error;
            return -1;
        }
    }
}

}  // namespace sidelight::loadtest
