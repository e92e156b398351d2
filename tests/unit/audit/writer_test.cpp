#include "audit/writer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <condition_variable>
#include <map>
#include <numeric>
#include <optional>
#include <thread>
#include <vector>

#include "audit/sqlite_store.hpp"
#include "audit/verify.hpp"
#include "test_util.hpp"

namespace sidelight::audit {
namespace {

using namespace std::chrono_literals;
using testing::make_audit;
using testing::make_security;
using testing::store_at;
using testing::temp_dir;

// The real SQLite store behind a switch: fail on demand, or hold appends at a gate.
class flaky_store final : public store {
  public:
    explicit flaky_store(store& inner) : inner_(inner) {}

    std::vector<stored_event> append(std::span<const event> batch) override {
        {
            std::unique_lock lock(mutex_);
            if (gated_) ++held;
            gate_cv_.wait(lock, [&] { return !gated_; });
        }
        if (!batch.empty()) ++writes;  // probes (empty appends) not counted
        if (failing) throw store_error("injected: disk I/O error");
        std::lock_guard lock(mutex_);
        batch_sizes.push_back(batch.size());
        return inner_.append(batch);
    }
    std::vector<stored_event> query(const query_filter& f) override { return inner_.query(f); }
    chain_head head() override { return inner_.head(); }

    void close_gate() {
        std::lock_guard lock(mutex_);
        gated_ = true;
    }
    void open_gate() {
        {
            std::lock_guard lock(mutex_);
            gated_ = false;
        }
        gate_cv_.notify_all();
    }
    std::vector<std::size_t> sizes() {
        std::lock_guard lock(mutex_);
        return batch_sizes;
    }

    std::atomic<bool> failing{false};
    std::atomic<int> held{0};    // appends that have waited at the gate
    std::atomic<int> writes{0};  // appends of at least one event, failed or not

  private:
    store& inner_;
    std::mutex mutex_;
    std::condition_variable gate_cv_;
    bool gated_ = false;
    std::vector<std::size_t> batch_sizes;
};

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

class Writer : public ::testing::Test {
  protected:
    Writer() {
        cfg_.checkpoint.every_events = 0;
        cfg_.checkpoint.every = 0ms;
    }

    std::size_t rows() { return static_cast<std::size_t>(sqlite_.head().seq); }

    temp_dir dir_;
    sqlite_store sqlite_{store_at(dir_.file("a.db"))};
    flaky_store store_{sqlite_};
    config::audit_config cfg_;
};

TEST_F(Writer, CommitsInBatchesOfAtMostBatchMax) {
    cfg_.batch_max = 4;
    cfg_.batch_interval = 500ms;
    writer w(store_, cfg_);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(w.try_submit(make_audit("alice")));
    ASSERT_TRUE(eventually([&] { return rows() >= 8; }));
    ASSERT_TRUE(w.drain(std::chrono::steady_clock::now() + 5s));
    const auto sizes = store_.sizes();
    EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}), 10u);
    EXPECT_EQ(*std::max_element(sizes.begin(), sizes.end()), 4u);
    EXPECT_EQ(w.stats().written_count(table_kind::audit_log, event_source::rule), 10u);
    EXPECT_EQ(w.stats().queue_depth.load(), 0);
    EXPECT_TRUE(verify(sqlite_).ok());
}

TEST_F(Writer, BatchIntervalFlushesAPartialBatch) {
    cfg_.batch_max = 1000;
    cfg_.batch_interval = 20ms;
    writer w(store_, cfg_);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.try_submit(make_security("LOGIN_FAILED")));
    ASSERT_TRUE(eventually([&] { return rows() == 3; }));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    ASSERT_TRUE(w.drain(std::chrono::steady_clock::now() + 5s));  // counters follow the commit
    EXPECT_EQ(store_.sizes(), std::vector<std::size_t>{3});
    EXPECT_EQ(w.stats().written_count(table_kind::security_audit, event_source::detector), 3u);
}

