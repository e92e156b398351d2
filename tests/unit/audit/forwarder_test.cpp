// The writer, the spool and the forwarder together against a real PostgreSQL 15: everything the
// writer commits reaches Postgres exactly once, across a crash of Postgres, a fresh spool, and a
// conflicting writer; a full spool drops and counts as a full queue does.
#include "audit/forwarder.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "audit/pg.hpp"
#include "audit/verify.hpp"
#include "audit/writer.hpp"
#include "test_util.hpp"
#include "tests/support/pg_cluster.hpp"

namespace sidelight::audit {
namespace {

using namespace std::chrono_literals;
using test::pg_cluster;
using testing::make_audit;
using testing::make_security;
using testing::temp_dir;

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

class Forwarder : public ::testing::Test {
  protected:
    void SetUp() override {
        db_ = cluster().create_database();
        cfg_.store.type = "postgres";
        cfg_.store.dsn = cluster().dsn("postgres", db_);
        cfg_.store.chain = "pod-a";
        cfg_.store.spool.path = dir_.file("spool.db");
        cfg_.store.forward_batch = 100;
        cfg_.batch_interval = std::chrono::milliseconds(2);
    }
    static pg_cluster& cluster() { return pg_cluster::shared(); }
    std::string sql(const std::string& q) const { return cluster().psql(q, "postgres", db_); }
    // Rows of the chain in Postgres: "count|distinct event_ids|max seq".
    std::string tally(const std::string& chain = "pod-a") const {
        return sql(
            "SELECT count(*), count(DISTINCT event_id), coalesce(max(seq), 0) FROM (SELECT "
            "event_id, seq FROM audit_log WHERE chain = '" +
            chain + "' UNION ALL SELECT event_id, seq FROM security_audit WHERE chain = '" + chain +
            "') x");
    }
    static std::string expect_tally(int n) {
        return std::to_string(n) + "|" + std::to_string(n) + "|" + std::to_string(n);
    }
    bool chain_verifies(const std::string& chain = "pod-a") {
        pg_store s(cfg_.store.dsn, chain, false);
        const auto r = verify(s, s.checkpoints());
        EXPECT_TRUE(r.ok()) << chain << ": " << r.detail << " at " << r.broken_seq;
        return r.ok();
    }

    // The agent's composition: spool, forwarder woken by the writer's commits, writer.
    struct pipeline {
        pipeline(const config::audit_config& cfg, forwarder_limits limits = {})
            : spool(spool_cfg(cfg.store), open_mode::create, spool_options{}),
              fwd(spool, cfg.store, {}, limits),
              w(spool, cfg, hooks_for(fwd)) {}
        static config::store_config spool_cfg(config::store_config c) {
            c.path = c.spool.path;
            return c;
        }
        static writer_hooks hooks_for(forwarder& f) {
            writer_hooks h;
            h.on_commit = [&f] { f.notify(); };
            return h;
        }
        sqlite_store spool;
        forwarder fwd;
        writer w;
    };

    // The backend pid of the forwarder's connection (the only `sidelight` one on the database).
    std::string forwarder_pid() const {
        return sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
            "application_name = 'sidelight'");
    }
    // Inserts into audit_log from the connection of backend `pid` fail with `sqlstate`; from any
    // other connection they go through.
    void refuse_inserts_from(const std::string& pid, const std::string& sqlstate) {
        sql("CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "
            "pg_backend_pid() = " +
            pid + " THEN RAISE EXCEPTION 'refused for this test' USING ERRCODE = '" + sqlstate +
            "'; END IF; RETURN NULL; END $$; CREATE TRIGGER refuse_one BEFORE INSERT ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_one()");
    }

    struct replaced {
        forwarder_status status;
        std::uint64_t errors = 0;
    };
    replaced delivered_through_a_new_connection(forwarder_limits limits,
                                                const std::string& sqlstate);

