#pragma once
// A coarse deadline for the I/O on one socket, enforced by its worker's watchdog (every
// 50 ms) instead of a timer armed and cancelled around every read and write (which cost more
// than the parse of a request). Arming is a clock read and two stores; when the deadline
// passes, the watchdog cancels the socket's pending operations, and settle() turns that
// cancellation into beast::error::timeout. Timeouts therefore fire up to one watchdog period
// late. Only for sockets of the worker that owns the deadline; used from that thread only.

#include <algorithm>
#include <chrono>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>

namespace sidelight::proxy {

class io_deadline {
  public:
    using clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds period{50};  // the watchdog's

    void arm(clock::duration d) {
        at_ = std::min(clock::now() + d, cap_);
        fired_ = false;
    }
    // A bound on every later arm() until uncap(): a total time for a sequence of operations
    // (a request body), on top of the time each one may take.
    void cap(clock::duration total) { cap_ = clock::now() + total; }
    void uncap() { cap_ = clock::time_point::max(); }
    void disarm() { at_ = clock::time_point::max(); }
    // After an operation: its cancellation by the watchdog is reported as a timeout.
    void settle(boost::beast::error_code& ec) {
        if (std::exchange(fired_, false) && ec == boost::asio::error::operation_aborted)
            ec = boost::beast::error::timeout;
    }
    // settle() and disarm(), for a deadline that covered one operation.
    void done(boost::beast::error_code& ec) {
        settle(ec);
        disarm();
    }
    // The watchdog: true once the deadline has passed; the caller cancels the socket.
    bool expire(clock::time_point now) {
        if (now < at_) return false;
        at_ = clock::time_point::max();
        fired_ = true;
        return true;
    }

  private:
    clock::time_point at_ = clock::time_point::max();
    clock::time_point cap_ = clock::time_point::max();
    bool fired_ = false;
};

}  // namespace sidelight::proxy
