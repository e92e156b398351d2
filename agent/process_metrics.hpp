#pragma once
// The standard process_* metrics (as the Prometheus client libraries name them), read from
// /proc/self at scrape time: cpu seconds, resident and virtual memory, open and max fds,
// start time. Thread-safe: Collect() only reads /proc.

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace sidelight::agent {

class process_metrics : public prometheus::Collectable {
  public:
    std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace sidelight::agent
