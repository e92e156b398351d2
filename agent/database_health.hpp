#pragma once
// Reachability of every configured database (`databases`), for /healthz: each is probed every
// `health.interval` (dbproxy/probe.hpp: connect, SSLRequest, TLS when offered; no
// credentials), with the upstream's thresholds (`health.unhealthy_threshold`,
// `health.healthy_threshold`) so one slow probe does not flip the verdict. The first probes run
// at start. Runs on the admin io_context; snapshot() may be called from any thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "agent/health.hpp"
#include "config/config.hpp"
#include "dbproxy/io.hpp"
#include "dbproxy/probe.hpp"

namespace sidelight::agent {

struct database_health {
    std::string name;
    std::string address;  // upstream.address as configured
    upstream_state state = upstream_state::unknown;
    bool reachable = false;
    bool checked = false;
    std::int64_t last_check_age_ms = -1;  // -1 before the first probe completed
    std::string last_error;
};

class database_checker {
  public:
    // Builds each database's probe (throws std::runtime_error naming a database whose ca_file
    // cannot be loaded).
    database_checker(boost::asio::io_context& ioc, const config::config& cfg);
    ~database_checker();
    database_checker(const database_checker&) = delete;
    database_checker& operator=(const database_checker&) = delete;

    void start();
    void stop();
    std::vector<database_health> snapshot() const;

  private:
    struct watched;
    dbproxy::task<void> loop(std::size_t i);
    void record(std::size_t i, std::string error);

    boost::asio::io_context& ioc_;
    config::health_config settings_;
    std::vector<std::unique_ptr<watched>> watched_;
    std::atomic<bool> stopped_{false};
    mutable std::mutex mutex_;  // guards every watched's verdict and state
};

}  // namespace sidelight::agent
