// A store file written by the previous release (schema version 1) is upgraded in place at open:
// every row identical, the chain and a checkpoint signed before still verify, the append-only
// triggers back, and a failed upgrade leaves the version-1 file as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "audit/checkpoint.hpp"
#include "audit/hash_chain.hpp"
#include "audit/sqlite_store.hpp"
#include "audit/verify.hpp"
#include "test_util.hpp"

namespace sidelight::audit {
namespace {

using testing::make_audit;
using testing::make_security;
using testing::raw_db;
using testing::store_at;
using testing::temp_dir;

// The schema version 1 as the previous release created it (audit/sqlite_store.cpp at main),
// triggers written out as its append_only_triggers() generated them.
constexpr const char* v1_schema = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY NOT NULL,
  event_id TEXT UNIQUE NOT NULL,
  user_id TEXT NOT NULL, action TEXT NOT NULL, entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL, changes TEXT NOT NULL, ip_address TEXT NOT NULL,
  user_agent TEXT NOT NULL, created_at TEXT NOT NULL,
  request_id TEXT NOT NULL, method TEXT NOT NULL, route TEXT NOT NULL, status INTEGER NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('rule', 'api', 'detector')),
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE security_audit (
  seq INTEGER PRIMARY KEY NOT NULL,
  event_id TEXT UNIQUE NOT NULL,
  event_type TEXT NOT NULL, user_id TEXT NOT NULL, ip_address TEXT NOT NULL,
  success INTEGER NOT NULL CHECK (success IN (0, 1)), details TEXT NOT NULL,
  created_at TEXT NOT NULL,
  request_id TEXT NOT NULL, method TEXT NOT NULL, route TEXT NOT NULL, status INTEGER NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('rule', 'api', 'detector')),
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX audit_log_user_id ON audit_log (user_id);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id);
CREATE INDEX audit_log_created_at ON audit_log (created_at);
CREATE INDEX security_audit_event_type ON security_audit (event_type);
CREATE INDEX security_audit_created_at ON security_audit (created_at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_overwrite BEFORE INSERT ON audit_log WHEN EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq) OR EXISTS (SELECT 1 FROM audit_log WHERE event_id = NEW.event_id) OR EXISTS (SELECT 1 FROM security_audit WHERE seq = NEW.seq) OR EXISTS (SELECT 1 FROM security_audit WHERE event_id = NEW.event_id) BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER security_audit_no_update BEFORE UPDATE ON security_audit BEGIN SELECT RAISE(ABORT, 'security_audit is append-only'); END;
CREATE TRIGGER security_audit_no_delete BEFORE DELETE ON security_audit BEGIN SELECT RAISE(ABORT, 'security_audit is append-only'); END;
CREATE TRIGGER security_audit_no_overwrite BEFORE INSERT ON security_audit WHEN EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq) OR EXISTS (SELECT 1 FROM audit_log WHERE event_id = NEW.event_id) OR EXISTS (SELECT 1 FROM security_audit WHERE seq = NEW.seq) OR EXISTS (SELECT 1 FROM security_audit WHERE event_id = NEW.event_id) BEGIN SELECT RAISE(ABORT, 'security_audit is append-only'); END;
INSERT INTO schema_version (version) VALUES (1);
)sql";

std::string quoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

// The INSERT the previous release made for `row` (its columns, its hash).
std::string v1_insert(const stored_event& row) {
    const auto common = [&](const auto& e) {
        return std::to_string(row.seq) + ", " + quoted(e.event_id) + ", " +
               quoted(format_time(e.created_at)) + ", " + quoted(std::string(to_string(e.source))) +
               ", " + quoted(e.request_id) + ", " + quoted(e.method) + ", " + quoted(e.route) +
               ", " + std::to_string(e.status) + ", " + quoted(row.prev_hash) + ", " +
               quoted(row.hash);
    };
    if (const auto* a = std::get_if<audit_event>(&row.ev)) {
        return "INSERT INTO audit_log (seq, event_id, created_at, source, request_id, method, "
               "route, status, prev_hash, hash, user_id, action, entity_type, entity_id, changes, "
               "ip_address, user_agent) VALUES (" +
               common(*a) + ", " + quoted(a->user_id) + ", " + quoted(a->action) + ", " +
               quoted(a->entity_type) + ", " + quoted(a->entity_id) + ", " + quoted(a->changes) +
               ", " + quoted(a->ip_address) + ", " + quoted(a->user_agent) + ")";
    }
    const auto& s = std::get<security_event>(row.ev);
    return "INSERT INTO security_audit (seq, event_id, created_at, source, request_id, method, "
           "route, status, prev_hash, hash, user_id, event_type, ip_address, success, details) "
           "VALUES (" +
           common(s) + ", " + quoted(s.user_id) + ", " + quoted(s.event_type) + ", " +
           quoted(s.ip_address) + ", " + (*s.success ? "1" : "0") + ", " + quoted(s.details) + ")";
}

