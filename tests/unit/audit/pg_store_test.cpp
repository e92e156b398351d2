// The Postgres store against a real PostgreSQL 15 (a throwaway cluster, tests/support/pg_cluster):
// schema and its migration, append-only triggers for every role, forwarding with its re-send and
// conflict rules, exact round trips of what the chain covers, and verify over Postgres.
#include "audit/pg_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "audit/hash_chain.hpp"
#include "audit/pg_schema.hpp"
#include "audit/sqlite_store.hpp"
#include "audit/verify.hpp"
#include "test_util.hpp"
#include "tests/support/pg_cluster.hpp"

namespace sidelight::audit {
namespace {

using test::pg_cluster;
using testing::make_audit;
using testing::make_security;
using testing::temp_dir;

class PgStore : public ::testing::Test {
  protected:
    void SetUp() override { db_ = cluster().create_database(); }
    static pg_cluster& cluster() { return pg_cluster::shared(); }
    std::string dsn(const std::string& user = "postgres") const { return cluster().dsn(user, db_); }
    std::string sql(const std::string& q) const { return cluster().psql(q, "postgres", db_); }
    // `statements` as an attacker with superuser would run them (replica mode: the append-only
    // triggers off); verify must then stop at `seq` with `status`.
    void expect_verify_stops(pg_store& s, const std::string& statements, std::int64_t seq,
                             verify_status status = verify_status::modified) const {
        sql("BEGIN; SET LOCAL session_replication_role = replica; " + statements + "; COMMIT");
        const auto v = verify(s);
        EXPECT_EQ(v.status, status) << statements;
        EXPECT_EQ(v.broken_seq, seq) << statements;
    }
    // Rows spooled (chained) locally, as the writer would commit them: seq 1..n.
    std::vector<stored_event> spooled(std::size_t n, const std::string& chain = "pod-a") {
        std::vector<event> batch;
        for (std::size_t i = 0; i < n; ++i) {
            if (i % 3 == 2)
                batch.emplace_back(make_security("login_failed", "u" + std::to_string(i)));
            else
                batch.emplace_back(make_audit("u" + std::to_string(i), std::to_string(i)));
        }
        sqlite_store spool(testing::store_at(dir_.file("spool-" + chain + ".db")));
        return spool.append(batch);
    }

