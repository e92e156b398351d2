#include "proxy/tunnel.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace sidelight::proxy {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

struct tunnel_state {
    steady::time_point last_activity = steady::now();
    bool failed = false;
    bool idle_timeout = false;
};

void close_both(beast::tcp_stream& a, beast::tcp_stream& b) {
    beast::error_code ignored;
    a.socket().shutdown(tcp::socket::shutdown_both, ignored);
    b.socket().shutdown(tcp::socket::shutdown_both, ignored);
    a.socket().close(ignored);
    b.socket().close(ignored);
}

// One direction: `from` -> `to`, until `from` ends (then half-close `to`) or anything fails.
net::awaitable<void> pump(beast::tcp_stream& from, beast::flat_buffer& pending,
                          beast::tcp_stream& to, std::chrono::milliseconds idle,
                          tunnel_state& state, std::uint64_t& moved) {
    if (pending.size() > 0) {
        to.expires_after(idle);
        auto [ec, n] = co_await net::async_write(to, pending.data(), use_tuple);
        pending.consume(pending.size());
        moved += n;
        if (ec) {
            state.failed = true;
            close_both(from, to);
            co_return;
        }
    }
    std::array<char, 16 * 1024> buf;
    for (;;) {
        from.expires_after(idle);
        auto [rec, n] = co_await from.async_read_some(net::buffer(buf), use_tuple);
        if (rec == beast::error::timeout) {
            // Idle only if nothing moved the other way either.
            if (!state.failed && steady::now() - state.last_activity < idle) continue;
            state.idle_timeout = true;
        }
        if (rec) {
            beast::error_code ignored;
            if (rec == net::error::eof && !state.failed && !state.idle_timeout) {
                to.socket().shutdown(tcp::socket::shutdown_send, ignored);
            } else {
                state.failed = true;
                close_both(from, to);
            }
            co_return;
        }
        state.last_activity = steady::now();
        to.expires_after(idle);
        auto [wec, wn] = co_await net::async_write(to, net::buffer(buf.data(), n), use_tuple);
        moved += wn;
        if (wec) {
            state.failed = true;
            close_both(from, to);
            co_return;
        }
    }
}

}  // namespace

net::awaitable<tunnel_result> run_tunnel(beast::tcp_stream& client,
                                         beast::flat_buffer& client_pending,
                                         beast::tcp_stream& upstream,
                                         beast::flat_buffer& upstream_pending,
                                         std::chrono::milliseconds idle) {
    using namespace net::experimental::awaitable_operators;
    tunnel_state state;
    tunnel_result r;
    co_await (pump(client, client_pending, upstream, idle, state, r.client_to_upstream) &&
              pump(upstream, upstream_pending, client, idle, state, r.upstream_to_client));
    r.idle_timeout = state.idle_timeout;
    close_both(client, upstream);
    co_return r;
}

}  // namespace sidelight::proxy