// Version 2 as the release before trace ids created it: version 1 with success nullable.
std::string v2_schema() {
    std::string sql = v1_schema;
    const std::string not_null = "success INTEGER NOT NULL CHECK";
    sql.replace(sql.find(not_null), not_null.size(), "success INTEGER CHECK");
    const std::string version = "VALUES (1)";
    sql.replace(sql.find(version), version.size(), "VALUES (2)");
    return sql;
}

// A version-1 (or 2) file with a few chained rows in both tables, as the release before wrote
// them (the INSERTs of versions 1 and 2 are the same).
std::vector<stored_event> write_old_file(const std::string& path, int version) {
    auto ok = make_security("LOGIN_SUCCESS", "carol");
    ok.success = true;
    ok.details = R"({"it's":"quoted"})";
    std::vector<event> events{make_audit("alice"), make_security("LOGIN_FAILED"), ok,
                              make_audit("dave", "43")};
    raw_db raw(path);
    EXPECT_EQ(raw.exec("PRAGMA page_size=16384; PRAGMA journal_mode=WAL"), SQLITE_OK);
    EXPECT_EQ(raw.exec(version == 1 ? std::string(v1_schema) : v2_schema()), SQLITE_OK)
        << raw.last_error();
    std::vector<stored_event> rows;
    std::string prev{genesis_hash};
    for (auto& ev : events) {
        normalize(ev);
        stored_event row{static_cast<std::int64_t>(rows.size() + 1), prev, {}, ev, {}};
        row.hash = chain_hash(row.prev_hash, row.seq, row.ev);
        EXPECT_EQ(raw.exec(v1_insert(row)), SQLITE_OK) << raw.last_error();
        prev = row.hash;
        rows.push_back(row);
    }
    return rows;
}

std::vector<stored_event> write_v1_file(const std::string& path) {
    return write_old_file(path, 1);
}

// `rows` (raw_db::rows) with a NULL column appended to every row: trace_id as an upgrade adds it.
std::string with_null_trace(const std::string& rows) {
    std::string out;
    for (std::size_t start = 0, end; (end = rows.find('\n', start)) != std::string::npos;
         start = end + 1) {
        out += rows.substr(start, end - start) + "|n:\n";
    }
    return out;
}

// Everything a reader can see of the file: schema objects, version and every row of both tables.
struct file_content {
    std::string schema, version, audit_rows, security_rows;
    bool operator==(const file_content&) const = default;
};

file_content content_of(const std::string& path) {
    raw_db raw(path);
    return {raw.rows("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"),
            raw.rows("SELECT * FROM schema_version"),
            raw.rows("SELECT * FROM audit_log ORDER BY seq"),
            raw.rows("SELECT * FROM security_audit ORDER BY seq")};
}

class SchemaUpgrade : public ::testing::Test {
  protected:
    temp_dir dir_;
    std::string path_ = dir_.file("v1.db");
};

