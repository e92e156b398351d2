#pragma once
// All of sidelight's metrics, and the proxy observer that feeds them.
//
//  - traffic families (traffic_metrics.hpp), replaced when a reload changes metrics settings;
//  - active_connections{type} (client, upstream, websocket, db);
//  - sidelight_* self metrics: build info, routes configured, unmatched requests, config
//    reloads by result;
//  - the standard process_* metrics.
// `metrics.const_labels` are added to every series of every family at render().
//
// The text exposition (format 0.0.4) is rendered by prometheus-cpp's TextSerializer and served
// by our own admin server. Thread-safety: on_request/on_connection run on every worker thread
// concurrently (each worker keeps its own series cache); render() and apply() from any thread.

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "agent/process_metrics.hpp"
#include "agent/traffic_metrics.hpp"
#include "config/config.hpp"
#include "routes/observer.hpp"
#include "routes/routing.hpp"
#include "util/published.hpp"

namespace sidelight::agent {

class metrics : public routes::observer {
  public:
    explicit metrics(const config::config& cfg);

    void on_request(const routes::request_record& record) override;
    void on_connection(routes::connection_type type, int delta) override;

    // Takes a (re)loaded config into account: routes configured, and new traffic families
    // when the buckets, prefix or constant labels changed.
    void apply(const config::config& cfg, const routes::routing& routes);
    void count_reload(bool ok);

    // The whole exposition: self, traffic, process and any added collectables, in the classic
    // text format (0.0.4), or in OpenMetrics 1.0 with the latency exemplars (openmetrics.hpp).
    std::string render() const;
    std::string render_openmetrics() const;
    // Adds a source read at scrape time; it must outlive this object.
    void add_collectable(const prometheus::Collectable* c) { extra_.push_back(c); }
    prometheus::Registry& registry() { return *registry_; }
    // The traffic families in force and their generation (a reload that replaces them makes a
    // new one): what the status page's sampler reads.
    std::pair<std::shared_ptr<const traffic_metrics>, std::uint64_t> traffic() const;

  private:
    std::vector<prometheus::MetricFamily> collect(
        std::shared_ptr<const traffic_metrics>& traffic) const;

    std::shared_ptr<prometheus::Registry> registry_;
    util::published<traffic_metrics> traffic_;
    process_metrics process_;
    std::vector<const prometheus::Collectable*> extra_;
    mutable std::mutex const_labels_mutex_;  // apply() sets them, render() reads them
    prometheus::Labels const_labels_;        // metrics.const_labels, added to every series
    std::array<prometheus::Gauge*, 4> connections_{};
    prometheus::Gauge* routes_configured_;
    prometheus::Counter* unmatched_;
    prometheus::Counter* reload_ok_;
    prometheus::Counter* reload_error_;
    bool access_log_ = false;
};

}  // namespace sidelight::agent
