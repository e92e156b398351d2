#pragma once
// The composition root of `sidelight run`: builds the metrics, the admin server, the proxy and
// the health checker from one config, wires the proxy's observer, and runs the lifecycle:
//
//   start: bind admin -> bind proxy -> bind egress listeners -> check upstream -> ready
//   SIGTERM/SIGINT: /readyz 503 at once -> keep serving `shutdown.delay` -> stop accepting ->
//                   in-flight requests finish within `shutdown.grace` (then the egress
//                   listeners', which the app may still call meanwhile) -> exit 0
//   a second SIGTERM/SIGINT: exit 1 at once
//   SIGHUP, or a change of the file with `config_watch: true`: reload routes and metric
//          settings; a bad file is rejected (logged with file:line:col, counted) and the old
//          config stays in force. Other settings need a restart (a warning says so).
//
// Signals must be blocked in every thread before the app is built (block_signals()); run()
// waits for them synchronously on the calling thread.

#include <atomic>
#include <memory>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include "agent/admin_server.hpp"
#include "agent/audit_pipeline.hpp"
#include "agent/business_metrics.hpp"
#include "agent/database_health.hpp"
#include "agent/db_metrics.hpp"
#include "agent/health.hpp"
#include "agent/metrics.hpp"
#include "agent/preflight.hpp"
#include "agent/reachability_metrics.hpp"
#include "agent/status_endpoint.hpp"
#include "agent/tracing.hpp"
#include "config/config.hpp"
#include "dbproxy/server.hpp"
#include "proxy/server.hpp"
#include "routes/routing.hpp"
#include "util/published.hpp"

namespace sidelight::agent {

// Blocks SIGTERM, SIGINT, SIGHUP and SIGPIPE in the calling thread (and the threads it starts).
void block_signals();

class app {
  public:
    // `checked`: the config with its rules and routing (agent/preflight.hpp). `jwt_counts`
    // counts the JWT refusals of these rules and of every reload's; it must outlive the app.
    app(preflight_result checked, rules::jwt_stats& jwt_counts);
    ~app();

    // Starts everything (throws std::runtime_error on a startup failure), then serves until a
    // shutdown signal. Returns the process exit code.
    int run();
    // The log level came from the command line: reloads do not change it.
    void keep_log_level() { keep_log_level_ = true; }

    admin_response handle_admin(const admin_request& req);

  private:
    void start();
    void start_databases();  // the `databases` listeners (dbproxy/), after the proxy
    void start_status();     // the status page's sampler (admin.status)
    int drain();
    // Reloads the config file; returns false (old config kept) when it is invalid.
    bool reload();
    bool config_file_changed();
    boost::json::object health_json(bool& unhealthy) const;  // agent/health_report.hpp
    bool audit_healthy() const { return !audit_ || audit_->healthy(); }

    std::shared_ptr<const config::config> cfg_;
    rules::jwt_stats& jwt_counts_;
    // Every finished request goes to the metrics, the metric rules, then the audit rules.
    struct fan_out : routes::observer {
        fan_out(metrics& m, business_metrics& b, audit_pipeline& a, span_exporter* t)
            : m_(m), b_(b), a_(a), t_(t) {}
        void on_request(const routes::request_record& r) override {
            m_.on_request(r);
            b_.on_request(r);
            a_.on_request(r);
            if (t_) t_->on_request(r);
        }
        void on_connection(routes::connection_type t, int delta) override {
            m_.on_connection(t, delta);
        }
        metrics& m_;
        business_metrics& b_;
        audit_pipeline& a_;
        span_exporter* t_;  // null: no span export
    };
    admin_response handle_metrics_api(const admin_request& req);

    metrics metrics_;
    business_metrics business_;
    std::unique_ptr<audit_pipeline> audit_;
    util::published<routes::routing> routes_;
    // [i]: the routing of egress listener cfg.egress[i]
    std::vector<std::unique_ptr<util::published<routes::routing>>> egress_routes_;
    std::unique_ptr<span_exporter> tracer_;  // tracing on with an OTLP endpoint
    fan_out observer_;
    std::string file_stamp_;         // identity of the config file as last loaded (config_watch)
    std::string applied_log_level_;  // the level the logger has (a reload may change it)
    bool keep_log_level_ = false;    // set on the command line: a reload leaves it
    boost::asio::io_context admin_ioc_{1};
    std::unique_ptr<admin_server> admin_;
    std::unique_ptr<proxy::server> proxy_;
    std::vector<std::unique_ptr<proxy::server>> egress_;
    std::unique_ptr<health_checker> health_;
    std::unique_ptr<database_checker> db_health_;         // null without `databases`
    std::unique_ptr<reachability_metrics> reachability_;  // sidelight_upstream_up, _database_up
    std::unique_ptr<status_endpoint> status_;             // null with admin.status false
    std::thread admin_thread_;
    std::atomic<bool> listening_{false};
    std::atomic<bool> draining_{false};
    std::chrono::steady_clock::time_point started_;
    // Last: stopped (and their connections closed) before the metrics they feed go away.
    std::unique_ptr<db_metrics> db_metrics_;
    std::unique_ptr<dbproxy::server> databases_;
};

}  // namespace sidelight::agent
