#include "agent/traffic_metrics.hpp"

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

void traffic_metrics::record(series& s, const routes::request_record& r) const {
    using ms = std::chrono::duration<double, std::milli>;
    s.latency->Observe(std::chrono::duration_cast<ms>(r.end - r.start).count());
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
