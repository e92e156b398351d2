// The relay's engine, as the config asks; see relay.hpp.
#include "dbproxy/relay.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "dbproxy/wire.hpp"

namespace sidelight::dbproxy {

relay::relay() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (wake_ < 0)
        throw std::runtime_error(std::string("database relay: cannot create its wakeup: ") +
                                 std::strerror(errno));
}

relay::~relay() {
    for (auto& a : adopted_) close_sockets(a);  // adopted after stop(), or never taken
    ::close(wake_);
}

void relay::start() {
    thread_ = std::thread([this] {
        if (auto why = run(); !why.empty()) failed(std::move(why));
    });
}

void relay::failed(std::string why) {
    spdlog::error(
        "database relay: stopped: {}; database connections are refused until sidelight restarts",
        why);
    const auto message = refusal_for(why);
    std::vector<adoption> left;  // adopted while the engine was failing
    {
        std::lock_guard lock(mutex_);
        failure_ = std::move(why);
        left.swap(adopted_);
    }
    for (auto& a : left) refuse(a, message);
}

std::string relay::failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
}

std::string relay::refusal_for(const std::string& why) {
    return "sidelight: the database relay has stopped (" + why + ")";
}

// The ErrorResponse fits a new socket's send buffer; best effort all the same, as the farewell
// after a violation: the socket is closed right after. The connection stops counting as open
// before its client can see it end.
void relay::refuse(adoption& a, const std::string& message) {
    a.observed.reset();
    a.count.release();
    const auto error = error_response(message);
    [[maybe_unused]] auto n =
        ::send(a.client, error.data(), error.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    close_sockets(a);
}

void relay::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
}

void relay::drain() {
    draining_.store(true, std::memory_order_relaxed);
    const std::uint64_t one = 1;  // the engine wakes, and ends the idle connections
    [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);
}

void relay::adopt(int client, int server, std::unique_ptr<watch> observed, connection_count count) {
    adoption a{client, server, std::move(observed), std::move(count)};
    bool wake = false;
    std::string refusal;  // the engine has failed: refused, outside the lock
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            close_sockets(a);
            return;
        }
        if (!failure_.empty()) {
            refusal = refusal_for(failure_);
        } else {
            adopted_.push_back(std::move(a));
            wake = adopted_.size() == 1;  // else the relay has been woken and not taken them yet
        }
    }
    if (!refusal.empty()) return refuse(a, refusal);
    if (!wake) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);
}

std::vector<relay::adoption> relay::take(bool& stopping) {
    std::vector<adoption> taken;
    std::lock_guard lock(mutex_);
    taken.swap(adopted_);
    stopping = stopping_;
    return taken;
}

void relay::close_sockets(adoption& a) {
    for (int* fd : {&a.client, &a.server}) {
        if (*fd >= 0) ::close(*fd);
        *fd = -1;
    }
}

std::unique_ptr<relay> make_relay(config::database_io io) {
    if (io == config::database_io::epoll) {
        spdlog::info("database relay: epoll (database_io: epoll)");
        return make_epoll_relay();
    }
    try {
        auto r = make_uring_relay();
        spdlog::info("database relay: io_uring");
        return r;
    } catch (const std::runtime_error& e) {
        if (io == config::database_io::io_uring)
            throw std::runtime_error(std::string("database_io: io_uring: ") + e.what());
        spdlog::info("database relay: epoll (io_uring not available: {})", e.what());
        return make_epoll_relay();
    }
}

}  // namespace sidelight::dbproxy
