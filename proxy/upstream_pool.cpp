#include "proxy/upstream_pool.hpp"

#include <sys/socket.h>

#include <stdexcept>

#include <spdlog/spdlog.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>

#include "proxy/listener.hpp"
#include "proxy/upstream_tls.hpp"

namespace sidelight::proxy {
namespace {

constexpr std::chrono::milliseconds peek_after{5};

// An idle keep-alive connection must have nothing to read: EOF or stray bytes mean the app
// closed it or broke framing, and reusing it would fail (or worse, mis-frame) the next request.
bool still_usable(upstream_connection& c) {
    if (!c.socket.is_open() || c.buffer.size() != 0) return false;
    char byte;
    const auto n = ::recv(c.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// Bounds a connect or a TLS handshake, which run before the session's watchdog knows the
// connection (connects are rare: connections are pooled): on expiry the timer closes the
// socket, which also stops the walk through further resolved addresses. Its handler may run
// after the operation completed, so it acts only while the operation is in progress, through
// state it shares with the waiting frame.
class close_after {
  public:
    close_after(net::io_context& ioc, tcp_socket& socket, std::chrono::milliseconds limit)
        : state_(std::make_shared<state>(&socket)), timer_(ioc, limit) {
        timer_.async_wait([s = state_](const beast::error_code& ec) {
            if (ec || !s->active) return;
            s->fired = true;
            beast::error_code ignored;
            s->socket->close(ignored);
        });
    }
    // The operation completed: whether the bound had expired (and closed the socket) first.
    bool done() {
        state_->active = false;
        timer_.cancel();
        return state_->fired;
    }

  private:
    struct state {
        explicit state(tcp_socket* s) : socket(s) {}
        tcp_socket* socket;
        bool active = true;
        bool fired = false;
    };
    std::shared_ptr<state> state_;
    io_timer timer_;
};

}  // namespace

upstream_target resolve_upstream(const config::upstream_config& cfg, bool defer) {
    boost::system::error_code ip_ec;
    net::ip::make_address(cfg.address.host, ip_ec);
    if (defer && ip_ec) {
        upstream_target target;
        target.per_connect = true;
        target.host_header = cfg.address.to_string();
        target.authority = upstream_authority(cfg);
        target.settings = cfg;
        return target;
    }
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    boost::system::error_code ec;
    auto results = resolver.resolve(cfg.address.host, std::to_string(cfg.address.port), ec);
    if (ec || results.empty()) {
        throw std::runtime_error("cannot resolve upstream " + cfg.address.to_string() + ": " +
                                 (ec ? ec.message() : std::string("no address")));
    }
    upstream_target target;
    for (const auto& r : results) target.endpoints.push_back(r.endpoint());
    target.host_header = cfg.address.to_string();
    target.authority = upstream_authority(cfg);
    target.settings = cfg;
    return target;
}

upstream_connection::upstream_connection(executor ex, observer& obs)
    : socket(std::move(ex)), observer_(obs) {
    observer_.on_connection(connection_type::upstream, +1);
}

upstream_connection::~upstream_connection() {
    observer_.on_connection(connection_type::upstream, -1);
}

upstream_pool::upstream_pool(net::io_context& ioc, const upstream_target& target, observer& obs)
    : ioc_(ioc), target_(target), observer_(obs), sweep_timer_(ioc) {
    idle_.reserve(target.settings.max_idle);
}

std::unique_ptr<upstream_connection> upstream_pool::take_idle() {
    while (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        // Reused within a few milliseconds (the common case under load) the connection cannot
        // have been idle long enough for the app to close it: skip the peek syscall.
        const bool fresh = std::chrono::steady_clock::now() - conn->idle_since < peek_after;
        if (fresh ? conn->buffer.size() == 0 && conn->socket.is_open() : still_usable(*conn)) {
            conn->reused = true;
            return conn;
        }
    }
    return nullptr;
}

task<std::unique_ptr<upstream_connection>> upstream_pool::connect(connect_error& err) {
    err = {};
    std::vector<tcp::endpoint> resolved;
    if (target_.per_connect) {
        net::ip::basic_resolver<tcp, executor> resolver(ioc_.get_executor());
        const auto& address = target_.settings.address;
        auto [rec, results] =
            co_await resolver.async_resolve(address.host, std::to_string(address.port), use_tuple);
        if (rec || results.empty()) {
            err.ec = rec ? rec : net::error::host_not_found;
            spdlog::warn("event=upstream_resolve_failed upstream={} reason=\"{}\"",
                         address.to_string(), err.ec.message());
            co_return nullptr;
        }
        for (const auto& r : results) resolved.push_back(r.endpoint());
    }
    const auto& endpoints = target_.per_connect ? resolved : target_.endpoints;
    auto conn = std::make_unique<upstream_connection>(ioc_.get_executor(), observer_);
    {
        close_after bound(ioc_, conn->socket, target_.settings.connect_timeout);
        auto [cec, ep] = co_await net::async_connect(conn->socket, endpoints, use_tuple);
        if (bound.done() && cec) cec = beast::error::timeout;
        if (cec) {
            err.ec = cec;
            co_return nullptr;
        }
    }
    // From here on, conn->deadline times its I/O.
    beast::error_code ignored;
    conn->socket.set_option(tcp::no_delay(true), ignored);
    if (target_.tls) {
        if (auto ec = co_await start_tls(*conn)) {
            err = {ec, true};
            co_return nullptr;
        }
    }
    co_return conn;
}

// The handshake has a connect_timeout of its own, and a failure is logged here, once, with
// what OpenSSL said: the client only gets a 502.
task<beast::error_code> upstream_pool::start_tls(upstream_connection& conn) {
    std::string reason;
    close_after bound(ioc_, conn.socket, target_.settings.connect_timeout);
    auto ec = co_await tls_handshake(conn, *target_.tls, target_.tls_name, reason);
    if (bound.done() && ec) {
        ec = beast::error::timeout;
        reason = "handshake timed out";
    }
    if (ec) {
        spdlog::warn("event=upstream_tls_failed upstream={} tls_name={} reason=\"{}\"",
                     target_.host_header, target_.tls_name, reason);
    }
    co_return ec;
}

void upstream_pool::release(std::unique_ptr<upstream_connection> conn) {
    // idle_timeout 0: a connection is closed as soon as its exchange ends.
    if (closed_ || idle_.size() >= target_.settings.max_idle ||
        target_.settings.idle_timeout.count() <= 0)
        return;  // destructor closes it
    conn->idle_since = std::chrono::steady_clock::now();
    idle_.push_back(std::move(conn));
}

void upstream_pool::close_all() {
    closed_ = true;
    idle_.clear();
    sweep_timer_.cancel();
}

task<void> upstream_pool::sweep() {
    const auto idle_timeout = target_.settings.idle_timeout;
    if (idle_timeout.count() <= 0) co_return;  // nothing is pooled (release()): nothing to sweep
    const auto period = std::min<std::chrono::milliseconds>(idle_timeout, std::chrono::seconds(1));
    while (!closed_) {
        sweep_timer_.expires_after(period);
        co_await sweep_timer_.async_wait(use_tuple);
        if (closed_) break;
        const auto cutoff = std::chrono::steady_clock::now() - idle_timeout;
        std::erase_if(idle_, [&](const auto& c) { return c->idle_since < cutoff; });
    }
}

}  // namespace sidelight::proxy
