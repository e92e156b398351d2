// The db_* families; see db_metrics.hpp.
#include "agent/db_metrics.hpp"

#include <iterator>

#include "dbproxy/wire.hpp"

namespace sidelight::agent {

db_metrics::db_metrics(const config::config& cfg, prometheus::Registry& registry,
                       metrics& connections)
    : duration_(prometheus::BuildHistogram()
                    .Name("db_query_duration_ms")
                    .Help("Database statements seen on the wire, by operation and table: from "
                          "the message that starts one to its completion, in milliseconds.")
                    .Register(registry)),
      queries_(prometheus::BuildCounter()
                   .Name("db_queries_total")
                   .Help("Database statements by operation, table and outcome (ok, error).")
                   .Register(registry)),
      slow_(prometheus::BuildCounter()
                .Name("db_slow_queries_total")
                .Help("Database statements slower than the database's slow_query.")
                .Register(registry)),
      protocol_errors_(prometheus::BuildCounter()
                           .Name("db_protocol_errors_total")
                           .Help("Database connections closed because a peer broke the "
                                 "PostgreSQL protocol, by reason.")
                           .Register(registry)),
      connections_(connections) {
    if (cfg.databases.size() > 1)
        for (const auto& d : cfg.databases) names_.push_back(d.name);
    for (std::size_t db = 0; db < cfg.databases.size(); ++db) {
        auto& row = protocol_error_series_.emplace_back();
        for (auto reason : dbproxy::all_protocol_errors) {
            prometheus::Labels labels{{"reason", std::string(dbproxy::to_string(reason))}};
            if (db < names_.size()) labels["database"] = names_[db];
            row.push_back(&protocol_errors_.Add(labels));
        }
    }
}

db_metrics::series& db_metrics::resolve(const dbproxy::query_record& r) {
    // Looked up by views: no string is built for a series already resolved.
    if (auto it = series_.find(std::tuple(r.database, r.operation, r.table)); it != series_.end())
        return it->second;
    const auto key = std::tuple(r.database, std::string(r.operation), std::string(r.table));
    prometheus::Labels labels{{"operation", std::string(r.operation)},
                              {"table", std::string(r.table)}};
    if (r.database < names_.size()) labels["database"] = names_[r.database];
    static const prometheus::Histogram::BucketBoundaries buckets{1, 5, 10, 50, 100, 500, 1000};
    series s{};
    s.duration = &duration_.Add(labels, buckets);
    s.slow = &slow_.Add(labels);
    labels["outcome"] = "ok";
    s.ok = &queries_.Add(labels);
    labels["outcome"] = "error";
    s.error = &queries_.Add(labels);
    return series_.emplace(key, s).first->second;
}

void db_metrics::on_query(const dbproxy::query_record& record) {
    series* s;
    {
        std::lock_guard lock(mutex_);
        s = &resolve(record);
    }
    s->duration->Observe(record.duration_ms);
    (record.ok ? s->ok : s->error)->Increment();
    if (record.slow) s->slow->Increment();
}

void db_metrics::on_db_connection(int delta) {
    connections_.on_connection(routes::connection_type::db, delta);
}

void db_metrics::on_protocol_error(std::size_t database, std::string_view reason) {
    if (database >= protocol_error_series_.size()) return;
    const auto& row = protocol_error_series_[database];
    for (std::size_t i = 0; i < std::size(dbproxy::all_protocol_errors); ++i)
        if (dbproxy::to_string(dbproxy::all_protocol_errors[i]) == reason) row[i]->Increment();
}

}  // namespace sidelight::agent