    temp_dir dir_;
    std::string db_;
    config::audit_config cfg_;
};

TEST_F(Forwarder, ShipsWhatTheWriterCommitsAndPrunesTheSpool) {
    cfg_.checkpoint.every_events = 100;
    auto spool = std::make_unique<sqlite_store>(
        [&] {
            auto c = cfg_.store;
            c.path = c.spool.path;
            return c;
        }(),
        open_mode::create, spool_options{});
    forwarder fwd(*spool, cfg_.store);
    writer_hooks hooks;
    hooks.on_commit = [&] { fwd.notify(); };
    hooks.on_checkpoint = [&](const std::string& line) {
        spool->record_checkpoint(parse_checkpoint_line(line));
    };
    writer w(*spool, cfg_, hooks);
    // Trace ids travel through the spool as they are (and the chain covers them).
    const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    auto traced_login = make_security("login_failed");
    traced_login.trace_id = trace;
    for (int i = 0; i < 500; ++i) {
        if (i % 5 == 0)
            ASSERT_TRUE(w.try_submit(i % 10 == 0 ? traced_login : make_security("login_failed")));
        else
            ASSERT_TRUE(w.try_submit(make_audit("u" + std::to_string(i))));
    }
    auto strict_one = make_audit("strict-one");
    strict_one.trace_id = "0af7651916cd43dd8448eb211c80319c";
    const auto strict = w.submit_and_wait(strict_one, 5s);
    ASSERT_TRUE(strict.ok) << strict.error;
    ASSERT_TRUE(eventually([&] { return tally() == expect_tally(501); })) << tally();
    EXPECT_TRUE(eventually([&] { return fwd.status().lag_events == 0; }));
    // Counted once forward() is back, a moment after Postgres shows the rows.
    EXPECT_TRUE(eventually([&] { return fwd.stats().forwarded.load() == 501u; }))
        << fwd.stats().forwarded.load();
    EXPECT_EQ(spool->acknowledged().seq, 501);
    EXPECT_EQ(testing::raw_db(cfg_.store.spool.path).text("SELECT count(*) FROM audit_log"), "0");
    EXPECT_GE(std::stoi(sql("SELECT count(*) FROM audit_checkpoint")), 1);  // forwarded too
    EXPECT_EQ(sql("SELECT count(*) FROM security_audit WHERE trace_id = '" + trace + "'"), "50");
    EXPECT_EQ(sql("SELECT count(*) FROM security_audit WHERE trace_id IS NULL"), "50");
    EXPECT_EQ(sql("SELECT trace_id FROM audit_log WHERE user_id = 'strict-one'"),
              strict_one.trace_id);
    EXPECT_TRUE(chain_verifies());
    EXPECT_TRUE(eventually([&] { return fwd.status().check_ms.has_value(); }, 5s));
    EXPECT_TRUE(fwd.status().connected);
}

TEST_F(Forwarder, APostgresCrashMidStreamLosesAndDoublesNothing) {
    pipeline p(cfg_);
    auto& fwd = p.fwd;
    auto& w = p.w;
    std::thread load([&] {
        for (int i = 0; i < 3000; ++i) {
            while (!w.try_submit(make_audit("u" + std::to_string(i))))
                std::this_thread::sleep_for(1ms);
            if (i % 50 == 0) std::this_thread::sleep_for(5ms);
        }
    });
    ASSERT_TRUE(eventually([&] { return fwd.stats().forwarded.load() > 200; }));
    cluster().restart_immediate();
    load.join();
    ASSERT_TRUE(eventually([&] { return tally() == expect_tally(3000); }, 30s)) << tally();
    EXPECT_EQ(w.stats().dropped_count(drop_reason::queue_full), 0u);
    EXPECT_TRUE(chain_verifies());
}

TEST_F(Forwarder, AFreshSpoolContinuesTheChainPostgresHolds) {
    {
        auto c = cfg_.store;
        c.path = c.spool.path;
        sqlite_store spool(c, open_mode::create, spool_options{});
        forwarder fwd(spool, cfg_.store);
        spool.append(std::vector<event>{make_audit("a"), make_audit("b"), make_audit("c")});
        fwd.notify();
        ASSERT_TRUE(eventually([&] { return tally() == expect_tally(3); })) << tally();
    }
    // The spool volume is lost; the pod comes back under the same chain id.
    auto c = cfg_.store;
    c.path = dir_.file("new-spool.db");
    sqlite_store spool(c, open_mode::create, spool_options{});
    forwarder fwd(spool, cfg_.store);
    EXPECT_EQ(spool.head().seq, 3);
    const auto rows = spool.append(std::vector<event>{make_audit("d")});
    EXPECT_EQ(rows.front().seq, 4);
    fwd.notify();
    ASSERT_TRUE(eventually([&] { return tally() == expect_tally(4); })) << tally();
    EXPECT_TRUE(chain_verifies());
}

// The writer records a checkpoint after the commit that wakes the forwarder, which may have read
// the batch's checkpoints already: a checkpoint the spool holds for rows Postgres holds is sent
// by itself when there is nothing else to send, then pruned.
TEST_F(Forwarder, ACheckpointRecordedAfterItsRowsWereForwardedStillReachesPostgres) {
    auto c = cfg_.store;
    c.path = c.spool.path;
    sqlite_store spool(c, open_mode::create, spool_options{});
    forwarder fwd(spool, cfg_.store);
    const auto rows =
        spool.append(std::vector<event>{make_audit("a"), make_audit("b"), make_audit("c")});
    fwd.notify();
    ASSERT_TRUE(eventually([&] { return tally() == expect_tally(3); })) << tally();
    ASSERT_TRUE(eventually([&] { return spool.acknowledged().seq == 3; }, 5s));
    spool.record_checkpoint({3, rows[2].hash, now(), 3, {}});
    fwd.notify();
    EXPECT_TRUE(eventually(
        [&] { return sql("SELECT count(*) FROM audit_checkpoint WHERE seq = 3") == "1"; }, 5s));
    EXPECT_TRUE(eventually([&] { return spool.checkpoints_upto(3).empty(); }, 5s));
    EXPECT_EQ(sql("SELECT hash FROM audit_checkpoint WHERE seq = 3"), rows[2].hash);
    EXPECT_TRUE(chain_verifies());
}

TEST_F(Forwarder, TwoWritersUnderOneChainIdConflictAndKeepTheirEvents) {
    {
        pg_store other(cfg_.store.dsn, "pod-a", true);
        other.append(std::vector<event>{make_audit("theirs-1"), make_audit("theirs-2")});
    }
    // A spool that wrote before it could reach Postgres: its seq 1..3 are other rows.
    auto c = cfg_.store;
    c.path = c.spool.path;
    sqlite_store spool(c, open_mode::create, spool_options{});
    spool.append(
        std::vector<event>{make_audit("mine-1"), make_audit("mine-2"), make_audit("mine-3")});
    forwarder fwd(spool, cfg_.store);
    ASSERT_TRUE(eventually([&] { return fwd.status().conflict; }))
        << fwd.status().last_error.value_or("");
    EXPECT_NE(fwd.status().last_error->find("chain pod-a"), std::string::npos);
    EXPECT_EQ(tally(), expect_tally(2));
    EXPECT_EQ(fwd.status().lag_events, 3);  // kept in the spool
    EXPECT_EQ(spool.head().seq, 3);
}

TEST_F(Forwarder, PostgresUnreachableTheSpoolTakesEverythingAndReportsTheLag) {
    cfg_.store.dsn = "host=127.0.0.1 port=1 user=x password=Sup3rS3cret connect_timeout=1";
    pipeline p(cfg_);
    auto& [spool, fwd, w] = p;
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(w.try_submit(make_audit("u")));
    ASSERT_TRUE(w.submit_and_wait(make_audit("strict"), 5s).ok);  // durable in the spool
    ASSERT_TRUE(eventually([&] { return fwd.status().lag_events == 51; }));
    std::this_thread::sleep_for(1100ms);
    const auto st = fwd.status();
    EXPECT_FALSE(st.connected);
    EXPECT_GT(fwd.stats().lag_seconds.load(), 0.5);
    ASSERT_TRUE(st.last_error.has_value());
    EXPECT_EQ(st.last_error->find("Sup3rS3cret"), std::string::npos) << *st.last_error;
    EXPECT_GE(fwd.stats().errors.load(), 1u);
    EXPECT_FALSE(fwd.stop(std::chrono::steady_clock::now() + 200ms));  // the spool keeps them
    EXPECT_EQ(spool.head().seq, 51);
}

TEST_F(Forwarder, AFullSpoolDropsAndCountsAndStrictEventsFail) {
    auto c = cfg_.store;
    c.path = c.spool.path;
    sqlite_store spool(c, open_mode::create, spool_options{1024 * 1024});
    cfg_.queue_size = 100000;
    writer w(spool, cfg_);
    auto big = make_audit("u");
    big.changes = "{\"pad\":\"" + std::string(2000, 'x') + "\"}";
    for (int i = 0; i < 2000; ++i) w.try_submit(big);
    ASSERT_TRUE(eventually([&] { return w.stats().dropped_count(drop_reason::spool_full) > 0; }));
    const auto strict = w.submit_and_wait(make_audit("strict"), 2s);
    EXPECT_FALSE(strict.ok);
    EXPECT_FALSE(w.healthy());
    ASSERT_TRUE(w.last_error().has_value());
    EXPECT_NE(w.last_error()->message.find("spool"), std::string::npos);
    // Postgres takes what the spool holds: the writer takes events again by itself, and the
    // loss is recorded as a security event with its reason.
    ASSERT_TRUE(eventually([&] { return w.stats().queue_depth.load() == 0; }));
    spool.acknowledge(spool.head());
    ASSERT_TRUE(eventually([&] { return w.healthy(); }, 10s));
    ASSERT_TRUE(w.submit_and_wait(make_audit("after"), 5s).ok);
    query_filter f;
    f.event_type = "audit_events_dropped";
    const auto reports = spool.query(f);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NE(
        std::get<security_event>(reports.front().ev).details.find("\"reason\":\"spool_full\""),
        std::string::npos);
}

// Postgres up but not answering (here a lock another session holds; a COMMIT waiting on a
// synchronous standby that is down is the same to the forwarder): the pass is reported stalled,
// the statement is given up after lock_timeout with Postgres's error, and once the lock is
// released every event reaches Postgres once.
TEST_F(Forwarder, ALockHeldElsewhereTimesOutTheStatementAndNothingIsLostOrDoubled) {
    forwarder_limits limits;
    limits.statement_timeout = 1500ms;
    limits.stall_after = 300ms;
    pipeline p(cfg_, limits);
    auto& [spool, fwd, w] = p;
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(w.try_submit(make_audit("before")));
    ASSERT_TRUE(eventually([&] { return tally() == expect_tally(10); })) << tally();
    EXPECT_FALSE(fwd.status().stalled);

    pg::connection locker(cfg_.store.dsn);
    locker.exec("BEGIN");
    locker.exec("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE");
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(w.try_submit(make_audit("during")));
    EXPECT_TRUE(eventually([&] { return fwd.status().stalled; }))
        << fwd.status().last_error.value_or("");
    // lock_timeout or statement_timeout, whichever Postgres counts out first.
    ASSERT_TRUE(eventually([&] {
        const auto st = fwd.status().last_sqlstate;
        return st == "55P03" || st == "57014";
    })) << fwd.status().last_error.value_or("");
    EXPECT_NE(fwd.status().last_error->find("timeout"), std::string::npos)
        << *fwd.status().last_error;
    EXPECT_EQ(fwd.status().acked_seq, 10);
    EXPECT_GE(fwd.stats().errors.load(), 1u);

    locker.exec("COMMIT");
    ASSERT_TRUE(eventually([&] { return tally() == expect_tally(30); }, 30s)) << tally();
    EXPECT_TRUE(eventually([&] {
        const auto st = fwd.status();
        return st.connected && !st.failing && !st.stalled && st.lag_events == 0;
    }));
    EXPECT_EQ(sql("SELECT count(*) FROM audit_log WHERE user_id = 'during'"), "20");
    EXPECT_TRUE(chain_verifies());
}

// Shutdown while Postgres does not answer: at stop()'s deadline the statement is cancelled
// (Postgres's 57014, not the 30 s statement_timeout), the batch stays in the spool, and the next
// forwarder on that spool sends it once.
TEST_F(Forwarder, StopCancelsAStatementPostgresDoesNotAnswerAndTheSpoolKeepsTheBatch) {
    auto c = cfg_.store;
    c.path = c.spool.path;
    sqlite_store spool(c, open_mode::create, spool_options{});
    pg::connection locker(cfg_.store.dsn);
    {
        forwarder fwd(spool, cfg_.store);  // the default limits: 30 s
        spool.append(std::vector<event>{make_audit("a")});
        fwd.notify();
        ASSERT_TRUE(eventually([&] { return tally() == expect_tally(1); })) << tally();
        locker.exec("BEGIN");
        locker.exec("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE");
        spool.append(std::vector<event>{make_audit("b"), make_audit("c")});
        fwd.notify();
        ASSERT_TRUE(eventually([&] {
            return sql("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = "
                       "'audit_log'::regclass") != "0";
        }));
        EXPECT_FALSE(fwd.stop(std::chrono::steady_clock::now() + 200ms));
        EXPECT_EQ(fwd.status().last_sqlstate, "57014") << fwd.status().last_error.value_or("");
        EXPECT_EQ(fwd.status().acked_seq, 1);
    }
    locker.exec("COMMIT");
    EXPECT_EQ(spool.head().seq, 3);
    forwarder fwd(spool, cfg_.store);
    fwd.notify();
    ASSERT_TRUE(eventually([&] { return tally() == expect_tally(3); })) << tally();
    EXPECT_TRUE(chain_verifies());
}

// The first event goes through; then Postgres refuses inserts from the forwarder's connection
// with `sqlstate`; the next five must go through a connection of its own.
Forwarder::replaced Forwarder::delivered_through_a_new_connection(forwarder_limits limits,
                                                                  const std::string& sqlstate) {
    pipeline p(cfg_, limits);
    auto& [spool, fwd, w] = p;
    EXPECT_TRUE(w.submit_and_wait(make_audit("first"), 5s).ok);
    EXPECT_TRUE(eventually([&] { return tally() == expect_tally(1); })) << tally();
    const auto old_pid = forwarder_pid();
    EXPECT_FALSE(old_pid.empty());
    refuse_inserts_from(old_pid, sqlstate);
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(w.try_submit(make_audit("later")));
    EXPECT_TRUE(eventually([&] { return tally() == expect_tally(6); }, 30s))
        << tally() << " " << fwd.status().last_error.value_or("");
    EXPECT_NE(forwarder_pid(), old_pid);
    EXPECT_TRUE(eventually([&] { return !fwd.status().failing; }));
    EXPECT_TRUE(chain_verifies());
    return {fwd.status(), fwd.stats().errors.load()};
}

// A server that refuses writes on the forwarder's connection (read-only after a failover, the
// address now leading to the new primary for new connections): the connection is replaced at
// the first such error, and the events go through the new one.
TEST_F(Forwarder, AReadOnlyErrorReplacesTheConnection) {
    forwarder_limits limits;
    limits.reconnect_after_failures = 1000;  // only the error itself may replace it
    EXPECT_EQ(delivered_through_a_new_connection(limits, "25006").status.last_sqlstate, "25006");
}

// Any error, repeated on one connection: after reconnect_after_failures in a row the connection
// is replaced.
TEST_F(Forwarder, AConnectionWhoseBatchesKeepFailingIsReplaced) {
    forwarder_limits limits;
    limits.reconnect_after_failures = 2;
    EXPECT_GE(delivered_through_a_new_connection(limits, "P0001").errors, 2u);
}

}  // namespace
}  // namespace sidelight::audit
