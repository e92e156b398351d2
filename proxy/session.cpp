// The client session's keep-alive loop and request head: reading the head (with its time
// limits), checking it (header_check), parsing it, labelling it with its route, capturing what
// the audit rules read and rewriting it for the app; then respond() (exchange.cpp) takes over.
// Also the worker's entry points of session.hpp. Members of client_session (client_session.hpp).

#include "proxy/session.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>

#include "proxy/client_address.hpp"
#include "proxy/client_session.hpp"
#include "proxy/header_check.hpp"
#include "proxy/header_rewrite.hpp"
#include "proxy/http_text.hpp"
#include "proxy/proxy_answer.hpp"
#include "routes/route_path.hpp"

namespace sidelight::proxy {
namespace {

// Whether an Upgrade field's protocol list names h2c (case-insensitive, RFC 9110 7.8).
bool names_h2c(std::string_view upgrade) {
    for (std::size_t pos = 0; pos <= upgrade.size();) {
        auto comma = upgrade.find(',', pos);
        if (comma == std::string_view::npos) comma = upgrade.size();
        auto token = upgrade.substr(pos, comma - pos);
        while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
            token.remove_prefix(1);
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
            token.remove_suffix(1);
        if (beast::iequals(token, "h2c")) return true;
        pos = comma + 1;
    }
    return false;
}

constexpr std::size_t read_chunk = 4096;

// Beast accepts any byte inside a quoted chunk-extension value, a bare LF included; the
// extensions are never forwarded (the body is chunked anew), but a request that a stricter
// parser (HAProxy's, or the app's) would frame differently is refused all the same.
struct chunk_extension_check {
    void operator()(std::uint64_t, std::string_view extensions, beast::error_code& ec) const {
        for (unsigned char c : extensions) {
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                ec = http::error::bad_chunk_extension;
                return;
            }
        }
    }
};
chunk_extension_check check_chunk_extensions;  // stateless: shared by every parser

// Where the head in `data` ends (past its first empty line), looking from `from` on; npos when
// it has not ended yet. A bare-LF empty line ends it too, so that such a head is refused at
// once by the byte check rather than waited on.
std::size_t head_end(std::string_view data, std::size_t from) {
    const auto crlf = data.find("\r\n\r\n", from);
    const auto lf = data.find("\n\n", from);
    return std::min(crlf == std::string_view::npos ? crlf : crlf + 4,
                    lf == std::string_view::npos ? lf : lf + 2);
}

}  // namespace

client_session::client_session(worker& w, tcp_socket socket)
    : w_(w), cfg_(*w.shared.cfg), socket_(std::move(socket)) {
    link_ = w_.sessions.insert(w_.sessions.end(), this);
    w_.shared.obs->on_connection(connection_type::client, +1);
    beast::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    const auto peer = socket_.remote_endpoint(ec);
    peer_ = normalize_address(peer.address());
    peer_ip_ = ec ? std::string("unknown") : peer_.to_string();
    record_.client_ip = peer_ip_;
    record_.listener = w.shared.listener.index;  // kept by record_.reset()
    trusted_peer_ = !ec && is_trusted_peer(peer_, w.shared.trusted_proxies);
}

client_session::~client_session() {
    w_.sessions.erase(link_);
    w_.shared.obs->on_connection(connection_type::client, -1);
    w_.shared.client_connections.fetch_sub(1, std::memory_order_relaxed);
}

void client_session::close_if_idle() {
    if (idle_) socket_.cancel();
}

// The grace is over: both sockets close, so that an exchange waiting for the app (its answer
// may be 30 s away) unwinds now and records its request.
void client_session::abort() {
    aborted_ = true;
    beast::error_code ec;
    socket_.close(ec);
    if (active_conn_) active_conn_->socket.close(ec);
}

task<void> client_session::run() {
    while (co_await serve_one() == next::keep_alive) {
    }
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
}

