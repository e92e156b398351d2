#pragma once
// The per-request metric families, with the names of the system sidelight was created from
// (DESIGN.md: they are the users' API):
//   api_latency_ms{method,route,status_code}        histogram, buckets from metrics.buckets
//   api_requests_total{method,route,status_code}    counter
//   api_error_total{method,route,error_type}        counter
//   api_upstream_latency_ms{method,route}           histogram: the app's own time
// with `metrics.prefix` prepended and `metrics.const_labels` added, and a `listener` label
// (ingress, or the egress listener's name) only when egress listeners are configured.
//
// One instance per distinct metrics config, in its own registry: a reload that changes the
// buckets starts fresh series (Prometheus sees a counter reset), one that does not keeps them.
// Recording goes through series_cache, one per worker thread, so the hot path touches only
// pre-resolved series: a hash lookup in a thread-local map and prometheus-cpp's per-series
// operations; Family::Add (lock + label hashing) runs once per new series per thread.
// Exemplars: a request whose trace is sampled (tracing on) leaves its trace id on the
// api_latency_ms bucket it fell in, the latest per bucket and series, for the OpenMetrics
// exposition (openmetrics.hpp). Each series has its own small lock, taken only by sampled
// requests of that series and by a scrape.
// Thread-safety: record() from any thread; collect() and exemplars_of() from any thread.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "agent/openmetrics.hpp"
#include "config/config.hpp"
#include "routes/request_record.hpp"

namespace sidelight::agent {

class traffic_metrics {
  public:
    explicit traffic_metrics(const config::config& cfg);
    // `listeners`: the `listener` label values by record.listener; empty: no such label.
    explicit traffic_metrics(const config::metrics_config& cfg,
                             std::vector<std::string> listeners = {});

    // The metrics settings (without the metric rules, which are not ours).
    const config::metrics_config& settings() const { return settings_; }
    // The `listener` label of a record's listener ("ingress", an egress name); "" without
    // egress listeners.
    std::string_view listener_name(std::size_t listener) const {
        return listener < listeners_.size() ? std::string_view(listeners_[listener])
                                            : std::string_view();
    }
    // Whether `cfg` would build these same families (a reload keeps them then).
    bool same_as(const config::config& cfg) const;
    static std::vector<std::string> listener_names(const config::config& cfg);
    std::vector<prometheus::MetricFamily> collect() const { return registry_->Collect(); }

    // The latest exemplar of each api_latency_ms bucket of one series (+Inf last).
    struct exemplar_slots {
        std::mutex mutex;
        std::vector<std::optional<exemplar>> by_bucket;
    };

    // The series of one (route, method, status), resolved once.
    struct series {
        prometheus::Histogram* latency = nullptr;
        exemplar_slots* exemplars = nullptr;
        prometheus::Counter* requests = nullptr;
        prometheus::Histogram* upstream_latency = nullptr;
        // by error_type, filled on first use
        std::array<prometheus::Counter*, routes::error_type_count> errors{};
    };
    series resolve(const routes::request_record& r) const;
    prometheus::Counter* resolve_error(const routes::request_record& r) const;

    // Observes one finished request into `s`.
    void record(series& s, const routes::request_record& r) const;

    // The exemplars of an api_latency_ms series (its labels as collected), by bucket; empty
    // for another family or a series without any.
    std::vector<std::optional<exemplar>> exemplars_of(const prometheus::MetricFamily& family,
                                                      const prometheus::ClientMetric& metric) const;

  private:
    // method, route, status_code and listener: what tells the series apart.
    static std::string series_key(std::string_view method, std::string_view route,
                                  std::string_view status, std::string_view listener);
    void add_listener(prometheus::Labels& labels, const routes::request_record& r) const;

    config::metrics_config settings_;
    std::vector<std::string> listeners_;
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Histogram>* latency_;
    prometheus::Family<prometheus::Counter>* requests_;
    prometheus::Family<prometheus::Counter>* errors_;
    prometheus::Family<prometheus::Histogram>* upstream_latency_;
    mutable std::mutex exemplars_mutex_;  // the map only; each slot has its own lock
    mutable std::unordered_map<std::string, std::unique_ptr<exemplar_slots>> exemplars_;
};

// A worker thread's map from (route, method, status) to resolved series, valid for one
// routing generation and one traffic_metrics instance.
class series_cache {
  public:
    void record(const traffic_metrics& metrics, const routes::request_record& r);

  private:
    const traffic_metrics* owner_ = nullptr;
    std::uint64_t generation_ = 0;
    std::unordered_map<std::uint64_t, traffic_metrics::series> series_;
};

}  // namespace sidelight::agent
