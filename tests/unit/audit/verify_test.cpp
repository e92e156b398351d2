// The attacker opens the file with plain sqlite3, drops the append-only triggers and edits rows;
// verify() must point at the first broken seq and say why.
#include "audit/verify.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "audit/hash_chain.hpp"
#include "audit/sqlite_store.hpp"
#include "test_util.hpp"

namespace sidelight::audit {
namespace {

using testing::make_audit;
using testing::make_security;
using testing::raw_db;
using testing::store_at;
using testing::temp_dir;

constexpr const char* drop_triggers =
    "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; "
    "DROP TRIGGER audit_log_no_overwrite; DROP TRIGGER security_audit_no_update; "
    "DROP TRIGGER security_audit_no_delete; DROP TRIGGER security_audit_no_overwrite;";

// Flipping the lowest bit twice restores the value, so one store serves every column.
std::string flip_text(const std::string& table, const std::string& column, int pos,
                      std::int64_t seq) {
    const auto p = std::to_string(pos);
    const std::string c = "unicode(substr(" + column + ", " + p + ", 1))";
    return "UPDATE " + table + " SET " + column + " = substr(" + column + ", 1, " +
           std::to_string(pos - 1) + ") || char((" + c + " | 1) - (" + c + " & 1)) || substr(" +
           column + ", " + std::to_string(pos + 1) + ") WHERE seq = " + std::to_string(seq);
}

std::string flip_int(const std::string& table, const std::string& column, std::int64_t seq) {
    return "UPDATE " + table + " SET " + column + " = (" + column + " | 1) - (" + column +
           " & 1) WHERE seq = " + std::to_string(seq);
}

class Verify : public ::testing::Test {
  protected:
    // Six rows: audit_log at seq 1, 3, 5 and security_audit at seq 2, 4, 6.
    void SetUp() override {
        sqlite_store s(store_at(path_));
        std::vector<event> batch;
        for (int i = 0; i < 3; ++i) {
            batch.push_back(make_audit("user" + std::to_string(i), std::to_string(i)));
            batch.push_back(make_security("LOGIN_FAILED", "user" + std::to_string(i)));
        }
        rows_ = s.append(batch);
        raw_db(path_).exec(drop_triggers);
    }

    verify_result run() {
        sqlite_store s(store_at(path_), open_mode::existing);
        return verify(s);
    }

    void tamper(const std::string& sql) {
        raw_db raw(path_);
        ASSERT_EQ(raw.exec(sql), SQLITE_OK) << sql << ": " << raw.last_error();
    }

    void expect_broken(verify_status status, std::int64_t seq, const std::string& what) {
        const auto r = run();
        EXPECT_EQ(r.status, status) << what << ": " << to_string(r.status) << " " << r.detail;
        EXPECT_EQ(r.broken_seq, seq) << what;
    }

    temp_dir dir_;
    std::string path_ = dir_.file("a.db");
    std::vector<stored_event> rows_;
};

TEST_F(Verify, IntactStoreIsOk) {
    const auto r = run();
    EXPECT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.count, 6);
    EXPECT_EQ(r.head.seq, 6);
    EXPECT_EQ(r.head.hash, rows_.back().hash);
}

TEST_F(Verify, EmptyStoreIsOk) {
    temp_dir dir;
    sqlite_store s(store_at(dir.file("e.db")));
    const auto r = verify(s);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.count, 0);
}

TEST_F(Verify, EveryAuditColumnFlipIsModified) {
    for (const char* column :
         {"event_id", "user_id", "action", "entity_type", "entity_id", "changes", "ip_address",
          "user_agent", "request_id", "method", "route", "prev_hash", "hash"}) {
        tamper(flip_text("audit_log", column, 1, 3));
        expect_broken(verify_status::modified, 3, column);
        tamper(flip_text("audit_log", column, 1, 3));
        EXPECT_TRUE(run().ok()) << column << " restored";
    }
    tamper(flip_text("audit_log", "created_at", 26, 3));  // last microsecond digit
    expect_broken(verify_status::modified, 3, "created_at");
    tamper(flip_text("audit_log", "created_at", 26, 3));
    tamper(flip_int("audit_log", "status", 3));
    expect_broken(verify_status::modified, 3, "status");
    tamper(flip_int("audit_log", "status", 3));
    tamper("UPDATE audit_log SET source = 'api' WHERE seq = 3");
    expect_broken(verify_status::modified, 3, "source");
}