TEST_F(Writer, FullQueueDropsCountsAndReportsTheLossAfterRecovery) {
    cfg_.queue_size = 4;
    cfg_.batch_max = 2;
    cfg_.batch_interval = 1ms;
    writer w(store_, cfg_);
    store_.failing = true;
    ASSERT_TRUE(w.try_submit(make_audit("first")));
    ASSERT_TRUE(eventually([&] { return w.stats().store_errors.load() >= 1; }));
    EXPECT_FALSE(w.healthy());
    ASSERT_TRUE(w.last_error());
    EXPECT_NE(w.last_error()->message.find("injected"), std::string::npos)
        << w.last_error()->message;

    // Half of the burst for each table: the drops are counted by the table they were meant for.
    std::size_t accepted = 0, dropped_audit = 0, dropped_security = 0;
    for (int i = 0; i < 20; ++i) {
        const bool security = i % 2 == 1;
        const bool ok = security ? w.try_submit(make_security("LOGIN_ATTEMPT"))
                                 : w.try_submit(make_audit("burst"));
        accepted += ok ? 1 : 0;
        if (!ok) ++(security ? dropped_security : dropped_audit);
    }
    const auto dropped = 20 - accepted;
    EXPECT_LE(accepted, 5u);  // the queue (4) plus at most one taken into the retried batch
    EXPECT_EQ(w.stats().dropped_count(drop_reason::queue_full), dropped);
    EXPECT_EQ(w.stats().dropped_count(table_kind::audit_log, drop_reason::queue_full),
              dropped_audit);
    EXPECT_EQ(w.stats().dropped_count(table_kind::security_audit, drop_reason::queue_full),
              dropped_security);
    EXPECT_GE(dropped_security, 5u);

    store_.failing = false;
    ASSERT_TRUE(eventually([&] { return rows() == 1 + accepted + 1; }));
    EXPECT_TRUE(w.healthy());
    query_filter f;
    f.event_type = "audit_events_dropped";
    const auto report = sqlite_.query(f);
    ASSERT_EQ(report.size(), 1u);
    const auto& ev = std::get<security_event>(report[0].ev);
    EXPECT_EQ(ev.source, event_source::detector);
    const auto details = boost::json::parse(ev.details).as_object();
    EXPECT_EQ(details.at("count").as_int64(), static_cast<std::int64_t>(dropped));
    EXPECT_TRUE(parse_time(details.at("first_drop").as_string()));
    EXPECT_LE(details.at("first_drop").as_string(), details.at("last_drop").as_string());
    EXPECT_GE(w.stats().store_errors.load(), 1u);
    EXPECT_TRUE(verify(sqlite_).ok());
}

TEST_F(Writer, CommittedSecurityRowsAreCountedByTypeAndSuccess) {
    writer w(store_, cfg_);
    w.admit_security_types({"authz_fail"});
    auto ok = make_security("LOGIN_ATTEMPT");
    ok.success = true;
    auto abandoned = make_security("LOGIN_ATTEMPT");
    abandoned.success = std::nullopt;
    for (auto ev : {make_security("LOGIN_ATTEMPT"), make_security("LOGIN_ATTEMPT"), ok, abandoned,
                    make_security("bad type")}) {
        ASSERT_TRUE(w.try_submit(ev));
    }
    ASSERT_TRUE(w.try_submit(make_audit("not a security event")));
    ASSERT_TRUE(w.drain(std::chrono::steady_clock::now() + 5s));
    std::map<std::string, security_counts::outcomes> seen;
    for (const auto& row : w.stats().security.snapshot()) seen[row.event_type] = row.counts;
    EXPECT_EQ(seen["LOGIN_ATTEMPT"], (security_counts::outcomes{2, 1, 1}));
    EXPECT_EQ(seen["other"], (security_counts::outcomes{1, 0, 0}));
    // Shown from zero: admitted by the config, and the writer's own loss report.
    EXPECT_EQ(seen.count("authz_fail"), 1u);
    EXPECT_EQ(seen.count("audit_events_dropped"), 1u);
    EXPECT_EQ(seen.size(), 4u);
}

TEST_F(Writer, StrictSubmitReturnsAfterCommit) {
    cfg_.batch_interval = 10s;  // a strict event must not wait for the batch window
    writer w(store_, cfg_);
    auto ev = make_audit("alice");
    ev.event_id = "strict-1";
    const auto start = std::chrono::steady_clock::now();
    const auto r = w.submit_and_wait(ev, 5s);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    const auto stored = sqlite_.query({});
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_EQ(stored[0].seq, r.seq);
    EXPECT_EQ(event_id_of(stored[0].ev), "strict-1");
}

TEST_F(Writer, StrictSubmitFailsOnStoreErrorAndIsNotWrittenLater) {
    writer w(store_, cfg_);
    store_.failing = true;
    const auto r = w.submit_and_wait(make_audit("alice"), 5s);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("injected"), std::string::npos) << r.error;
    EXPECT_EQ(w.stats().strict_failures.load(), 1u);
    store_.failing = false;
    ASSERT_TRUE(w.try_submit(make_audit("bob")));
    ASSERT_TRUE(w.drain(std::chrono::steady_clock::now() + 5s));
    const auto stored = sqlite_.query({});
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_EQ(std::get<audit_event>(stored[0].ev).user_id, "bob");
}

