// The exchange with the app for one request: take a pooled connection or connect, send the
// request (once more when a stale pooled connection fails), read the response head past any
// 1xx, then relay the response to the client. On the way, the strict hold (strict_hold.cpp)
// may hold the response, an accepted upgrade becomes a tunnel (upgrade.cpp), the client is
// watched while the app is slow (client_watch.cpp), and failures are answered from the error
// table (proxy_answer.hpp). Members of client_session (client_session.hpp).
//
// The steps are templates on the upstream stream (tcp_socket or tls_stream), instantiated for
// both at the end of this file: a TLS upstream costs a plain exchange nothing.

#include <type_traits>

#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include "proxy/client_session.hpp"
#include "proxy/header_rewrite.hpp"
#include "proxy/upstream_tls.hpp"
#include "util/gzip.hpp"

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

// 1xx interim responses other than 101: consumed by the proxy, the client never asked.
bool interim(int status) {
    return status / 100 == 1 && status != 101;
}

error_type classify_status(int status) {
    if (status >= 500) return error_type::server_error;
    if (status >= 400) return error_type::client_error;
    return error_type::none;
}

template <class Upstream>
Upstream& stream_of(upstream_connection& c) {
    if constexpr (std::is_same_v<Upstream, tls_stream>) {
        return *c.tls;
    } else {
        return c.socket;
    }
}

}  // namespace

// Sends the request and reads the app's response head, once more when a stale pooled
// connection fails before answering; then delivers the response. A TLS session that the app
// closed (close_notify, or a truncated stream) fails like a reset and is retried the same way.
template <class Upstream>
task<client_session::next> client_session::respond(exchange_state& x) {
    struct forget_on_exit {  // the watchdog must not reach a connection we no longer hold
        upstream_connection*& conn;
        ~forget_on_exit() { conn = nullptr; }
    } forget{active_conn_};
    record_.upstream = w_.shared.upstream.host_header;  // tried, even if the connect fails
    const bool retryable = x.request.is_done() && idempotent(x.request.get().method());
    for (int attempt = 0;; ++attempt) {
        upstream_pool::connect_error failed;
        if (!co_await connect_upstream(x, failed)) {
            co_return co_await send_error(
                failed.tls ? proxy_answer::upstream_tls : proxy_answer::upstream_connect,
                x.request.is_done() && x.client_keep_alive);
        }
        const auto sent = co_await send_request<Upstream>(x);
        if (sent.read_ec) co_return co_await refuse_body(sent.read_ec);
        const bool may_retry = attempt == 0 && retryable && x.conn->reused && !aborted_;
        if (sent.write_ec) {
            if (may_retry) continue;
            co_return co_await send_error(proxy_answer::upstream_reset,
                                          x.request.is_done() && x.client_keep_alive);
        }
        auto hec = co_await await_response<Upstream>(x);
        // The client left while the app was working on it: the upstream connection is
        // closed, not pooled, before the request is recorded (a scrape reads the gauge before
        // the request counters, so one may still show both the 499 and the connection).
        if (unwatch_client()) {
            active_conn_ = nullptr;
            x.conn.reset();
            co_return client_left();
        }
        if (!hec) hec = co_await skip_interim<Upstream>(x);
        if (!hec) co_return co_await deliver_response<Upstream>(x);
        if (hec == beast::error::timeout)
            co_return co_await send_error(proxy_answer::upstream_timeout, x.client_keep_alive);
        if (may_retry && x.conn->buffer.size() == 0) continue;
        // A head the parser refused (a bad status line, conflicting framing fields) is a bad
        // response; the connection ending before or within the head is a reset.
        const bool malformed =
            hec.category() == make_error_code(http::error::bad_version).category() &&
            hec != http::error::end_of_stream && hec != http::error::partial_message;
        co_return co_await send_error(
            malformed ? proxy_answer::upstream_bad_response : proxy_answer::upstream_reset,
            x.client_keep_alive);
    }
}

// Takes an idle pooled connection, or connects one; false when the app cannot be reached.
task<bool> client_session::connect_upstream(exchange_state& x, upstream_pool::connect_error& err) {
    active_conn_ = nullptr;
    x.conn = w_.pool.take_idle();
    if (!x.conn) x.conn = co_await w_.pool.connect(err);
    active_conn_ = x.conn.get();
    co_return x.conn != nullptr;
}

// Relays the request head and body to the app, the body from record_.request_body when the
// strict hold read it first. read_ec: the client's side failed; write_ec: the app's.
template <class Upstream>
task<relay_result> client_session::send_request(exchange_state& x) {
    record_.upstream_start = steady::now();
    if (!x.body_prebuffered) record_.request_body.clear();  // a retry captures it again
    auto& up = stream_of<Upstream>(*x.conn);
    auto sent = co_await relay_message(
        socket_, deadline_, buffer_, x.request, up, x.conn->deadline, head_, extra_, body_buf_,
        cfg_.limits.body_idle_timeout, record_.bytes_in,
        tap(record_.plan->request_body, record_.request_body, record_.request_body_truncated));
    if (sent.read_ec) co_return sent;
    deadline_.uncap();  // the body is in: the response is not bound by its time
    // The rules read the body before its Content-Encoding (a gzipped JSON body), as they read
    // the response's; the app got the bytes as they came.
    if (!x.body_prebuffered && (!record_.request_body.empty() || record_.request_body_truncated)) {
        util::inflate_captured_body(x.request.get()[http::field::content_encoding],
                                    record_.request_body, record_.request_body_truncated,
                                    record_.plan->max_body_bytes);
    }
    if (!sent.write_ec && x.body_prebuffered) {
        x.conn->deadline.arm(cfg_.limits.body_idle_timeout);
        const auto& bytes = x.encoded_body ? *x.encoded_body : record_.request_body;
        auto [wec, wn] = co_await net::async_write(up, net::buffer(bytes), use_tuple);
        x.conn->deadline.done(wec);
        sent.write_ec = wec;
    }
    co_return sent;
}