TEST_F(Verify, EverySecurityColumnFlipIsModified) {
    for (const char* column : {"event_id", "event_type", "user_id", "ip_address", "details",
                               "request_id", "method", "route", "prev_hash", "hash"}) {
        tamper(flip_text("security_audit", column, 1, 4));
        expect_broken(verify_status::modified, 4, column);
        tamper(flip_text("security_audit", column, 1, 4));
        EXPECT_TRUE(run().ok()) << column << " restored";
    }
    tamper(flip_text("security_audit", "created_at", 26, 4));
    expect_broken(verify_status::modified, 4, "created_at");
    tamper(flip_text("security_audit", "created_at", 26, 4));
    for (const char* column : {"status", "success"}) {
        tamper(flip_int("security_audit", column, 4));
        expect_broken(verify_status::modified, 4, column);
        tamper(flip_int("security_audit", column, 4));
    }
    tamper("UPDATE security_audit SET source = 'rule' WHERE seq = 4");
    expect_broken(verify_status::modified, 4, "source");
}

// A NULL success (outcome unknown) is its own value in the chain: setting it to 0 or 1, or a
// 0 to NULL, is a modification.
TEST_F(Verify, NullSuccessIsChainedAsItsOwnValue) {
    tamper("UPDATE security_audit SET success = NULL WHERE seq = 4");
    expect_broken(verify_status::modified, 4, "0 -> NULL");
    tamper("UPDATE security_audit SET success = 0 WHERE seq = 4");
    ASSERT_TRUE(run().ok());
    {
        sqlite_store s(store_at(path_), open_mode::existing);
        auto e = make_security("LOGIN_ATTEMPT", "dana");
        e.success = std::nullopt;
        s.append(std::vector<event>{e});
    }
    EXPECT_TRUE(run().ok());
    tamper("UPDATE security_audit SET success = 0 WHERE seq = 7");
    expect_broken(verify_status::modified, 7, "NULL -> 0");
}

TEST_F(Verify, DeletedMiddleRowIsGap) {
    tamper("DELETE FROM audit_log WHERE seq = 3");
    expect_broken(verify_status::gap, 3, "delete seq 3");
}

TEST_F(Verify, SwappedSeqsAreReordered) {
    tamper(
        "UPDATE audit_log SET seq = -1 WHERE seq = 1; UPDATE audit_log SET seq = 1 WHERE seq "
        "= 3; UPDATE audit_log SET seq = 3 WHERE seq = -1");
    expect_broken(verify_status::reordered, 1, "swap 1 and 3");
}

TEST_F(Verify, SwappedAdjacentRowsAcrossTablesAreReordered) {
    tamper(
        "UPDATE audit_log SET seq = 4 WHERE seq = 3; UPDATE security_audit SET seq = 3 WHERE "
        "seq = 4");
    expect_broken(verify_status::reordered, 3, "swap 3 and 4");
}

TEST_F(Verify, ForgedRowInTheMiddleBreaksTheLink) {
    // A self-consistent replacement for seq 3 (right prev_hash, right hash for its content)...
    auto forged = make_audit("mallory", "0");
    forged.event_id = "forged-event";
    forged.created_at = created_at_of(rows_[2].ev);
    const auto hash = chain_hash(rows_[1].hash, 3, forged);
    tamper("DELETE FROM audit_log WHERE seq = 3");
    tamper(
        "INSERT INTO audit_log SELECT 3, 'forged-event', 'mallory', action, entity_type, "
        "'0', changes, ip_address, user_agent, '" +
        format_time(forged.created_at) + "', request_id, method, route, status, source, '" +
        rows_[1].hash + "', '" + hash + "', trace_id FROM audit_log WHERE seq = 1");
    // ...is undone by the next row, whose prev_hash still names the original.
    expect_broken(verify_status::broken_link, 4, "forged seq 3");
}

TEST_F(Verify, ForgedRowAtTheEndIsInvisibleToTheChainAlone) {
    tamper(
        "INSERT INTO security_audit SELECT 7, 'forged', event_type, 'mallory', ip_address, "
        "1, details, created_at, request_id, method, route, status, source, '" +
        rows_.back().hash + "', 'placeholder', trace_id FROM security_audit WHERE seq = 6");
    // Fix the hash up the way an attacker would: recompute it over the stored content.
    query_filter last;
    last.after_seq = 6;
    const auto row = sqlite_store(store_at(path_), open_mode::existing).query(last).at(0);
    tamper("UPDATE security_audit SET hash = '" + chain_hash(row.prev_hash, 7, row.ev) +
           "' WHERE seq = 7");
    const auto r = run();
    EXPECT_TRUE(r.ok()) << "documented limit, covered by checkpoints: " << r.detail;
    EXPECT_EQ(r.head.seq, 7);
}

