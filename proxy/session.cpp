#include "proxy/session.hpp"

#include <array>
#include <optional>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include "proxy/audit_gate.hpp"
#include "proxy/client_address.hpp"
#include "proxy/header_check.hpp"
#include "proxy/header_rewrite.hpp"
#include "proxy/relay.hpp"
#include "proxy/request_id.hpp"
#include "proxy/tunnel.hpp"
#include "proxy/worker.hpp"

namespace sidelight::proxy {
namespace {

namespace http = beast::http;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using steady = std::chrono::steady_clock;
using request_parser = http::request_parser<http::buffer_body>;
using response_parser = http::response_parser<http::buffer_body>;

constexpr std::size_t body_buffer_size = 16 * 1024;
constexpr std::size_t read_chunk = 4096;

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

// `Upgrade: x` together with `Connection: upgrade` (RFC 9110 7.8).
bool wants_upgrade(const http::fields& f) {
    if (f[http::field::upgrade].empty()) return false;
    for (const auto& field : f) {
        if (!beast::iequals(field.name_string(), "Connection")) continue;
        std::string_view v = field.value();
        while (!v.empty()) {
            const auto comma = v.find(',');
            auto token = v.substr(0, comma);
            while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
                token.remove_prefix(1);
            while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
                token.remove_suffix(1);
            if (beast::iequals(token, "upgrade")) return true;
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    return false;
}

error_type classify_status(int status) {
    if (status >= 500) return error_type::server_error;
    if (status >= 400) return error_type::client_error;
    return error_type::none;
}

}  // namespace

class client_session {
  public:
    client_session(worker& w, tcp::socket socket);
    ~client_session();
    client_session(const client_session&) = delete;
    client_session& operator=(const client_session&) = delete;

    net::awaitable<void> run();
    void close_if_idle();
    void abort();

  private:
    enum class next { keep_alive, close };
    struct exchange_state;

    net::awaitable<std::size_t> read_head();
    net::awaitable<next> serve_one();
    net::awaitable<next> forward(request_parser& rp);
    net::awaitable<next> respond(exchange_state& x);
    net::awaitable<next> send_error(http::status status, error_type error, bool keep_alive);
    net::awaitable<void> lingering_close();
    void finish(int status, error_type error);
    void label_route(std::string_view target);
    net::awaitable<bool> hold(audit_phase phase);
    net::awaitable<next> tunnel(exchange_state& x);
    net::awaitable<std::optional<next>> strict_request(exchange_state& x);
    bool strict() const { return w_.shared.gate && record_.plan && record_.plan->strict; }
    void capture_request(const http::fields& fields, std::string_view target);
    body_tap tap(bool wanted, std::string& into, bool& truncated) const {
        if (!wanted) return {};
        return {&into, record_.plan->max_body_bytes, &truncated};
    }
    void stamp_start() {
        record_.start = steady::now();
        record_.wall_start = std::chrono::system_clock::now();
    }

    worker& w_;
    const config::config& cfg_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::list<client_session*>::iterator link_;
    request_record record_;
    std::string scratch_;
    std::array<char, body_buffer_size> body_buf_;
    net::ip::address peer_;
    std::string peer_ip_;
    std::shared_ptr<const routing> routing_;  // refreshed when a reload publishes a new one
    std::uint64_t routing_generation_ = 0;
    bool idle_ = true;
};

// What one request/response exchange carries between its steps.
struct client_session::exchange_state {
    request_parser& request;
    std::unique_ptr<upstream_connection> conn;
    std::optional<response_parser> response;
    unsigned client_version = 11;
    bool client_keep_alive = true;
    bool head = false;
    bool body_prebuffered = false;  // strict mode read the body into record_.request_body
    std::string upgrade{};          // the client's Upgrade protocols, when it asked for one
};

client_session::client_session(worker& w, tcp::socket socket)
    : w_(w), cfg_(*w.shared.cfg), stream_(std::move(socket)) {
    link_ = w_.sessions.insert(w_.sessions.end(), this);
    w_.shared.obs->on_connection(connection_type::client, +1);
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    const auto peer = stream_.socket().remote_endpoint(ec);
    peer_ = normalize_address(peer.address());
    peer_ip_ = ec ? std::string("unknown") : peer_.to_string();
    record_.client_ip = peer_ip_;
}

client_session::~client_session() {
    w_.sessions.erase(link_);
    w_.shared.obs->on_connection(connection_type::client, -1);
    w_.shared.client_connections.fetch_sub(1, std::memory_order_relaxed);
}

void client_session::close_if_idle() {
    if (idle_) stream_.cancel();
}

void client_session::abort() {
    beast::error_code ec;
    stream_.socket().close(ec);
}

net::awaitable<void> client_session::run() {
    while (co_await serve_one() == next::keep_alive) {
    }
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
}

// Reads until the whole request head (through CRLFCRLF) is buffered and returns its length;
// 0 when the connection ended, timed out or the head was refused (already answered).
net::awaitable<std::size_t> client_session::read_head() {
    const auto& limits = cfg_.limits;
    std::size_t scanned = 0;
    idle_ = buffer_.size() == 0;
    if (idle_) {
        stream_.expires_after(limits.keepalive_timeout);
    } else {  // a pipelined request is already buffered
        stamp_start();
        stream_.expires_after(limits.header_read_timeout);
    }
    for (;;) {
        std::string_view data(static_cast<const char*>(buffer_.data().data()), buffer_.size());
        while (scanned == 0 && data.starts_with("\r\n")) {  // RFC 9112 2.2: leading empty lines
            buffer_.consume(2);
            data.remove_prefix(2);
        }
        const auto pos = data.find("\r\n\r\n", scanned > 3 ? scanned - 3 : 0);
        if (pos != std::string_view::npos) co_return pos + 4;
        scanned = data.size();
        if (data.size() > limits.max_header_bytes) {
            co_await send_error(http::status::request_header_fields_too_large,
                                error_type::bad_request, false);
            co_return 0;
        }
        auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(read_chunk), use_tuple);
        if (ec) {
            if (!idle_ && ec == beast::error::timeout)
                co_await send_error(http::status::request_timeout, error_type::bad_request, false);
            co_return 0;
        }
        buffer_.commit(n);
        if (idle_) {
            idle_ = false;
            stamp_start();
            stream_.expires_after(limits.header_read_timeout);
        }
    }
}

net::awaitable<client_session::next> client_session::serve_one() {
    if (w_.shared.draining.load(std::memory_order_relaxed) && buffer_.size() == 0)
        co_return next::close;
    record_.reset();
    const std::size_t head_size = co_await read_head();
    if (head_size == 0) co_return next::close;
    const std::string_view head(static_cast<const char*>(buffer_.data().data()), head_size);
    const auto verdict =
        check_request_head(head, {cfg_.limits.max_url_bytes, cfg_.limits.max_header_count});
    switch (verdict.verdict) {
        case head_verdict::ok:
            break;
        case head_verdict::uri_too_long:
            co_return co_await send_error(http::status::uri_too_long, error_type::bad_request,
                                          false);
        case head_verdict::header_too_large:
            co_return co_await send_error(http::status::request_header_fields_too_large,
                                          error_type::bad_request, false);
        case head_verdict::bad_request:
            spdlog::debug("bad request from {}: {}", record_.client_ip, verdict.reason);
            co_return co_await send_error(http::status::bad_request, error_type::bad_request,
                                          false);
    }
    request_parser rp;
    rp.header_limit(static_cast<std::uint32_t>(head_size + 1));
    if (cfg_.limits.max_body_bytes)
        rp.body_limit(cfg_.limits.max_body_bytes);
    else
        rp.body_limit(boost::none);
    beast::error_code ec;
    const auto used = rp.put(net::buffer(head.data(), head.size()), ec);
    if (ec || !rp.is_header_done()) {
        co_return co_await send_error(http::status::bad_request, error_type::bad_request, false);
    }
    buffer_.consume(used);
    co_return co_await forward(rp);
}

net::awaitable<client_session::next> client_session::forward(request_parser& rp) {
    auto& req = rp.get();
    record_.method = req.method_string();
    const auto target = req.target();
    record_.path.assign(target.substr(0, target.find('?')));
    label_route(target);
    capture_request(req, target);
    exchange_state x{rp, nullptr, std::nullopt};
    x.client_version = req.version();
    x.client_keep_alive = req.keep_alive();
    x.head = req.method() == http::verb::head;
    if (const auto len = rp.content_length();
        len && cfg_.limits.max_body_bytes && *len > cfg_.limits.max_body_bytes) {
        co_return co_await send_error(http::status::payload_too_large, error_type::bad_request,
                                      false);
    }
    const auto expect = req[http::field::expect];
    const bool expect_continue = beast::iequals(expect, "100-continue");
    if (!expect.empty() && !expect_continue) {
        co_return co_await send_error(http::status::expectation_failed, error_type::bad_request,
                                      false);
    }
    const bool chunked = rp.chunked();
    if (x.client_version >= 11 && rp.is_done() && wants_upgrade(req))
        x.upgrade.assign(req[http::field::upgrade]);
    strip_hop_by_hop(req);
    req.erase(http::field::expect);
    if (!x.upgrade.empty()) {  // the one hop-by-hop exchange that must reach the app
        req.set(http::field::upgrade, x.upgrade);
        req.set(http::field::connection, "Upgrade");
    }
    if (!w_.shared.trusted_proxies.empty()) {
        joined_forwarded_for(req, scratch_);
        resolve_client_ip(peer_, scratch_, w_.shared.trusted_proxies, record_.client_ip);
    }
    set_forwarded(req, peer_ip_, scratch_);
    ensure_request_id(req, record_.request_id);
    req.version(11);
    if (req.find(http::field::host) == req.end())
        req.set(http::field::host, w_.shared.upstream.host_header);
    if (chunked) req.chunked(true);
    if (expect_continue && !rp.is_done()) {
        // We answer the expectation ourselves; the app gets a plain request with a body.
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        stream_.expires_after(cfg_.limits.body_idle_timeout);
        auto [wec, n] = co_await net::async_write(stream_, net::buffer(cont), use_tuple);
        if (wec) {
            finish(499, error_type::client_abort);
            co_return next::close;
        }
    }
    if (strict()) {
        if (auto refused = co_await strict_request(x)) co_return *refused;
    }
    co_return co_await respond(x);
}

// Strict delivery, request phase: read the body first when the rules need it (so the event
// can carry it), then wait for the commit. A refusal answers 503; the app never sees it.
net::awaitable<std::optional<client_session::next>> client_session::strict_request(
    exchange_state& x) {
    auto& rp = x.request;
    if (record_.plan->request_body && !rp.is_done()) {
        const auto cap = record_.plan->max_body_bytes;
        while (!rp.is_done()) {
            auto& body = rp.get().body();
            body.data = body_buf_.data();
            body.size = body_buf_.size();
            stream_.expires_after(cfg_.limits.body_idle_timeout);
            auto [ec, n] = co_await http::async_read_some(stream_, buffer_, rp, use_tuple);
            if (ec == http::error::need_buffer) ec = {};
            if (ec) {
                finish(499, error_type::client_abort);
                co_return next::close;
            }
            const std::size_t got = body_buf_.size() - body.size;
            record_.bytes_in += got;
            if (record_.request_body.size() + got > cap) {
                // Held requests are buffered, so their size is bounded by the capture cap.
                co_return co_await send_error(http::status::payload_too_large,
                                              error_type::bad_request, false);
            }
            record_.request_body.append(body_buf_.data(), got);
        }
        rp.get().chunked(false);
        rp.get().content_length(record_.request_body.size());
        x.body_prebuffered = true;
    }
    record_.held_request = true;
    if (!co_await hold(audit_phase::request)) {
        co_return co_await send_error(http::status::service_unavailable,
                                      error_type::audit_unavailable,
                                      rp.is_done() && x.client_keep_alive);
    }
    co_return std::nullopt;
}

// The app accepted the upgrade: relay its 101, then the connection is a byte tunnel. The
// request is recorded at the switch (its latency is not the tunnel's lifetime).
net::awaitable<client_session::next> client_session::tunnel(exchange_state& x) {
    auto& res = x.response->get();
    const std::string protocol(res[http::field::upgrade]);
    strip_hop_by_hop(res);
    res.set(http::field::upgrade, protocol);
    res.set(http::field::connection, "Upgrade");
    res.set("X-Request-Id", record_.request_id);
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    http::response_serializer<http::buffer_body> sr{res};
    stream_.expires_after(cfg_.limits.body_idle_timeout);
    auto [ec, n] = co_await http::async_write(stream_, sr, use_tuple);
    if (ec) {
        finish(499, error_type::client_abort);
        co_return next::close;
    }
    finish(101, error_type::none);
    w_.shared.obs->on_connection(connection_type::websocket, +1);
    co_await run_tunnel(stream_, buffer_, x.conn->stream, x.conn->buffer,
                        cfg_.limits.tunnel_idle_timeout);
    w_.shared.obs->on_connection(connection_type::websocket, -1);
    co_return next::close;
}

// Waits for the gate's verdict without blocking the worker: the gate's callback is posted
// back to this session's executor and wakes the timer we wait on.
net::awaitable<bool> client_session::hold(audit_phase phase) {
    struct waiter {
        explicit waiter(net::any_io_executor ex) : timer(std::move(ex)) {}
        net::steady_timer timer;
        std::optional<bool> result;
    };
    auto w = std::make_shared<waiter>(stream_.get_executor());
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
net::awaitable<client_session::next> client_session::respond(exchange_state& x) {
    const auto& up = w_.shared.upstream.settings;
    const bool retryable = x.request.is_done() && idempotent(x.request.get().method());
    for (int attempt = 0;; ++attempt) {
        beast::error_code ec;
        x.conn = co_await w_.pool.acquire(ec);
        if (!x.conn) {
            co_return co_await send_error(http::status::bad_gateway, error_type::upstream_connect,
                                          x.request.is_done() && x.client_keep_alive);
        }
        record_.upstream_start = steady::now();
        if (!x.body_prebuffered) record_.request_body.clear();  // a retry captures it again
        auto sent = co_await relay_message(
            stream_, buffer_, x.request, x.conn->stream, body_buf_, cfg_.limits.body_idle_timeout,
            record_.bytes_in,
            tap(record_.plan->request_body, record_.request_body, record_.request_body_truncated));
        if (sent.read_ec) {
            if (sent.read_ec == http::error::body_limit)
                co_return co_await send_error(http::status::payload_too_large,
                                              error_type::bad_request, false);
            finish(499, error_type::client_abort);
            co_return next::close;
        }
        const bool may_retry = attempt == 0 && retryable && x.conn->reused;
        if (!sent.write_ec && x.body_prebuffered) {
            x.conn->stream.expires_after(cfg_.limits.body_idle_timeout);
            auto [wec, wn] = co_await net::async_write(
                x.conn->stream, net::buffer(record_.request_body), use_tuple);
            sent.write_ec = wec;
        }
        if (sent.write_ec) {
            if (may_retry) continue;
            co_return co_await send_error(http::status::bad_gateway, error_type::upstream_reset,
                                          x.request.is_done() && x.client_keep_alive);
        }
        x.response.emplace();
        x.response->body_limit(boost::none);
        x.response->header_limit(static_cast<std::uint32_t>(cfg_.limits.max_header_bytes));
        if (x.head) x.response->skip(true);
        x.conn->stream.expires_after(up.response_timeout);
        auto [hec, n] = co_await http::async_read_header(x.conn->stream, x.conn->buffer,
                                                         *x.response, use_tuple);
        // 1xx interim responses (other than 101) are consumed here: the client never asked.
        while (!hec && x.response->get().result_int() / 100 == 1 &&
               x.response->get().result_int() != 101) {
            x.response.emplace();
            x.response->body_limit(boost::none);
            if (x.head) x.response->skip(true);
            std::tie(hec, n) = co_await http::async_read_header(x.conn->stream, x.conn->buffer,
                                                                *x.response, use_tuple);
        }
        if (!hec) break;
        if (hec == beast::error::timeout) {
            co_return co_await send_error(http::status::gateway_timeout,
                                          error_type::upstream_timeout, x.client_keep_alive);
        }
        if (may_retry && x.conn->buffer.size() == 0) continue;
        co_return co_await send_error(http::status::bad_gateway, error_type::upstream_reset,
                                      x.client_keep_alive);
    }
    record_.upstream_header = steady::now();
    auto& res = x.response->get();
    const int status = res.result_int();
    if (strict()) {  // response phase: nothing reaches the client before the commit
        record_.status = status;
        record_.held_response = true;
        if (!co_await hold(audit_phase::response)) {
            co_return co_await send_error(http::status::service_unavailable,
                                          error_type::audit_unavailable, false);
        }
    }
    if (status == 101) {
        if (x.upgrade.empty()) {  // the app switched protocols unasked: not something to relay
            co_return co_await send_error(http::status::bad_gateway, error_type::upstream_reset,
                                          false);
        }
        co_return co_await tunnel(x);
    }
    const bool upstream_reusable = res.keep_alive() && !x.response->need_eof();
    bool keep = x.client_keep_alive && !w_.shared.draining.load(std::memory_order_relaxed);
    const bool unframed = x.response->chunked() || x.response->need_eof();
    strip_hop_by_hop(res);
    if (!x.head && unframed) {
        if (x.client_version >= 11)
            res.chunked(true);
        else
            keep = false;  // an HTTP/1.0 client gets a close-delimited body
    }
    res.version(x.client_version);
    res.keep_alive(keep);
    res.set("X-Request-Id", record_.request_id);
    const auto got = co_await relay_message(
        x.conn->stream, x.conn->buffer, *x.response, stream_, body_buf_,
        cfg_.limits.body_idle_timeout, record_.bytes_out,
        tap(record_.plan->response_body, record_.response_body, record_.response_body_truncated));
    if (got.read_ec) {
        // Never let a truncated body look complete: abort the client connection.
        finish(status, error_type::upstream_reset);
        abort();
        co_return next::close;
    }
    if (got.write_ec) {
        finish(499, error_type::client_abort);
        co_return next::close;
    }
    if (upstream_reusable && x.conn->buffer.size() == 0) w_.pool.release(std::move(x.conn));
    finish(status, classify_status(status));
    co_return keep ? next::keep_alive : next::close;
}

// Answers with a short plain-text body made by the proxy itself.
net::awaitable<client_session::next> client_session::send_error(http::status status,
                                                                error_type error, bool keep_alive) {
    const auto reason = http::obsolete_reason(status);
    keep_alive = keep_alive && !w_.shared.draining.load(std::memory_order_relaxed);
    if (record_.request_id.empty()) generate_request_id(record_.request_id);
    scratch_.clear();
    scratch_ += "HTTP/1.1 ";
    scratch_ += std::to_string(static_cast<int>(status));
    scratch_ += ' ';
    scratch_ += reason;
    scratch_ += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
    scratch_ += std::to_string(reason.size() + 1);
    scratch_ += "\r\nX-Request-Id: ";
    scratch_ += record_.request_id;
    scratch_ += keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
    scratch_ += reason;
    scratch_ += '\n';
    stream_.expires_after(cfg_.limits.body_idle_timeout);
    auto [ec, n] = co_await net::async_write(stream_, net::buffer(scratch_), use_tuple);
    finish(ec ? 499 : static_cast<int>(status), ec ? error_type::client_abort : error);
    if (ec) co_return next::close;
    if (keep_alive) co_return next::keep_alive;
    co_await lingering_close();
    co_return next::close;
}

// After refusing a request, half-close and read what the client still sends for a moment, so
// that closing with unread data does not reset the connection before it has read our answer.
net::awaitable<void> client_session::lingering_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::size_t discarded = 0;
    stream_.expires_after(std::chrono::seconds(1));
    while (!ec && discarded < 256 * 1024) {
        std::size_t n = 0;
        std::tie(ec, n) = co_await stream_.async_read_some(net::buffer(body_buf_), use_tuple);
        discarded += n;
    }
}

// Labels the request with its route template under the routing in force when it started; a
// reload publishes a new routing that the next request picks up.
void client_session::label_route(std::string_view target) {
    w_.shared.routes->refresh(routing_, routing_generation_);
    record_.method_id = parse_method(record_.method);
    record_.route = routing_->resolve(record_.method_id, target, &record_.params);
    record_.route_label = routing_->label(record_.route);
    record_.plan = &routing_->plan(record_.route);
    record_.route_configured = routing_->configured(record_.route);
    record_.routing_generation = routing_generation_;
}

// Keeps what the route's audit rules will read (capture_plan), before hop-by-hop stripping.
void client_session::capture_request(const http::fields& fields, std::string_view target) {
    if (const auto q = target.find('?'); q != std::string_view::npos)
        record_.query.assign(target.substr(q + 1));
    record_.user_agent.assign(fields[http::field::user_agent]);
    for (const auto& name : record_.plan->headers) {
        for (const auto& f : fields) {
            if (beast::iequals(f.name_string(), name)) {
                record_.headers.emplace_back(name, f.value());
                break;
            }
        }
    }
}

void client_session::finish(int status, error_type error) {
    record_.end = steady::now();
    record_.status = status;
    record_.error = error;
    w_.shared.obs->on_request(record_);
}

net::awaitable<void> serve_client(worker& w, tcp::socket socket) {
    client_session session(w, std::move(socket));
    co_await session.run();
}

void close_idle_sessions(worker& w) {
    for (auto* s : w.sessions) s->close_if_idle();
}

void abort_sessions(worker& w) {
    for (auto* s : w.sessions) s->abort();
}

}  // namespace sidelight::proxy
