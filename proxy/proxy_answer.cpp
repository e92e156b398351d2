// The error table's lookups (proxy_answer.hpp), and the session's own answers:
// client_session::send_error writes the row's status as a short plain-text response, then
// keeps the connection or closes it lingering. Members of client_session (client_session.hpp).

#include "proxy/proxy_answer.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include "proxy/client_session.hpp"

namespace sidelight::proxy {
namespace {

// A parse error in what the client sent, as opposed to the client going away.
bool malformed(const beast::error_code& ec) {
    static const auto& http_errors = make_error_code(http::error::bad_chunk).category();
    return ec.category() == http_errors && ec != http::error::partial_message &&
           ec != http::error::end_of_stream;
}

}  // namespace

proxy_answer head_answer(head_verdict v) {
    switch (v) {
        case head_verdict::uri_too_long:
            return proxy_answer::uri_too_long;
        case head_verdict::header_too_large:
            return proxy_answer::header_too_large;
        case head_verdict::not_allowed:
            return proxy_answer::method_not_allowed;
        case head_verdict::ok:  // not asked
        case head_verdict::bad_request:
            break;
    }
    return proxy_answer::bad_request;
}

std::optional<proxy_answer> body_answer(const beast::error_code& ec) {
    if (ec == http::error::body_limit) return proxy_answer::payload_too_large;
    // A malformed body (a bad chunk, framing fields in a trailer) is the client's error; the
    // upstream connection, which may have seen part of it, is dropped.
    if (malformed(ec)) return proxy_answer::bad_request;
    // A body that stalls or trickles past its time (limits.body_idle_timeout or
    // body_read_timeout): 408, as for a slow head.
    if (ec == beast::error::timeout) return proxy_answer::request_timeout;
    return std::nullopt;
}

// Answers with a short plain-text body made by the proxy itself.
task<client_session::next> client_session::send_error(proxy_answer answer, bool keep_alive) {
    const proxy_answer_row row = answer_row(answer);
    const auto status = row.status;
    const auto reason = http::obsolete_reason(status);
    deadline_.uncap();  // an answer is not bound by the request body's time
    keep_alive = keep_alive && !w_.shared.draining.load(std::memory_order_relaxed);
    if (record_.request_id.empty()) generate_request_id(record_.request_id);
    scratch_.clear();
    scratch_ += "HTTP/1.1 ";
    scratch_ += std::to_string(static_cast<int>(status));
    scratch_ += ' ';
    scratch_ += reason;
    scratch_ += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
    scratch_ += std::to_string(reason.size() + 1);
    scratch_ += "\r\n";
    if (!transparent()) append_request_id(scratch_, record_.request_id);
    if (status == http::status::method_not_allowed)
        scratch_ += "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n";
    scratch_ += keep_alive ? "\r\n" : "Connection: close\r\n\r\n";
    scratch_ += reason;
    scratch_ += '\n';
    deadline_.arm(cfg_.limits.body_idle_timeout);
    auto [ec, n] = co_await net::async_write(socket_, net::buffer(scratch_), use_tuple);
    deadline_.done(ec);
    finish(ec ? 499 : static_cast<int>(status), ec ? error_type::client_abort : row.error);
    if (ec) co_return next::close;
    if (keep_alive) co_return next::keep_alive;
    co_await lingering_close();
    co_return next::close;
}

// The request body could not be read (body_answer), or the client went away while sending it.
task<client_session::next> client_session::refuse_body(const beast::error_code& ec) {
    if (const auto answer = body_answer(ec)) co_return co_await send_error(*answer, false);
    co_return client_left();
}

// After refusing a request, half-close and read what the client still sends for a moment, so
// that closing with unread data does not reset the connection before it has read our answer.
task<void> client_session::lingering_close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    std::size_t discarded = 0;
    deadline_.arm(std::chrono::seconds(1));
    while (!ec && discarded < 256 * 1024) {
        std::size_t n = 0;
        std::tie(ec, n) = co_await socket_.async_read_some(net::buffer(body_buf_), use_tuple);
        discarded += n;
    }
    deadline_.done(ec);
}

}  // namespace sidelight::proxy
