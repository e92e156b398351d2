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

}  // namespace

forwarder::forwarder(sqlite_store& spool, const config::store_config& cfg,
                     duration_hook on_duration)
    : spool_(spool), cfg_(cfg), on_duration_(std::move(on_duration)) {
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

void forwarder::fail(const std::string& error) {
    stats_.errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    last_error_ = error;
    last_error_at_ = now();
}

// Connects, creates or checks the schema, and reads back where Postgres has the chain.
bool forwarder::connect() {
    try {
        pg_ = std::make_unique<pg_store>(cfg_.dsn, cfg_.chain, true);
        pg_->set_duration_hook(on_duration_);
        const auto pg_head = pg_->head();
        if (pg_head.seq > 0 && spool_.seed(pg_head)) {
            log()->info("audit forwarder: chain={} continues at seq {} as Postgres holds it",
                        cfg_.chain, pg_head.seq + 1);
        }
        const auto spooled = spool_.acknowledged();  // a seed moves it
        if (spooled.seq > acked_.seq) acked_ = spooled;
        persisted_seq_ = std::max(persisted_seq_, spooled.seq);
        connected_.store(true);
        log()->info("audit forwarder: connected dsn=\"{}\" chain={} postgres_head={}", pg_->where(),
                    cfg_.chain, pg_head.seq);
        return true;
    } catch (const std::exception& e) {
        pg_.reset();
        connected_.store(false);
        fail(e.what());
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
        auto prefetched = next_.get();  // waits; a read that failed throws here
        if (usable) rows = std::move(prefetched);
    }
    if (rows.empty()) rows = read_after(acked_.seq);
    if (rows.empty()) {
        // Checkpoints recorded after the batch they cover was read (the writer records one after
        // the commit that wakes this thread): sent alone, before they are pruned.
        const auto late = spool_.checkpoints_upto(acked_.seq);
        if (!late.empty() && late.back().seq > sent_checkpoint_) {
            pg_->forward({}, late);
            sent_checkpoint_ = late.back().seq;
        }
        return false;
    }
    if (rows.size() == cfg_.forward_batch) {
        next_after_ = rows.back().seq;
        next_ = std::async(std::launch::async,
                           [this, after = next_after_] { return read_after(after); });
    }
    const auto checkpoints = spool_.checkpoints_upto(rows.back().seq);
    const auto result = pg_->forward(rows, checkpoints);
    failing_.store(false);
    if (!checkpoints.empty()) sent_checkpoint_ = std::max(sent_checkpoint_, checkpoints.back().seq);
    acked_ = {rows.back().seq, rows.back().hash};
    acked_seq_.store(acked_.seq);
    // The spool learns it (and prunes) at most once per prune_every while busy: a stale mark
    // there only means a re-send after a crash, which Postgres answers row for row.
    if (clock::now() - last_prune_ >= prune_every) persist_ack();
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
        const auto rtt = pg_->ping();
        std::lock_guard lock(mutex_);
        check_ms_ = std::chrono::duration<double, std::milli>(rtt).count();
        check_at_ = now();
    } catch (const std::exception& e) {
        pg_.reset();
        connected_.store(false);
        fail(e.what());
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
            delay = initial_backoff;
            update_lag();
            // The store check, once a second, busy or not.
            if (!stopping && clock::now() - last_check >= idle_check) {
                check();
                last_check = clock::now();
                if (!pg_) continue;
            }
            if (sent) continue;
            persist_ack();  // idle: everything sent is pruned now
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
        } catch (const std::exception& e) {
            fail(e.what());
            log()->warn("event=audit_forward_error error=\"{}\"", e.what());
            if (pg_ && !pg_->usable()) {
                pg_.reset();
                connected_.store(false);
            } else {
                failing_.store(true);
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
}

forwarder_status forwarder::status() const {
    forwarder_status s;
    s.connected = connected_.load();
    s.conflict = conflict_.load();
    s.failing = failing_.load() && s.connected;
    s.acked_seq = acked_seq_.load();
    s.lag_events = stats_.lag_events.load();
    s.lag_seconds = stats_.lag_seconds.load();
    std::lock_guard lock(mutex_);
    s.last_error = last_error_;
    s.last_error_at = last_error_at_;
    s.check_ms = check_ms_;
    s.check_at = check_at_;
    return s;
}

}  // namespace sidelight::audit
