// The SQLite store as the Postgres store's spool: acknowledged rows are pruned while the chain
// goes on, a fresh spool can continue a chain Postgres holds, checkpoints wait for forwarding,
// and past max_bytes new events are refused (spool_full) rather than stored.
#include <gtest/gtest.h>

#include <vector>

#include "audit/checkpoint.hpp"
#include "audit/hash_chain.hpp"
#include "audit/sqlite_store.hpp"
#include "audit/store_factory.hpp"
#include "test_util.hpp"

namespace sidelight::audit {
namespace {

using testing::make_audit;
using testing::raw_db;
using testing::store_at;
using testing::temp_dir;

std::vector<event> audits(std::size_t n) {
    std::vector<event> out;
    for (std::size_t i = 0; i < n; ++i) out.emplace_back(make_audit("u" + std::to_string(i)));
    return out;
}

TEST(Spool, AcknowledgingPrunesWhatPostgresHoldsAndTheChainGoesOn) {
    temp_dir dir;
    sqlite_store spool(store_at(dir.file("s.db")), open_mode::create, spool_options{});
    const auto rows = spool.append(audits(10));
    EXPECT_EQ(spool.acknowledged().seq, 0);
    spool.acknowledge({6, rows[5].hash});
    EXPECT_EQ(spool.acknowledged().seq, 6);
    EXPECT_EQ(raw_db(dir.file("s.db")).text("SELECT count(*) FROM audit_log"), "4");
    EXPECT_EQ(spool.head().seq, 10);
    spool.acknowledge({10, rows[9].hash});
    EXPECT_EQ(raw_db(dir.file("s.db")).text("SELECT count(*) FROM audit_log"), "0");
    // Every row pruned: the head is what Postgres acknowledged, and the chain links on from it.
    EXPECT_EQ(spool.head().seq, 10);
    EXPECT_EQ(spool.head().hash, rows[9].hash);
    const auto next = spool.append(audits(1));
    EXPECT_EQ(next.front().seq, 11);
    EXPECT_EQ(next.front().prev_hash, rows[9].hash);
}

// An event API event (a client's event_id) sent again after the spool forwarded and pruned it
// is acknowledged with its first seq and not stored again, in either table; a rule's event
// (an id sidelight generated) leaves no id behind.
TEST(Spool, AClientsEventIdIsRememberedAfterItsRowIsPruned) {
    temp_dir dir;
    sqlite_store spool(store_at(dir.file("s.db")), open_mode::create, spool_options{});
    auto api = make_audit("alice");
    api.source = event_source::api;
    api.event_id = "0190a4b2-7c1d-7e3f-8a9b-0123456789ab";
    auto login = testing::make_security("login_failed", "bob");
    login.source = event_source::api;
    login.event_id = "0190a4b2-7c1d-7e3f-8a9b-0123456789ac";
    std::vector<event> first{api, login, make_audit("rule")};
    const auto rows = spool.append(first);
    ASSERT_EQ(rows.size(), 3u);
    spool.acknowledge({3, rows[2].hash});
    EXPECT_EQ(raw_db(dir.file("s.db")).text("SELECT count(*) FROM audit_log"), "0");
    EXPECT_EQ(raw_db(dir.file("s.db")).text("SELECT count(*) FROM spool_forwarded_id"), "2");

    std::vector<event> again{api, login, make_audit("next")};
    const auto answered = spool.append(again);
    ASSERT_EQ(answered.size(), 3u);
    EXPECT_EQ(answered[0].seq, 1);  // the stored row's seq: a repeat
    EXPECT_EQ(event_id_of(answered[0].ev), api.event_id);
    EXPECT_TRUE(std::holds_alternative<security_event>(answered[1].ev));
    EXPECT_EQ(answered[1].seq, 2);
    EXPECT_EQ(answered[2].seq, 4);  // only the new event took a seq
    EXPECT_EQ(spool.head().seq, 4);
    EXPECT_EQ(raw_db(dir.file("s.db")).text("SELECT count(*) FROM audit_log"), "1");
}

TEST(Spool, AFreshSpoolIsSeededOnlyOnce) {
    temp_dir dir;
    sqlite_store spool(store_at(dir.file("s.db")), open_mode::create, spool_options{});
    const std::string hash(64, 'a');
    EXPECT_TRUE(spool.seed({41, hash}));
    EXPECT_EQ(spool.head().seq, 41);
    const auto rows = spool.append(audits(1));
    EXPECT_EQ(rows.front().seq, 42);
    EXPECT_EQ(rows.front().prev_hash, hash);
    EXPECT_FALSE(spool.seed({7, std::string(64, 'b')}));  // not fresh any more
    EXPECT_EQ(spool.head().seq, 42);
}

TEST(Spool, CheckpointsWaitForTheirRowsAndArePrunedWithThem) {
    temp_dir dir;
    sqlite_store spool(store_at(dir.file("s.db")), open_mode::create, spool_options{});
    const auto rows = spool.append(audits(4));
    spool.record_checkpoint({2, rows[1].hash, now(), 2, {}});
    spool.record_checkpoint({4, rows[3].hash, now(), 4, {}});
    EXPECT_EQ(spool.checkpoints_upto(3).size(), 1u);
    EXPECT_EQ(spool.checkpoints_upto(4).back().hash, rows[3].hash);
    spool.acknowledge({2, rows[1].hash});
    ASSERT_EQ(spool.checkpoints_upto(4).size(), 1u);
    EXPECT_EQ(spool.checkpoints_upto(4).front().seq, 4);
}

// A checkpoint recorded after the forwarder read the checkpoints of its batch is not one it
// sent: acknowledging the batch prunes only the checkpoints sent.
TEST(Spool, ACheckpointRecordedAfterTheSendIsNotPrunedWithTheRows) {
    temp_dir dir;
    sqlite_store spool(store_at(dir.file("s.db")), open_mode::create, spool_options{});
    const auto rows = spool.append(audits(4));
    spool.record_checkpoint({2, rows[1].hash, now(), 2, {}});
    const auto sent = spool.checkpoints_upto(4);
    ASSERT_EQ(sent.size(), 1u);
    spool.record_checkpoint({4, rows[3].hash, now(), 4, {}});  // late: after the read
    spool.acknowledge({4, rows[3].hash}, sent.back().seq);
    EXPECT_EQ(raw_db(dir.file("s.db")).text("SELECT count(*) FROM audit_log"), "0");
    const auto left = spool.checkpoints_upto(4);
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left.front().seq, 4);
    spool.acknowledge({4, rows[3].hash}, 4);
    EXPECT_TRUE(spool.checkpoints_upto(4).empty());
}

TEST(Spool, PastMaxBytesNewEventsAreRefusedUntilPruned) {
    temp_dir dir;
    sqlite_store spool(store_at(dir.file("s.db")), open_mode::create, spool_options{1024 * 1024});
    std::int64_t stored = 0;
    bool refused = false;
    for (int i = 0; i < 400 && !refused; ++i) {
        auto batch = audits(50);
        for (auto& e : batch)
            std::get<audit_event>(e).changes = "{\"pad\":\"" + std::string(400, 'x') + "\"}";
        try {
            stored = spool.append(batch).back().seq;
        } catch (const spool_full&) {
            refused = true;
        }
    }
    ASSERT_TRUE(refused) << "1 MiB spool took " << stored << " events";
    EXPECT_GT(spool.used_bytes(), 1024u * 1024u);
    EXPECT_EQ(spool.head().seq, stored);  // nothing of the refused batch was written
    // Postgres took everything: the pages are free again and events are taken.
    spool.acknowledge(spool.head());
    EXPECT_LT(spool.used_bytes(), 1024u * 1024u);
    EXPECT_EQ(spool.append(audits(1)).front().seq, stored + 1);
}

TEST(Spool, OtherConnectionsStillCannotDeleteOrEdit) {
    temp_dir dir;
    sqlite_store spool(store_at(dir.file("s.db")), open_mode::create, spool_options{});
    spool.append(audits(3));
    raw_db raw(dir.file("s.db"));
    EXPECT_NE(raw.exec("DELETE FROM audit_log"), SQLITE_OK);
    EXPECT_NE(raw.exec("UPDATE audit_log SET user_id = 'x'"), SQLITE_OK);
    EXPECT_EQ(raw.text("SELECT count(*) FROM audit_log"), "3");
}

TEST(Spool, APlainStoreHasNoSpoolOperations) {
    temp_dir dir;
    sqlite_store plain(store_at(dir.file("p.db")));
    EXPECT_THROW(plain.acknowledge({1, std::string(genesis_hash)}), store_error);
    EXPECT_THROW(plain.seed({1, std::string(genesis_hash)}), store_error);
    // Nor may its connection delete: the authorizer refuses it for a store that is not a spool.
    plain.append(audits(1));
    EXPECT_NE(plain.exec_for_test("DELETE FROM audit_log"), "");
}

TEST(Spool, TheFactoryOpensTheSpoolAtSpoolPath) {
    temp_dir dir;
    config::store_config cfg;
    cfg.type = "postgres";
    cfg.dsn = "host=127.0.0.1";
    cfg.spool.path = dir.file("spool.db");
    auto spool = open_spool(cfg);
    EXPECT_EQ(spool->path(), dir.file("spool.db"));
    EXPECT_EQ(spool->acknowledged().seq, 0);
    EXPECT_THROW(open_store(cfg, open_mode::create), store_error);
}

}  // namespace
}  // namespace sidelight::audit
