#pragma once
// The database telemetry families, fed by the database listeners (dbproxy/observer.hpp):
//
//   db_query_duration_ms{operation,table}          histogram [1,5,10,50,100,500,1000]
//   db_queries_total{operation,table,outcome}      outcome: ok | error
//   db_slow_queries_total{operation,table}         over the database's slow_query
//   db_protocol_errors_total{reason}               connections closed for a protocol violation;
//                                                  every reason (dbproxy/wire.hpp) exists at 0
//
// plus a `database` label on all four when more than one database is configured, and the
// connections in metrics' active_connections{type="db"}. The names are fixed (no
// metrics.prefix): they are the users' API. Label values come from closed sets: the lexer's
// operations and the capped table labels.
//
// Thread-safety: on_query may run on the database thread while the registry is collected;
// series are resolved once per (database, operation, table) under a mutex and kept.

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "agent/metrics.hpp"
#include "config/config.hpp"
#include "dbproxy/observer.hpp"

namespace sidelight::agent {

class db_metrics : public dbproxy::observer {
  public:
    db_metrics(const config::config& cfg, prometheus::Registry& registry, metrics& connections);

    void on_query(const dbproxy::query_record& record) override;
    void on_db_connection(int delta) override;
    void on_protocol_error(std::size_t database, std::string_view reason) override;
    // Statements matched by audit rules go on to `sink` (set before the listeners start; the
    // app hands them to the audit writer, agent/db_audit.hpp).
    using audit_sink = std::function<void(const dbproxy::statement_audit&)>;
    void set_audit_sink(audit_sink sink) { audit_sink_ = std::move(sink); }
    void on_statement_audit(const dbproxy::statement_audit& event) override {
        if (audit_sink_) audit_sink_(event);
    }

  private:
    struct series {
        prometheus::Histogram* duration;
        prometheus::Counter* ok;
        prometheus::Counter* error;
        prometheus::Counter* slow;
    };
    series& resolve(const dbproxy::query_record& record);

    std::vector<std::string> names_;  // [i]: databases[i].name; empty when one database
    prometheus::Family<prometheus::Histogram>& duration_;
    prometheus::Family<prometheus::Counter>& queries_;
    prometheus::Family<prometheus::Counter>& slow_;
    prometheus::Family<prometheus::Counter>& protocol_errors_;
    // [database][reason, in all_protocol_errors order]: resolved at start, no lock to count.
    std::vector<std::vector<prometheus::Counter*>> protocol_error_series_;
    metrics& connections_;
    audit_sink audit_sink_;
    std::mutex mutex_;
    std::map<std::tuple<std::size_t, std::string, std::string>, series, std::less<>> series_;
};

}  // namespace sidelight::agent
