#include "agent/metrics.hpp"

#include <algorithm>
#include <mutex>

#include <prometheus/text_serializer.h>

#include "agent/access_log.hpp"
#include "agent/openmetrics.hpp"

namespace sidelight::agent {
namespace {

prometheus::Gauge& gauge(prometheus::Registry& r, const std::string& name, const char* help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

prometheus::Counter& counter(prometheus::Registry& r, const std::string& name, const char* help,
                             const prometheus::Labels& labels = {}) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add(labels);
}

// `metrics.const_labels` go on every series, whatever built it: the registry's families, the
// audit and process collectables read at scrape time. Done here rather than at build time so
// that a reload changing them reaches the families built once at start too. A series that has
// the label already (the traffic families are built with them) keeps its own.
void add_const_labels(std::vector<prometheus::MetricFamily>& families,
                      const prometheus::Labels& constant) {
    if (constant.empty()) return;
    for (auto& family : families) {
        for (auto& metric : family.metric) {
            for (const auto& [name, value] : constant) {
                const auto has = std::any_of(metric.label.begin(), metric.label.end(),
                                             [&](const auto& l) { return l.name == name; });
                if (!has) metric.label.push_back({name, value});
            }
        }
    }
}

}  // namespace

metrics::metrics(const config::config& cfg)
    : registry_(std::make_shared<prometheus::Registry>()),
      traffic_(std::make_shared<const traffic_metrics>(cfg)),
      const_labels_(cfg.metrics.const_labels.begin(), cfg.metrics.const_labels.end()),
      access_log_(cfg.access_log) {
    auto& conns = prometheus::BuildGauge()
                      .Name(cfg.metrics.prefix + "active_connections")
                      .Help("Open connections by type (client, upstream, websocket, db).")
                      .Register(*registry_);
    for (auto t : {routes::connection_type::client, routes::connection_type::upstream,
                   routes::connection_type::websocket, routes::connection_type::db}) {
        connections_[static_cast<std::size_t>(t)] =
            &conns.Add({{"type", std::string(routes::connection_label(t))}});
    }
    prometheus::BuildGauge()
        .Name("sidelight_build_info")
        .Help("Build information; the value is always 1.")
        .Register(*registry_)
        .Add({{"version", SIDELIGHT_VERSION}})
        .Set(1);
    routes_configured_ = &gauge(*registry_, "sidelight_routes_configured",
                                "Route templates in the table (configured and imported).");
    unmatched_ = &counter(*registry_, "sidelight_unmatched_requests_total",
                          "Requests that matched no configured route template.");
    auto& reloads = prometheus::BuildCounter()
                        .Name("sidelight_config_reloads_total")
                        .Help("Configuration reloads by result.")
                        .Register(*registry_);
    reload_ok_ = &reloads.Add({{"result", "success"}});
    reload_error_ = &reloads.Add({{"result", "error"}});
}

void metrics::on_request(const routes::request_record& record) {
    // Per worker thread: the traffic families in force and the series resolved so far.
    thread_local std::shared_ptr<const traffic_metrics> traffic;
    thread_local std::uint64_t traffic_generation = 0;
    thread_local series_cache cache;
    traffic_.refresh(traffic, traffic_generation);
    if (traffic->settings().traffic) cache.record(*traffic, record);
    if (!record.route_configured) unmatched_->Increment();
    if (access_log_) write_access_line(record, traffic->listener_name(record.listener));
}

void metrics::on_connection(routes::connection_type type, int delta) {
    connections_[static_cast<std::size_t>(type)]->Increment(delta);
}

void metrics::apply(const config::config& cfg, const routes::routing& routes) {
    routes_configured_->Set(static_cast<double>(routes.table().size()));
    {
        std::lock_guard lock(const_labels_mutex_);
        const_labels_ = {cfg.metrics.const_labels.begin(), cfg.metrics.const_labels.end()};
    }
    if (!traffic_.get()->same_as(cfg))
        traffic_.publish(std::make_shared<const traffic_metrics>(cfg));
}

std::pair<std::shared_ptr<const traffic_metrics>, std::uint64_t> metrics::traffic() const {
    for (;;) {  // the value and its generation from the same publish
        const auto generation = traffic_.generation();
        auto value = traffic_.get();
        if (traffic_.generation() == generation) return {std::move(value), generation};
    }
}

void metrics::count_reload(bool ok) {
    (ok ? reload_ok_ : reload_error_)->Increment();
}

std::vector<prometheus::MetricFamily> metrics::collect(
    std::shared_ptr<const traffic_metrics>& traffic) const {
    traffic = traffic_.get();
    auto families = registry_->Collect();
    auto from_traffic = traffic->collect();
    auto process = process_.Collect();
    families.insert(families.end(), std::make_move_iterator(from_traffic.begin()),
                    std::make_move_iterator(from_traffic.end()));
    families.insert(families.end(), std::make_move_iterator(process.begin()),
                    std::make_move_iterator(process.end()));
    for (const auto* c : extra_) {
        auto more = c->Collect();
        families.insert(families.end(), std::make_move_iterator(more.begin()),
                        std::make_move_iterator(more.end()));
    }
    prometheus::Labels constant;
    {
        std::lock_guard lock(const_labels_mutex_);
        constant = const_labels_;
    }
    add_const_labels(families, constant);
    return families;
}

std::string metrics::render() const {
    std::shared_ptr<const traffic_metrics> traffic;
    return prometheus::TextSerializer().Serialize(collect(traffic));
}

std::string metrics::render_openmetrics() const {
    std::shared_ptr<const traffic_metrics> traffic;
    const auto families = collect(traffic);
    return serialize_openmetrics(
        families, [&](const prometheus::MetricFamily& f, const prometheus::ClientMetric& m) {
            return traffic->exemplars_of(f, m);
        });
}

}  // namespace sidelight::agent