// Only a strict event failed, so nothing is left to retry: the writer still finds out that the
// store is back, and turns healthy without a new event.
TEST_F(Writer, TurnsHealthyWhenTheStoreIsBackWithNothingToWrite) {
    writer w(store_, cfg_);
    store_.failing = true;
    EXPECT_FALSE(w.submit_and_wait(make_audit("alice"), 5s).ok);
    EXPECT_FALSE(w.healthy());
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(w.healthy());  // still failing: probes do not make it healthy
    store_.failing = false;
    EXPECT_TRUE(eventually([&] { return w.healthy(); }, 3000ms));
    EXPECT_EQ(rows(), 0u);
    EXPECT_EQ(w.stats().store_errors.load(), 1u);  // the failed commit, not the probes
}

// Once the store is known to be failing, a strict event is refused before it is queued: its
// caller answers 503 now, not after the writer's next retry (up to 1 s of backoff away), and the
// store never sees it. The probes still find the store back, and strict events work again.
TEST_F(Writer, StrictSubmitIsRefusedAtOnceWhileTheStoreIsFailing) {
    writer w(store_, cfg_);
    EXPECT_FALSE(w.last_error());
    const auto before_failure = now();
    store_.failing = true;
    EXPECT_FALSE(w.submit_and_wait(make_audit("first"), 5s).ok);  // this one reached the store
    ASSERT_FALSE(w.healthy());
    const auto writes = store_.writes.load();
    EXPECT_EQ(writes, 1);

    std::optional<commit_result> async_result;
    w.submit_async(make_audit("async"), 5s, [&](commit_result r) { async_result = r; });
    ASSERT_TRUE(async_result) << "not answered on the caller's thread";
    EXPECT_FALSE(async_result->ok);
    EXPECT_NE(async_result->error.find("unavailable"), std::string::npos) << async_result->error;
    EXPECT_NE(async_result->error.find("injected"), std::string::npos) << async_result->error;
    const auto sync_result = w.submit_and_wait(make_audit("sync"), 5s);
    EXPECT_FALSE(sync_result.ok);
    EXPECT_NE(sync_result.error.find("unavailable"), std::string::npos) << sync_result.error;
    EXPECT_EQ(store_.writes.load(), writes);  // neither was attempted
    EXPECT_EQ(w.stats().strict_failures.load(), 3u);
    const auto failure = w.last_error();
    ASSERT_TRUE(failure);
    EXPECT_NE(failure->message.find("injected"), std::string::npos) << failure->message;
    EXPECT_GE(failure->at, before_failure);

    store_.failing = false;
    ASSERT_TRUE(eventually([&] { return w.healthy(); }, 3000ms));  // an empty probe found it
    const auto recovered_seen = now();
    const auto r = w.submit_and_wait(make_audit("after"), 5s);
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_TRUE(w.drain(std::chrono::steady_clock::now() + 5s));
    const auto stored = sqlite_.query({});
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_EQ(std::get<audit_event>(stored[0].ev).user_id, "after");
    // The last failure stays, in the past, beside healthy() == true.
    const auto kept = w.last_error();
    ASSERT_TRUE(kept);
    EXPECT_NE(kept->message.find("injected"), std::string::npos);
    EXPECT_LT(kept->at, recovered_seen);
}

TEST_F(Writer, StrictSubmitTimesOutAndTheAbandonedEventIsSkipped) {
    cfg_.batch_interval = 1ms;
    writer w(store_, cfg_);
    store_.close_gate();
    ASSERT_TRUE(w.try_submit(make_audit("held")));  // the writer blocks inside append
    ASSERT_TRUE(eventually([&] { return store_.held.load() == 1; }));
    const auto r = w.submit_and_wait(make_audit("strict"), 50ms);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("not written"), std::string::npos) << r.error;
    store_.open_gate();
    ASSERT_TRUE(w.drain(std::chrono::steady_clock::now() + 5s));
    EXPECT_EQ(rows(), 1u);
    EXPECT_EQ(w.stats().dropped_count(drop_reason::strict_timeout), 1u);
}

