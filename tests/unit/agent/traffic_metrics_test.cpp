// The per-worker series cache: a request counts once into the series of its (route, method,
// status), and a request labelled under an older routing (in flight across a reload) still
// counts under its own label, never under the id's meaning in the newer routing.

#include <gtest/gtest.h>

#include <string>

#include "agent/traffic_metrics.hpp"

namespace sidelight::agent {
namespace {

double requests(const traffic_metrics& m, const std::string& route) {
    for (const auto& family : m.collect()) {
        if (family.name != "api_requests_total") continue;
        double total = 0;
        for (const auto& metric : family.metric)
            for (const auto& label : metric.label)
                if (label.name == "route" && label.value == route) total += metric.counter.value;
        return total;
    }
    return -1;
}

routes::request_record request(routes::route_id id, std::string_view label,
                               std::uint64_t generation) {
    routes::request_record r;
    r.method_id = routes::http_method::get;
    r.route = id;
    r.route_label = label;
    r.route_configured = true;
    r.routing_generation = generation;
    r.status = 200;
    r.start = routes::request_record::clock::now();
    r.end = r.start + std::chrono::milliseconds(3);
    return r;
}

TEST(SeriesCacheTest, CountsEachRequestUnderItsOwnLabelAcrossARoutingChange) {
    const traffic_metrics m(config::metrics_config{});
    series_cache cache;
    cache.record(m, request(1, "/a", 5));
    cache.record(m, request(1, "/a", 5));
    cache.record(m, request(1, "/renamed", 6));  // the newer routing gave id 1 another template
    cache.record(m, request(1, "/a", 5));        // a request labelled before the reload
    cache.record(m, request(1, "/renamed", 6));
    EXPECT_EQ(requests(m, "/a"), 3);
    EXPECT_EQ(requests(m, "/renamed"), 2);
}

}  // namespace
}  // namespace sidelight::agent