// Reads until the whole request head (through CRLFCRLF) is buffered and returns its length;
// 0 when the connection ended, timed out or the head was refused (already answered).
task<std::size_t> client_session::read_head() {
    const auto& limits = cfg_.limits;
    std::size_t scanned = 0;
    idle_ = buffer_.size() == 0;
    if (idle_) {
        deadline_.arm(limits.keepalive_timeout);
    } else {  // a pipelined request is already buffered
        stamp_start();
        deadline_.arm(limits.header_read_timeout);
    }
    struct disarm_on_exit {
        io_deadline& d;
        ~disarm_on_exit() { d.disarm(); }
    } disarm{deadline_};
    for (;;) {
        std::string_view data(static_cast<const char*>(buffer_.data().data()), buffer_.size());
        while (scanned == 0 && data.starts_with("\r\n")) {  // RFC 9112 2.2: leading empty lines
            buffer_.consume(2);
            data.remove_prefix(2);
        }
        const auto end = head_end(data, scanned > 3 ? scanned - 3 : 0);
        if (end > limits.max_header_bytes &&
            (end != std::string_view::npos || data.size() > limits.max_header_bytes)) {
            co_await send_error(proxy_answer::header_too_large, false);
            co_return 0;
        }
        if (end != std::string_view::npos) co_return end;
        scanned = data.size();
        auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(read_chunk), use_tuple);
        deadline_.settle(ec);
        if (ec) {
            // A head that stalls (slowloris) is answered 408 and closed, as HAProxy does: a
            // slow but honest client (a phone on a bad link) learns why, and browsers retry a
            // request that got 408 on a reused connection. The answer is a few hundred bytes
            // into an empty send buffer, and the lingering close after it is capped at 1 s.
            if (!idle_ && ec == beast::error::timeout)
                co_await send_error(proxy_answer::request_timeout, false);
            co_return 0;
        }
        buffer_.commit(n);
        if (idle_) {
            idle_ = false;
            stamp_start();
            deadline_.arm(limits.header_read_timeout);
        }
    }
}

task<client_session::next> client_session::serve_one() {
    if (w_.shared.draining.load(std::memory_order_relaxed) && buffer_.size() == 0)
        co_return next::close;
    record_.reset();
    deadline_.uncap();
    const std::size_t head_size = co_await read_head();
    if (head_size == 0) co_return next::close;
    const std::string_view head(static_cast<const char*>(buffer_.data().data()), head_size);
    const auto verdict =
        check_request_head(head, {cfg_.limits.max_url_bytes, cfg_.limits.max_header_count});
    if (verdict.verdict == head_verdict::bad_request) {
        // Refused before the request id is chosen: a fresh one ties this line to the access
        // log's.
        generate_request_id(record_.request_id);
        spdlog::debug("event=bad_request request_id={} client_ip={} reason=\"{}\"",
                      record_.request_id, record_.client_ip, verdict.reason);
    }
    if (verdict.verdict != head_verdict::ok)
        co_return co_await send_error(head_answer(verdict.verdict), false);
    request_parser rp;
    rp.on_chunk_header(check_chunk_extensions);
    rp.header_limit(static_cast<std::uint32_t>(head_size + 1));
    if (cfg_.limits.max_body_bytes)
        rp.body_limit(cfg_.limits.max_body_bytes);
    else
        rp.body_limit(boost::none);
    beast::error_code ec;
    const auto used = rp.put(net::buffer(head.data(), head.size()), ec);
    if (ec == http::error::body_limit)  // Content-Length over limits.max_body_bytes
        co_return co_await send_error(proxy_answer::payload_too_large, false);
    if (ec || !rp.is_header_done()) co_return co_await send_error(proxy_answer::bad_request, false);
    buffer_.consume(used);
    const auto after = co_await forward(rp);
    // A body read grew the buffer to 16 KiB: give it back while the connection idles, so that
    // thousands of idle keep-alive clients cost 4 KiB each, not 16.
    if (buffer_.size() == 0 && buffer_.capacity() > read_chunk) buffer_.shrink_to_fit();
    co_return after;
}