TEST_F(SchemaUpgrade, Version1FileIsUpgradedWithEveryRowUnchanged) {
    const auto written = write_v1_file(path_);
    const auto before = content_of(path_);
    ASSERT_NE(before.security_rows.find("|i:1|"), std::string::npos);  // success stored as 1

    const auto private_key = dir_.file("cp.pem");
    const auto public_key = dir_.file("cp.pub.pem");
    generate_checkpoint_key(private_key, public_key);
    checkpoint cp{written.back().seq, written.back().hash, now(), written.back().seq, {}};
    checkpoint_signer(private_key).sign(cp);

    {
        sqlite_store s(store_at(path_));
        EXPECT_EQ(s.head().seq, written.back().seq);
        EXPECT_EQ(s.head().hash, written.back().hash);
        const auto stored = s.query({});
        ASSERT_EQ(stored.size(), written.size());
        for (std::size_t i = 0; i < stored.size(); ++i) {
            EXPECT_EQ(stored[i].seq, written[i].seq);
            EXPECT_EQ(stored[i].prev_hash, written[i].prev_hash);
            EXPECT_EQ(stored[i].hash, written[i].hash);
            EXPECT_EQ(canonical_row(stored[i].seq, stored[i].ev),
                      canonical_row(written[i].seq, written[i].ev));
        }
        ASSERT_TRUE(checkpoint_verifier(public_key).verify(cp));
        const std::vector<checkpoint> checkpoints{cp};
        const auto r = verify(s, checkpoints);
        EXPECT_TRUE(r.ok()) << to_string(r.status) << ": " << r.detail;
        EXPECT_EQ(r.count, static_cast<std::int64_t>(written.size()));
    }

    const auto after = content_of(path_);
    EXPECT_EQ(after.version, "i:3\n");
    // Every row as it was, with trace_id NULL.
    EXPECT_EQ(after.audit_rows, with_null_trace(before.audit_rows));
    EXPECT_EQ(after.security_rows, with_null_trace(before.security_rows));

    // Schema objects (tables, indexes, triggers) read exactly as a new file's.
    const auto fresh = dir_.file("fresh.db");
    { sqlite_store s(store_at(fresh)); }
    EXPECT_EQ(after.schema, content_of(fresh).schema);
    EXPECT_NE(after.schema.find("security_audit_no_overwrite"), std::string::npos);

    // Opening again finds version 3 and changes nothing.
    { sqlite_store s(store_at(path_), open_mode::existing); }
    EXPECT_EQ(content_of(path_), after);
}

TEST_F(SchemaUpgrade, UpgradedFileTakesNullSuccessAndStaysAppendOnly) {
    write_v1_file(path_);
    {
        sqlite_store s(store_at(path_));
        auto aborted = make_security("LOGIN_ATTEMPT");
        aborted.success = std::nullopt;
        const std::vector<event> batch{aborted};
        const auto rows = s.append(batch);
        ASSERT_EQ(rows.size(), 1u);
        EXPECT_EQ(rows[0].seq, 5);
        const auto r = verify(s);
        EXPECT_TRUE(r.ok()) << to_string(r.status) << ": " << r.detail;
        EXPECT_EQ(r.count, 5);
    }
    const auto before = content_of(path_);
    EXPECT_NE(before.security_rows.find("|n:|"), std::string::npos);  // success NULL

    raw_db raw(path_);
    for (const char* sql :
         {"UPDATE security_audit SET success = 1", "DELETE FROM security_audit",
          "UPDATE audit_log SET user_id = 'mallory'", "DELETE FROM audit_log",
          "INSERT OR REPLACE INTO security_audit SELECT * FROM security_audit WHERE seq = 2",
          "INSERT OR REPLACE INTO audit_log SELECT * FROM audit_log WHERE seq = 1"}) {
        EXPECT_NE(raw.exec(sql), SQLITE_OK) << sql;
        EXPECT_NE(raw.last_error().find("append-only"), std::string::npos)
            << sql << ": " << raw.last_error();
    }
    EXPECT_EQ(content_of(path_), before);
}

// A row the version-2 table refuses (success 2, written with the CHECK switched off) makes the
// copy fail after the triggers were dropped and the table renamed: all of it is rolled back.
TEST_F(SchemaUpgrade, FailedUpgradeLeavesTheVersion1FileAsItWas) {
    write_v1_file(path_);
    {
        raw_db raw(path_);
        ASSERT_EQ(raw.exec("PRAGMA ignore_check_constraints=ON; INSERT INTO security_audit "
                           "SELECT 5, 'x', event_type, user_id, ip_address, 2, details, "
                           "created_at, request_id, method, route, status, source, hash, hash "
                           "FROM security_audit WHERE seq = 3"),
                  SQLITE_OK)
            << raw.last_error();
    }
    const auto before = content_of(path_);
    try {
        sqlite_store s(store_at(path_));
        FAIL() << "upgraded a file with a row version 2 refuses";
    } catch (const store_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("upgrade from schema version 1 to 3 failed, the file is left at "
                            "version 1"),
                  std::string::npos)
            << what;
        EXPECT_NE(what.find("CHECK constraint failed"), std::string::npos) << what;
    }
    EXPECT_EQ(content_of(path_), before);
    EXPECT_EQ(raw_db(path_).text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), "6");
}

