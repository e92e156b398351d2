#include "audit/sqlite_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "audit/hash_chain.hpp"
#include "audit/verify.hpp"
#include "test_util.hpp"
#include "util/uuid.hpp"

namespace sidelight::audit {
namespace {

using testing::make_audit;
using testing::make_security;
using testing::raw_db;
using testing::store_at;
using testing::temp_dir;

TEST(SqliteStore, CreatesSchemaAndReopens) {
    temp_dir dir;
    const auto path = dir.file("a.db");
    {
        sqlite_store s(store_at(path));
        EXPECT_EQ(s.head().seq, 0);
        EXPECT_EQ(s.head().hash, genesis_hash);
        const std::vector<event> batch{make_audit("alice")};
        s.append(batch);
    }
    sqlite_store again(store_at(path), open_mode::existing);
    EXPECT_EQ(again.head().seq, 1);
    raw_db raw(path);
    EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(raw.text("SELECT version FROM schema_version"), "3");
    for (const char* index : {"audit_log_user_id", "audit_log_entity", "audit_log_created_at",
                              "security_audit_event_type", "security_audit_created_at"}) {
        EXPECT_EQ(
            raw.text(std::string("SELECT name FROM sqlite_master WHERE name='") + index + "'"),
            index);
    }
}

// Two sidelights started at once on one new file (two sidecars sharing a volume): one creates
// the schema, the other finds it, and both append to one chain. Before the check was made under
// the write lock, the second failed with "table schema_version already exists" now and then.
TEST(SqliteStore, TwoOpeningANewFileAtOnceBothGetTheOneSchema) {
    temp_dir dir;
    constexpr int rounds = 40;
    for (int round = 0; round < rounds; ++round) {
        const auto path = dir.file("both" + std::to_string(round) + ".db");
        std::latch together(2);
        std::array<std::string, 2> errors;
        std::array<std::unique_ptr<sqlite_store>, 2> stores;
        std::vector<std::thread> openers;
        for (int i = 0; i < 2; ++i) {
            openers.emplace_back([&, i] {
                together.arrive_and_wait();
                try {
                    stores[static_cast<std::size_t>(i)] =
                        std::make_unique<sqlite_store>(store_at(path));
                } catch (const std::exception& e) {
                    errors[static_cast<std::size_t>(i)] = e.what();
                }
            });
        }
        for (auto& t : openers) t.join();
        ASSERT_EQ(errors[0], "") << "round " << round;
        ASSERT_EQ(errors[1], "") << "round " << round;
        for (auto& s : stores) {
            const std::vector<event> batch{make_audit("alice")};
            s->append(batch);
        }
        EXPECT_EQ(stores[0]->head().seq, 2);
        EXPECT_TRUE(verify(*stores[1]).ok());
        EXPECT_EQ(raw_db(path).text("SELECT count(*) FROM schema_version"), "1");
    }
}

// ":memory:" (the config refuses it, the class takes it): it cannot be WAL, and opens in its own
// mode (it is not taken for a file whose lock is busy).
TEST(SqliteStore, AnInMemoryStoreOpensInItsOwnModeAndAppends) {
    sqlite_store s(store_at(":memory:"));
    EXPECT_EQ(s.setting("journal_mode"), "memory");
    const std::vector<event> batch{make_audit("alice"), make_security("login_failed")};
    s.append(batch);
    EXPECT_EQ(s.head().seq, 2);
    EXPECT_TRUE(verify(s).ok());
}

TEST(SqliteStore, NewDatabasesGetLargePagesExistingOnesKeepTheirs) {
    temp_dir dir;
    const auto fresh = dir.file("fresh.db");
    { sqlite_store s(store_at(fresh)); }
    EXPECT_EQ(raw_db(fresh).text("PRAGMA page_size"), std::to_string(sqlite_store::new_page_size));

    const auto old = dir.file("old.db");
    {
        raw_db raw(old);
        ASSERT_EQ(raw.exec("PRAGMA page_size=4096; PRAGMA journal_mode=WAL"), SQLITE_OK);
    }
    {
        sqlite_store s(store_at(old));
        const std::vector<event> batch{make_audit("alice")};
        s.append(batch);
    }
    sqlite_store again(store_at(old), open_mode::existing);
    EXPECT_EQ(again.head().seq, 1);
    EXPECT_EQ(raw_db(old).text("PRAGMA page_size"), "4096");
}

TEST(SqliteStore, RejectsOtherSchemaVersion) {
    temp_dir dir;
    const auto path = dir.file("a.db");
    { sqlite_store s(store_at(path)); }
    raw_db(path).exec("DELETE FROM schema_version; INSERT INTO schema_version VALUES (7)");
    try {
        sqlite_store s(store_at(path));
        FAIL() << "opened a version 7 store";
    } catch (const store_error& e) {
        EXPECT_NE(std::string(e.what()).find("schema version 7, this build expects 3"),
                  std::string::npos)
            << e.what();
    }
}

// The settings in force on the store's own connection, not only the ones it was given.
TEST(SqliteStore, SettingsAreInForceOnItsConnection) {
    temp_dir dir;
    {
        sqlite_store s(store_at(dir.file("full.db")));
        EXPECT_EQ(s.setting("synchronous"), "2");  // FULL, the default
        EXPECT_EQ(s.setting("journal_mode"), "wal");
        EXPECT_EQ(s.setting("page_size"), std::to_string(sqlite_store::new_page_size));
        const config::store_config defaults;
        EXPECT_EQ(s.setting("wal_autocheckpoint"),
                  std::to_string(defaults.wal_max_bytes / sqlite_store::new_page_size));
        EXPECT_EQ(s.setting("journal_size_limit"), std::to_string(defaults.wal_max_bytes));
        EXPECT_EQ(s.setting("busy_timeout"), std::to_string(sqlite_store::busy_timeout_ms));
        EXPECT_THROW(s.setting("writable_schema"), store_error);
    }
    auto cfg = store_at(dir.file("normal.db"));
    cfg.synchronous = "normal";
    sqlite_store s(cfg);
    EXPECT_EQ(s.setting("synchronous"), "1");
}

TEST(SqliteStore, RejectsBadSynchronousAndMissingFile) {
    temp_dir dir;
    auto cfg = store_at(dir.file("a.db"));
    cfg.synchronous = "sometimes";
    EXPECT_THROW(sqlite_store{cfg}, store_error);
    EXPECT_THROW(sqlite_store(store_at(dir.file("missing.db")), open_mode::existing), store_error);
}

TEST(SqliteStore, AppendAssignsSeqAndChainAcrossTables) {
    temp_dir dir;
    sqlite_store s(store_at(dir.file("a.db")));
    const std::vector<event> first{make_audit("alice"), make_security("LOGIN_FAILED")};
    const std::vector<event> second{make_audit("carol")};
    auto rows = s.append(first);
    const auto more = s.append(second);
    rows.insert(rows.end(), more.begin(), more.end());
    ASSERT_EQ(rows.size(), 3u);
    std::string prev{genesis_hash};
    for (std::size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(rows[i].seq, static_cast<std::int64_t>(i + 1));
        EXPECT_EQ(rows[i].prev_hash, prev);
        EXPECT_EQ(rows[i].hash, chain_hash(prev, rows[i].seq, rows[i].ev));
        EXPECT_TRUE(util::is_uuid(event_id_of(rows[i].ev)));
        prev = rows[i].hash;
    }
    EXPECT_EQ(rows[1].table(), table_kind::security_audit);
    EXPECT_EQ(s.head().seq, 3);
    EXPECT_EQ(s.head().hash, prev);

    const auto stored = s.query({});
    ASSERT_EQ(stored.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(stored[i].seq, rows[i].seq);
        EXPECT_EQ(stored[i].hash, rows[i].hash);
        EXPECT_EQ(canonical_row(stored[i].seq, stored[i].ev),
                  canonical_row(rows[i].seq, rows[i].ev));
    }
}

TEST(SqliteStore, DuplicateEventIdIsSkippedIdempotently) {
    temp_dir dir;
    sqlite_store s(store_at(dir.file("a.db")));
    auto e = make_audit("alice");
    e.event_id = util::make_uuid_v4();
    const std::vector<event> once{e};
    const auto first = s.append(once);
    auto changed = e;
    changed.user_id = "mallory";
    const std::vector<event> again{make_security("X"), changed, changed};
    const auto second = s.append(again);
    ASSERT_EQ(second.size(), 3u);
    EXPECT_EQ(second[0].seq, 2);
    EXPECT_EQ(second[1].seq, first[0].seq);
    EXPECT_EQ(second[1].hash, first[0].hash);
    EXPECT_EQ(std::get<audit_event>(second[2].ev).user_id, "alice");
    EXPECT_EQ(s.head().seq, 2);
    // The same id in the other table is a duplicate too.
    auto sec = make_security("Y");
    sec.event_id = e.event_id;
    const std::vector<event> cross{sec};
    EXPECT_EQ(s.append(cross)[0].seq, 1);
    EXPECT_EQ(s.head().seq, 2);
}

// Runs of one table go in as multi-row INSERTs (64, 16, 4, 1 rows): the result must be the same
// as row by row, across chunk and table boundaries.
TEST(SqliteStore, LargeMixedBatchChainsLikeRowByRow) {
    temp_dir dir;
    sqlite_store s(store_at(dir.file("a.db")));
    std::vector<event> batch;
    for (int i = 0; i < 300; ++i) {  // 150 audit, 3 security, 147 audit
        if (i >= 150 && i < 153) {
            batch.push_back(make_security("LOGIN_FAILED", "u" + std::to_string(i)));
        } else {
            batch.push_back(make_audit("u" + std::to_string(i), std::to_string(i)));
        }
    }
    const auto rows = s.append(batch);
    ASSERT_EQ(rows.size(), batch.size());
    std::string prev{genesis_hash};
    for (std::size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(rows[i].seq, static_cast<std::int64_t>(i + 1));
        EXPECT_EQ(rows[i].table(), table_of(batch[i])) << i;
        EXPECT_EQ(rows[i].prev_hash, prev) << i;
        EXPECT_EQ(rows[i].hash, chain_hash(prev, rows[i].seq, rows[i].ev)) << i;
        prev = rows[i].hash;
    }
    const auto r = verify(s);
    EXPECT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.count, 300);
    EXPECT_EQ(r.head.hash, prev);
    query_filter all;
    all.limit = query_filter::max_limit;
    const auto stored = s.query(all);
    ASSERT_EQ(stored.size(), 300u);
    for (std::size_t i = 0; i < 300; ++i) {
        EXPECT_EQ(canonical_row(stored[i].seq, stored[i].ev),
                  canonical_row(rows[i].seq, rows[i].ev))
            << i;
    }
}

// A stored or repeated event_id inside a multi-row chunk: the batch is redone row by row, the
// duplicates take no seq and later rows chain on without a gap.
TEST(SqliteStore, DuplicateInsideALargeBatchIsSkipped) {
    temp_dir dir;
    sqlite_store s(store_at(dir.file("a.db")));
    auto stored = make_audit("alice");
    stored.event_id = util::make_uuid_v4();
    const std::vector<event> first{stored};
    const auto first_rows = s.append(first);
    auto sec = make_security("LOGIN_FAILED");
    sec.event_id = util::make_uuid_v4();
    std::vector<event> batch;
    for (int i = 0; i < 100; ++i) {
        auto e = make_audit("u" + std::to_string(i), std::to_string(i));
        if (i == 10) e.event_id = stored.event_id;                    // stored already
        if (i == 40) e.event_id = sec.event_id;                       // in the other table
        if (i == 20 || i == 30) e.event_id = "dup-within-the-batch";  // twice in one chunk
        batch.push_back(e);
    }
    batch.insert(batch.begin() + 5, sec);  // security run of one, shifts the rest by one
    const auto rows = s.append(batch);
    ASSERT_EQ(rows.size(), 101u);
    std::int64_t next = 2;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& id = event_id_of(batch[i]);
        if (id == stored.event_id) {
            EXPECT_EQ(rows[i].seq, 1) << i;
            EXPECT_EQ(rows[i].hash, first_rows[0].hash);
        } else if (i == 41) {  // the audit event that reuses the security event's id
            EXPECT_EQ(rows[i].seq, rows[5].seq) << i;
            EXPECT_EQ(rows[i].table(), table_kind::security_audit);
        } else if (i == 31) {  // second use of "dup-within-the-batch"
            EXPECT_EQ(rows[i].seq, rows[21].seq) << i;
        } else {
            EXPECT_EQ(rows[i].seq, next++) << i;
        }
    }
    EXPECT_EQ(s.head().seq, next - 1);
    const auto r = verify(s);
    EXPECT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.count, next - 1);
}