task<client_session::next> client_session::forward(request_parser& rp) {
    auto& req = rp.get();
    record_.method = req.method_string();
    const auto target = req.target();
    // The path alone: an absolute-form target's scheme and authority (which may carry a user
    // and password) never reach the record, the access log, a span or an audit event.
    const std::string_view raw(target.data(), target.size());
    const auto path = routes::path_of_target(raw);
    record_.path.assign(path.ok ? path.path : raw.substr(0, raw.find('?')));
    label_route(target);
    origin_.clear();  // what refuse() reads when the fields were not stripped yet
    if (!capture_request(req, target)) co_return co_await refuse(req, proxy_answer::bad_request);
    exchange_state x{rp, nullptr, std::nullopt};
    x.client_version = req.version();
    x.client_keep_alive = rp.keep_alive();
    x.head = req.method() == http::verb::head;
    if (const auto refused = vet_request(rp)) co_return co_await refuse(req, *refused);
    const bool expect_continue = beast::iequals(origin_.expect, "100-continue");
    rewrite_request(x);
    if (expect_continue && !rp.is_done()) {
        if (!co_await send_continue()) co_return client_left();
    }
    // The body's total time (limits.body_read_timeout) bounds every read of it; the answer
    // is not bound by it (respond() and send_error() lift the cap).
    if (!rp.is_done() && cfg_.limits.body_read_timeout.count() != 0)
        deadline_.cap(cfg_.limits.body_read_timeout);
    if (strict(audit_phase::request)) {
        if (auto refused = co_await strict_request(x)) co_return *refused;
    }
    if (w_.shared.upstream.tls) co_return co_await respond<tls_stream>(x);
    co_return co_await respond<tcp_socket>(x);
}

// Answers a parsed request refused before rewrite_request(): with tracing on, its trace starts
// here, so that it has its server span too, continuing the traceparent it sent (still among
// the fields before strip_request(), in origin_ after).
task<client_session::next> client_session::refuse(const fields& fields, proxy_answer answer) {
    if (cfg_.tracing.enabled && !transparent() && !record_.trace.active) {
        for (const auto& f : fields) {
            if (f.name() == http::field::unknown &&
                beast::iequals(f.name_string(), "traceparent") && ++origin_.traceparents == 1)
                origin_.traceparent.assign(f.value());
        }
        begin_trace(origin_, cfg_.tracing, record_.trace);
    }
    return send_error(answer, false);
}

// What refuses a parsed request before it is rewritten: a declared body over the limit, its
// hop-by-hop fields (stripped here, what they said kept in origin_), an Expect other than
// 100-continue.
std::optional<proxy_answer> client_session::vet_request(request_parser& rp) {
    if (const auto len = rp.content_length();
        len && cfg_.limits.max_body_bytes && *len > cfg_.limits.max_body_bytes) {
        return proxy_answer::payload_too_large;
    }
    const auto mode = transparent() ? rewrite_mode::transparent : rewrite_mode::forwarding;
    if (!strip_request(rp.get(), origin_, mode, cfg_.tracing.enabled) ||
        names_captured_field(origin_.connection_options)) {
        // A Connection option naming what sidelight (or a rule) reads would remove it between
        // what was parsed and what the app gets (the head check refuses most of these first).
        return proxy_answer::bad_request;
    }
    record_.user_agent.assign(origin_.user_agent);
    if (!origin_.expect.empty() && !beast::iequals(origin_.expect, "100-continue"))
        return proxy_answer::expectation_failed;
    return std::nullopt;
}

