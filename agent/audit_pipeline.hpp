#pragma once
// The audit side of the agent, composed: the store (SQLite; or for Postgres the local spool and
// the forwarder that ships it) and the writer thread that batches events into it (audit/), the
// rules at work on the traffic with the strict gate the proxy holds requests on
// (rules/audit_recorder), the event API (/v1/*, audit/event_endpoint) and the audit metrics. The
// proxy reaches it only through the observer and the gate; nothing here blocks a worker.
// Thread-safety: on_request() and gate().hold() from every worker thread; install() from the
// main thread; handle_api() from the admin server's /v1/ thread.

#include <chrono>
#include <memory>
#include <optional>

#include "agent/admin_server.hpp"
#include "agent/audit_metrics.hpp"
#include "audit/event_endpoint.hpp"
#include "audit/forwarder.hpp"
#include "audit/sqlite_store.hpp"
#include "audit/store.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"
#include "rules/audit_recorder.hpp"
#include "rules/jwt_verifier.hpp"
#include "rules/rule_set.hpp"

namespace sidelight::agent {

class audit_pipeline {
  public:
    // Opens (or creates) the store and starts the writer. Throws audit::store_error with the
    // store path and reason when the store cannot be opened. `jwt_counts` (the rules' JWT
    // refusals, exported with the audit metrics) must outlive the pipeline.
    audit_pipeline(std::shared_ptr<const config::config> cfg, prometheus::Registry& registry,
                   const rules::jwt_stats& jwt_counts);
    ~audit_pipeline();

    // Makes `rules` current (compiled by agent/preflight with the routing they go with).
    void install(std::shared_ptr<const rules::rule_set> rules, const config::config& cfg) {
        writer_->admit_security_types(rules::security_event_types(cfg));
        recorder_->install(std::move(rules));
    }

    void on_request(const routes::request_record& r) { recorder_->record(r); }
    // An event from outside the HTTP path (a database statement an audit rule matched): batch
    // mode, never blocks; a full queue drops it and counts it, as for every batch event.
    bool submit(audit::event ev) { return writer_->try_submit(std::move(ev)); }
    routes::audit_gate& gate() { return *recorder_; }
    // /v1/audit, /v1/security, /v1/events
    admin_response handle_api(const admin_request& req) { return api_->handle(req); }
    // The newest `n` security events as a JSON array (the status page); on the /v1/ thread only.
    std::string recent_security_events(std::size_t n) { return api_->recent_security_events(n); }

    audit_metrics& metrics() { return *metrics_; }
    bool healthy() const { return writer_->healthy(); }
    std::optional<audit::store_failure> last_error() const { return writer_->last_error(); }
    std::int64_t queue_depth() const { return writer_->stats().queue_depth.load(); }
    // Postgres store: the forwarder's state (none for SQLite).
    std::optional<audit::forwarder_status> forward_status() const;

    // SIGTERM: commits everything queued (retrying a failing store until the deadline).
    bool drain(std::chrono::steady_clock::time_point deadline);

  private:
    std::shared_ptr<const config::config> cfg_;
    std::unique_ptr<audit::store> store_;          // SQLite: the store file
    std::unique_ptr<audit::sqlite_store> spool_;   // Postgres: the spool the writer commits to
    std::unique_ptr<audit::forwarder> forwarder_;  // Postgres: spool -> Postgres
    std::unique_ptr<audit::store> reader_;         // the event API's own connection
    std::unique_ptr<audit_metrics> metrics_;
    std::atomic<audit_metrics*> duration_sink_{nullptr};  // set once metrics_ exists
    std::unique_ptr<audit::writer> writer_;
    std::unique_ptr<rules::audit_recorder> recorder_;
    std::unique_ptr<audit::event_endpoint> api_;
};

}  // namespace sidelight::agent
