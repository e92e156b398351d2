// The OpenMetrics exposition: what changes against the classic text, byte for byte.
#include "agent/openmetrics.hpp"

#include <gtest/gtest.h>

namespace sidelight::agent {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(const std::string& name, MetricType type, const std::string& help) {
    MetricFamily f;
    f.name = name;
    f.type = type;
    f.help = help;
    return f;
}

TEST(OpenMetricsTest, CountersGaugesHistogramsAndTheEof) {
    std::vector<MetricFamily> families;
    auto requests = family("api_requests_total", MetricType::Counter, "Requests.");
    ClientMetric r;
    r.label = {{"method", "GET"}, {"route", "/a \"b\"\\c"}};
    r.counter.value = 3;
    requests.metric.push_back(r);
    families.push_back(requests);
    auto odd = family("orders_placed", MetricType::Counter, "A rule's counter without _total.");
    ClientMetric o;
    o.counter.value = 2;
    odd.metric.push_back(o);
    families.push_back(odd);
    auto gauge = family("active_connections", MetricType::Gauge, "Open\nconnections.");
    ClientMetric g;
    g.label = {{"type", "client"}};
    g.gauge.value = 1.5;
    gauge.metric.push_back(g);
    families.push_back(gauge);
    auto latency = family("api_latency_ms", MetricType::Histogram, "Latency.");
    ClientMetric h;
    h.label = {{"route", "/a"}};
    h.histogram.sample_count = 2;
    h.histogram.sample_sum = 12.5;
    h.histogram.bucket = {{1, 10}, {2, 50}, {2, std::numeric_limits<double>::infinity()}};
    latency.metric.push_back(h);
    families.push_back(latency);

    const auto text =
        serialize_openmetrics(families, [](const MetricFamily& f, const ClientMetric&) {
            std::vector<std::optional<exemplar>> out;
            if (f.name != "api_latency_ms") return out;
            out.resize(3);
            util::traceparent p;
            EXPECT_TRUE(util::parse_traceparent(
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", p));
            out[1] = exemplar{p.trace, 11.25, 1733480000.5};
            return out;
        });
    EXPECT_EQ(text,
              "# TYPE api_requests counter\n"
              "# HELP api_requests Requests.\n"
              "api_requests_total{method=\"GET\",route=\"/a \\\"b\\\"\\\\c\"} 3\n"
              "# TYPE orders_placed unknown\n"
              "# HELP orders_placed A rule's counter without _total.\n"
              "orders_placed 2\n"
              "# TYPE active_connections gauge\n"
              "# HELP active_connections Open\\nconnections.\n"
              "active_connections{type=\"client\"} 1.5\n"
              "# TYPE api_latency_ms histogram\n"
              "# HELP api_latency_ms Latency.\n"
              "api_latency_ms_bucket{route=\"/a\",le=\"10\"} 1\n"
              "api_latency_ms_bucket{route=\"/a\",le=\"50\"} 2 # "
              "{trace_id=\"0af7651916cd43dd8448eb211c80319c\"} 11.25 1733480000.5\n"
              "api_latency_ms_bucket{route=\"/a\",le=\"+Inf\"} 2\n"
              "api_latency_ms_count{route=\"/a\"} 2\n"
              "api_latency_ms_sum{route=\"/a\"} 12.5\n"
              "# EOF\n");
}

TEST(OpenMetricsTest, NothingButTheEofWhenThereIsNothing) {
    EXPECT_EQ(serialize_openmetrics({}, nullptr), "# EOF\n");
}

}  // namespace
}  // namespace sidelight::agent