// Makes the request what the app gets: HTTP/1.1, chunked anew when it came chunked, with the
// fields the proxy sets in extra_ (Upgrade, the forwarding fields, the request id). Through an
// egress listener, only the upstream's own Host: the outside API sees the app's request as the
// app wrote it (the record still gets an id, the app's when sane, for the logs).
void client_session::rewrite_request(exchange_state& x) {
    auto& rp = x.request;
    const bool chunked = rp.chunked();
    // `Upgrade: x` together with `Connection: upgrade` (RFC 9110 7.8), on a bodiless request.
    // Otherwise the Upgrade field is dropped (hop-by-hop) and the app answers plain HTTP/1.1:
    // - over a TLS upstream, where the tunnel cannot run (deliver_response);
    // - for h2c (RFC 9113 3.1 deprecates it): the HTTP/2 requests inside the tunnel would pass
    //   unseen by route metrics and audit rules.
    if (x.client_version >= 11 && rp.is_done() && rp.upgrade() && !origin_.upgrade.empty() &&
        !w_.shared.upstream.tls && !names_h2c(origin_.upgrade))
        x.upgrade = origin_.upgrade;
    if (!transparent() && !w_.shared.trusted_proxies.empty()) {
        resolve_client_ip(peer_, origin_.forwarded_for, w_.shared.trusted_proxies,
                          record_.client_ip);
    }
    choose_request_id(origin_, record_.request_id);
    extra_.clear();
    if (!x.upgrade.empty()) append_upgrade(extra_, x.upgrade);
    if (transparent()) {
        append_host(extra_, w_.shared.upstream.authority);
    } else {
        append_forwarded(extra_, origin_, peer_ip_, record_.request_id,
                         w_.shared.upstream.host_header, trusted_peer_);
        if (cfg_.tracing.enabled) {
            begin_trace(origin_, cfg_.tracing, record_.trace);
            append_trace(extra_, record_.trace, origin_);
        }
    }
    rp.get().version(11);
    if (chunked) rp.get().chunked(true);
}

// Answers `Expect: 100-continue` itself: the app gets a plain request with a body. False when
// the client went away.
task<bool> client_session::send_continue() {
    static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
    deadline_.arm(cfg_.limits.body_idle_timeout);
    auto [wec, n] = co_await net::async_write(socket_, net::buffer(cont), use_tuple);
    deadline_.done(wec);
    co_return !wec;
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
// False when a header they read came twice: the rules would take one value and the app may
// take the other (or both joined), so the request is refused rather than misattributed.
bool client_session::capture_request(const fields& fields, std::string_view target) {
    if (const auto q = target.find('?'); q != std::string_view::npos)
        record_.query.assign(target.substr(q + 1));
    for (const auto& want : record_.plan->headers) {
        if (!want.methods.contains(record_.method_id)) continue;  // only other methods' rules
        bool seen = false;
        for (const auto& f : fields) {
            if (!beast::iequals(f.name_string(), want.name)) continue;
            if (seen && want.unique.contains(record_.method_id)) return false;
            if (!seen) record_.headers.emplace_back(want.name, f.value());
            seen = true;
        }
    }
    return true;
}

// Whether a Connection option ("X-A,X-B,") names a header an audit rule of this route reads
// for this method: the rule would see a value the app never receives.
bool client_session::names_captured_field(std::string_view options) const {
    if (options.empty()) return false;
    return any_list_element(options, [&](std::string_view option) {
        for (const auto& want : record_.plan->headers) {
            if (want.unique.contains(record_.method_id) && beast::iequals(option, want.name))
                return true;
        }
        return false;
    });
}

void client_session::finish(int status, error_type error) {
    record_.end = steady::now();
    record_.status = status;
    record_.error = error;
    w_.shared.obs->on_request(record_);
}

client_session::next client_session::client_left() {
    finish(499, error_type::client_abort);
    return next::close;
}

task<void> serve_client(worker& w, tcp_socket socket) {
    client_session session(w, std::move(socket));
    co_await session.run();
}

void close_idle_sessions(worker& w) {
    for (auto* s : w.sessions) s->close_if_idle();
}

void run_watchdog(worker& w) {
    const auto now = steady::now();
    for (auto* s : w.sessions) s->on_watchdog(now);
}

void abort_sessions(worker& w) {
    for (auto* s : w.sessions) s->abort();
}

}  // namespace sidelight::proxy
