#include "audit/forwarder.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sidelight::audit {
namespace {

constexpr std::chrono::milliseconds initial_backoff{100};
constexpr std::chrono::milliseconds max_backoff{5000};
constexpr std::chrono::milliseconds idle_check{1000};
constexpr std::chrono::milliseconds prune_every{1000};

std::shared_ptr<spdlog::logger> log() {
    return spdlog::default_logger();
}

// A failure of the local spool (reading rows, recording what Postgres holds), kept apart from
// Postgres's own: it says nothing about the connection.
class spool_failure : public std::runtime_error {
  public:
    explicit spool_failure(const std::string& what) : std::runtime_error("spool: " + what) {}
};

template <typename F>
auto on_spool(F&& f) {
    try {
        return f();
    } catch (const spool_failure&) {
        throw;
    } catch (const std::exception& e) {
        throw spool_failure(e.what());
    }
}

// Errors after which this connection will not take the batch however often it is retried: the
// server is read-only (a standby after a failover, reached through an address that now leads
// elsewhere), shutting down, or the connection is broken. A new connection may reach the primary.
bool replace_connection_after(const std::string& sqlstate) {
    return sqlstate == "25006" ||  // read_only_sql_transaction
           sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" ||  // shutdown
           sqlstate.starts_with("08");                                           // connection
}

}  // namespace

forwarder::forwarder(sqlite_store& spool, const config::store_config& cfg,
                     duration_hook on_duration, forwarder_limits limits)
    : spool_(spool), cfg_(cfg), on_duration_(std::move(on_duration)), limits_(limits) {
    acked_ = spool_.acknowledged();
    persisted_seq_ = acked_.seq;
    // A fresh spool connects before the writer's first commit, so that a chain Postgres holds
    // already (a lost spool volume) goes on from its head instead of conflicting with it.
    if (spool_.head().seq == 0) connect();
    acked_seq_.store(acked_.seq);
    update_lag();
    thread_ = std::thread([this] { run(); });
}

forwarder::~forwarder() {
    stop(clock::now() + std::chrono::seconds(2));
}

void forwarder::notify() {
    {
        std::lock_guard lock(mutex_);
        pending_ = true;
    }
    cv_.notify_one();
}

bool forwarder::stop(clock::time_point deadline) {
    if (!thread_.joinable()) return drained_.load();
    deadline_.store(deadline.time_since_epoch().count());
    stopping_.store(true);
    notify();
    // Past the deadline, a statement Postgres does not answer is cancelled (again each second,
    // should the cancel request be lost): shutdown does not wait for statement_timeout.
    for (auto until = deadline;; until = clock::now() + std::chrono::seconds(1)) {
        std::shared_ptr<const pg::canceller> cancel;
        {
            std::unique_lock lock(mutex_);
            if (finished_cv_.wait_until(lock, until, [&] { return finished_; })) break;
            cancel = cancel_;
        }
        if (cancel && pass_started_.load() != 0) {
            log()->warn(
                "audit forwarder: shutdown deadline passed, cancelling the statement "
                "Postgres has not answered");
            cancel->cancel();
        }
    }
    thread_.join();
    return drained_.load();
}

// A backoff sleep wakes for stop() only: new rows (notify) must not turn it into one connect
// attempt per commit while Postgres is away.
void forwarder::sleep_for(std::chrono::milliseconds d, bool backoff) {
    const auto deadline = clock::time_point(clock::duration(deadline_.load()));
    const auto until = std::min(clock::now() + d, deadline);
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, until, [&] {
        return (pending_ && (!backoff || stopping_.load())) || clock::now() >= until;
    });
    pending_ = false;
}

void forwarder::fail(const std::string& error, const std::string& sqlstate) {
    stats_.errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    last_error_ = error;
    last_sqlstate_ = sqlstate.empty() ? std::nullopt : std::optional<std::string>(sqlstate);
    last_error_at_ = now();
}

void forwarder::drop_connection() {
    {
        std::lock_guard lock(mutex_);
        cancel_.reset();
    }
    pg_.reset();
    connected_.store(false);
    failures_in_a_row_ = 0;
}

// Marks the time a pass waits on Postgres (status() reports it stalled past stall_after).
template <typename F>
auto forwarder::in_pass(F&& f) {
    pass_started_.store(clock::now().time_since_epoch().count());
    struct done {
        std::atomic<clock::rep>& at;
        ~done() { at.store(0); }
    } guard{pass_started_};
    return f();
}

