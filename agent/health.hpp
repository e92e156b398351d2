#pragma once
// Upstream health: every `health.interval`, a TCP connect to the app — or, with `health.path`,
// a `GET path` that must answer 2xx/3xx — within `health.timeout`. The result feeds /healthz
// and /readyz. The checker runs on the admin io_context; snapshot() may be called from any
// thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/config.hpp"

namespace sidelight::agent {

struct upstream_health {
    bool checked = false;  // at least one check has completed
    bool reachable = false;
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
    std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
    boost::asio::steady_timer timer_;
    std::atomic<bool> stopped_{false};
    mutable std::mutex mutex_;
    upstream_health state_;
    std::chrono::steady_clock::time_point last_check_;
};

}  // namespace sidelight::agent
