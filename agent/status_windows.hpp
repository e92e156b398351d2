#pragma once
// The status page's numbers per route (method, route template, and listener when there are
// egress listeners): req/s, P50/P95/P99, error rate and client aborts over the last 1 and 5
// minutes, and a P95 sparkline in 5 s steps. They come from the same series /metrics exposes:
// a sampler reads the api_latency_ms histograms (whose counts per status_code are the requests)
// every `step` and keeps 5 minutes of cumulative snapshots in a ring; a window is the difference
// between the freshest snapshot and the one a window earlier, and a quantile is interpolated
// linearly inside its bucket as Prometheus' histogram_quantile() does. Nothing runs per request:
// the counters are the ones the traffic metrics keep anyway.
//
// A reload that changes the metric settings replaces the traffic families (new series from 0,
// perhaps other buckets): a snapshot remembers which families it read, and a difference across
// a replacement counts from 0, as Prometheus treats a counter reset.
//
// Thread-safety: sample() and report() from any thread (one mutex guards the ring); the pure
// functions are pure.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <prometheus/metric_family.h>

namespace sidelight::agent::status {

using clock = std::chrono::steady_clock;

// Cumulative counts of one route at one instant.
struct route_counts {
    std::vector<double> buckets;      // cumulative, by upper bound, +Inf last
    std::uint64_t requests = 0;       // every status
    std::uint64_t errors = 0;         // 5xx answered to the client
    std::uint64_t client_aborts = 0;  // 499: the client left before the answer was complete
};

// method, route, listener ("" without egress listeners)
using route_key = std::tuple<std::string, std::string, std::string>;

struct snapshot {
    clock::time_point at;
    std::uint64_t families = 0;  // which traffic families were read (a replacement resets)
    std::vector<double> bounds;  // the finite upper bounds
    std::map<route_key, route_counts> routes;
};

// The routes of the histogram family `latency_name` among `families`, summed over status codes.
snapshot take_snapshot(const std::vector<prometheus::MetricFamily>& metric_families,
                       const std::string& latency_name, clock::time_point at,
                       std::uint64_t generation);

// Prometheus' histogram_quantile() over cumulative bucket counts (+Inf last): linear
// interpolation inside the bucket holding the rank, 0 as the first bucket's lower bound, the
// highest finite bound when the rank falls in +Inf. None without observations.
std::optional<double> histogram_quantile(double q, const std::vector<double>& bounds,
                                         const std::vector<double>& cumulative);

// What happened to one route between two snapshots; counts from 0 when `older` read other
// families or a count went down (a reset).
route_counts difference(const snapshot& newer, const snapshot& older, const route_key& key);

struct window {
    double seconds = 0;  // how long the window actually spans (shorter just after start)
    std::uint64_t requests = 0;
    double rate = 0;  // requests per second
    std::optional<double> p50, p95, p99;
    double error_rate = 0;         // share of 5xx, 0..1
    double client_abort_rate = 0;  // share of 499, 0..1
};

window measure(const snapshot& newer, const snapshot& older, const route_key& key);

struct route_report {
    route_key key;
    window last_1m;
    window last_5m;
    std::vector<std::optional<double>> sparkline;  // P95 per step, oldest first; none: idle
};

// The reports of every route seen in `ring` (oldest first) and `now` (the freshest snapshot).
std::vector<route_report> report(const std::deque<snapshot>& ring, const snapshot& now);

// The sampler: keeps the ring, fed by sample() every step (the owner's timer calls it).
class windows {
  public:
    // `read` returns a snapshot of the traffic families as they are at its argument's time.
    using reader = std::function<snapshot(clock::time_point)>;
    explicit windows(reader read, std::chrono::seconds step = std::chrono::seconds(5));

    std::chrono::seconds step() const { return step_; }
    void sample(clock::time_point at = clock::now());
    // Every route's windows up to now (a fresh snapshot taken for the newest edge).
    std::vector<route_report> report(clock::time_point at = clock::now()) const;

  private:
    reader read_;
    std::chrono::seconds step_;
    std::size_t capacity_;  // 5 minutes of steps and one more, so a 5-minute base exists
    mutable std::mutex mutex_;
    std::deque<snapshot> ring_;
};

}  // namespace sidelight::agent::status