TEST(SqliteStore, QueryFilters) {
    temp_dir dir;
    sqlite_store s(store_at(dir.file("a.db")));
    std::vector<event> batch;
    for (int i = 0; i < 5; ++i)
        batch.push_back(make_audit(i % 2 ? "alice" : "bob", std::to_string(i)));
    batch.push_back(make_security("LOGIN_FAILED", "alice"));
    batch.push_back(make_security("LOGOUT", "alice"));
    s.append(batch);

    query_filter f;
    f.user_id = "alice";
    EXPECT_EQ(s.query(f).size(), 4u);
    f.table = table_kind::audit_log;
    EXPECT_EQ(s.query(f).size(), 2u);
    query_filter by_entity;
    by_entity.entity_type = "product";
    by_entity.entity_id = "3";
    ASSERT_EQ(s.query(by_entity).size(), 1u);
    EXPECT_EQ(s.query(by_entity)[0].seq, 4);
    query_filter by_type;
    by_type.event_type = "LOGOUT";
    ASSERT_EQ(s.query(by_type).size(), 1u);
    EXPECT_EQ(s.query(by_type)[0].seq, 7);
    query_filter page;
    page.after_seq = 2;
    page.limit = 3;
    const auto rows = s.query(page);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].seq, 3);
    EXPECT_EQ(rows[2].seq, 5);
    query_filter future;
    future.since = now() + std::chrono::hours(1);
    EXPECT_TRUE(s.query(future).empty());
    query_filter past;
    past.until = now() + std::chrono::hours(1);
    EXPECT_EQ(s.query(past).size(), 7u);
}

