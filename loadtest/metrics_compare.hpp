#pragma once
// --compare-metrics: sidelight's own view of the load next to the generator's. scrape() GETs the
// Prometheus text at a URL (one blocking HTTP/1.1 request, 5 s timeout); route_figures() sums,
// per method and route label, `*api_requests_total` and the `*api_latency_ms_bucket` series over
// every status and listener. Between two scrapes, compare() takes the count delta and the
// p95 of the bucket deltas with histogram_quantile's linear interpolation, and sets it beside
// the client's count and p95 for the requests whose method and path match the route template.
// They agree when the counts are equal and the two p95s fall in the same or adjacent buckets.
// Pure functions apart from scrape(); thread-safe.

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loadtest/histogram.hpp"

namespace sidelight::loadtest {

struct route_series {
    double requests = 0;
    std::map<double, double> buckets;  // le (ms) -> cumulative count; +Inf as infinity
};
struct route_key {
    std::string method, route;  // the labels
    auto operator<=>(const route_key&) const = default;
};
using route_figures = std::map<route_key, route_series>;

// The body of GET url, or std::nullopt with `error` set.
std::optional<std::string> scrape(const std::string& url, std::string& error);
route_figures parse_route_figures(const std::string& prometheus_text);
// histogram_quantile(q, ...) over cumulative buckets: NaN when empty.
double bucket_quantile(double q, const std::map<double, double>& buckets);

// What the client sent, per endpoint (every scenario with that method and path).
struct client_endpoint {
    std::string method, path;
    std::uint64_t responses = 0;
    histogram latency;  // from the actual send
};

struct route_comparison {
    std::string method, route;
    double server_count = 0, server_p95_ms = 0;
    std::uint64_t client_count = 0;
    double client_p95_ms = 0;
    bool counts_agree = false, p95_agrees = false;
};

std::vector<route_comparison> compare(const route_figures& before, const route_figures& after,
                                      const std::vector<client_endpoint>& client);
// Whether a request path falls under a route template ("/api/products/{id}", ":id", "*").
bool path_matches_template(const std::string& path, const std::string& route);
std::string format_comparison(const std::vector<route_comparison>& rows);

}  // namespace sidelight::loadtest
