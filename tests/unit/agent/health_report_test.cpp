#include "agent/health_report.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace sidelight::agent {
namespace {

config::config shop() {
    config::config c;
    c.upstream.address = {"app", 3000};
    return c;
}

upstream_health reachable() {
    upstream_health h;
    h.checked = true;
    h.state = upstream_state::reachable;
    h.reachable = true;
    h.last_check_age_ms = 40;
    return h;
}

std::string status_of(const health_inputs& in, bool& unhealthy) {
    const auto o = health_report(shop(), in, unhealthy);
    return std::string(o.at("status").as_string());
}

TEST(HealthReport, StatusFollowsTheWorstOfUpstreamStoreAndDatabases) {
    bool unhealthy = true;
    health_inputs in;  // no verdict yet
    EXPECT_EQ(status_of(in, unhealthy), "unknown");
    EXPECT_FALSE(unhealthy);
    in.upstream = reachable();
    EXPECT_EQ(status_of(in, unhealthy), "ok");
    EXPECT_FALSE(unhealthy);

    database_health db;
    db.name = "main";
    db.state = upstream_state::unreachable;
    in.databases = std::vector<database_health>{db};
    EXPECT_EQ(status_of(in, unhealthy), "degraded");
    EXPECT_FALSE(unhealthy);  // the app's HTTP traffic still flows
    in.databases.reset();

    audit::forwarder_status away;
    in.forward = away;  // Postgres not connected: the spool takes every event
    EXPECT_EQ(status_of(in, unhealthy), "degraded");
    EXPECT_FALSE(unhealthy);
    in.forward->connected = true;
    EXPECT_EQ(status_of(in, unhealthy), "ok");
    in.forward->failing = true;  // connected, and Postgres refuses the batches
    EXPECT_EQ(status_of(in, unhealthy), "degraded");
    EXPECT_FALSE(unhealthy);
    in.forward->failing = false;
    in.forward->conflict = true;
    EXPECT_EQ(status_of(in, unhealthy), "degraded");
    in.forward->conflict = false;
    in.forward.reset();

    in.audit_healthy = false;  // the store refuses writes: 503
    EXPECT_EQ(status_of(in, unhealthy), "unhealthy");
    EXPECT_TRUE(unhealthy);
    in.audit_healthy = true;
    in.upstream.state = upstream_state::unreachable;
    EXPECT_EQ(status_of(in, unhealthy), "unhealthy");
    EXPECT_TRUE(unhealthy);
    in.upstream = reachable();

    in.relay = relay_health{"io_uring", ""};
    EXPECT_EQ(status_of(in, unhealthy), "ok");
    EXPECT_FALSE(unhealthy);
    in.relay->failure = "io_uring_enter: Operation not permitted";  // every db connection refused
    EXPECT_EQ(status_of(in, unhealthy), "unhealthy");
    EXPECT_TRUE(unhealthy);
}

TEST(HealthReport, SaysWhichRelayEngineRunsAndWhyItStopped) {
    health_inputs in;
    in.upstream = reachable();
    bool unhealthy = false;
    EXPECT_FALSE(health_report(shop(), in, unhealthy).contains("database_relay"));  // no databases
    in.relay = relay_health{"epoll", ""};
    auto r = health_report(shop(), in, unhealthy).at("database_relay").as_object();
    EXPECT_EQ(r.at("engine").as_string(), "epoll");
    EXPECT_EQ(r.at("state").as_string(), "ok");
    EXPECT_TRUE(r.at("error").is_null());
    in.relay->failure = "epoll_wait: Bad file descriptor";
    r = health_report(shop(), in, unhealthy).at("database_relay").as_object();
    EXPECT_EQ(r.at("state").as_string(), "stopped");
    EXPECT_EQ(r.at("error").as_string(), "epoll_wait: Bad file descriptor");
}

TEST(HealthReport, SaysWhereEachPartStands) {
    health_inputs in;
    in.upstream = reachable();
    in.audit_error = audit::store_failure{"disk I/O error", audit::time_point{}};
    in.queue_depth = 12;
    in.draining = true;
    in.uptime = std::chrono::seconds(7);
    bool unhealthy = false;
    const auto o = health_report(shop(), in, unhealthy);
    EXPECT_EQ(o.at("uptime_s").as_int64(), 7);
    EXPECT_TRUE(o.at("draining").as_bool());
    const auto& up = o.at("upstream").as_object();
    EXPECT_EQ(up.at("address").as_string(), "app:3000");
    EXPECT_EQ(up.at("state").as_string(), "reachable");
    EXPECT_EQ(up.at("last_check_ms").as_int64(), 40);
    EXPECT_FALSE(o.contains("databases"));  // none configured
    const auto& a = o.at("audit").as_object();
    EXPECT_EQ(a.at("queue_depth").as_int64(), 12);
    // After recovery the last failure is still shown, with its time.
    EXPECT_EQ(a.at("last_error").as_object().at("message").as_string(), "disk I/O error");
    EXPECT_EQ(a.at("store").as_object().at("type").as_string(), "sqlite");
    EXPECT_FALSE(a.at("store").as_object().contains("state"));  // SQLite: no forwarder
}

// A forwarder waiting on a Postgres that does not answer, or failing on its own spool, is
// degraded (200) and says so in audit.store, with the SQLSTATE of the last error.
TEST(HealthReport, AStalledForwarderOrAFailingSpoolIsDegraded) {
    bool unhealthy = true;
    health_inputs in;
    in.upstream = reachable();
    audit::forwarder_status f;
    f.connected = true;
    in.forward = f;
    auto store = [&] {
        return health_report(shop(), in, unhealthy).at("audit").at("store").as_object();
    };
    EXPECT_EQ(status_of(in, unhealthy), "ok");
    EXPECT_TRUE(store().at("stalled_seconds").is_null());

    in.forward->stalled = true;
    in.forward->stalled_seconds = 12.5;
    EXPECT_EQ(status_of(in, unhealthy), "degraded");
    EXPECT_FALSE(unhealthy);
    EXPECT_EQ(store().at("state").as_string(), "degraded");
    EXPECT_EQ(store().at("stalled_seconds").as_double(), 12.5);
    in.forward->stalled = false;

    in.forward->spool_failing = true;
    in.forward->last_error = "spool: disk I/O error";
    EXPECT_EQ(status_of(in, unhealthy), "degraded");
    EXPECT_EQ(store().at("spool_failing").as_bool(), true);
    EXPECT_EQ(store().at("failing").as_bool(), false);  // Postgres is not the one refusing
    EXPECT_TRUE(store().at("last_error").at("sqlstate").is_null());
    in.forward->spool_failing = false;

    in.forward->failing = true;
    in.forward->last_error = "postgres host=db: statement failed: value out of range";
    in.forward->last_sqlstate = "22008";
    EXPECT_EQ(status_of(in, unhealthy), "degraded");
    EXPECT_EQ(store().at("last_error").at("sqlstate").as_string(), "22008");
}

}  // namespace
}  // namespace sidelight::agent
