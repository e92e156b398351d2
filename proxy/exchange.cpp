// The exchange with the app for one request: send it (retrying once on a stale pooled
// connection), hold it for strict audit delivery, relay the response or answer an error from
// the error table (proxy_answer.hpp), and turn an accepted upgrade into a tunnel. Members of
// client_session (client_session.hpp).

#include <spdlog/spdlog.h>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>

#include <sys/socket.h>

#include "proxy/client_session.hpp"
#include "proxy/header_rewrite.hpp"
#include "proxy/tunnel.hpp"

namespace sidelight::proxy {
namespace {

bool idempotent(http::verb v) {
    switch (v) {
        case http::verb::get:
        case http::verb::head:
        case http::verb::put:
        case http::verb::delete_:
        case http::verb::options:
        case http::verb::trace:
            return true;
        default:
            return false;
    }
}

error_type classify_status(int status) {
    if (status >= 500) return error_type::server_error;
    if (status >= 400) return error_type::client_error;
    return error_type::none;
}

}  // namespace

// Strict delivery, request phase: read the body first when the rules need it (so the event
// can carry it), then wait for the commit. A refusal answers 503; the app never sees it.
task<std::optional<client_session::next>> client_session::strict_request(exchange_state& x) {
    auto& rp = x.request;
    if (record_.plan->request_body.contains(record_.method_id) && !rp.is_done()) {
        const auto cap = record_.plan->max_body_bytes;
        while (!rp.is_done()) {
            beast::error_code ec;
            const auto ready = buffered_body_piece(buffer_, rp, body_buf_, ec);
            const std::size_t got =
                ready ? *ready
                      : co_await read_body_piece(socket_, deadline_, buffer_, rp, body_buf_,
                                                 cfg_.limits.body_idle_timeout, ec);
            if (ec) co_return co_await refuse_body(ec);
            record_.bytes_in += got;
            if (record_.request_body.size() + got > cap) {
                // Held requests are buffered, so their size is bounded by the capture cap.
                co_return co_await send_error(proxy_answer::payload_too_large, false);
            }
            record_.request_body.append(body_buf_.data(), got);
        }
        rp.get().chunked(false);
        rp.get().content_length(record_.request_body.size());
        x.body_prebuffered = true;
    }
    record_.held_request = true;
    if (!co_await hold(audit_phase::request)) {
        co_return co_await send_error(proxy_answer::audit_unavailable,
                                      rp.is_done() && x.client_keep_alive);
    }
    co_return std::nullopt;
}

// The app accepted the upgrade: relay its 101, then the connection is a byte tunnel. The
// request is recorded at the switch (its latency is not the tunnel's lifetime).
task<client_session::next> client_session::tunnel(exchange_state& x) {
    auto& res = x.response->get();
    extra_.clear();
    append_upgrade(extra_, res[http::field::upgrade]);  // read before the strip removes it
    append_request_id(extra_, record_.request_id);
    if (!strip_response(res, scratch_)) {
        co_return co_await send_error(proxy_answer::upstream_bad_response, false);
    }
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
    spdlog::debug(
        "event=tunnel_closed request_id={} client_to_upstream={} upstream_to_client={} "
        "reason={}",
        record_.request_id, moved.client_to_upstream, moved.upstream_to_client,
        moved.idle_timeout ? "idle_timeout" : "closed");
    co_return next::close;
}

// Waits for the gate's verdict without blocking the worker: the gate's callback is posted
// back to this session's executor and wakes the timer we wait on.
task<bool> client_session::hold(audit_phase phase) {
    struct waiter {
        explicit waiter(executor ex) : timer(std::move(ex)) {}
        io_timer timer;
        std::optional<bool> result;
    };
    auto w = std::make_shared<waiter>(socket_.get_executor());
    // Bounded even if a gate misbehaves: the writer's own strict timeout comes first.
    w->timer.expires_after(cfg_.audit.strict_timeout + std::chrono::seconds(1));
    w_.shared.gate->hold(record_, phase, [w](bool ok) {
        net::post(w->timer.get_executor(), [w, ok] {
            w->result = ok;
            w->timer.cancel();
        });
    });
    co_await w->timer.async_wait(use_tuple);
    co_return w->result.value_or(false);
}

// Sends the request (retrying once on a stale pooled connection) and relays the response.
task<client_session::next> client_session::respond(exchange_state& x) {
    const auto& up = w_.shared.upstream.settings;
    const bool retryable = x.request.is_done() && idempotent(x.request.get().method());
    struct forget_on_exit {  // the watchdog must not reach a connection we no longer hold
        upstream_connection*& conn;
        ~forget_on_exit() { conn = nullptr; }
    } forget{active_conn_};
    record_.upstream = w_.shared.upstream.host_header;  // tried, even if the connect fails
    for (int attempt = 0;; ++attempt) {
        beast::error_code ec;
        active_conn_ = nullptr;
        x.conn = w_.pool.take_idle();
        if (!x.conn) x.conn = co_await w_.pool.connect(ec);
        active_conn_ = x.conn.get();
        if (!x.conn) {
            co_return co_await send_error(proxy_answer::upstream_connect,
                                          x.request.is_done() && x.client_keep_alive);
        }
        record_.upstream_start = steady::now();
        if (!x.body_prebuffered) record_.request_body.clear();  // a retry captures it again
        auto sent = co_await relay_message(
            socket_, deadline_, buffer_, x.request, x.conn->socket, x.conn->deadline, head_, extra_,
            body_buf_, cfg_.limits.body_idle_timeout, record_.bytes_in,
            tap(record_.plan->request_body, record_.request_body, record_.request_body_truncated));
        if (sent.read_ec) co_return co_await refuse_body(sent.read_ec);
        deadline_.uncap();  // the body is in: the response is not bound by its time
        const bool may_retry = attempt == 0 && retryable && x.conn->reused;
        if (!sent.write_ec && x.body_prebuffered) {
            x.conn->deadline.arm(cfg_.limits.body_idle_timeout);
            auto [wec, wn] = co_await net::async_write(
                x.conn->socket, net::buffer(record_.request_body), use_tuple);
            x.conn->deadline.done(wec);
            sent.write_ec = wec;
        }
        if (sent.write_ec) {
            if (may_retry) continue;
            co_return co_await send_error(proxy_answer::upstream_reset,
                                          x.request.is_done() && x.client_keep_alive);
        }
        // A fresh parser for the app's answer (again after each 1xx).
        const auto fresh_response = [&] {
            x.response.emplace();
            x.response->body_limit(boost::none);
            x.response->header_limit(static_cast<std::uint32_t>(cfg_.limits.max_header_bytes));
            if (x.head) x.response->skip(true);
        };
        fresh_response();
        awaiting_response_ = true;  // arm_slow_watch() may watch the client now
        awaited_since_ = steady::now();
        auto hec = co_await read_header(x.conn->socket, x.conn->deadline, x.conn->buffer,
                                        *x.response, up.response_timeout);
        awaiting_response_ = false;
        // The client left while the app was working on it: the upstream connection is
        // closed, not pooled.
        if (unwatch_client()) co_return client_left();
        // 1xx interim responses (other than 101) are consumed here: the client never asked.
        while (!hec && x.response->get().result_int() / 100 == 1 &&
               x.response->get().result_int() != 101) {
            fresh_response();
            hec = co_await read_header(x.conn->socket, x.conn->deadline, x.conn->buffer,
                                       *x.response, up.response_timeout);
        }
        if (!hec) break;
        if (hec == beast::error::timeout) {
            co_return co_await send_error(proxy_answer::upstream_timeout, x.client_keep_alive);
        }
        if (may_retry && x.conn->buffer.size() == 0) continue;
        co_return co_await send_error(proxy_answer::upstream_reset, x.client_keep_alive);
    }
    record_.upstream_header = steady::now();
    auto& res = x.response->get();
    const int status = res.result_int();
    if (strict(audit_phase::response)) {  // nothing reaches the client before the commit
        record_.status = status;
        record_.held_response = true;
        if (!co_await hold(audit_phase::response)) {
            co_return co_await send_error(proxy_answer::audit_unavailable, false);
        }
    }
    if (status == 101) {
        if (x.upgrade.empty()) {  // the app switched protocols unasked: not something to relay
            co_return co_await send_error(proxy_answer::upstream_reset, false);
        }
        co_return co_await tunnel(x);
    }
    const bool upstream_reusable = res.keep_alive() && !x.response->need_eof();
    bool keep = x.client_keep_alive && !w_.shared.draining.load(std::memory_order_relaxed);
    const bool unframed = x.response->chunked() || x.response->need_eof();
    if (!strip_response(res, scratch_)) {  // its Connection names its own framing
        co_return co_await send_error(proxy_answer::upstream_bad_response, false);
    }
    if (!x.head && unframed) {
        if (x.client_version >= 11)
            res.chunked(true);
        else
            keep = false;  // an HTTP/1.0 client gets a close-delimited body
    }
    res.version(x.client_version);
    // Connection went with the other hop-by-hop fields; say only what differs from the
    // version's default (HTTP/1.1 keeps the connection, HTTP/1.0 closes it).
    extra_.clear();
    if (x.client_version >= 11 ? !keep : keep)
        extra_ += keep ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    append_request_id(extra_, record_.request_id);
    const auto got = co_await relay_message(
        x.conn->socket, x.conn->deadline, x.conn->buffer, *x.response, socket_, deadline_, head_,
        extra_, body_buf_, cfg_.limits.body_idle_timeout, record_.bytes_out,
        tap(record_.plan->response_body, record_.response_body, record_.response_body_truncated));
    if (got.read_ec) {
        // Never let a truncated body look complete: abort the client connection.
        finish(status, error_type::upstream_reset);
        abort();
        co_return next::close;
    }
    if (got.write_ec) co_return client_left();
    if (upstream_reusable && x.conn->buffer.size() == 0) w_.pool.release(std::move(x.conn));
    finish(status, classify_status(status));
    co_return keep ? next::keep_alive : next::close;
}

// While the app works on a slow request, notice a client that goes away: a wait for
// readability on the client socket that, when it fires on EOF or a reset, cancels the
// upstream read. Bytes a pipelining client sent early are left alone. Armed by the worker's
// watchdog only for exchanges slower than `slow_exchange` (a wait costs an epoll_ctl, which
// fast requests should not pay).
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
