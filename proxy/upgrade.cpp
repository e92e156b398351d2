// An accepted upgrade: the app answered an Upgrade request with 101, which is relayed to the
// client, and then the connection becomes a byte tunnel (tunnel.hpp) until either side ends
// it. Members of client_session (client_session.hpp).

#include <spdlog/spdlog.h>
#include <boost/asio/write.hpp>

#include "proxy/client_session.hpp"
#include "proxy/header_rewrite.hpp"
#include "proxy/tunnel.hpp"

namespace sidelight::proxy {

// Relays the app's 101, then runs the tunnel. The request is recorded at the switch (its
// latency is not the tunnel's lifetime).
task<client_session::next> client_session::tunnel(exchange_state& x) {
    auto& res = x.response->get();
    extra_.clear();
    append_upgrade(extra_, res[http::field::upgrade]);  // read before the strip removes it
    if (!transparent()) append_request_id(extra_, record_.request_id);
    if (!strip_response(res, scratch_,
                        transparent() ? rewrite_mode::transparent : rewrite_mode::forwarding))
        co_return co_await send_error(proxy_answer::upstream_bad_response, false);
    head_.clear();
    append_head(head_, res, extra_);
    deadline_.arm(cfg_.limits.body_idle_timeout);
    auto [ec, n] = co_await net::async_write(socket_, net::buffer(head_), use_tuple);
    deadline_.done(ec);
    if (ec) co_return client_left();
    finish(101, error_type::none);
    w_.shared.obs->on_connection(connection_type::websocket, +1);
    const auto moved = co_await run_tunnel(socket_, buffer_, x.conn->socket, x.conn->buffer,
                                           cfg_.limits.tunnel_idle_timeout);
    w_.shared.obs->on_connection(connection_type::websocket, -1);
    // The request was logged at the switch; this is what the tunnel carried after it.
    if (spdlog::should_log(spdlog::level::debug)) {
        spdlog::debug(
            "event=tunnel_closed request_id={} trace_id={} client_to_upstream={} "
            "upstream_to_client={} reason={}",
            record_.request_id, record_.trace.trace_hex(), moved.client_to_upstream,
            moved.upstream_to_client, moved.idle_timeout ? "idle_timeout" : "closed");
    }
    co_return next::close;
}

}  // namespace sidelight::proxy
