#include "agent/reachability_metrics.hpp"

namespace sidelight::agent {

std::vector<prometheus::MetricFamily> reachability_metrics::Collect() const {
    std::vector<prometheus::MetricFamily> out;
    prometheus::MetricFamily up;
    up.name = "sidelight_upstream_up";
    up.help = "1 while the upstream app is judged reachable by the health checks, else 0.";
    up.type = prometheus::MetricType::Gauge;
    prometheus::ClientMetric m;
    m.gauge.value = upstream_.snapshot().reachable ? 1 : 0;
    up.metric.push_back(m);
    out.push_back(std::move(up));
    if (databases_) {
        prometheus::MetricFamily db;
        db.name = "sidelight_database_up";
        db.help = "1 while the database is reachable (TCP connect and SSLRequest probe), else 0.";
        db.type = prometheus::MetricType::Gauge;
        for (const auto& d : databases_->snapshot()) {
            prometheus::ClientMetric dm;
            dm.label.push_back({"database", d.name});
            dm.gauge.value = d.reachable ? 1 : 0;
            db.metric.push_back(std::move(dm));
        }
        out.push_back(std::move(db));
    }
    return out;
}

}  // namespace sidelight::agent