TEST(SqliteStore, UnknownSuccessIsStoredAsNull) {
    temp_dir dir;
    sqlite_store s(store_at(dir.file("a.db")));
    auto unknown = make_security("LOGIN_ATTEMPT");
    unknown.success = std::nullopt;
    auto failed = make_security("LOGIN_ATTEMPT");
    failed.success = false;
    s.append(std::vector<event>{unknown, failed});
    const auto rows = s.query({});
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(std::get<security_event>(rows[0].ev).success, std::nullopt);
    EXPECT_EQ(std::get<security_event>(rows[1].ev).success, false);
    raw_db raw(dir.file("a.db"));
    EXPECT_EQ(raw.text("SELECT count(*) FROM security_audit WHERE success IS NULL"), "1");
    EXPECT_EQ(raw.text("SELECT count(*) FROM security_audit WHERE success = 0"), "1");
    EXPECT_NE(canonical_row(1, unknown), canonical_row(1, failed));
    EXPECT_TRUE(verify(s).ok());
}

TEST(SqliteStore, RoundTripsTimeAndFields) {
    temp_dir dir;
    sqlite_store s(store_at(dir.file("a.db")));
    auto e = make_security("LOGIN_OK");
    e.success = true;
    e.created_at = *parse_time("2026-11-26T23:59:01.123456Z");
    const std::vector<event> batch{e};
    s.append(batch);
    const auto row = s.query({}).at(0);
    const auto& got = std::get<security_event>(row.ev);
    EXPECT_EQ(format_time(got.created_at), "2026-11-26T23:59:01.123456Z");
    EXPECT_EQ(got.success, true);
    EXPECT_EQ(got.source, event_source::detector);
    EXPECT_EQ(got.details, e.details);
    EXPECT_EQ(raw_db(dir.file("a.db")).text("SELECT created_at FROM security_audit"),
              "2026-11-26T23:59:01.123456Z");
}

