#pragma once
// /healthz's body, and the status page's health section, from what the checkers and the audit
// pipeline report at one instant (a pure function: agent/app.cpp gathers the inputs).
//
//   status  unhealthy  the upstream known unreachable, the audit store failing, or the database
//                      relay stopped (503)
//           degraded   the fleet store's forwarder away or in conflict, or a database away (200)
//           unknown    no verdict on the upstream yet (200: traffic may well flow)
//           ok

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "agent/database_health.hpp"
#include "agent/health.hpp"
#include "audit/forwarder.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"

namespace sidelight::agent {

// The database listeners' relay (dbproxy/relay.hpp): its engine, and why it stopped.
struct relay_health {
    std::string engine;   // "io_uring" or "epoll"
    std::string failure;  // "" while it runs
    bool stopped() const { return !failure.empty(); }
};

struct health_inputs {
    upstream_health upstream;
    std::optional<std::vector<database_health>> databases;  // none without `databases`
    std::optional<relay_health> relay;                      // none without `databases`
    bool audit_healthy = true;
    std::optional<audit::store_failure> audit_error;  // the store's most recent failure
    std::int64_t queue_depth = 0;
    std::optional<audit::forwarder_status> forward;  // the Postgres store only
    bool draining = false;
    std::chrono::seconds uptime{0};
};

// `unhealthy` is set when /healthz answers 503.
boost::json::object health_report(const config::config& cfg, const health_inputs& in,
                                  bool& unhealthy);

}  // namespace sidelight::agent