TEST_F(Writer, DrainCommitsEverythingFromManyThreads) {
    cfg_.batch_max = 64;
    cfg_.batch_interval = 1s;
    writer w(store_, cfg_);
    std::vector<std::thread> producers;
    for (int t = 0; t < 4; ++t) {
        producers.emplace_back([&w, t] {
            for (int i = 0; i < 500; ++i) {
                if (i % 2) {
                    ASSERT_TRUE(w.try_submit(make_security(std::to_string(t))));
                } else {
                    ASSERT_TRUE(w.try_submit(make_audit(std::to_string(t))));
                }
            }
        });
    }
    for (auto& p : producers) p.join();
    ASSERT_TRUE(w.drain(std::chrono::steady_clock::now() + 10s));
    EXPECT_EQ(rows(), 2000u);
    EXPECT_EQ(w.stats().written_count(table_kind::audit_log, event_source::rule), 1000u);
    EXPECT_EQ(w.stats().written_count(table_kind::security_audit, event_source::detector), 1000u);
    const auto r = verify(sqlite_);
    EXPECT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.count, 2000);
    EXPECT_FALSE(w.try_submit(make_audit("late")));
    EXPECT_EQ(w.stats().dropped_count(drop_reason::shutdown), 1u);
    EXPECT_EQ(w.stats().dropped_count(table_kind::audit_log, drop_reason::shutdown), 1u);
    EXPECT_FALSE(w.try_submit(make_security("late")));
    EXPECT_EQ(w.stats().dropped_count(table_kind::security_audit, drop_reason::shutdown), 1u);
}

TEST_F(Writer, DrainGivesUpAtTheDeadlineWhenTheStoreKeepsFailing) {
    writer w(store_, cfg_);
    store_.failing = true;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.try_submit(make_audit("x")));
    EXPECT_FALSE(w.drain(std::chrono::steady_clock::now() + 200ms));
    EXPECT_EQ(w.stats().dropped_count(drop_reason::shutdown), 3u);
    EXPECT_EQ(rows(), 0u);
}

TEST_F(Writer, EmitsSignedCheckpointsThatVerifyTheStore) {
    generate_checkpoint_key(dir_.file("k.pem"), dir_.file("k.pub"));
    cfg_.checkpoint.every_events = 5;
    cfg_.checkpoint.key_file = dir_.file("k.pem");
    cfg_.batch_max = 5;
    std::mutex m;
    std::vector<std::string> lines;
    std::vector<std::string> operations;
    writer_hooks hooks;
    hooks.on_checkpoint = [&](const std::string& line) {
        std::lock_guard lock(m);
        lines.push_back(line);
    };
    hooks.on_duration = [&](std::string_view op, std::string_view table, double ms) {
        std::lock_guard lock(m);
        EXPECT_GE(ms, 0.0);
        operations.push_back(std::string(op) + "/" + std::string(table));
    };
    writer w(store_, cfg_, hooks);
    for (int i = 0; i < 12; ++i) ASSERT_TRUE(w.try_submit(make_audit("a")));
    ASSERT_TRUE(w.drain(std::chrono::steady_clock::now() + 5s));
    ASSERT_GE(lines.size(), 2u);
    const checkpoint_verifier verifier(dir_.file("k.pub"));
    std::vector<checkpoint> cps;
    for (const auto& line : lines) {
        cps.push_back(parse_checkpoint_line(line));
        EXPECT_TRUE(verifier.verify(cps.back())) << line;
    }
    EXPECT_EQ(cps.back().seq, 12) << "drain emits a final checkpoint";
    EXPECT_EQ(w.stats().checkpoints.load(), lines.size());
    EXPECT_TRUE(verify(sqlite_, cps).ok());
    EXPECT_NE(std::find(operations.begin(), operations.end(), "append/audit_log"),
              operations.end());
}

// checkpoint.every: a checkpoint follows new events within that time, with no event count set.
TEST_F(Writer, EmitsCheckpointsEveryIntervalWhenThereAreNewEvents) {
    cfg_.checkpoint.every = 50ms;
    cfg_.batch_interval = 1ms;
    std::mutex m;
    std::vector<std::string> lines;
    writer_hooks hooks;
    hooks.on_checkpoint = [&](const std::string& line) {
        std::lock_guard lock(m);
        lines.push_back(line);
    };
    writer w(store_, cfg_, hooks);
    const auto count = [&] {
        std::lock_guard lock(m);
        return lines.size();
    };
    std::this_thread::sleep_for(150ms);
    EXPECT_EQ(count(), 0u);  // nothing new, nothing to checkpoint
    ASSERT_TRUE(w.try_submit(make_audit("a")));
    ASSERT_TRUE(eventually([&] { return count() == 1; }, 2000ms));
    std::this_thread::sleep_for(150ms);
    EXPECT_EQ(count(), 1u);  // and not again until more events arrive
    ASSERT_TRUE(w.try_submit(make_audit("b")));
    ASSERT_TRUE(eventually([&] { return count() == 2; }, 2000ms));
    std::lock_guard lock(m);
    EXPECT_EQ(parse_checkpoint_line(lines[0]).seq, 1);
    EXPECT_EQ(parse_checkpoint_line(lines[1]).seq, 2);
}

}  // namespace
}  // namespace sidelight::audit
