#include "agent/health_report.hpp"

#include <algorithm>
#include <string_view>

#include <boost/json/array.hpp>

#include "audit/event.hpp"

namespace sidelight::agent {
namespace {

bool forward_degraded(const audit::forwarder_status& f) {
    return !f.connected || f.conflict || f.failing || f.spool_failing || f.stalled;
}

std::string_view overall(const health_inputs& in, bool& unhealthy) {
    // Before the probes reached a verdict the upstream is unknown, not unhealthy: /healthz says
    // so with 200 (traffic may well flow); only a known failure makes it 503.
    // A stopped relay refuses every database connection until a restart: unhealthy, so that the
    // orchestrator restarts it.
    unhealthy = in.upstream.state == upstream_state::unreachable || !in.audit_healthy ||
                (in.relay && in.relay->stopped());
    // Postgres away while the spool takes every event: degraded, still 200 (traffic flows and
    // nothing is lost; the lag says how far behind the fleet store is). A database away:
    // degraded too (the app's HTTP traffic flows; its database connections through sidelight
    // get 08006 until the server is back).
    const bool db_down =
        in.databases && std::any_of(in.databases->begin(), in.databases->end(), [](const auto& d) {
            return d.state == upstream_state::unreachable;
        });
    // Postgres reached but refusing the batches (read-only, full, a privilege missing), not
    // answering (a pass stalled), or the spool failing: degraded too, the spool growing as
    // while Postgres is away.
    const bool degraded = (in.forward && forward_degraded(*in.forward)) || db_down;
    return unhealthy                                      ? "unhealthy"
           : degraded                                     ? "degraded"
           : in.upstream.state == upstream_state::unknown ? "unknown"
                                                          : "ok";
}

// The store's own state: for Postgres, the forwarder (connection, lag, last error) and the
// last `SELECT 1` check with its latency.
boost::json::object store_json(const config::config& cfg, const health_inputs& in) {
    boost::json::object st;
    st["type"] = cfg.audit.store.type;
    const auto& f = in.forward;
    if (!f) return st;
    st["state"] = f->conflict ? "conflict" : forward_degraded(*f) ? "degraded" : "ok";
    st["chain"] = cfg.audit.store.chain;
    st["connected"] = f->connected;
    st["failing"] = f->failing;
    st["spool_failing"] = f->spool_failing;
    // A pass waiting on Postgres past its bound: how long so far (null when none).
    st["stalled_seconds"] = nullptr;
    if (f->stalled) st["stalled_seconds"] = f->stalled_seconds;
    st["acked_seq"] = f->acked_seq;
    st["lag_events"] = f->lag_events;
    st["lag_seconds"] = f->lag_seconds;
    boost::json::object check;
    check["ok"] = f->connected && f->check_ms.has_value();
    check["latency_ms"] = nullptr;
    check["at"] = nullptr;
    if (f->check_ms) check["latency_ms"] = *f->check_ms;
    if (f->check_at) check["at"] = audit::format_time(*f->check_at);
    st["check"] = std::move(check);
    st["last_error"] = nullptr;
    if (f->last_error) {
        st["last_error"] = {{"message", *f->last_error},
                            {"sqlstate", nullptr},
                            {"at", audit::format_time(f->last_error_at.value_or(audit::now()))}};
        if (f->last_sqlstate) st["last_error"].as_object()["sqlstate"] = *f->last_sqlstate;
    }
    return st;
}

}  // namespace

boost::json::object health_report(const config::config& cfg, const health_inputs& in,
                                  bool& unhealthy) {
    boost::json::object o;
    o["status"] = overall(in, unhealthy);
    o["uptime_s"] = in.uptime.count();
    o["version"] = SIDELIGHT_VERSION;
    o["draining"] = in.draining;
    const auto& up = in.upstream;
    boost::json::object u;
    u["address"] = cfg.upstream.address.to_string();
    u["state"] = to_string(up.state);
    u["reachable"] = up.reachable;
    u["checked"] = up.checked;
    u["last_check_ms"] = up.last_check_age_ms;
    u["last_error"] = up.last_error;
    o["upstream"] = std::move(u);
    if (in.databases) {
        boost::json::array dbs;
        for (const auto& d : *in.databases) {
            dbs.push_back({{"name", d.name},
                           {"address", d.address},
                           {"state", to_string(d.state)},
                           {"reachable", d.reachable},
                           {"checked", d.checked},
                           {"last_check_ms", d.last_check_age_ms},
                           {"last_error", d.last_error}});
        }
        o["databases"] = std::move(dbs);
    }
    if (in.relay) {
        boost::json::object r;
        r["engine"] = in.relay->engine;
        r["state"] = in.relay->stopped() ? "stopped" : "ok";
        r["error"] = nullptr;
        if (in.relay->stopped()) r["error"] = in.relay->failure;
        o["database_relay"] = std::move(r);
    }
    boost::json::object a;
    a["healthy"] = in.audit_healthy;
    // The store's most recent failure, with its time: the current one while unhealthy, and after
    // recovery the last one, so an outage that has passed still shows when it was.
    a["last_error"] = nullptr;
    if (in.audit_error) {
        a["last_error"] = {{"message", in.audit_error->message},
                           {"at", audit::format_time(in.audit_error->at)}};
    }
    a["queue_depth"] = in.queue_depth;
    a["store"] = store_json(cfg, in);
    o["audit"] = std::move(a);
    return o;
}

}  // namespace sidelight::agent
