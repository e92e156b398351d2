#pragma once
// The audit side of the agent: the store (SQLite), the writer thread that batches events into
// it, the compiled rules that turn finished requests into events, the brute-force detector,
// the strict gate the proxy holds requests on, and the event API (/v1/*).
// The proxy reaches it only through the observer and the gate; nothing here blocks a worker.
// Thread-safety: on_request() and hold() from every worker thread; install() from the main
// thread; handle_api() from the admin thread.

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "agent/admin_server.hpp"
#include "agent/audit_metrics.hpp"
#include "audit/event_api.hpp"
#include "audit/store.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"
#include "routes/audit_gate.hpp"
#include "rules/brute_force.hpp"
#include "rules/rule_set.hpp"
#include "util/published.hpp"

namespace sidelight::agent {

class audit_pipeline : public routes::audit_gate {
  public:
    // Opens (or creates) the store and starts the writer. Throws audit::store_error with the
    // store path and reason when the store cannot be opened. `jwt_counts` (the rules' JWT
    // refusals, exported with the audit metrics) must outlive the pipeline.
    audit_pipeline(std::shared_ptr<const config::config> cfg, prometheus::Registry& registry,
                   const rules::jwt_stats& jwt_counts);
    ~audit_pipeline() override;

    // Makes `rules` current (compiled by agent/preflight with the routing they go with).
    void install(std::shared_ptr<const rules::rule_set> rules);

    void on_request(const routes::request_record& r);
    void hold(const routes::request_record& r, routes::audit_phase phase,
              std::function<void(bool ok)> done) override;
    // /v1/audit, /v1/security, /v1/events
    admin_response handle_api(const admin_request& req);

    audit_metrics& metrics() { return *metrics_; }
    bool healthy() const { return writer_->healthy(); }
    std::optional<audit::store_failure> last_error() const { return writer_->last_error(); }
    std::int64_t queue_depth() const { return writer_->stats().queue_depth.load(); }

    // SIGTERM: commits everything queued (retrying a failing store until the deadline).
    bool drain(std::chrono::steady_clock::time_point deadline);

  private:
    const std::shared_ptr<const rules::rule_set>& current_rules() const;
    std::vector<audit::event> detect(const rules::derived_event& d);
    admin_response post_events(audit::parse_result parsed);
    admin_response list_events(std::string_view query);

    std::shared_ptr<const config::config> cfg_;
    std::unique_ptr<audit::store> store_;
    std::unique_ptr<audit::store> reader_;  // the admin thread's own connection
    std::unique_ptr<audit_metrics> metrics_;
    std::atomic<audit_metrics*> duration_sink_{nullptr};  // set once metrics_ exists
    rules::brute_force_detector detector_;
    util::published<rules::rule_set> rules_;
    std::unique_ptr<audit::writer> writer_;
};

}  // namespace sidelight::agent
