#pragma once
// Metrics of the audit pipeline, read at scrape time from the writer's atomic counters (the
// writer never touches prometheus-cpp):
//   sidelight_audit_events_total{table,source}  sidelight_audit_dropped_total{table,reason}
//   sidelight_security_events_total{event_type,success} (audit/security_counts.hpp)
//   sidelight_audit_queue_depth  sidelight_audit_store_errors_total
//   sidelight_audit_strict_failures_total  sidelight_audit_jwt_rejected_total{reason}
// with the Postgres store also
//   sidelight_audit_forwarded_total  sidelight_audit_forward_lag_events
//   sidelight_audit_forward_lag_seconds  sidelight_audit_forward_errors_total
//   sidelight_audit_forward_duplicates_total  sidelight_audit_forward_connected
//   sidelight_audit_spool_bytes
// plus sidelight_store_query_duration_ms{operation,table} (buckets 1..1000 ms), observed by the
// writer and forwarder threads through their duration hooks and by event API queries.
// (db_query_duration_ms is the app's own database, seen on the Postgres wire listener.)
// Thread-safety: Collect() from any thread; observe_duration() from any thread.

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "audit/forwarder.hpp"
#include "audit/writer_stats.hpp"
#include "rules/brute_force.hpp"
#include "rules/jwt_verifier.hpp"

namespace sidelight::agent {

class audit_metrics : public prometheus::Collectable {
  public:
    audit_metrics(const audit::writer_stats& stats, prometheus::Registry& registry);
    std::vector<prometheus::MetricFamily> Collect() const override;
    void observe_duration(std::string_view operation, std::string_view table, double ms);
    // sidelight_security_detections_total{detector} comes from here.
    void set_detector(const rules::brute_force_detector* d) { detector_ = d; }
    // sidelight_audit_jwt_rejected_total{reason} comes from here.
    void set_jwt_stats(const rules::jwt_stats* s) { jwt_stats_ = s; }
    // The sidelight_audit_forward* families come from here (Postgres store only).
    void set_forwarder(const audit::forwarder* f) { forwarder_ = f; }

  private:
    const audit::writer_stats& stats_;
    const rules::brute_force_detector* detector_ = nullptr;
    const rules::jwt_stats* jwt_stats_ = nullptr;
    const audit::forwarder* forwarder_ = nullptr;
    prometheus::Family<prometheus::Histogram>& durations_;
    std::mutex mutex_;  // guards the handle cache below (writer thread and admin thread)
    std::map<std::pair<std::string, std::string>, prometheus::Histogram*, std::less<>> handles_;
};

}  // namespace sidelight::agent