// Connects, creates or checks the schema, and reads back where Postgres has the chain.
bool forwarder::connect() {
    try {
        pg_ = in_pass([&] {
            return std::make_unique<pg_store>(cfg_.dsn, cfg_.chain, true, std::chrono::seconds(5),
                                              limits_.statement_timeout);
        });
        pg_->set_duration_hook(on_duration_);
        {
            std::lock_guard lock(mutex_);
            cancel_ = pg_->make_canceller();
        }
        const auto pg_head = in_pass([&] { return pg_->head(); });
        if (pg_head.seq > 0 && spool_.seed(pg_head)) {
            log()->info("audit forwarder: chain={} continues at seq {} as Postgres holds it",
                        cfg_.chain, pg_head.seq + 1);
        }
        const auto spooled = spool_.acknowledged();  // a seed moves it
        if (spooled.seq > acked_.seq) acked_ = spooled;
        persisted_seq_ = std::max(persisted_seq_, spooled.seq);
        connected_.store(true);
        failures_in_a_row_ = 0;
        log()->info("audit forwarder: connected dsn=\"{}\" chain={} postgres_head={}", pg_->where(),
                    cfg_.chain, pg_head.seq);
        return true;
    } catch (const std::exception& e) {
        drop_connection();
        const auto* pe = dynamic_cast<const pg::error*>(&e);
        fail(e.what(), pe ? pe->sqlstate() : "");
        log()->warn("event=audit_forward_error error=\"{}\"", e.what());
        return false;
    }
}

// Up to forward_batch rows after `seq`, in seq order.
std::vector<stored_event> forwarder::read_after(std::int64_t seq) {
    std::vector<stored_event> rows;
    query_filter page;
    page.after_seq = seq;
    while (rows.size() < cfg_.forward_batch) {
        page.limit = std::min(cfg_.forward_batch - rows.size(), query_filter::max_limit);
        auto part = spool_.query(page);
        if (part.empty()) break;
        page.after_seq = part.back().seq;
        const bool short_page = part.size() < page.limit;
        for (auto& row : part) rows.push_back(std::move(row));
        if (short_page) break;
    }
    return rows;
}

// One transaction: up to forward_batch rows after the acknowledged head, and the checkpoints they
// cover. False when there was nothing to send. While Postgres works on a full batch, the next
// one is read from the spool.
bool forwarder::forward_batch() {
    std::vector<stored_event> rows;
    if (next_.valid()) {
        const bool usable = next_after_ == acked_.seq;
        // Waits; a read that failed throws here.
        auto prefetched = on_spool([&] { return next_.get(); });
        if (usable) rows = std::move(prefetched);
    }
    if (rows.empty()) rows = on_spool([&] { return read_after(acked_.seq); });
    if (rows.empty()) {
        // Checkpoints recorded after the batch they cover was read (the writer records one after
        // the commit that wakes this thread): sent alone, before they are pruned.
        const auto late = on_spool([&] { return spool_.checkpoints_upto(acked_.seq); });
        if (!late.empty() && late.back().seq > sent_checkpoint_) {
            in_pass([&] { return pg_->forward({}, late); });
            sent_checkpoint_ = late.back().seq;
        }
        return false;
    }
    if (rows.size() == cfg_.forward_batch) {
        next_after_ = rows.back().seq;
        next_ = std::async(std::launch::async,
                           [this, after = next_after_] { return read_after(after); });
    }
    const auto checkpoints = on_spool([&] { return spool_.checkpoints_upto(rows.back().seq); });
    const auto result = in_pass([&] { return pg_->forward(rows, checkpoints); });
    failing_.store(false);
    failures_in_a_row_ = 0;
    if (!checkpoints.empty()) sent_checkpoint_ = std::max(sent_checkpoint_, checkpoints.back().seq);
    acked_ = {rows.back().seq, rows.back().hash};
    acked_seq_.store(acked_.seq);
    // The spool learns it (and prunes) at most once per prune_every while busy: a stale mark
    // there only means a re-send after a crash, which Postgres answers row for row.
    if (clock::now() - last_prune_ >= prune_every) on_spool([&] { persist_ack(); });
    stats_.forwarded.fetch_add(result.inserted, std::memory_order_relaxed);
    stats_.batches.fetch_add(1, std::memory_order_relaxed);
    if (result.duplicates > 0) {
        stats_.duplicates.fetch_add(result.duplicates, std::memory_order_relaxed);
        log()->warn(
            "event=audit_forward_duplicates chain={} count={} (their event_id was stored already: "
            "one event sent to two pods, or retried after its first copy left the spool; stored "
            "again in this chain)",
            cfg_.chain, result.duplicates);
    }
    return true;
}

void forwarder::persist_ack() {
    if (acked_.seq > persisted_seq_ || sent_checkpoint_ > pruned_checkpoint_) {
        spool_.acknowledge(acked_, sent_checkpoint_);
        persisted_seq_ = acked_.seq;
        pruned_checkpoint_ = sent_checkpoint_;
    }
    last_prune_ = clock::now();
}

void forwarder::check() {
    try {
        const auto rtt = in_pass([&] { return pg_->ping(); });
        std::lock_guard lock(mutex_);
        check_ms_ = std::chrono::duration<double, std::milli>(rtt).count();
        check_at_ = now();
    } catch (const std::exception& e) {
        drop_connection();
        const auto* pe = dynamic_cast<const pg::error*>(&e);
        fail(e.what(), pe ? pe->sqlstate() : "");
    }
}

