#pragma once
// The Prometheus side of the metric rules (rules/metric_rules.hpp): one family per rule, fed
// by every finished request of every listener and by `POST /v1/metrics`, plus
//   sidelight_metric_rule_skipped_total{rule,reason}   matching requests not recorded, and why
//
// A reload installs the new rules. A rule that is unchanged in what its series are (name, type,
// help, buckets, label names and values) keeps its family, so a reload that does not touch it
// does not reset its counters; a changed rule starts fresh series; the series of a removed
// rule disappear from the exposition (and its skipped counts with them).
//
// A rule's series are resolved once per label combination (closed sets: at most 10,000 per
// rule) and found again by a packed key under a shared lock.
// Thread-safety: on_request() from every worker thread; install() from the main thread;
// Collect() and handle_api() from the admin threads.

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "agent/admin_server.hpp"
#include "routes/request_record.hpp"
#include "rules/metric_rules.hpp"
#include "util/published.hpp"

namespace sidelight::agent {

class business_metrics : public prometheus::Collectable {
  public:
    business_metrics();

    // Makes `rules` current (at start, and on every reload that passed preflight).
    void install(std::shared_ptr<const rules::metric_rules> rules);

    void on_request(const routes::request_record& r);

    // POST /v1/metrics (the caller checked the token): {"name": ..., "labels": {...}, "inc": n}
    // or "observe": x, or an array of such objects; 200 with the count recorded, or 400 naming
    // the first problem (then nothing of the request is recorded).
    admin_response handle_api(const admin_request& req);

    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    // One rule's family and its series by packed label key.
    struct family {
        std::string identity;  // what must match for a reload to keep the series
        std::shared_ptr<prometheus::Registry> registry;
        prometheus::Family<prometheus::Counter>* counters = nullptr;
        prometheus::Family<prometheus::Histogram>* histograms = nullptr;
        std::vector<double> buckets;
        mutable std::shared_mutex mutex;
        std::unordered_map<std::uint64_t, void*> series;  // Counter* or Histogram*
    };
    struct installed {
        std::shared_ptr<const rules::metric_rules> rules;
        std::vector<std::shared_ptr<family>> families;  // by rule index
    };

    void record(const installed& current, const rules::metric_observation& o);
    void count_skip(const std::string& rule, rules::metric_skip reason);
    static std::string identity(const rules::compiled_metric& m);
    static std::shared_ptr<family> make_family(const rules::compiled_metric& m);

    util::published<installed> current_;
    std::mutex install_mutex_;  // install() and the skipped series it removes
    std::shared_ptr<prometheus::Registry> skipped_registry_;
    prometheus::Family<prometheus::Counter>* skipped_;
    std::mutex skipped_mutex_;
    std::map<std::pair<std::string, rules::metric_skip>, prometheus::Counter*> skipped_series_;
};

}  // namespace sidelight::agent
