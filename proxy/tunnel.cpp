#include "proxy/tunnel.hpp"

#include <array>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

namespace sidelight::proxy {
namespace {

namespace beast = boost::beast;
using steady = std::chrono::steady_clock;

struct tunnel_state {
    steady::time_point last_activity = steady::now();
    bool failed = false;
    bool idle_timeout = false;
};

void close_both(tcp_socket& a, tcp_socket& b) {
    beast::error_code ignored;
    a.shutdown(tcp::socket::shutdown_both, ignored);
    b.shutdown(tcp::socket::shutdown_both, ignored);
    a.close(ignored);
    b.close(ignored);
}

// One direction: `from` -> `to`, until `from` ends (then half-close `to`) or anything fails.
task<void> pump(tcp_socket& from, beast::flat_buffer& pending, tcp_socket& to, tunnel_state& state,
                std::uint64_t& moved) {
    if (pending.size() > 0) {
        auto [ec, n] = co_await net::async_write(to, pending.data(), use_tuple);
        pending.consume(pending.size());
        moved += n;
        if (ec) {
            state.failed = true;
            close_both(from, to);
            co_return;
        }
        state.last_activity = steady::now();
    }
    std::array<char, 16 * 1024> buf;
    for (;;) {
        auto [rec, n] = co_await from.async_read_some(net::buffer(buf), use_tuple);
        if (rec) {
            beast::error_code ignored;
            if (rec == net::error::eof && !state.failed && !state.idle_timeout) {
                to.shutdown(tcp::socket::shutdown_send, ignored);
            } else {
                state.failed = true;
                close_both(from, to);
            }
            co_return;
        }
        state.last_activity = steady::now();
        auto [wec, wn] = co_await net::async_write(to, net::buffer(buf.data(), n), use_tuple);
        moved += wn;
        if (wec) {
            state.failed = true;
            close_both(from, to);
            co_return;
        }
        state.last_activity = steady::now();
    }
}

// Closes the tunnel once no read or write has completed either way for `idle`. Cancelled
// when both pumps have ended.
task<void> idle_watch(tcp_socket& client, tcp_socket& upstream, std::chrono::milliseconds idle,
                      tunnel_state& state) {
    io_timer timer(co_await net::this_coro::executor);
    for (;;) {
        timer.expires_at(state.last_activity + idle);
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec) co_return;  // the pumps are done
        if (steady::now() - state.last_activity < idle) continue;
        state.idle_timeout = true;
        close_both(client, upstream);
        co_return;
    }
}

}  // namespace

task<tunnel_result> run_tunnel(tcp_socket& client, beast::flat_buffer& client_pending,
                               tcp_socket& upstream, beast::flat_buffer& upstream_pending,
                               std::chrono::milliseconds idle) {
    using namespace net::experimental::awaitable_operators;
    tunnel_state state;
    tunnel_result r;
    co_await ((pump(client, client_pending, upstream, state, r.client_to_upstream) &&
               pump(upstream, upstream_pending, client, state, r.upstream_to_client)) ||
              idle_watch(client, upstream, idle, state));
    r.idle_timeout = state.idle_timeout;
    close_both(client, upstream);
    co_return r;
}

}  // namespace sidelight::proxy