void forwarder::update_lag() {
    try {
        const auto head = spool_.head();
        const auto lag = std::max<std::int64_t>(head.seq - acked_.seq, 0);
        stats_.lag_events.store(lag);
        double seconds = 0;
        if (lag > 0) {
            query_filter oldest;
            oldest.after_seq = acked_.seq;
            oldest.limit = 1;
            const auto rows = spool_.query(oldest);
            if (!rows.empty()) {
                seconds = std::max(
                    0.0,
                    std::chrono::duration<double>(now() - created_at_of(rows.front().ev)).count());
            }
        }
        stats_.lag_seconds.store(seconds);
        stats_.spool_bytes.store(spool_.used_bytes());
    } catch (const std::exception& e) {
        log()->warn("audit forwarder: cannot read the spool: {}", e.what());
    }
}

void forwarder::run() {
    auto delay = initial_backoff;
    auto last_check = clock::time_point{};
    for (;;) {
        const bool stopping = stopping_.load();
        const auto deadline = clock::time_point(clock::duration(deadline_.load()));
        if (stopping && clock::now() >= deadline) break;
        if (conflict_.load()) {
            update_lag();
            if (stopping) break;
            sleep_for(idle_check);
            continue;
        }
        if (!pg_ && !connect()) {
            update_lag();
            if (stopping) break;  // no second chance at shutdown: the spool keeps the rest
            sleep_for(delay, true);
            delay = std::min(delay * 2, max_backoff);
            continue;
        }
        try {
            const bool sent = forward_batch();
            // A pass that completed: whatever failed before (a batch, the spool) works again,
            // also on an idle pod with nothing to send.
            failing_.store(false);
            spool_failing_.store(false);
            delay = initial_backoff;
            update_lag();
            // The store check, once a second, busy or not.
            if (!stopping && clock::now() - last_check >= idle_check) {
                check();
                last_check = clock::now();
                if (!pg_) continue;
            }
            if (sent) continue;
            on_spool([&] { persist_ack(); });  // idle: everything sent is pruned now
            if (stopping) {
                drained_.store(true);
                break;
            }
            sleep_for(idle_check);
        } catch (const chain_conflict& e) {
            conflict_.store(true);
            fail(e.what());
            log()->error("event=audit_forward_conflict error=\"{}\" (events stay in the spool)",
                         e.what());
        } catch (const spool_failure& e) {
            // The local spool, not Postgres: the connection stays.
            fail(e.what());
            log()->warn("event=audit_spool_error error=\"{}\"", e.what());
            spool_failing_.store(true);
            update_lag();
            if (stopping) break;
            sleep_for(delay, true);
            delay = std::min(delay * 2, max_backoff);
        } catch (const std::exception& e) {
            const auto* pe = dynamic_cast<const pg::error*>(&e);
            const std::string sqlstate = pe ? pe->sqlstate() : "";
            fail(e.what(), sqlstate);
            log()->warn("event=audit_forward_error error=\"{}\" sqlstate={}", e.what(),
                        sqlstate.empty() ? "none" : sqlstate);
            ++failures_in_a_row_;
            if (pg_ && !pg_->usable()) {
                drop_connection();
            } else {
                failing_.store(true);
                // A connection that cannot take the batch (read-only after a failover, shutting
                // down) or keeps failing is replaced: the next attempt connects anew.
                // Not while stopping: stop() could not cancel the new connection's work.
                if (pg_ && !stopping_.load() &&
                    (replace_connection_after(sqlstate) ||
                     failures_in_a_row_ >= limits_.reconnect_after_failures)) {
                    log()->warn(
                        "audit forwarder: replacing the Postgres connection after {} "
                        "failed batch(es), last sqlstate={}",
                        failures_in_a_row_, sqlstate.empty() ? "none" : sqlstate);
                    // The new connection is made before the old one goes: while it works,
                    // `connected` stays true (Postgres is reached; `failing` says the rest).
                    connect();
                }
            }
            update_lag();
            if (stopping) break;
            sleep_for(delay, true);
            delay = std::min(delay * 2, max_backoff);
        }
    }
    try {
        persist_ack();
    } catch (const std::exception& e) {
        log()->warn("audit forwarder: cannot record the acknowledged head: {}", e.what());
    }
    update_lag();
    {
        std::lock_guard lock(mutex_);
        finished_ = true;
    }
    finished_cv_.notify_all();
}

forwarder_status forwarder::status() const {
    forwarder_status s;
    s.connected = connected_.load();
    s.conflict = conflict_.load();
    s.failing = failing_.load() && s.connected;
    s.spool_failing = spool_failing_.load();
    if (const auto started = pass_started_.load(); started != 0) {
        const auto waited = clock::now() - clock::time_point(clock::duration(started));
        if (waited > limits_.stall_after) {
            s.stalled = true;
            s.stalled_seconds = std::chrono::duration<double>(waited).count();
        }
    }
    s.acked_seq = acked_seq_.load();
    s.lag_events = stats_.lag_events.load();
    s.lag_seconds = stats_.lag_seconds.load();
    std::lock_guard lock(mutex_);
    s.last_error = last_error_;
    s.last_sqlstate = last_sqlstate_;
    s.last_error_at = last_error_at_;
    s.check_ms = check_ms_;
    s.check_at = check_at_;
    return s;
}

}  // namespace sidelight::audit
