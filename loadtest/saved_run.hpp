#pragma once
// A load test's --json output read back (schema "sidelight.loadtest/1", docs/LOADTEST.md), for
// `sidelight report`: the figures and verdicts as written, not re-measured. Fields the schema
// adds later are ignored; a field that is missing reads as zero, empty or false. Plain data and
// a pure function; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loadtest/result.hpp"

namespace sidelight::loadtest {

struct saved_latency {  // microseconds
    std::uint64_t count = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0, p999 = 0, min = 0, max = 0;
};

struct saved_assertion {
    std::string metric, expected, reference;  // reference: a ratio's other scenario
    double bound = 0, actual = 0;  // ms for latencies, % for shares, the factor for ratios
    bool passed = false;
    std::string note;  // why it failed when `actual` cannot say ("no responses")
};

struct saved_cold_warm {
    saved_latency cold, warm;
};

struct saved_scenario {
    std::string name, kind, method, path, target;  // target: its own, when it had one
    std::vector<std::string> members;              // parallel
    std::uint64_t connections = 0, responses = 0;
    double rate = 0, elapsed_s = 0, rps = 0;
    saved_latency latency;
    error_counts errors;
    std::optional<saved_cold_warm> cold_warm;
    std::vector<saved_assertion> assertions;
    bool passed = false;

    std::uint64_t requests() const { return responses + errors.transport(); }
};

struct saved_run {
    std::string target;
    bool complete = false, passed = false;
    std::vector<saved_scenario> scenarios;
};

// Throws std::runtime_error ("invalid JSON: ...", "not a sidelight.loadtest/1 report ...").
saved_run parse_saved_run(std::string_view json_text);

}  // namespace sidelight::loadtest
