#pragma once
// The Postgres forwarder (docs/AUDIT.md, "Fleet store"): one thread that ships what the writer
// committed to the local spool into Postgres, in order, in batches of `forward_batch` rows, one
// transaction each (pg_store::forward), then records in the spool how far Postgres holds the
// chain and prunes what it holds (at most once a second while busy, and whenever idle). Postgres is
// the judge of progress: after a reconnect the chain head is read back from it, so a batch whose
// commit was lost in a crash is sent again and skipped row for row where it had landed (nothing
// doubled, nothing missing).
//
// Postgres away: the forwarder reconnects with backoff (100 ms doubling to 5 s) while the spool
// grows (up to spool.max_bytes, where the writer starts refusing); status() reports the lag in
// events and seconds and the last error. Once a second it runs `SELECT 1`: the store check
// /healthz shows, with its latency. A fresh spool whose chain Postgres holds already is
// seeded with Postgres's head at the first connection, so the chain continues across a lost
// spool volume. A chain_conflict (two writers with one chain id) stops forwarding for that chain
// until restart; the events stay in the spool. A batch that fails on a working connection is
// retried with the same backoff, and status() says so (`failing`) until a pass completes; the
// connection is replaced after an error that says the server will not take writes on it
// (read-only, shutting down) or after a few failures in a row. A spool error is reported apart
// (`spool_failing`). Every statement is bounded by Postgres's statement_timeout and lock_timeout
// (forwarder_limits), and a pass that waits longer than stall_after is reported (`stalled`).
//
// Thread-safety: notify(), status() and stats() from any thread; stop() from one thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "audit/pg_store.hpp"
#include "audit/sqlite_store.hpp"
#include "config/config.hpp"

namespace sidelight::audit {

struct forwarder_stats {
    std::atomic<std::uint64_t> forwarded{0};   // rows newly inserted into Postgres
    std::atomic<std::uint64_t> duplicates{0};  // rows whose event_id was stored already
    std::atomic<std::uint64_t> batches{0};     // committed forward transactions
    std::atomic<std::uint64_t> errors{0};      // failed connects and batches
    std::atomic<std::int64_t> lag_events{0};   // committed to the spool, not yet in Postgres
    std::atomic<double> lag_seconds{0};        // age of the oldest of them
    std::atomic<std::uint64_t> spool_bytes{0};
};

// Bounds on how long the forwarder waits on Postgres (docs/AUDIT.md, "Fleet store").
struct forwarder_limits {
    // statement_timeout and lock_timeout on the forwarder's connection: a statement that waits
    // on a lock or does not come back (a COMMIT waiting on a synchronous standby that is down)
    // is cancelled by Postgres after this; the batch is retried.
    std::chrono::milliseconds statement_timeout{30000};
    // A pass (connect, batch, check) running longer than this is reported stalled.
    std::chrono::milliseconds stall_after{10000};
    // Failed batches in a row after which the connection is replaced (a read-only server after
    // a failover, behind an address that now leads to the new primary). Some errors replace it
    // at once (see forwarder.cpp).
    int reconnect_after_failures = 3;
};

struct forwarder_status {
    bool connected = false;
    bool conflict = false;  // forwarding stopped on a chain_conflict
    // Connected, and the latest batch failed (Postgres read-only after a failover, its disk
    // full, a privilege missing, a row it refuses): retried with backoff; cleared by the next
    // pass that completes.
    bool failing = false;
    // The spool could not be read or could not record what Postgres holds: retried; cleared
    // by a pass that completes.
    bool spool_failing = false;
    // The current pass has waited on Postgres longer than forwarder_limits::stall_after.
    bool stalled = false;
    double stalled_seconds = 0;
    std::int64_t acked_seq = 0;
    std::int64_t lag_events = 0;
    double lag_seconds = 0;
    std::optional<std::string> last_error;
    std::optional<std::string> last_sqlstate;  // of the last error, when Postgres sent one
    std::optional<time_point> last_error_at;
    std::optional<double> check_ms;  // the last SELECT 1 round trip
    std::optional<time_point> check_at;
};

class forwarder {
  public:
    using clock = std::chrono::steady_clock;

    // Starts the thread. Nothing here throws for Postgres being away: it is retried.
    forwarder(sqlite_store& spool, const config::store_config& cfg, duration_hook on_duration = {},
              forwarder_limits limits = {});
    ~forwarder();  // stop(now + 2 s) unless stopped
    forwarder(const forwarder&) = delete;
    forwarder& operator=(const forwarder&) = delete;

    void notify();  // the spool has new rows
    // Forwards what the spool holds until it is empty or the deadline passes, then joins; a
    // statement still running at the deadline is cancelled (the batch rolls back and stays in
    // the spool). True when Postgres holds everything (what is left stays in the spool for the
    // next start).
    bool stop(clock::time_point deadline);

    forwarder_status status() const;
    const forwarder_stats& stats() const { return stats_; }

  private:
    void run();
    bool connect();
    bool forward_batch();
    std::vector<stored_event> read_after(std::int64_t seq);
    void check();
    void update_lag();
    void fail(const std::string& error, const std::string& sqlstate = {});
    void drop_connection();
    template <typename F>
    auto in_pass(F&& f);
    void sleep_for(std::chrono::milliseconds d, bool backoff = false);
    void persist_ack();

    sqlite_store& spool_;
    const config::store_config cfg_;
    const duration_hook on_duration_;
    const forwarder_limits limits_;
    int failures_in_a_row_ = 0;       // forwarder thread only
    std::unique_ptr<pg_store> pg_;    // forwarder thread only
    chain_head acked_;                // forwarder thread only: what Postgres holds
    std::int64_t persisted_seq_ = 0;  // the acknowledged head the spool has recorded
    // The last checkpoint Postgres holds, and the last the spool pruned (forwarder thread).
    std::int64_t sent_checkpoint_ = 0, pruned_checkpoint_ = 0;
    clock::time_point last_prune_{};
    std::future<std::vector<stored_event>> next_;  // the batch after next_after_, being read
    std::int64_t next_after_ = 0;

    forwarder_stats stats_;
    std::atomic<bool> stopping_{false};
    std::atomic<clock::rep> deadline_{clock::time_point::max().time_since_epoch().count()};
    std::atomic<bool> drained_{false};
    std::atomic<bool> connected_{false};
    std::atomic<bool> conflict_{false};
    std::atomic<bool> failing_{false};
    std::atomic<bool> spool_failing_{false};
    std::atomic<clock::rep> pass_started_{0};  // 0 between passes
    std::atomic<std::int64_t> acked_seq_{0};
    mutable std::mutex mutex_;  // guards the fields below and the wake-up
    std::condition_variable cv_;
    bool pending_ = false;
    std::optional<std::string> last_error_;
    std::optional<std::string> last_sqlstate_;
    std::optional<time_point> last_error_at_;
    std::optional<double> check_ms_;
    std::optional<time_point> check_at_;
    std::shared_ptr<const pg::canceller> cancel_;  // of pg_'s connection
    bool finished_ = false;                        // run() returned
    std::condition_variable finished_cv_;
    std::thread thread_;
};

}  // namespace sidelight::audit
