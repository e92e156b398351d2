#pragma once
// A target's addresses as getaddrinfo lists them, and which one to connect to. "localhost" is
// often ::1 first and 127.0.0.1 second, and an app listening on 0.0.0.0 refuses the first: a
// connect refused (or unreachable) at the address in use moves the next connects on to the
// following address, and the one that answers stays in use. When every address has refused, the
// failure counts and the walk starts over at the first one (the target may come up there).
//
// Thread-safety: none; one walk per load thread, or per scrape.

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace sidelight::loadtest {

struct socket_address {
    sockaddr_storage storage{};
    socklen_t length = 0;

    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Every TCP address of host:port, in getaddrinfo's order; empty when it does not resolve.
std::vector<socket_address> resolve_addresses(const std::string& host, const std::string& port);

// Whether a failed socket() or connect() says "nothing at this address" (refused, unreachable,
// a family the host lacks), so that the next address may answer.
bool worth_the_next_address(int error);

class address_walk {
  public:
    address_walk() = default;
    explicit address_walk(std::vector<socket_address> addresses);

    bool empty() const { return addresses_.empty(); }
    std::size_t size() const { return addresses_.size(); }
    std::size_t current() const { return current_; }
    const socket_address& at(std::size_t i) const { return addresses_[i]; }

    // A connect to address `tried` failed with `error`. True: connect again now, to current()
    // (the walk moved past `tried`, or an earlier failure already did). False: the failure
    // counts as a connect error, because it says nothing about the address (a timeout) or
    // because every address refused (the walk is back at the first one).
    bool failed(std::size_t tried, int error);

  private:
    std::vector<socket_address> addresses_;
    std::size_t current_ = 0;
};

// A blocking connect that walks the addresses; `timeout` also bounds each read and write on the
// socket. The connected socket, or -1 with errno from the last attempt.
int connect_walking(address_walk& walk, std::chrono::seconds timeout);

}  // namespace sidelight::loadtest
