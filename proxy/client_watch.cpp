// The client watch: while the app works on a slow request, notice a client that goes away.
// A wait for readability on the client socket that, when it fires on EOF or a reset, cancels
// the upstream read. Bytes a pipelining client sent early are left alone. Armed by the
// worker's watchdog only for exchanges slower than `slow_exchange` (a wait costs an
// epoll_ctl, which fast requests should not pay). Members of client_session
// (client_session.hpp).

#include <cerrno>

#include <sys/socket.h>

#include "proxy/client_session.hpp"

namespace sidelight::proxy {

void client_session::on_watchdog(steady::time_point now) {
    beast::error_code ignored;
    if (deadline_.expire(now)) socket_.cancel(ignored);
    if (active_conn_ && active_conn_->deadline.expire(now)) active_conn_->socket.cancel(ignored);
    arm_slow_watch(now);
}

void client_session::arm_slow_watch(steady::time_point now) {
    if (!awaiting_response_ || watch_ || now - awaited_since_ < slow_exchange) return;
    watch_ = std::make_shared<client_watch>();
    if (buffer_.size() != 0) return;  // pipelined bytes already here: nothing to learn
    watch_->armed = true;
    const int fd = socket_.native_handle();
    socket_.async_wait(tcp::socket::wait_read,
                       [w = watch_, fd, up = &active_conn_->socket](const beast::error_code& ec) {
                           if (ec || w->done) return;  // cancelled, or the response came first
                           char byte;
                           const auto got = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
                           if (got > 0 || (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
                               return;
                           w->gone = true;
                           up->cancel();
                       });
}

bool client_session::unwatch_client() {
    if (!watch_) return false;
    auto watch = std::move(watch_);
    watch->done = true;
    if (watch->armed) {
        beast::error_code ignored;
        socket_.cancel(ignored);
    }
    return watch->gone;
}

}  // namespace sidelight::proxy