    temp_dir dir_;
    std::string db_;
};

TEST_F(PgStore, CreatesTheSchemaWithTheOriginalColumnsIndexesAndVersion) {
    pg_store s(dsn(), "pod-a", true);
    EXPECT_EQ(sql("SELECT string_agg(version::text, ',' ORDER BY version) FROM "
                  "sidelight_schema_version"),
              "1,2,3");
    for (const char* table : {"audit_log", "security_audit"}) {
        EXPECT_EQ(sql(std::string("SELECT data_type || ':' || is_nullable FROM "
                                  "information_schema.columns WHERE table_name = '") +
                      table + "' AND column_name = 'trace_id'"),
                  "text:YES")
            << table;
    }
    // Typed columns as the original system had them, beside the exact text the chain covers.
    EXPECT_EQ(sql("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY column_name) "
                  "FROM information_schema.columns WHERE table_name = 'audit_log' AND "
                  "column_name IN ('changes', 'ip_address', 'created_at', 'event_id', 'seq')"),
              "changes:jsonb,created_at:timestamp with time zone,event_id:uuid,ip_address:inet,"
              "seq:bigint");
    EXPECT_EQ(sql("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY column_name) "
                  "FROM information_schema.columns WHERE table_name = 'security_audit' AND "
                  "column_name IN ('details', 'success', 'ip_address')"),
              "details:jsonb,ip_address:inet,success:boolean");
    for (const char* index : {"audit_log_user_id", "audit_log_entity", "audit_log_created_at",
                              "security_audit_event_type", "audit_log_event_id", "audit_log_pkey",
                              "security_audit_pkey", "security_audit_event_id"}) {
        EXPECT_EQ(
            sql(std::string("SELECT count(*) FROM pg_indexes WHERE indexname = '") + index + "'"),
            "1")
            << index;
    }
    // Version 3: event_id indexed, not unique (a chain keeps every row its writer committed).
    EXPECT_EQ(sql("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%event_id_key'"), "0");
    EXPECT_EQ(sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'audit_log_event_id'"),
              "CREATE INDEX audit_log_event_id ON public.audit_log USING btree (event_id)");
    EXPECT_EQ(sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'audit_log_entity'"),
              "CREATE INDEX audit_log_entity ON public.audit_log USING btree (entity_type, "
              "entity_id)");
}

TEST_F(PgStore, MigrationIsIdempotentAndSafeWhenManyWritersStartAtOnce) {
    std::vector<std::thread> writers;
    std::atomic<int> failures{0};
    for (int i = 0; i < 8; ++i) {
        writers.emplace_back([&, i] {
            try {
                pg_store s(dsn(), "pod-" + std::to_string(i), true);
            } catch (const std::exception& e) {
                ADD_FAILURE() << e.what();
                ++failures;
            }
        });
    }
    for (auto& t : writers) t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(sql("SELECT count(*) FROM sidelight_schema_version"), "3");  // versions 1 to 3
    pg_store again(dsn(), "pod-a", true);
    EXPECT_EQ(sql("SELECT count(*) FROM sidelight_schema_version"), "3");
}

TEST_F(PgStore, RefusesADatabaseWithoutTheSchemaOrWithANewerOne) {
    EXPECT_THROW(pg_store(dsn(), "pod-a", false), store_error);
    pg_store s(dsn(), "pod-a", true);
    sql("INSERT INTO sidelight_schema_version (version) VALUES (9)");
    try {
        pg_store newer(dsn(), "pod-a", true);
        FAIL() << "a newer schema was accepted";
    } catch (const store_error& e) {
        EXPECT_NE(std::string(e.what()).find("version 9"), std::string::npos) << e.what();
    }
}

TEST_F(PgStore, AppendOnlyForTheWriterRoleAndForTheOwner) {
    sql("CREATE ROLE audit_owner_" + db_ + " LOGIN; CREATE ROLE audit_writer_" + db_ + " LOGIN");
    const std::string owner = "audit_owner_" + db_, writer = "audit_writer_" + db_;
    sql("ALTER DATABASE " + db_ + " OWNER TO " + owner + "; GRANT CREATE ON SCHEMA public TO " +
        owner);
    {
        pg::connection conn(dsn(owner));
        pg_migrate(conn);
        conn.exec(pg_grants_sql(writer));
    }
    pg_store w(dsn(writer), "pod-a", false);
    const auto rows = spooled(3);  // seq 3 is a security event
    const checkpoint at_3{3, rows.back().hash, now(), 3, {}};
    ASSERT_EQ(w.forward(rows, std::vector<checkpoint>{at_3}).inserted, 3u);
    for (const auto& role : {writer, owner}) {
        for (const char* table : {"audit_log", "security_audit", "audit_checkpoint"}) {
            for (const std::string& statement :
                 {std::string("UPDATE ") + table + " SET hash = 'x'",
                  std::string("DELETE FROM ") + table, std::string("TRUNCATE ") + table}) {
                const auto [code, out] = cluster().try_psql(statement, role, db_);
                EXPECT_NE(code, 0) << role << ": " << statement << " was accepted";
                EXPECT_TRUE(out.find("append-only") != std::string::npos ||
                            out.find("permission denied") != std::string::npos)
                    << role << ": " << statement << ": " << out;
            }
        }
    }
    // The writer may not take the triggers away either; only the owner owns the tables.
    const auto [code, out] =
        cluster().try_psql("ALTER TABLE audit_log DISABLE TRIGGER ALL", writer, db_);
    EXPECT_NE(code, 0) << out;
    EXPECT_EQ(sql("SELECT count(*) FROM audit_log") + "/" +
                  sql("SELECT count(*) FROM security_audit") + "/" +
                  sql("SELECT count(*) FROM audit_checkpoint"),
              "2/1/1");
    // The documented maintenance path: a superuser session in replica mode.
    sql("BEGIN; SET LOCAL session_replication_role = replica; DELETE FROM security_audit; COMMIT");
    EXPECT_EQ(sql("SELECT count(*) FROM security_audit"), "0");
}

TEST_F(PgStore, ForwardsSpooledRowsAsTheyAreAndVerifies) {
    const auto rows = spooled(10);
    pg_store s(dsn(), "pod-a", true);
    const auto r = s.forward(rows, {});
    EXPECT_EQ(r.inserted, 10u);
    EXPECT_EQ(r.present, 0u);
    EXPECT_EQ(r.head.seq, 10);
    EXPECT_EQ(r.head.hash, rows.back().hash);
    EXPECT_EQ(sql("SELECT count(*) FROM audit_log WHERE chain = 'pod-a'"), "7");
    EXPECT_EQ(sql("SELECT count(*) FROM security_audit WHERE chain = 'pod-a'"), "3");
    const auto back = s.query(query_filter{});
    ASSERT_EQ(back.size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(back[i].seq, rows[i].seq);
        EXPECT_EQ(back[i].hash, rows[i].hash);
        EXPECT_EQ(back[i].chain, "pod-a");
        EXPECT_EQ(chain_hash(back[i].prev_hash, back[i].seq, back[i].ev), rows[i].hash) << i;
    }
    const auto v = verify(s);
    EXPECT_TRUE(v.ok()) << v.detail;
    EXPECT_EQ(v.count, 10);
}

// A row's trace id is forwarded as it is (NULL for none), read back, covered by the chain, and
// an edited one is found by verify.
TEST_F(PgStore, ForwardedRowsKeepTheirTraceIdAndVerify) {
    temp_dir dir;
    sqlite_store spool(testing::store_at(dir.file("s.db")));
    auto a = make_audit("alice");
    a.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    auto b = make_security("login_failed");
    b.trace_id = "0af7651916cd43dd8448eb211c80319c";
    const std::vector<event> batch{a, b, make_audit("carol")};
    const auto rows = spool.append(batch);
    pg_store s(dsn(), "pod-a", true);
    ASSERT_EQ(s.forward(rows, {}).inserted, 3u);
    EXPECT_EQ(sql("SELECT seq || ':' || coalesce(trace_id, 'null') FROM audit_log ORDER BY seq"),
              "1:4bf92f3577b34da6a3ce929d0e0e4736\n3:null");
    EXPECT_EQ(sql("SELECT trace_id FROM security_audit"), "0af7651916cd43dd8448eb211c80319c");
    const auto back = s.query(query_filter{});
    ASSERT_EQ(back.size(), 3u);
    EXPECT_EQ(trace_id_of(back[0].ev), a.trace_id);
    EXPECT_EQ(trace_id_of(back[1].ev), b.trace_id);
    EXPECT_EQ(trace_id_of(back[2].ev), "");
    for (std::size_t i = 0; i < 3; ++i)
        EXPECT_EQ(canonical_row(back[i].seq, back[i].ev), canonical_row(rows[i].seq, rows[i].ev));
    auto v = verify(s);
    EXPECT_TRUE(v.ok()) << v.detail;
    EXPECT_EQ(v.count, 3);
    expect_verify_stops(
        s, "UPDATE security_audit SET trace_id = '4bf92f3577b34da6a3ce929d0e0e4736' WHERE seq = 2",
        2);
}

// What version 3 changed, undone: event_id unique again, the version row gone.
constexpr const char* back_to_version_2 =
    "DROP INDEX audit_log_event_id; DROP INDEX security_audit_event_id; ALTER TABLE audit_log "
    "ADD CONSTRAINT audit_log_event_id_key UNIQUE (event_id); ALTER TABLE security_audit ADD "
    "CONSTRAINT security_audit_event_id_key UNIQUE (event_id); DELETE FROM "
    "sidelight_schema_version WHERE version = 3;";

// A version-2 database (event_id unique across the chains) is read as it is by a reader that
// does not migrate, and upgraded by the first writer: its rows keep verifying, and a row whose
// event_id another chain holds is then stored in its own chain and counted.
TEST_F(PgStore, AVersion2DatabaseIsReadThenUpgradedAndKeepsEveryRowOfAChain) {
    const auto rows = spooled(4, "pod-a");
    {
        pg_store s(dsn(), "pod-a", true);
        s.forward(rows, {});
    }
    sql(back_to_version_2);
    {
        pg_store reader(dsn(), "pod-a", false);
        EXPECT_EQ(reader.query({}).size(), 4u);
        const auto v = verify(reader);
        EXPECT_TRUE(v.ok()) << v.detail;
    }
    pg_store b(dsn(), "pod-b", true);
    EXPECT_EQ(sql("SELECT max(version) FROM sidelight_schema_version"), "3");
    // pod-b's chain: a row with pod-a's first event_id (one event sent to both), then its own.
    std::vector<event> batch{rows.front().ev, make_audit("own")};
    for (auto& ev : batch) std::visit([](auto& e) { e.generated_id = false; }, ev);
    std::get<audit_event>(batch[1]).event_id.clear();
    sqlite_store spool(testing::store_at(dir_.file("spool-pod-b.db")));
    const auto mine = spool.append(batch);
    ASSERT_EQ(mine.size(), 2u);
    const auto r = b.forward(mine, {});
    EXPECT_EQ(r.inserted, 2u);
    EXPECT_EQ(r.duplicates, 1u);
    EXPECT_EQ(r.head.seq, 2);
    EXPECT_EQ(sql("SELECT count(*) FROM audit_log WHERE event_id = '" +
                  event_id_of(rows.front().ev) + "'"),
              "2");
    const auto v = verify(b);
    EXPECT_TRUE(v.ok()) << v.detail;
    EXPECT_EQ(v.count, 2);
    pg_store a(dsn(), "pod-a", true);
    EXPECT_TRUE(verify(a).ok());
}

// A database of the release before (schema version 1, rows without trace_id) is upgraded by the
// first writer that migrates: its rows keep verifying, new rows carry their trace id. Until
// then a reader that does not migrate (audit verify, query, export; the event API) reads it as
// it is, and refuses to write to it.
TEST_F(PgStore, AVersion1DatabaseIsUpgradedAndItsRowsStillVerify) {
    const auto old_rows = spooled(4);
    {
        pg_store s(dsn(), "pod-a", true);
        s.forward(old_rows, {});
    }
    // Back to version 1 as it was: no trace_id column, event_id unique, one version row.
    sql(std::string(back_to_version_2) +
        "ALTER TABLE audit_log DROP COLUMN trace_id; ALTER TABLE security_audit DROP COLUMN "
        "trace_id; DELETE FROM sidelight_schema_version WHERE version = 2");
    {
        pg_store reader(dsn(), "pod-a", false);
        const auto rows = reader.query({});
        ASSERT_EQ(rows.size(), 4u);
        EXPECT_EQ(rows.front().seq, 1);
        auto v = verify(reader);
        EXPECT_TRUE(v.ok()) << v.detail;
        EXPECT_EQ(v.count, 4);
        query_filter paged;
        paged.after_seq = 2;
        EXPECT_EQ(reader.query(paged).size(), 2u);
        const std::vector<event> batch{make_audit("late")};
        try {
            reader.append(batch);
            FAIL() << "wrote to a version-1 database without migrating it";
        } catch (const store_error& e) {
            EXPECT_NE(std::string(e.what()).find("audit schema version 1 is read-only"),
                      std::string::npos)
                << e.what();
        }
        EXPECT_EQ(sql("SELECT max(version) FROM sidelight_schema_version"), "1");
    }
    pg_store s(dsn(), "pod-a", true);
    EXPECT_EQ(sql("SELECT max(version) FROM sidelight_schema_version"), "3");
    EXPECT_EQ(sql("SELECT count(*) FROM audit_log WHERE trace_id IS NULL"), "3");
    auto v = verify(s);
    EXPECT_TRUE(v.ok()) << v.detail;
    EXPECT_EQ(v.count, 4);
    // The spool goes on: a new row with a trace id after the old ones.
    sqlite_store spool(testing::store_at(dir_.file("spool-pod-a.db")), open_mode::existing);
    auto traced = make_audit("erin");
    traced.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    const std::vector<event> batch{traced};
    const auto more = spool.append(batch);
    ASSERT_EQ(more.at(0).seq, 5);
    ASSERT_EQ(s.forward(more, {}).inserted, 1u);
    v = verify(s);
    EXPECT_TRUE(v.ok()) << v.detail;
    EXPECT_EQ(v.count, 5);
    EXPECT_EQ(sql("SELECT trace_id FROM audit_log WHERE seq = 5"),
              "4bf92f3577b34da6a3ce929d0e0e4736");
}

// A spool that began while Postgres was away starts its chain at seq 1: under the name of a
// chain Postgres holds it is a conflict that says how to forward it, and under a new name it
// is forwarded whole.
TEST_F(PgStore, ASpoolThatBeganANewChainConflictsAndIsForwardedUnderANewName) {
    {
        pg_store s(dsn(), "pod-a", true);
        s.forward(spooled(3, "pod-a"), {});
    }
    const auto fresh = spooled(5, "pod-a-new-volume");
    pg_store same(dsn(), "pod-a", true);
    // Fewer rows than Postgres holds (they overlap its seqs), and more (they run past its head).
    for (std::size_t n : {2u, 5u}) {
        try {
            same.forward(std::span(fresh).first(n), {});
            FAIL() << "a new chain under an old name was forwarded";
        } catch (const chain_conflict& e) {
            EXPECT_NE(std::string(e.what()).find("give this pod a new audit.store.chain"),
                      std::string::npos)
                << e.what();
        }
    }
    pg_store renamed(dsn(), "pod-a-2", true);
    EXPECT_EQ(renamed.forward(fresh, {}).inserted, 5u);
    EXPECT_TRUE(verify(renamed).ok());
    EXPECT_EQ(verify(same).count, 3);
}

TEST_F(PgStore, AResentBatchIsSkippedRowForRowAndTheRestGoesOn) {
    const auto rows = spooled(10);
    pg_store s(dsn(), "pod-a", true);
    s.forward(std::span(rows).first(6), {});
    // A crash lost the acknowledgement: the spool sends 1..10 again.
    const auto r = s.forward(rows, {});
    EXPECT_EQ(r.present, 6u);
    EXPECT_EQ(r.inserted, 4u);
    EXPECT_EQ(sql("SELECT count(*), count(DISTINCT event_id), max(seq) FROM (SELECT event_id, "
                  "seq FROM audit_log UNION ALL SELECT event_id, seq FROM security_audit) x"),
              "10|10|10");
    const auto again = s.forward(rows, {});
    EXPECT_EQ(again.inserted, 0u);
    EXPECT_EQ(again.present, 10u);
    EXPECT_TRUE(verify(s).ok());
}

TEST_F(PgStore, AGapOrAnotherWritersRowsAreAChainConflictAndNothingIsWritten) {
    const auto rows = spooled(10);
    pg_store s(dsn(), "pod-a", true);
    EXPECT_THROW(s.forward(std::span(rows).subspan(2), {}), chain_conflict);  // starts at seq 3
    EXPECT_EQ(sql("SELECT count(*) FROM audit_log"), "0");
    s.forward(std::span(rows).first(4), {});
    // Another spool under the same chain id: its seq 1..4 differ from those Postgres holds.
    temp_dir other;
    sqlite_store stranger(testing::store_at(other.file("other.db")));
    const std::vector<event> batch{make_audit("x"), make_audit("y"), make_audit("z"),
                                   make_audit("w"), make_audit("v")};
    const auto foreign = stranger.append(batch);
    EXPECT_THROW(s.forward(foreign, {}), chain_conflict);
    EXPECT_THROW(s.forward(std::span(foreign).subspan(4), {}), chain_conflict);
    EXPECT_EQ(s.head().seq, 4);
    EXPECT_TRUE(verify(s).ok());
}

TEST_F(PgStore, EveryValueRoundTripsExactlyAndTypedColumnsAreFilled) {
    temp_dir dir;
    sqlite_store spool(testing::store_at(dir.file("s.db")));
    auto a = make_audit("ålice \"quoted\" \\ back", "id,with{braces}");
    a.changes = R"({"b":2,  "a":[1.50,"x\u00e9"],"nested":{"k":null}})";
    a.ip_address = "2001:DB8::1";  // not in inet's own spelling
    a.user_agent = "NULL";
    auto b = make_audit("bob");
    b.changes = "";
    b.ip_address = "unknown";  // not an address: inet stays NULL, the text is kept
    auto c = make_security("login");
    c.success = std::nullopt;
    c.details = R"({"reason":"nul \u0000 inside"})";  // JSON jsonb cannot hold
    auto d = make_security("login");
    d.success = true;
    const std::vector<event> batch{a, b, c, d};
    const auto rows = spool.append(batch);
    pg_store s(dsn(), "pod-a", true);
    s.forward(rows, {});
    const auto back = s.query(query_filter{});
    ASSERT_EQ(back.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i)  // every stored column, byte for byte
        EXPECT_EQ(canonical_row(back[i].seq, back[i].ev), canonical_row(rows[i].seq, rows[i].ev))
            << i;
    EXPECT_TRUE(verify(s).ok());
    EXPECT_EQ(sql("SELECT changes->'a'->>0, host(ip_address) FROM audit_log WHERE seq = 1"),
              "1.50|2001:db8::1");
    EXPECT_EQ(sql("SELECT changes IS NULL, ip_address IS NULL FROM audit_log WHERE seq = 2"),
              "t|t");
    EXPECT_EQ(sql("SELECT coalesce(success::text, 'null'), details IS NULL FROM security_audit "
                  "ORDER BY seq"),
              "null|t\ntrue|f");
}

// jsonb prints a number in its own spelling (`1e2` as `100`, `1.5e-3` as `0.0015`): verify
// compares the typed column with the text by value, so such a row verifies, and a number really
// changed in the typed column is still found.
TEST_F(PgStore, NumbersJsonbRespellsVerifyAndAnEditedOneIsFound) {
    temp_dir dir;
    sqlite_store spool(testing::store_at(dir.file("s.db")));
    auto a = make_audit("alice");
    a.changes = R"({"qty":1e2,"price":1.5e-3,"n":[2E0,-0.0,1.0e30,12345678901234567890],)"
                R"("big":9007199254740993,"m":{"x":25e-1}})";
    auto b = make_security("login");
    b.details = R"({"attempts":3E0})";
    const std::vector<event> batch{a, b, make_audit("carol")};
    const auto rows = spool.append(batch);
    pg_store s(dsn(), "pod-a", true);
    ASSERT_EQ(s.forward(rows, {}).inserted, 3u);
    EXPECT_EQ(sql("SELECT changes->>'qty', changes->>'price', changes->'m'->>'x' FROM audit_log "
                  "WHERE seq = 1"),
              "100|0.0015|2.5");
    EXPECT_EQ(sql("SELECT details->>'attempts' FROM security_audit WHERE seq = 2"), "3");
    auto v = verify(s);
    EXPECT_TRUE(v.ok()) << v.detail;
    EXPECT_EQ(v.count, 3);
    expect_verify_stops(
        s, "UPDATE audit_log SET changes = jsonb_set(changes, '{qty}', '101') WHERE seq = 1", 1);
    expect_verify_stops(s,
                        "UPDATE audit_log SET changes = changes_text::jsonb WHERE seq = 1; UPDATE "
                        "security_audit SET details = '{\"attempts\":3.5}' WHERE seq = 2",
                        2);
}

TEST_F(PgStore, VerifyFindsAnEditedTypedColumnADeletedRowAndACutTail) {
    const auto rows = spooled(12);
    pg_store s(dsn(), "pod-a", true);
    const checkpoint at_12{12, rows.back().hash, now(), 12, {}};
    s.forward(rows, std::vector<checkpoint>{at_12});
    EXPECT_EQ(s.checkpoints().size(), 1u);
    ASSERT_TRUE(verify(s, s.checkpoints()).ok());
    // The maintenance path (superuser, replica mode) is how an attacker with superuser edits.
    expect_verify_stops(s, "UPDATE audit_log SET changes = '{\"price\":0}' WHERE seq = 4", 4);
    expect_verify_stops(s,
                        "UPDATE audit_log SET changes = changes_text::jsonb WHERE seq = 4; DELETE "
                        "FROM audit_log WHERE seq = 7",
                        7, verify_status::gap);
    sql("BEGIN; SET LOCAL session_replication_role = replica; DELETE FROM audit_log WHERE seq > "
        "6; DELETE FROM security_audit WHERE seq > 6; COMMIT");
    EXPECT_TRUE(verify(s).ok());  // the chain alone cannot tell
    const auto v = verify(s, s.checkpoints());
    EXPECT_EQ(v.status, verify_status::truncated);
}

TEST_F(PgStore, ChainsAreSeparateAndQueriesFilterAsSqliteDoes) {
    pg_store a(dsn(), "pod-a", true);
    pg_store b(dsn(), "pod-b", true);
    a.forward(spooled(5, "pod-a"), {});
    b.forward(spooled(3, "pod-b"), {});
    EXPECT_EQ(a.chains(), (std::vector<std::string>{"pod-a", "pod-b"}));
    EXPECT_EQ(a.head().seq, 5);
    EXPECT_EQ(b.head().seq, 3);
    query_filter f;
    f.table = table_kind::audit_log;
    f.user_id = "u1";
    const auto mine = a.query(f);
    ASSERT_EQ(mine.size(), 1u);
    EXPECT_EQ(mine[0].chain, "pod-a");
    a.set_chain("");  // every chain
    EXPECT_EQ(a.query(f).size(), 2u);
    query_filter sec;
    sec.event_type = "login_failed";
    EXPECT_EQ(a.query(sec).size(), 2u);  // seq 3 of pod-a, seq 3 of pod-b
    a.set_chain("pod-b");
    EXPECT_TRUE(verify(a).ok());
    EXPECT_EQ(verify(a).count, 3);
}

TEST_F(PgStore, DirectAppendChainsOnAndAnswersARepeatedEventIdWithTheStoredRow) {
    pg_store s(dsn(), "pod-a", true);
    auto e = make_audit("alice");
    e.event_id = "0190d2a4-7b8e-7c2d-9a1b-000000000001";
    const std::vector<event> batch{e, make_audit("bob"), e};
    const auto rows = s.append(batch);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].seq, 1);
    EXPECT_EQ(rows[1].seq, 2);
    EXPECT_EQ(rows[2].seq, 1);
    const std::vector<event> again{e};
    EXPECT_EQ(s.append(again).front().seq, 1);
    EXPECT_EQ(sql("SELECT count(*) FROM audit_log"), "2");
    EXPECT_TRUE(verify(s).ok());
}