// A file sidelight may read but not write (root writes anyway: skipped there).
TEST_F(SchemaUpgrade, ReadOnlyVersion1FileIsLeftAsItWas) {
    if (geteuid() == 0) GTEST_SKIP() << "root writes read-only files";
    write_v1_file(path_);
    { raw_db(path_).exec("PRAGMA wal_checkpoint(TRUNCATE)"); }
    const auto before = content_of(path_);
    ASSERT_EQ(chmod(path_.c_str(), 0444), 0);
    try {
        sqlite_store s(store_at(path_));
        FAIL() << "upgraded a read-only file";
    } catch (const store_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(path_ + ": upgrade from schema version 1 to 3 failed, the file is left "
                                    "at version 1: attempt to write a readonly database"),
                  std::string::npos)
            << what;
    }
    EXPECT_EQ(content_of(path_), before);
    EXPECT_EQ(raw_db(path_).text("SELECT version FROM schema_version"), "1");
}

constexpr const char* trace_a = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* trace_b = "0af7651916cd43dd8448eb211c80319c";

// A version-2 file (the release before trace ids) with chained rows is upgraded in place by
// ADD COLUMN: old rows unchanged (trace_id NULL), rows with trace ids appended after them, and
// the whole mixed chain verifies.
TEST_F(SchemaUpgrade, Version2FileGetsTraceIdAndTheMixedChainVerifies) {
    const auto written = write_old_file(path_, 2);
    const auto before = content_of(path_);
    {
        sqlite_store s(store_at(path_));
        auto traced = make_audit("erin", "44");
        traced.trace_id = trace_a;
        auto traced_login = make_security("LOGIN_FAILED", "frank");
        traced_login.trace_id = trace_b;
        const std::vector<event> batch{traced, traced_login, make_audit("gina")};
        const auto rows = s.append(batch);
        ASSERT_EQ(rows.size(), 3u);
        EXPECT_EQ(rows[0].seq, 5);
        EXPECT_EQ(rows[0].prev_hash, written.back().hash);
        const auto r = verify(s);
        EXPECT_TRUE(r.ok()) << to_string(r.status) << ": " << r.detail;
        EXPECT_EQ(r.count, 7);
        const auto stored = s.query({});
        ASSERT_EQ(stored.size(), 7u);
        for (std::size_t i = 0; i < 4; ++i) {
            EXPECT_EQ(stored[i].hash, written[i].hash) << i;
            EXPECT_EQ(trace_id_of(stored[i].ev), "") << i;
        }
        EXPECT_EQ(trace_id_of(stored[4].ev), trace_a);
        EXPECT_EQ(trace_id_of(stored[5].ev), trace_b);
        EXPECT_EQ(trace_id_of(stored[6].ev), "");
    }
    const auto after = content_of(path_);
    EXPECT_EQ(after.version, "i:3\n");
    raw_db raw(path_);
    // The old rows as they were, with trace_id NULL; the new ones with theirs, or NULL.
    EXPECT_EQ(raw.rows("SELECT * FROM audit_log WHERE seq <= 4 ORDER BY seq"),
              with_null_trace(before.audit_rows));
    EXPECT_EQ(raw.rows("SELECT * FROM security_audit WHERE seq <= 4 ORDER BY seq"),
              with_null_trace(before.security_rows));
    EXPECT_EQ(raw.rows("SELECT seq, trace_id FROM audit_log WHERE seq > 4 ORDER BY seq"),
              std::string("i:5|t:") + trace_a + "\ni:7|n:\n");
    EXPECT_EQ(raw.rows("SELECT seq, trace_id FROM security_audit WHERE seq > 4"),
              std::string("i:6|t:") + trace_b + "\n");
    // Schema objects read exactly as a new file's.
    const auto fresh = dir_.file("fresh.db");
    { sqlite_store s(store_at(fresh)); }
    EXPECT_EQ(after.schema, content_of(fresh).schema);
    EXPECT_NE(after.schema.find("trace_id TEXT"), std::string::npos);
}

