#include "agent/status_windows.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace sidelight::agent::status {
namespace {

constexpr std::chrono::minutes long_window{5};
constexpr std::chrono::minutes short_window{1};

// The snapshot a window of `length` ending at `now` starts from: the newest one at least that
// old, else the oldest there is (the window is shorter then: just after start).
const snapshot* base_of(const std::deque<snapshot>& ring, const snapshot& now,
                        clock::duration length) {
    const snapshot* base = nullptr;
    for (const auto& s : ring) {
        if (s.at > now.at - length) break;
        base = &s;
    }
    if (!base && !ring.empty()) base = &ring.front();
    return base;
}

}  // namespace

snapshot take_snapshot(const std::vector<prometheus::MetricFamily>& metric_families,
                       const std::string& latency_name, clock::time_point at,
                       std::uint64_t generation) {
    snapshot out;
    out.at = at;
    out.families = generation;
    for (const auto& family : metric_families) {
        if (family.name != latency_name || family.type != prometheus::MetricType::Histogram)
            continue;
        for (const auto& metric : family.metric) {
            std::string method, route, listener, status;
            for (const auto& l : metric.label) {
                if (l.name == "method") method = l.value;
                if (l.name == "route") route = l.value;
                if (l.name == "listener") listener = l.value;
                if (l.name == "status_code") status = l.value;
            }
            const auto& h = metric.histogram;
            if (out.bounds.empty()) {
                for (const auto& b : h.bucket)
                    if (std::isfinite(b.upper_bound)) out.bounds.push_back(b.upper_bound);
            }
            auto& counts = out.routes[{method, route, listener}];
            if (counts.buckets.size() < h.bucket.size()) counts.buckets.resize(h.bucket.size());
            for (std::size_t i = 0; i < h.bucket.size(); ++i)
                counts.buckets[i] += static_cast<double>(h.bucket[i].cumulative_count);
            counts.requests += h.sample_count;
            if (status.size() == 3 && status[0] == '5') counts.errors += h.sample_count;
            if (status == "499") counts.client_aborts += h.sample_count;
        }
    }
    return out;
}

std::optional<double> histogram_quantile(double q, const std::vector<double>& bounds,
                                         const std::vector<double>& cumulative) {
    if (cumulative.empty() || cumulative.back() <= 0) return std::nullopt;
    const double total = cumulative.back();
    const double rank = std::clamp(q, 0.0, 1.0) * total;
    std::size_t b = 0;
    while (b + 1 < cumulative.size() && cumulative[b] < rank) ++b;
    if (b >= bounds.size()) return bounds.empty() ? std::nullopt : std::optional(bounds.back());
    const double lower = b == 0 ? 0.0 : bounds[b - 1];
    const double below = b == 0 ? 0.0 : cumulative[b - 1];
    const double in_bucket = cumulative[b] - below;
    if (in_bucket <= 0) return bounds[b];
    return lower + (bounds[b] - lower) * (rank - below) / in_bucket;
}

route_counts difference(const snapshot& newer, const snapshot& older, const route_key& key) {
    const auto n = newer.routes.find(key);
    if (n == newer.routes.end()) return {};
    route_counts out = n->second;
    const auto o = older.routes.find(key);
    if (older.families != newer.families || o == older.routes.end()) return out;
    const auto& base = o->second;
    const bool reset = base.requests > out.requests || base.buckets.size() != out.buckets.size();
    if (reset) return out;
    for (std::size_t i = 0; i < out.buckets.size(); ++i)
        out.buckets[i] = std::max(0.0, out.buckets[i] - base.buckets[i]);
    out.requests -= base.requests;
    out.errors -= std::min(out.errors, base.errors);
    out.client_aborts -= std::min(out.client_aborts, base.client_aborts);
    return out;
}

window measure(const snapshot& newer, const snapshot& older, const route_key& key) {
    const auto d = difference(newer, older, key);
    window w;
    w.seconds = std::chrono::duration<double>(newer.at - older.at).count();
    w.requests = d.requests;
    w.rate = w.seconds > 0 ? static_cast<double>(d.requests) / w.seconds : 0;
    w.p50 = histogram_quantile(0.50, newer.bounds, d.buckets);
    w.p95 = histogram_quantile(0.95, newer.bounds, d.buckets);
    w.p99 = histogram_quantile(0.99, newer.bounds, d.buckets);
    if (d.requests > 0) {
        w.error_rate = static_cast<double>(d.errors) / static_cast<double>(d.requests);
        w.client_abort_rate =
            static_cast<double>(d.client_aborts) / static_cast<double>(d.requests);
    }
    return w;
}

std::vector<route_report> report(const std::deque<snapshot>& ring, const snapshot& now) {
    std::set<route_key> keys;
    for (const auto& [key, counts] : now.routes) keys.insert(key);
    const snapshot empty{now.at, 0, {}, {}};
    const snapshot& base_5m = ring.empty() ? empty : *base_of(ring, now, long_window);
    const snapshot& base_1m = ring.empty() ? empty : *base_of(ring, now, short_window);
    // The sparkline's steps: consecutive snapshots within 5 minutes, then the last one to now.
    std::vector<std::pair<const snapshot*, const snapshot*>> steps;
    for (std::size_t i = 1; i < ring.size(); ++i)
        if (ring[i].at > now.at - long_window) steps.emplace_back(&ring[i - 1], &ring[i]);
    if (!ring.empty()) steps.emplace_back(&ring.back(), &now);
    std::vector<route_report> out;
    for (const auto& key : keys) {
        route_report r{key, measure(now, base_1m, key), measure(now, base_5m, key), {}};
        if (r.last_5m.requests == 0) continue;  // quiet for 5 minutes: off the page
        for (const auto& [older, newer] : steps) {
            const auto d = difference(*newer, *older, key);
            r.sparkline.push_back(histogram_quantile(0.95, newer->bounds, d.buckets));
        }
        out.push_back(std::move(r));
    }
    return out;
}

windows::windows(reader read, std::chrono::seconds step)
    : read_(std::move(read)),
      step_(step),
      capacity_(static_cast<std::size_t>(long_window / step) + 1) {}

void windows::sample(clock::time_point at) {
    auto s = read_(at);
    std::lock_guard lock(mutex_);
    ring_.push_back(std::move(s));
    while (ring_.size() > capacity_) ring_.pop_front();
}

std::vector<route_report> windows::report(clock::time_point at) const {
    const auto now = read_(at);
    std::lock_guard lock(mutex_);
    return status::report(ring_, now);
}

}  // namespace sidelight::agent::status
