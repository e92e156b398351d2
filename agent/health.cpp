#include "agent/health.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <openssl/ssl.h>

#include "proxy/upstream_tls.hpp"

namespace sidelight::agent {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// GET `request` on a connected stream: "" for a 2xx or 3xx answer, else why not.
template <class Stream>
net::awaitable<std::string> ask(Stream& stream, const std::string& request) {
    auto [wec, wn] = co_await net::async_write(stream, net::buffer(request), use_tuple);
    if (wec) co_return "send: " + wec.message();
    net::streambuf buf(4096);
    auto [rec, rn] = co_await net::async_read_until(stream, buf, "\r\n", use_tuple);
    if (rec) co_return "read: " + rec.message();
    std::string line(net::buffers_begin(buf.data()), net::buffers_begin(buf.data()) + rn);
    // "HTTP/1.1 200 OK"
    if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) co_return "not an HTTP response";
    const int status = std::atoi(line.c_str() + 9);
    if (status < 200 || status >= 400) co_return "status " + std::to_string(status);
    co_return "";
}

}  // namespace

std::string_view to_string(upstream_state s) {
    switch (s) {
        case upstream_state::reachable:
            return "reachable";
        case upstream_state::unreachable:
            return "unreachable";
        case upstream_state::unknown:
            break;
    }
    return "unknown";
}

bool probe_verdict::record(bool ok) {
    failures_ = ok ? 0 : failures_ + 1;
    successes_ = ok ? successes_ + 1 : 0;
    const auto before = state_;
    if (ok && successes_ >= healthy_threshold_) state_ = upstream_state::reachable;
    if (!ok && failures_ >= unhealthy_threshold_) state_ = upstream_state::unreachable;
    return state_ != before;
}

health_checker::health_checker(net::io_context& ioc, const config::config& cfg,
                               std::vector<net::ip::tcp::endpoint> endpoints)
    : ioc_(ioc),
      settings_(cfg.health),
      host_header_(cfg.upstream.address.to_string()),
      tls_(cfg.upstream.tls.enabled ? proxy::make_tls_context(cfg.upstream.tls, "upstream")
                                    : nullptr),
      tls_name_(proxy::tls_name(cfg.upstream)),
      endpoints_(std::move(endpoints)),
      timer_(ioc),
      verdict_(settings_.unhealthy_threshold, settings_.healthy_threshold) {}

void health_checker::start() {
    net::co_spawn(ioc_, loop(), [](std::exception_ptr e) {
        if (e) spdlog::error("health: checker stopped by exception");
    });
}

void health_checker::stop() {
    stopped_ = true;
    net::post(ioc_, [this] { timer_.cancel(); });
}

upstream_health health_checker::snapshot() const {
    std::lock_guard lock(mutex_);
    upstream_health s = state_;
    if (s.checked) {
        s.last_check_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - last_check_)
                                  .count();
    }
    return s;
}

void health_checker::record(std::string error) {
    std::lock_guard lock(mutex_);
    const bool changed = verdict_.record(error.empty());
    state_.checked = true;
    state_.state = verdict_.state();
    state_.reachable = state_.state == upstream_state::reachable;
    if (changed && state_.reachable) {
        spdlog::info("health: upstream reachable");
    } else if (changed) {
        spdlog::warn("health: upstream unreachable error=\"{}\"", error);
    } else if (!error.empty() && state_.last_error != error) {
        // A new failure below the threshold: the verdict stands, but it is worth a line.
        spdlog::warn("health: probe failed state={} error=\"{}\"", to_string(state_.state), error);
    }
    state_.last_error = std::move(error);
    last_check_ = std::chrono::steady_clock::now();
}

net::awaitable<void> health_checker::loop() {
    while (!stopped_) {
        record(co_await check_once());
        timer_.expires_after(settings_.interval);
        co_await timer_.async_wait(use_tuple);
    }
}

net::awaitable<std::string> health_checker::check_once() {
    boost::beast::tcp_stream stream(ioc_);
    stream.expires_after(settings_.timeout);
    auto [ec, ep] = co_await stream.async_connect(endpoints_, use_tuple);
    if (ec) co_return "connect: " + ec.message();
    const std::string request = "GET " + settings_.path + " HTTP/1.1\r\nHost: " + host_header_ +
                                "\r\nUser-Agent: sidelight-health\r\nConnection: close\r\n\r\n";
    // (Awaited into a variable, then returned: GCC 12 miscompiled a co_await inside co_return.)
    if (!tls_) {
        if (settings_.path.empty()) co_return "";
        std::string verdict = co_await ask(stream, request);
        co_return verdict;
    }
    net::ssl::stream<boost::beast::tcp_stream&> tls(stream, *tls_);
    boost::system::error_code not_ip;
    net::ip::make_address(tls_name_, not_ip);
    if (not_ip) SSL_set_tlsext_host_name(tls.native_handle(), tls_name_.c_str());  // SNI: names
    tls.set_verify_mode(net::ssl::verify_peer);
    tls.set_verify_callback(net::ssl::host_name_verification(tls_name_));
    auto [hec] = co_await tls.async_handshake(net::ssl::stream_base::client, use_tuple);
    if (hec) co_return "TLS handshake: " + hec.message();
    if (settings_.path.empty()) co_return "";
    std::string verdict = co_await ask(tls, request);
    co_return verdict;
}

}  // namespace sidelight::agent