// The WAL stays within wal_max_bytes plus one commit however many commits come (issue 11: at
// 16 MiB between checkpoints, 22 one-event commits of about 93 KB each filled a 3 MiB volume).
// The bound is asserted on the real -wal file after every commit.
TEST(SqliteStore, WalFileStaysWithinItsBoundOverManySmallCommits) {
    temp_dir dir;
    auto cfg = store_at(dir.file("a.db"));
    cfg.wal_max_bytes = 256 * 1024;
    sqlite_store s(cfg);
    const auto wal = dir.file("a.db-wal");
    constexpr int commits = 200;
    std::uintmax_t largest_commit = 0;  // the most one commit grew the file by
    std::uintmax_t previous = std::filesystem::file_size(wal);  // the schema's pages
    std::uintmax_t largest = previous;
    for (int i = 0; i < commits; ++i) {
        const std::vector<event> one{
            make_audit("user-" + std::to_string(i % 50), std::to_string(i))};
        s.append(one);
        const auto size = std::filesystem::file_size(wal);
        largest = std::max(largest, size);
        if (size > previous) largest_commit = std::max(largest_commit, size - previous);
        previous = size;
    }
    // A one-event commit writes a handful of pages (the table's leaf, one leaf per index; more
    // when a page splits).
    constexpr std::uintmax_t frame = sqlite_store::new_page_size + 24;
    EXPECT_LE(largest_commit, 12 * frame);
    EXPECT_LE(largest, cfg.wal_max_bytes + largest_commit) << "largest commit " << largest_commit;
    // Unchecked, the WAL would have grown far past the bound: the bound did the work.
    EXPECT_GT(commits * frame, 8 * cfg.wal_max_bytes);
    EXPECT_EQ(s.head().seq, commits);
    EXPECT_TRUE(verify(s).ok());
}

}  // namespace
}  // namespace sidelight::audit
