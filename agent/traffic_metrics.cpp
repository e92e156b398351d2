#include "agent/traffic_metrics.hpp"

#include <algorithm>
#include <string>

namespace sidelight::agent {
namespace {

std::string status_text(int status) {
    return std::to_string(status);
}

}  // namespace

std::vector<std::string> traffic_metrics::listener_names(const config::config& cfg) {
    std::vector<std::string> out;
    if (cfg.egress.empty()) return out;
    out.push_back("ingress");
    for (const auto& e : cfg.egress) out.push_back(e.name);
    return out;
}

bool traffic_metrics::same_as(const config::config& cfg) const {
    auto settings = cfg.metrics;
    settings.rules.clear();
    return settings == settings_ && listener_names(cfg) == listeners_;
}

traffic_metrics::traffic_metrics(const config::config& cfg)
    : traffic_metrics(cfg.metrics, listener_names(cfg)) {}

traffic_metrics::traffic_metrics(const config::metrics_config& cfg,
                                 std::vector<std::string> listeners)
    : settings_(cfg),
      listeners_(std::move(listeners)),
      registry_(std::make_shared<prometheus::Registry>()) {
    settings_.rules.clear();
    const auto& p = cfg.prefix;
    const prometheus::Labels constant(cfg.const_labels.begin(), cfg.const_labels.end());
    latency_ = &prometheus::BuildHistogram()
                    .Name(p + "api_latency_ms")
                    .Help(
                        "Request latency in milliseconds, from the first byte of the request "
                        "header read to the last byte of the response written.")
                    .Labels(constant)
                    .Register(*registry_);
    requests_ = &prometheus::BuildCounter()
                     .Name(p + "api_requests_total")
                     .Help("Requests by method, route template and status code.")
                     .Labels(constant)
                     .Register(*registry_);
    errors_ = &prometheus::BuildCounter()
                   .Name(p + "api_error_total")
                   .Help("Failed requests by method, route template and error type.")
                   .Labels(constant)
                   .Register(*registry_);
    upstream_latency_ = &prometheus::BuildHistogram()
                             .Name(p + "api_upstream_latency_ms")
                             .Help(
                                 "Time the app took, from the request sent to its response "
                                 "header, in milliseconds.")
                             .Labels(constant)
                             .Register(*registry_);
}

traffic_metrics::series traffic_metrics::resolve(const routes::request_record& r) const {
    const std::string method(routes::method_label(r.method_id));
    const std::string route(r.route_label);
    const prometheus::Histogram::BucketBoundaries buckets(settings_.buckets);
    prometheus::Labels base{{"method", method}, {"route", route}};
    add_listener(base, r);
    auto with_status = base;
    with_status.emplace("status_code", status_text(r.status));
    series s;
    s.latency = &latency_->Add(with_status, buckets);
    {
        const auto key = series_key(method, route, with_status.at("status_code"),
                                    base.contains("listener") ? base.at("listener") : "");
        std::lock_guard lock(exemplars_mutex_);
        auto& slots = exemplars_[key];
        if (!slots) {
            slots = std::make_unique<exemplar_slots>();
            slots->by_bucket.resize(settings_.buckets.size() + 1);
        }
        s.exemplars = slots.get();
    }
    s.requests = &requests_->Add(with_status);
    s.upstream_latency = &upstream_latency_->Add(base, buckets);
    return s;
}

// The `listener` label, only when there is more than one HTTP listener: a user with the proxy
// alone keeps the original names and labels exactly.
void traffic_metrics::add_listener(prometheus::Labels& labels,
                                   const routes::request_record& r) const {
    if (listeners_.empty()) return;
    labels.emplace("listener", r.listener < listeners_.size() ? listeners_[r.listener] : "");
}

prometheus::Counter* traffic_metrics::resolve_error(const routes::request_record& r) const {
    prometheus::Labels labels{{"method", std::string(routes::method_label(r.method_id))},
                              {"route", std::string(r.route_label)},
                              {"error_type", std::string(routes::error_label(r.error))}};
    add_listener(labels, r);
    return &errors_->Add(labels);
}

std::string traffic_metrics::series_key(std::string_view method, std::string_view route,
                                        std::string_view status, std::string_view listener) {
    std::string key;
    key.reserve(method.size() + route.size() + status.size() + listener.size() + 3);
    key.append(method).append(1, '\0').append(route).append(1, '\0');
    key.append(status).append(1, '\0').append(listener);
    return key;
}

std::vector<std::optional<exemplar>> traffic_metrics::exemplars_of(
    const prometheus::MetricFamily& family, const prometheus::ClientMetric& metric) const {
    if (family.name != settings_.prefix + "api_latency_ms") return {};
    std::string_view method, route, status, listener;
    for (const auto& l : metric.label) {
        if (l.name == "method") method = l.value;
        if (l.name == "route") route = l.value;
        if (l.name == "status_code") status = l.value;
        if (l.name == "listener") listener = l.value;
    }
    exemplar_slots* slots = nullptr;
    {
        std::lock_guard lock(exemplars_mutex_);
        const auto it = exemplars_.find(series_key(method, route, status, listener));
        if (it == exemplars_.end()) return {};
        slots = it->second.get();
    }
    std::lock_guard lock(slots->mutex);
    return slots->by_bucket;
}

void traffic_metrics::record(series& s, const routes::request_record& r) const {
    using ms = std::chrono::duration<double, std::milli>;
    const double latency = std::chrono::duration_cast<ms>(r.end - r.start).count();
    s.latency->Observe(latency);
    if (r.trace.active && r.trace.sampled && s.exemplars) {
        const auto& bounds = settings_.buckets;
        const auto bucket = static_cast<std::size_t>(
            std::lower_bound(bounds.begin(), bounds.end(), latency) - bounds.begin());
        const auto end_wall =
            r.wall_start +
            std::chrono::duration_cast<std::chrono::system_clock::duration>(r.end - r.start);
        exemplar e{r.trace.trace, latency,
                   std::chrono::duration<double>(end_wall.time_since_epoch()).count()};
        std::lock_guard lock(s.exemplars->mutex);
        s.exemplars->by_bucket[bucket] = e;
    }
    s.requests->Increment();
    if (r.upstream_header != routes::request_record::clock::time_point{}) {
        s.upstream_latency->Observe(
            std::chrono::duration_cast<ms>(r.upstream_header - r.upstream_start).count());
    }
    if (r.error != routes::error_type::none) {
        auto& counter = s.errors[static_cast<std::size_t>(r.error)];
        if (!counter) counter = resolve_error(r);
        counter->Increment();
    }
}

void series_cache::record(const traffic_metrics& metrics, const routes::request_record& r) {
    // A new metrics instance or a newer routing: route ids may mean other templates now.
    if (owner_ != &metrics || r.routing_generation > generation_) {
        series_.clear();
        owner_ = &metrics;
        generation_ = std::max(generation_, r.routing_generation);
    }
    // A request labelled under an older routing finishes after a reload: its id is not ours
    // to cache, so resolve it directly (rare: only requests in flight across a reload).
    if (r.route != routes::unmatched_route && r.routing_generation != generation_) {
        auto s = metrics.resolve(r);
        metrics.record(s, r);
        return;
    }
    const std::uint64_t key = (std::uint64_t{r.route} << 32) | (std::uint64_t{r.listener} << 24) |
                              (std::uint64_t(r.method_id) << 16) |
                              static_cast<std::uint16_t>(r.status);
    auto it = series_.find(key);
    if (it == series_.end()) it = series_.emplace(key, metrics.resolve(r)).first;
    metrics.record(it->second, r);
}

}  // namespace sidelight::agent
