// The store refuses every way of changing a stored row, from a separate plain sqlite3 connection.
#include <gtest/gtest.h>

#include <vector>

#include "audit/sqlite_store.hpp"
#include "test_util.hpp"

namespace sidelight::audit {
namespace {

using testing::make_audit;
using testing::make_security;
using testing::raw_db;
using testing::store_at;
using testing::temp_dir;

class AppendOnly : public ::testing::Test {
  protected:
    void SetUp() override {
        sqlite_store s(store_at(path_));
        const std::vector<event> batch{make_audit("alice"), make_security("LOGIN_FAILED")};
        s.append(batch);
        audit_row_ = snapshot("audit_log");
        security_row_ = snapshot("security_audit");
    }

    std::string snapshot(const std::string& table) {
        return raw_db(path_).text(
            "SELECT seq || '|' || event_id || '|' || user_id || '|' || "
            "hash FROM " +
            table + " ORDER BY seq");
    }

    void expect_refused(const std::string& sql) {
        raw_db raw(path_);
        const auto audit_count = raw.text("SELECT count(*) FROM audit_log");
        const auto security_count = raw.text("SELECT count(*) FROM security_audit");
        EXPECT_NE(raw.exec(sql), SQLITE_OK) << sql;
        EXPECT_NE(raw.last_error().find("append-only"), std::string::npos)
            << sql << ": " << raw.last_error();
        EXPECT_EQ(snapshot("audit_log"), audit_row_) << sql;
        EXPECT_EQ(snapshot("security_audit"), security_row_) << sql;
        EXPECT_EQ(raw.text("SELECT count(*) FROM audit_log"), audit_count) << sql;
        EXPECT_EQ(raw.text("SELECT count(*) FROM security_audit"), security_count) << sql;
    }

    temp_dir dir_;
    std::string path_ = dir_.file("a.db");
    std::string audit_row_;
    std::string security_row_;
};

TEST_F(AppendOnly, RefusesUpdate) {
    expect_refused("UPDATE audit_log SET user_id = 'mallory'");
    expect_refused("UPDATE security_audit SET success = 1");
}

TEST_F(AppendOnly, RefusesDelete) {
    expect_refused("DELETE FROM audit_log");
    expect_refused("DELETE FROM security_audit WHERE seq = 2");
}

TEST_F(AppendOnly, RefusesInsertOrReplace) {
    expect_refused(
        "INSERT OR REPLACE INTO audit_log SELECT seq, event_id, 'mallory', action, entity_type, "
        "entity_id, changes, ip_address, user_agent, created_at, request_id, method, route, "
        "status, source, prev_hash, hash, trace_id FROM audit_log");
    expect_refused("REPLACE INTO security_audit SELECT * FROM security_audit");
    // A new event_id on an existing seq: REPLACE would delete the old row without a trigger.
    expect_refused(
        "INSERT OR REPLACE INTO audit_log SELECT seq, 'forged-id', 'mallory', action, "
        "entity_type, entity_id, changes, ip_address, user_agent, created_at, request_id, "
        "method, route, status, source, prev_hash, hash, trace_id FROM audit_log");
    // The other table's seq is taken too (one sequence for both).
    expect_refused(
        "INSERT INTO audit_log SELECT 2, 'other-id', user_id, action, entity_type, entity_id, "
        "changes, ip_address, user_agent, created_at, request_id, method, route, status, source, "
        "prev_hash, hash, trace_id FROM audit_log");
}

TEST_F(AppendOnly, RefusesUpsert) {
    expect_refused(
        "INSERT INTO audit_log SELECT * FROM audit_log WHERE true "
        "ON CONFLICT(event_id) DO UPDATE SET user_id = 'mallory'");
    expect_refused(
        "INSERT INTO security_audit SELECT * FROM security_audit WHERE true "
        "ON CONFLICT(seq) DO UPDATE SET success = 1");
    expect_refused("INSERT OR IGNORE INTO audit_log SELECT * FROM audit_log");
}

TEST_F(AppendOnly, StoreStillAppendsAfterRefusals) {
    expect_refused("DELETE FROM audit_log");
    sqlite_store s(store_at(path_));
    const std::vector<event> batch{make_audit("carol")};
    EXPECT_EQ(s.append(batch).at(0).seq, 3);
}

// The store's own connection runs without the triggers; its authorizer refuses, when a statement
// is compiled, every change but an insert into the two tables.
TEST_F(AppendOnly, TheStoresOwnConnectionCompilesOnlyReadsAndInserts) {
    sqlite_store s(store_at(path_));
    for (const std::string sql :
         {"UPDATE audit_log SET user_id = 'mallory'", "DELETE FROM security_audit",
          "UPDATE audit_log SET trace_id = '4bf92f3577b34da6a3ce929d0e0e4736'",
          "UPDATE security_audit SET trace_id = NULL",
          "INSERT INTO audit_log SELECT * FROM audit_log WHERE true "
          "ON CONFLICT(event_id) DO UPDATE SET user_id = 'mallory'",
          "DROP TRIGGER audit_log_no_update", "DROP TABLE audit_log",
          "ALTER TABLE audit_log RENAME TO old_log", "CREATE TABLE x (a)",
          "INSERT INTO schema_version (version) VALUES (2)", "PRAGMA writable_schema = 1",
          "PRAGMA recursive_triggers = 1", "ATTACH ':memory:' AS other"}) {
        EXPECT_NE(s.exec_for_test(sql).find("not authorized"), std::string::npos) << sql;
    }
    EXPECT_EQ(s.exec_for_test("SELECT count(*) FROM audit_log"), "");
    EXPECT_EQ(snapshot("audit_log"), audit_row_);
    EXPECT_EQ(snapshot("security_audit"), security_row_);
    raw_db raw(path_);
    EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), "6");
    const std::vector<event> batch{make_audit("carol")};
    EXPECT_EQ(s.append(batch).at(0).seq, 3);
}

}  // namespace
}  // namespace sidelight::audit
