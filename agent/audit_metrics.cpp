#include "agent/audit_metrics.hpp"

namespace sidelight::agent {
namespace {

prometheus::ClientMetric value(double v, prometheus::MetricType type,
                               std::vector<prometheus::ClientMetric::Label> labels = {}) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    if (type == prometheus::MetricType::Counter)
        m.counter.value = v;
    else
        m.gauge.value = v;
    return m;
}

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type) {
    prometheus::MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    return f;
}

}  // namespace

audit_metrics::audit_metrics(const audit::writer_stats& stats, prometheus::Registry& registry)
    : stats_(stats),
      durations_(prometheus::BuildHistogram()
                     .Name("sidelight_store_query_duration_ms")
                     .Help("Audit store statements (inserts, queries, Postgres forwarding and its "
                           "SELECT 1 check) in milliseconds.")
                     .Register(registry)) {}

void audit_metrics::observe_duration(std::string_view operation, std::string_view table,
                                     double ms) {
    static const prometheus::Histogram::BucketBoundaries buckets{1, 5, 10, 50, 100, 500, 1000};
    std::lock_guard lock(mutex_);
    auto key = std::make_pair(std::string(operation), std::string(table));
    auto it = handles_.find(key);
    if (it == handles_.end()) {
        auto& h = durations_.Add({{"operation", key.first}, {"table", key.second}}, buckets);
        it = handles_.emplace(std::move(key), &h).first;
    }
    it->second->Observe(ms);
}

std::vector<prometheus::MetricFamily> audit_metrics::Collect() const {
    using prometheus::MetricType;
    auto events =
        family("sidelight_audit_events_total",
               "Audit and security events committed, by table and source.", MetricType::Counter);
    for (auto table : {audit::table_kind::audit_log, audit::table_kind::security_audit}) {
        for (auto source :
             {audit::event_source::rule, audit::event_source::api, audit::event_source::detector}) {
            events.metric.push_back(value(static_cast<double>(stats_.written_count(table, source)),
                                          MetricType::Counter,
                                          {{"source", std::string(audit::to_string(source))},
                                           {"table", std::string(audit::table_name(table))}}));
        }
    }
    auto dropped =
        family("sidelight_audit_dropped_total",
               "Events that could not be stored, by table and reason.", MetricType::Counter);
    for (auto table : {audit::table_kind::audit_log, audit::table_kind::security_audit}) {
        for (auto reason : {audit::drop_reason::queue_full, audit::drop_reason::shutdown,
                            audit::drop_reason::strict_timeout, audit::drop_reason::spool_full}) {
            dropped.metric.push_back(value(static_cast<double>(stats_.dropped_count(table, reason)),
                                           MetricType::Counter,
                                           {{"reason", std::string(audit::to_string(reason))},
                                            {"table", std::string(audit::table_name(table))}}));
        }
    }
    auto security = family("sidelight_security_events_total",
                           "Security events committed, by event type (the config's, the "
                           "built-ins', up to 64 kinds; else other) and success (true, false, "
                           "unknown).",
                           MetricType::Counter);
    for (const auto& row : stats_.security.snapshot()) {
        for (std::size_t outcome = 0; outcome < row.counts.size(); ++outcome) {
            if (outcome == 2 && row.counts[outcome] == 0) continue;  // unknown: once seen
            security.metric.push_back(
                value(static_cast<double>(row.counts[outcome]), MetricType::Counter,
                      {{"event_type", row.event_type},
                       {"success", std::string(audit::success_label(outcome))}}));
        }
    }
    auto depth =
        family("sidelight_audit_queue_depth", "Events waiting for the writer.", MetricType::Gauge);
    depth.metric.push_back(
        value(static_cast<double>(stats_.queue_depth.load()), MetricType::Gauge));
    auto errors =
        family("sidelight_audit_store_errors_total",
               "Failed writes to the audit store (each retry counts).", MetricType::Counter);
    errors.metric.push_back(
        value(static_cast<double>(stats_.store_errors.load()), MetricType::Counter));
    auto strict = family("sidelight_audit_strict_failures_total",
                         "Strict-mode events that were not committed in time (the client got "
                         "503).",
                         MetricType::Counter);
    strict.metric.push_back(
        value(static_cast<double>(stats_.strict_failures.load()), MetricType::Counter));
    auto detections =
        family("sidelight_security_detections_total",
               "Security events raised by the detectors, by detector.", MetricType::Counter);
    if (detector_) {
        detections.metric.push_back(value(static_cast<double>(detector_->fail_max_count()),
                                          MetricType::Counter,
                                          {{"detector", "authn_login_fail_max"}}));
        detections.metric.push_back(
            value(static_cast<double>(detector_->success_after_fail_count()), MetricType::Counter,
                  {{"detector", "authn_login_successafterfail"}}));
    }
    auto jwt = family("sidelight_audit_jwt_rejected_total",
                      "Bearer tokens refused by the audit.jwt key (their jwt: values read as "
                      "empty), by reason; one per request.",
                      MetricType::Counter);
    if (jwt_stats_) {
        for (std::size_t i = 0; i < rules::jwt_rejection_count; ++i) {
            const auto reason = static_cast<rules::jwt_rejection>(i);
            jwt.metric.push_back(value(static_cast<double>(jwt_stats_->value(reason)),
                                       MetricType::Counter,
                                       {{"reason", std::string(rules::to_string(reason))}}));
        }
    }
    std::vector<prometheus::MetricFamily> out{events, dropped, security,   depth,
                                              errors, strict,  detections, jwt};
    if (forwarder_) {
        const auto& f = forwarder_->stats();
        auto add = [&out](const char* name, const char* help, MetricType type, double v) {
            auto fam = family(name, help, type);
            fam.metric.push_back(value(v, type));
            out.push_back(std::move(fam));
        };
        add("sidelight_audit_forwarded_total", "Events forwarded from the spool into Postgres.",
            MetricType::Counter, static_cast<double>(f.forwarded.load()));
        add("sidelight_audit_forward_lag_events",
            "Events committed to the spool and not yet in Postgres.", MetricType::Gauge,
            static_cast<double>(f.lag_events.load()));
        add("sidelight_audit_forward_lag_seconds",
            "Age of the oldest event not yet in Postgres (0 when none).", MetricType::Gauge,
            f.lag_seconds.load());
        add("sidelight_audit_forward_errors_total",
            "Failed Postgres connections and forward transactions (each retry counts).",
            MetricType::Counter, static_cast<double>(f.errors.load()));
        add("sidelight_audit_forward_duplicates_total",
            "Forwarded events whose event_id Postgres held already (stored again in their chain).",
            MetricType::Counter, static_cast<double>(f.duplicates.load()));
        add("sidelight_audit_forward_connected",
            "1 while the forwarder holds a Postgres connection.", MetricType::Gauge,
            forwarder_->status().connected ? 1.0 : 0.0);
        add("sidelight_audit_forward_failing",
            "1 while Postgres is connected and refuses the forward transactions (retried).",
            MetricType::Gauge, forwarder_->status().failing ? 1.0 : 0.0);
        add("sidelight_audit_spool_bytes", "Bytes in use in the spool database.", MetricType::Gauge,
            static_cast<double>(f.spool_bytes.load()));
    }
    return out;
}

}  // namespace sidelight::agent
