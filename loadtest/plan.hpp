#pragma once
// A load test plan: the target and its scenarios as read from loadtest.yaml (plan_yaml.cpp), and
// the assertions a scenario's figures must meet (assertion.hpp). Plain data, immutable once
// loaded; no thread-safety concerns.
//
//   target: http://127.0.0.1:8080
//   scenarios:
//     - name: products
//       request: { method: GET, path: /api/products, headers: {..}, body: '..' }
//       duration: 10s        connections: 10      rate: 2000/s (open loop; omit: closed loop)
//       timeout: 10s         threads: 1 (connections and rate split over threads)
//       target: http://..    (this scenario's own target; default: the plan's)
//       assert: { p95: "<500ms", errors: 0, rps: ">=10" }   (or p95: "<=2x other")
//     - name: both
//       parallel: [products, cart]               (those scenarios' requests at once)
//     - name: cache
//       request: { .. }
//       cold_warm: { cold: 1, warm: 100 }        (first requests against the following ones)

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "loadtest/assertion.hpp"

namespace sidelight::loadtest {

struct target_address {
    std::string host = "127.0.0.1";
    std::uint16_t port = 80;
    std::string host_header;  // "host:port" as written in the URL
};

struct request_spec {
    std::string method = "GET";
    std::string path = "/";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

enum class scenario_kind { closed, open, parallel, cold_warm };

struct scenario {
    std::string name;
    scenario_kind kind = scenario_kind::closed;
    std::optional<target_address> target;  // its own (`target:`); otherwise the plan's
    std::string target_url;                // as written, when it has its own
    request_spec request;                  // not for parallel
    std::chrono::milliseconds duration{10'000};
    std::uint32_t connections = 10;  // open and closed loops
    // Where `connections` is written (the scenario itself when it is not), for the check of
    // the descriptor limit before the run.
    config::source_mark connections_mark;
    std::string connections_path;
    std::uint32_t threads = 1;  // the connections (and the rate) split over threads
    double rate = 0;            // requests per second, open loop only
    std::chrono::milliseconds timeout{10'000};
    std::vector<std::size_t> members;  // parallel: indexes of the scenarios it runs
    std::uint32_t cold = 1;            // cold_warm
    std::uint32_t warm = 100;
    std::vector<assertion> assertions;
};

struct plan {
    std::string file;
    std::string target_url;
    target_address target;
    std::vector<scenario> scenarios;
};

// Reads and checks the plan. Throws config::config_error ("file:line:col: key.path: message").
plan load_plan(const std::string& path);
plan load_plan_string(const std::string& yaml, const std::string& file_name);

}  // namespace sidelight::loadtest
