#pragma once
// What one load run measured: latency histograms, counts, bytes and errors by kind. Filled by
// one load thread (engine.hpp), merged with add() for a parallel scenario. Plain data.

#include <atomic>
#include <cstdint>
#include <map>

#include "loadtest/histogram.hpp"

namespace sidelight::loadtest {

struct error_counts {
    std::uint64_t connect = 0;            // refused, unreachable, unresolvable
    std::uint64_t timeout = 0;            // no complete response within the scenario's timeout
    std::uint64_t reset = 0;              // ECONNRESET / EPIPE with a request in flight
    std::uint64_t closed = 0;             // the server closed before the response was complete
    std::uint64_t parse = 0;              // a malformed response
    std::map<int, std::uint64_t> status;  // non-2xx responses by status code

    std::uint64_t transport() const { return connect + timeout + reset + closed + parse; }
    std::uint64_t non_2xx() const;
    std::uint64_t total() const { return transport() + non_2xx(); }
    void add(const error_counts& other);
};

struct run_result {
    histogram latency;            // every response; open loop: from the intended send time
    histogram uncorrected;        // every response, from the actual send time
    histogram cold, warm;         // cold_warm only
    std::uint64_t responses = 0;  // any status
    std::uint64_t bytes_read = 0;
    std::uint64_t bytes_written = 0;
    error_counts errors;
    double elapsed_s = 0;  // first send to the end of the drain

    std::uint64_t attempts() const { return responses + errors.transport(); }
    double rps() const { return elapsed_s > 0 ? static_cast<double>(responses) / elapsed_s : 0; }
    // Merges a run that took place at the same time (a parallel scenario's members).
    void add(const run_result& other);
};

// What a running load thread publishes for the progress line; read from another thread.
struct live_counters {
    std::atomic<std::uint64_t> responses{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> p95_us{0};
};

}  // namespace sidelight::loadtest
