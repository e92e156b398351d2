#pragma once
// The audit writer: proxy workers hand events to it without blocking, one writer thread commits
// them to the store in batches, keeps the checkpoints coming and reports its health.
//
//   try_submit(ev)         batch mode; never blocks; a full queue drops the event and counts it
//                          (stats.dropped[table][queue_full]); after the next successful commit the
//                          writer records one security event `audit_events_dropped` (source
//                          detector) with the count and the first/last drop time in `details`.
//   submit_and_wait(ev)    strict mode; returns once the event is durably committed, or with an
//                          error on a full queue, a store error, or the timeout. An event whose
//                          caller timed out before the writer took it is not written. While the
//                          store is failing (healthy() false) it is refused at once, unqueued.
//
// The writer thread commits up to batch_max events, or what arrived within batch_interval of the
// first one, whichever comes first (a strict event flushes at once). A failing store is retried
// with exponential backoff (10 ms doubling to 1 s); meanwhile healthy() is false, last_error()
// says why and when, batch events wait in the queue until it fills, strict events in the failed
// batch are failed at once and new ones are refused. An idle unhealthy writer probes the store
// with an empty transaction at each backoff step, so health comes back without new events; after
// recovery last_error() keeps the last failure (with its time) until the next one.
// Every checkpoint.every_events rows or checkpoint.every, a checkpoint line
// (signed when checkpoint.key_file is set) goes to the on_checkpoint hook; drain() emits a last
// one.
//
// Thread-safety: try_submit, submit_and_wait, healthy, last_error and stats may be called from any
// thread; drain/stop from one thread. Hooks are called on the writer thread and must not block
// for long.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "audit/checkpoint.hpp"
#include "audit/event.hpp"
#include "audit/mpsc_queue.hpp"
#include "audit/store.hpp"
#include "audit/writer_stats.hpp"
#include "config/config.hpp"

namespace sidelight::audit {

struct commit_result {
    bool ok = false;
    std::int64_t seq = 0;  // the committed row's seq when ok
    std::string error;
};

// The writer's most recent store failure: the store's message and when the attempt failed.
struct store_failure {
    std::string message;
    time_point at;
};

struct writer_hooks {
    // One JSON line per checkpoint (see checkpoint.hpp); the agent logs it to stdout.
    std::function<void(const std::string& line)> on_checkpoint;
    // After each store call: operation "append" or "head", table "audit_log", "security_audit"
    // or "both"; feeds db_query_duration_ms{operation,table}.
    std::function<void(std::string_view operation, std::string_view table, double ms)> on_duration;
    // After each commit that stored new rows (the Postgres forwarder wakes on it).
    std::function<void()> on_commit;
};

class writer {
  public:
    using clock = std::chrono::steady_clock;

    // Starts the writer thread. Throws config::config_error (at the key_file's position) when
    // checkpoint.key_file is unusable (make_checkpoint_signer).
    writer(store& s, const config::audit_config& cfg, writer_hooks hooks = {});
    ~writer();  // drain(now + 5 s) unless already drained
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    bool try_submit(event ev);
    commit_result submit_and_wait(event ev, std::chrono::milliseconds timeout);
    // Strict submit that never blocks: `done` is called exactly once — from the writer thread
    // after the durable commit (ok) or on a store error, from the caller's thread when it is
    // refused unqueued (a full queue, a stopping writer, a store known to be failing) — with
    // ok=false when the event was not (and will not be) written.
    // An event still queued after `timeout` is dropped, not written late.
    void submit_async(event ev, std::chrono::milliseconds timeout,
                      std::function<void(commit_result)> done);
    commit_result submit_and_wait(event ev) {
        return submit_and_wait(std::move(ev), strict_timeout_);
    }

    // Stops accepting, commits everything queued (retrying a failing store until the deadline),
    // emits a final checkpoint and joins the thread. True when nothing was left unwritten.
    bool drain(clock::time_point deadline);
    void stop() { drain(clock::time_point::max()); }

    bool healthy() const { return healthy_.load(std::memory_order_relaxed); }
    // The most recent store failure; none before the first. It stays after recovery: read it
    // with healthy().
    std::optional<store_failure> last_error() const;
    const writer_stats& stats() const { return stats_; }
    // Security event types shown in stats().security from zero (the config's; see
    // security_counts).
    void admit_security_types(const std::vector<std::string>& types) {
        stats_.security.admit(types);
    }

  private:
    struct waiter;
    struct queued {
        event ev;
        std::shared_ptr<waiter> strict;  // null in batch mode
    };
    // Parallel vectors so the events go to store::append without a copy.
    struct pending_batch {
        std::vector<event> events;
        std::vector<std::shared_ptr<waiter>> strict;
        bool has_strict = false;
        void clear();
    };

    bool push(queued& item);
    std::optional<commit_result> refuse_strict();
    void run();
    void fill(pending_batch& batch);
    void wait(std::int64_t depth, clock::time_point until);
    bool commit(pending_batch& batch);
    bool probe();
    void count_written(const std::vector<stored_event>& rows);
    void note_error(const std::string& error);
    void fail_strict(pending_batch& batch, const std::string& error);
    void backoff(std::chrono::milliseconds& delay);
    void give_up(pending_batch& batch);
    void record_drops();
    void maybe_checkpoint(bool force);
    void record_drop(table_kind table, drop_reason reason);
    void timed(std::string_view operation, std::string_view table, clock::time_point start);
    clock::time_point deadline() const;
    clock::time_point idle_until() const;

    store& store_;
    const std::size_t batch_max_;
    const std::chrono::milliseconds batch_interval_;
    const std::chrono::milliseconds strict_timeout_;
    const config::checkpoint_config checkpoint_cfg_;
    const writer_hooks hooks_;
    std::unique_ptr<checkpoint_signer> signer_;

    writer_stats stats_;
    mpsc_queue<queued> queue_;
    std::atomic<std::int64_t> strict_queued_{0};
    std::atomic<bool> accepting_{true};
    std::atomic<std::int64_t> inflight_{0};  // submitters between the accepting_ check and push
    std::atomic<bool> stopping_{false};
    std::atomic<clock::rep> drain_deadline_{clock::time_point::max().time_since_epoch().count()};
    std::atomic<bool> healthy_{true};
    mutable std::mutex error_mutex_;
    std::optional<store_failure> last_error_;

    // Loss report state: drops since the last `audit_events_dropped` event.
    std::atomic<std::uint64_t> unreported_drops_{0};
    std::atomic<std::uint64_t> unreported_spool_drops_{0};  // of which refused by a full spool
    std::atomic<std::int64_t> first_drop_us_{0};
    std::atomic<std::int64_t> last_drop_us_{0};

    // Wake-ups: the writer publishes the queue depth it waits for; producers notify past it.
    std::mutex wake_mutex_;
    std::condition_variable wake_cv_;
    std::atomic<std::int64_t> wake_threshold_{0};

    // Writer thread only.
    std::int64_t last_seq_ = 0;
    std::uint64_t since_checkpoint_ = 0;
    clock::time_point last_checkpoint_;
    bool drained_ = false;
    bool lost_at_shutdown_ = false;
    std::thread thread_;
};

}  // namespace sidelight::audit
