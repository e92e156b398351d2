#pragma once
// Upstream health: every `health.interval`, a TCP connect to the app — or, with `health.path`,
// a `GET path` that must answer 2xx/3xx — within `health.timeout`; the first probe runs at
// start. The verdict is unknown until `health.unhealthy_threshold` consecutive probes failed or
// `health.healthy_threshold` consecutive probes succeeded, and flips only after as many in a
// row, so one slow probe under load does not take the pod out of rotation. It feeds /healthz
// and /readyz. The checker runs on the admin io_context; snapshot() may be called from any
// thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/config.hpp"

namespace sidelight::agent {

enum class upstream_state { unknown, reachable, unreachable };
std::string_view to_string(upstream_state s);

// The thresholded verdict over consecutive probe results. Not thread-safe: the checker guards it.
class probe_verdict {
  public:
    probe_verdict(unsigned unhealthy_threshold, unsigned healthy_threshold)
        : unhealthy_threshold_(unhealthy_threshold), healthy_threshold_(healthy_threshold) {}
    // Counts one probe; true when the verdict changed.
    bool record(bool ok);
    upstream_state state() const { return state_; }

  private:
    unsigned unhealthy_threshold_;
    unsigned healthy_threshold_;
    unsigned failures_ = 0;   // consecutive, up to the last probe
    unsigned successes_ = 0;  // consecutive, up to the last probe
    upstream_state state_ = upstream_state::unknown;
};

struct upstream_health {
    bool checked = false;  // at least one check has completed
    upstream_state state = upstream_state::unknown;
    bool reachable = false;               // state == reachable
    std::int64_t last_check_age_ms = -1;  // since the last completed check; -1 before the first
    std::string last_error;
};

class health_checker {
  public:
    health_checker(boost::asio::io_context& ioc, const config::config& cfg,
                   std::vector<boost::asio::ip::tcp::endpoint> endpoints);
    void start();
    void stop();
    upstream_health snapshot() const;

  private:
    boost::asio::awaitable<void> loop();
    boost::asio::awaitable<std::string> check_once();  // "" when healthy, else the reason
    void record(std::string error);

    boost::asio::io_context& ioc_;
    config::health_config settings_;
    std::string host_header_;
    // upstream.tls: the probe speaks TLS as the proxy does (a plain GET to a TLS app is reset,
    // and the pod would never be ready), verifying the same name with the same CAs.
    std::shared_ptr<boost::asio::ssl::context> tls_;
    std::string tls_name_;
    std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
    boost::asio::steady_timer timer_;
    std::atomic<bool> stopped_{false};
    mutable std::mutex mutex_;
    probe_verdict verdict_;
    upstream_health state_;
    std::chrono::steady_clock::time_point last_check_;
};

}  // namespace sidelight::agent
