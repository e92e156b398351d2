// The strict audit hold: when a strict rule may fire on a request, the request (or the
// response) waits until the audit gate has committed its event, and a gate that cannot
// commit makes the proxy answer 503 instead. Whether a rule may fire comes from the route's
// capture plan; the wait runs on the session's executor, so the worker keeps serving others.
// Members of client_session (client_session.hpp).

#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>

#include "proxy/client_session.hpp"
#include "util/gzip.hpp"

namespace sidelight::proxy {

bool client_session::strict(audit_phase phase) const {
    if (!w_.shared.gate || !record_.plan) return false;
    const auto& methods = phase == audit_phase::request ? record_.plan->strict_request
                                                        : record_.plan->strict_response;
    return methods.contains(record_.method_id);
}

// Strict delivery, request phase: read the body first when the rules need it (so the event
// can carry it), then wait for the commit. A refusal answers 503; the app never sees it.
// (An answer is awaited into a variable before it is returned as an optional: built by GCC
// 12, a `co_return co_await` converting one into the other crashed an earlier response hold
// of this file, SIGILL on an invalid coroutine resume index.)
task<std::optional<client_session::next>> client_session::strict_request(exchange_state& x) {
    auto& rp = x.request;
    if (record_.plan->request_body.contains(record_.method_id) && !rp.is_done()) {
        if (const auto ec = co_await prebuffer_body(x)) {
            const next answered = co_await refuse_body(ec);
            co_return answered;
        }
    }
    record_.held_request = true;
    if (!co_await hold(audit_phase::request)) {
        const next answered = co_await send_error(proxy_answer::audit_unavailable,
                                                  rp.is_done() && x.client_keep_alive);
        co_return answered;
    }
    co_return std::nullopt;
}

// Reads the whole request body into record_.request_body; the app then gets it with a
// Content-Length (send_request() writes it after the head). Held requests are buffered, so
// their size is bounded by the capture cap: a body over it fails as over the body limit.
task<beast::error_code> client_session::prebuffer_body(exchange_state& x) {
    auto& rp = x.request;
    const auto cap = record_.plan->max_body_bytes;
    while (!rp.is_done()) {
        beast::error_code ec;
        const auto ready = buffered_body_piece(buffer_, rp, body_buf_, ec);
        const std::size_t got =
            ready ? *ready
                  : co_await read_body_piece(socket_, deadline_, buffer_, rp, body_buf_,
                                             cfg_.limits.body_idle_timeout, ec);
        if (ec) co_return ec;
        record_.bytes_in += got;
        if (record_.request_body.size() + got > cap) co_return http::error::body_limit;
        record_.request_body.append(body_buf_.data(), got);
    }
    rp.get().chunked(false);
    rp.get().content_length(record_.request_body.size());
    x.body_prebuffered = true;
    // The rules read the body as the client wrote it before its Content-Encoding (a gzipped
    // JSON body); the app gets the bytes as they came.
    const auto coding = rp.get()[http::field::content_encoding];
    if (!coding.empty()) {
        x.encoded_body = record_.request_body;
        util::inflate_captured_body(coding, record_.request_body, record_.request_body_truncated,
                                    cap);
    }
    co_return beast::error_code{};
}

// Strict delivery, response phase: the app's response (whose status the event carries)
// reaches the client only after the commit. False when the gate refused it.
task<bool> client_session::hold_response(int status) {
    record_.status = status;
    record_.held_response = true;
    co_return co_await hold(audit_phase::response);
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

}  // namespace sidelight::proxy