TEST_F(PgStore, ErrorsNameTheServerWithoutItsPassword) {
    try {
        pg_store s("host=127.0.0.1 port=1 user=x password=Sup3rS3cret connect_timeout=2", "a",
                   true);
        FAIL() << "connected to port 1";
    } catch (const store_error& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.find("Sup3rS3cret"), std::string::npos) << what;
        EXPECT_NE(what.find("password=***"), std::string::npos) << what;
        EXPECT_NE(what.find("port=1"), std::string::npos) << what;
    }
}

// sslmode in the DSN is the whole TLS setup: verify-full with the server's CA connects over TLS
// (as Postgres itself reports), and refuses a name the certificate does not carry.
TEST_F(PgStore, TlsAsTheDsnAsksVerifyFullChecksTheServer) {
    const std::string tls = dsn() + " sslmode=verify-full sslrootcert=" + cluster().ca_file();
    pg_store s(tls, "pod-a", true);
    EXPECT_EQ(s.forward(spooled(3), {}).inserted, 3u);
    EXPECT_EQ(sql("SELECT bool_and(s.ssl) AND count(*) > 0 FROM pg_stat_ssl s JOIN "
                  "pg_stat_activity a USING (pid) WHERE a.application_name = 'sidelight' AND "
                  "a.datname = '" +
                  db_ + "'"),
              "t");
    // The certificate names IP 127.0.0.1 only: "localhost" is not it.
    std::string by_name = tls;
    by_name.replace(by_name.find("host=127.0.0.1"), 14, "host=localhost");
    try {
        pg_store wrong(by_name, "pod-a", false, std::chrono::seconds(2));
        FAIL() << "verify-full accepted a certificate for another name";
    } catch (const store_error& e) {
        EXPECT_NE(std::string(e.what()).find("does not match host name"), std::string::npos)
            << e.what();
    }
    // With sslmode=disable, a plain connection to the same server still works.
    pg_store plain(dsn() + " sslmode=disable", "pod-a", false);
    EXPECT_EQ(plain.head().seq, 3);
}

TEST_F(PgStore, PingTimesARoundTrip) {
    pg_store s(dsn(), "pod-a", true);
    std::vector<std::string> seen;
    s.set_duration_hook([&](std::string_view op, std::string_view table, double) {
        seen.push_back(std::string(op) + "/" + std::string(table));
    });
    EXPECT_GT(s.ping().count(), 0);
    s.forward(spooled(3), {});
    EXPECT_EQ(seen.front(), "ping/none");
    EXPECT_NE(std::find(seen.begin(), seen.end(), "insert/audit_log"), seen.end());
    EXPECT_NE(std::find(seen.begin(), seen.end(), "insert/security_audit"), seen.end());
}

}  // namespace
}  // namespace sidelight::audit
