#pragma once
// Reachability as metrics, read at scrape time from the health checkers behind /healthz:
//   sidelight_upstream_up                1 while the app is judged reachable, else 0 (also
//                                        before the first verdict)
//   sidelight_database_up{database}      the same for each `databases` entry (TCP connect and
//                                        SSLRequest probe)
// Thread-safety: Collect() from any thread (the checkers' snapshots are).

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "agent/database_health.hpp"
#include "agent/health.hpp"

namespace sidelight::agent {

class reachability_metrics : public prometheus::Collectable {
  public:
    // `databases` may be null (no databases configured); both must outlive this object.
    reachability_metrics(const health_checker& upstream, const database_checker* databases)
        : upstream_(upstream), databases_(databases) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    const health_checker& upstream_;
    const database_checker* databases_;
};

}  // namespace sidelight::agent
