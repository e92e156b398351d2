// Merging run results (result.hpp).
#include "loadtest/result.hpp"

#include <algorithm>

namespace sidelight::loadtest {

std::uint64_t error_counts::non_2xx() const {
    std::uint64_t n = 0;
    for (const auto& [code, count] : status) n += count;
    return n;
}

void error_counts::add(const error_counts& other) {
    connect += other.connect;
    timeout += other.timeout;
    reset += other.reset;
    closed += other.closed;
    parse += other.parse;
    for (const auto& [code, count] : other.status) status[code] += count;
}

void run_result::add(const run_result& other) {
    latency.add(other.latency);
    uncorrected.add(other.uncorrected);
    cold.add(other.cold);
    warm.add(other.warm);
    responses += other.responses;
    bytes_read += other.bytes_read;
    bytes_written += other.bytes_written;
    errors.add(other.errors);
    elapsed_s = std::max(elapsed_s, other.elapsed_s);
}

}  // namespace sidelight::loadtest