TEST_F(SchemaUpgrade, TraceIdIsAppendOnlyAndAnEditedOneBreaksTheChain) {
    write_old_file(path_, 2);
    {
        sqlite_store s(store_at(path_));
        auto traced = make_audit("erin", "44");
        traced.trace_id = trace_a;
        auto traced_login = make_security("LOGIN_FAILED", "frank");
        traced_login.trace_id = trace_b;
        const std::vector<event> batch{traced, traced_login};
        s.append(batch);
    }
    const auto before = content_of(path_);
    {
        raw_db raw(path_);
        for (const char* sql :
             {"UPDATE audit_log SET trace_id = '0af7651916cd43dd8448eb211c80319c' WHERE seq = 5",
              "UPDATE audit_log SET trace_id = '0af7651916cd43dd8448eb211c80319c' WHERE seq = 1",
              "UPDATE security_audit SET trace_id = NULL WHERE seq = 6",
              "DELETE FROM audit_log WHERE seq = 5",
              "INSERT OR REPLACE INTO audit_log SELECT * FROM audit_log WHERE seq = 5"}) {
            EXPECT_NE(raw.exec(sql), SQLITE_OK) << sql;
            EXPECT_NE(raw.last_error().find("append-only"), std::string::npos)
                << sql << ": " << raw.last_error();
        }
    }
    EXPECT_EQ(content_of(path_), before);

    // Past the triggers (whoever can write the file can drop them), the chain tells.
    const auto tampered = [&](const std::string& sql) {
        raw_db raw(path_);
        EXPECT_EQ(raw.exec("DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS "
                           "security_audit_no_update; " +
                           sql),
                  SQLITE_OK)
            << raw.last_error();
        sqlite_store s(store_at(path_), open_mode::existing);
        return verify(s);
    };
    auto r =
        tampered("UPDATE audit_log SET trace_id = '" + std::string(trace_b) + "' WHERE seq = 5");
    EXPECT_EQ(r.status, verify_status::modified);
    EXPECT_EQ(r.broken_seq, 5);
    r = tampered("UPDATE audit_log SET trace_id = '" + std::string(trace_a) + "' WHERE seq = 5");
    EXPECT_TRUE(r.ok()) << to_string(r.status) << ": " << r.detail;  // put back
    r = tampered("UPDATE security_audit SET trace_id = NULL WHERE seq = 6");
    EXPECT_EQ(r.status, verify_status::modified);
    EXPECT_EQ(r.broken_seq, 6);
    r = tampered("UPDATE security_audit SET trace_id = '" + std::string(trace_b) +
                 "' WHERE seq = 6; UPDATE audit_log SET trace_id = '" + trace_a +
                 "' WHERE seq = 1");
    EXPECT_EQ(r.status, verify_status::modified);  // a trace id given to an old row
    EXPECT_EQ(r.broken_seq, 1);
}

// A version-2 file sidelight may read but not write stays at version 2 (root writes anyway).
TEST_F(SchemaUpgrade, ReadOnlyVersion2FileIsLeftAsItWas) {
    if (geteuid() == 0) GTEST_SKIP() << "root writes read-only files";
    write_old_file(path_, 2);
    { raw_db(path_).exec("PRAGMA wal_checkpoint(TRUNCATE)"); }
    const auto before = content_of(path_);
    ASSERT_EQ(chmod(path_.c_str(), 0444), 0);
    try {
        sqlite_store s(store_at(path_));
        FAIL() << "upgraded a read-only file";
    } catch (const store_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(path_ + ": upgrade from schema version 2 to 3 failed, the file is left "
                                    "at version 2: attempt to write a readonly database"),
                  std::string::npos)
            << what;
    }
    EXPECT_EQ(content_of(path_), before);
    EXPECT_EQ(raw_db(path_).text("SELECT version FROM schema_version"), "2");
}

}  // namespace
}  // namespace sidelight::audit