// A fresh parser for the app's answer (again after each 1xx).
void client_session::fresh_response(exchange_state& x) const {
    x.response.emplace();
    x.response->body_limit(boost::none);
    x.response->header_limit(static_cast<std::uint32_t>(cfg_.limits.max_header_bytes));
    if (x.head) x.response->skip(true);
}

// Reads the first response head; meanwhile the watchdog may watch the client
// (arm_slow_watch), which the caller ends with unwatch_client().
template <class Upstream>
task<beast::error_code> client_session::await_response(exchange_state& x) {
    fresh_response(x);
    awaiting_response_ = true;  // arm_slow_watch() may watch the client now
    awaited_since_ = steady::now();
    const auto hec =
        co_await read_header(stream_of<Upstream>(*x.conn), x.conn->deadline, x.conn->buffer,
                             *x.response, w_.shared.upstream.settings.response_timeout);
    awaiting_response_ = false;
    co_return hec;
}

// Reads past the 1xx interim responses (other than 101) to the final response head.
template <class Upstream>
task<beast::error_code> client_session::skip_interim(exchange_state& x) {
    beast::error_code hec;
    while (!hec && interim(x.response->get().result_int())) {
        fresh_response(x);
        hec = co_await read_header(stream_of<Upstream>(*x.conn), x.conn->deadline, x.conn->buffer,
                                   *x.response, w_.shared.upstream.settings.response_timeout);
    }
    co_return hec;
}

// The app's response head is in: hold it for a strict rule, switch to a tunnel on 101, or
// relay it. The tunnel runs over plain upstream connections only (a half-closed tunnel would
// need TLS shutdowns in the pumps): to a TLS upstream no Upgrade is sent (rewrite_request),
// so a 101 from it is unasked, a 502.
template <class Upstream>
task<client_session::next> client_session::deliver_response(exchange_state& x) {
    record_.upstream_header = steady::now();
    const int status = x.response->get().result_int();
    record_.upstream_status = status;     // kept when the client gets another status, or none
    if (strict(audit_phase::response)) {  // nothing reaches the client before the commit
        if (!co_await hold_response(status))
            co_return co_await send_error(proxy_answer::audit_unavailable, false);
    }
    if (status == 101) {
        if (x.upgrade.empty())  // the app switched protocols unasked: not something to relay
            co_return co_await send_error(proxy_answer::upstream_reset, false);
        if constexpr (std::is_same_v<Upstream, tls_stream>) {
            co_return co_await send_error(proxy_answer::upstream_bad_response, false);  // unsent
        } else {
            co_return co_await tunnel(x);
        }
    }
    co_return co_await relay_response<Upstream>(x, status);
}

// Relays the app's response (its head already read) to the client, framed for the client's
// version, and gives the connection back to the pool when the app keeps it.
template <class Upstream>
task<client_session::next> client_session::relay_response(exchange_state& x, int status) {
    auto& res = x.response->get();
    const bool upstream_reusable = res.keep_alive() && !x.response->need_eof();
    bool keep = x.client_keep_alive && !w_.shared.draining.load(std::memory_order_relaxed);
    const bool unframed = x.response->chunked() || x.response->need_eof();
    const auto mode = transparent() ? rewrite_mode::transparent : rewrite_mode::forwarding;
    if (!strip_response(res, scratch_, mode))  // its Connection names its own framing
        co_return co_await send_error(proxy_answer::upstream_bad_response, false);
    // A 204 or 304 has no body whatever its framing fields say (RFC 9110 6.4.1): one that came
    // with Transfer-Encoding: chunked gets none either, or the client would read a stray
    // "0\r\n\r\n" as the start of the next response.
    const bool bodiless = x.head || status == 204 || status == 304;
    if (!bodiless && unframed) {
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
    if (!transparent()) append_request_id(extra_, record_.request_id);
    const auto got = co_await relay_message(
        stream_of<Upstream>(*x.conn), x.conn->deadline, x.conn->buffer, *x.response, socket_,
        deadline_, head_, extra_, body_buf_, cfg_.limits.body_idle_timeout, record_.bytes_out,
        tap(record_.plan->response_body, record_.response_body, record_.response_body_truncated));
    if (got.read_ec) {
        // Never let a truncated body look complete: abort the client connection. A body that
        // stalled past body_idle_timeout is a timeout, not a reset.
        finish(status, got.read_ec == beast::error::timeout ? error_type::upstream_timeout
                                                            : error_type::upstream_reset);
        abort();
        co_return next::close;
    }
    if (got.write_ec) co_return client_left();
    if (upstream_reusable && x.conn->buffer.size() == 0) w_.pool.release(std::move(x.conn));
    // The rules read the body as the app wrote it, before its Content-Encoding.
    if (!record_.response_body.empty() || record_.response_body_truncated) {
        util::decode_captured_body(res[http::field::content_encoding], record_.response_body,
                                   record_.response_body_truncated, record_.plan->max_body_bytes);
    }
    finish(status, classify_status(status));
    co_return keep ? next::keep_alive : next::close;
}

template task<client_session::next> client_session::respond<tcp_socket>(exchange_state&);
template task<client_session::next> client_session::respond<tls_stream>(exchange_state&);

}  // namespace sidelight::proxy