// Rows the walk (seq 1, 2, ... in order) never meets: at seq 0 or below, which the append-only
// triggers let through as new seqs, and a second row at a seq in use (in the other table).
TEST_F(Verify, RowsAddedOutsideTheChainAreFound) {
    for (const char* seq : {"0", "-7"}) {
        tamper(std::string("INSERT INTO audit_log SELECT ") + seq +
               ", 'forged', 'mallory', action, entity_type, '42', changes, ip_address, "
               "user_agent, created_at, request_id, method, route, status, source, prev_hash, "
               "hash, trace_id FROM audit_log WHERE seq = 1");
        const auto r = run();
        EXPECT_EQ(r.status, verify_status::outside_chain) << seq << ": " << r.detail;
        EXPECT_NE(r.detail.find("7 rows stored, 6 in the chain"), std::string::npos) << r.detail;
        tamper(std::string("DELETE FROM audit_log WHERE seq = ") + seq);
        EXPECT_TRUE(run().ok()) << seq << " removed";
    }
    tamper(
        "INSERT INTO security_audit SELECT 3, 'forged', event_type, 'mallory', ip_address, 1, "
        "details, created_at, request_id, method, route, status, source, prev_hash, hash, "
        "trace_id FROM security_audit WHERE seq = 2");
    EXPECT_FALSE(run().ok());  // within a page the walk meets both (VerifyPages: at its edge)
}

// A second row at a seq in use, at the edge of the walk's pages (1,000 rows each): the walk
// reads one of the two and goes on after that seq, so only the count finds the other.
TEST(VerifyPages, ASecondRowAtAPageBoundaryIsOutsideTheChain) {
    temp_dir dir;
    const auto path = dir.file("p.db");
    {
        sqlite_store s(store_at(path));
        std::vector<event> batch;
        for (int i = 0; i < 1001; ++i) batch.push_back(make_audit("u" + std::to_string(i)));
        batch.back() = make_security("LOGIN_FAILED", "u");  // seq 1001 in the other table
        ASSERT_EQ(s.append(batch).size(), 1001u);
    }
    raw_db(path).exec(drop_triggers);
    raw_db(path).exec(
        "INSERT INTO security_audit SELECT 1000, 'forged', event_type, 'mallory', ip_address, 1, "
        "details, created_at, request_id, method, route, status, source, prev_hash, hash, "
        "trace_id FROM security_audit WHERE seq = 1001");
    sqlite_store s(store_at(path), open_mode::existing);
    const auto r = verify(s);
    EXPECT_EQ(r.status, verify_status::outside_chain) << to_string(r.status) << " " << r.detail;
}

// A status an int cannot hold would be hashed (and shown) cut to 32 bits: such an edit would
// verify.
TEST_F(Verify, AStatusBeyondAnIntIsUnreadable) {
    tamper("UPDATE audit_log SET status = status + 4294967296 * 3 WHERE seq = 3");
    const auto r = run();
    EXPECT_EQ(r.status, verify_status::unreadable) << to_string(r.status) << " " << r.detail;
}

// verify, query and export open a store that exists: a file without the audit schema is
// refused, and left as it was, instead of verifying as an empty store.
TEST(VerifyOpen, AFileThatIsNotAnAuditStoreIsRefusedAndLeftAlone) {
    temp_dir dir;
    const auto empty = dir.file("empty.db");
    { std::ofstream(empty.c_str()); }
    EXPECT_THROW(sqlite_store(store_at(empty), open_mode::existing), store_error);
    EXPECT_EQ(std::filesystem::file_size(empty), 0u);
    const auto other = dir.file("other.db");
    raw_db(other).exec("CREATE TABLE t (x)");
    EXPECT_THROW(sqlite_store(store_at(other), open_mode::existing), store_error);
    EXPECT_EQ(raw_db(other).text("SELECT count(*) FROM sqlite_master WHERE name = 'audit_log'"),
              "0");
}

TEST_F(Verify, UndecodableValueIsUnreadable) {
    tamper("UPDATE audit_log SET created_at = 'yesterday' WHERE seq = 3");
    const auto r = run();
    EXPECT_EQ(r.status, verify_status::unreadable);
    EXPECT_NE(r.detail.find("seq 3"), std::string::npos) << r.detail;
}

}  // namespace
}  // namespace sidelight::audit
