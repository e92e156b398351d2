// The exchange with the app for one request: send it (retrying once on a stale pooled
// connection), read the response head past any 1xx, then relay the response to the client.
// On the way, the strict hold (strict_hold.cpp) may hold the response, an accepted upgrade
// becomes a tunnel (upgrade.cpp), the client is watched while the app is slow
// (client_watch.cpp), and failures are answered from the error table (proxy_answer.hpp).
// Members of client_session (client_session.hpp).

#include <boost/asio/write.hpp>

#include "proxy/client_session.hpp"
#include "proxy/header_rewrite.hpp"

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

}  // namespace sidelight::proxy
