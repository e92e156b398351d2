#include "audit/writer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sidelight::audit {

namespace {

constexpr std::chrono::milliseconds initial_backoff{10};
constexpr std::chrono::milliseconds max_backoff{1000};
constexpr std::chrono::seconds destructor_grace{5};

spdlog::logger& log() {
    static const auto logger = [] {
        auto l = spdlog::get("audit");
        return l ? l : spdlog::default_logger()->clone("audit");
    }();
    return *logger;
}

std::string_view table_label(const std::vector<event>& events) {
    const auto first = events.empty() ? table_kind::audit_log : table_of(events.front());
    for (const auto& ev : events) {
        if (table_of(ev) != first) return "both";
    }
    return table_name(first);
}

// Counts submitters between the accepting_ check and the push, so drain() can wait them out.
class inflight_guard {
  public:
    explicit inflight_guard(std::atomic<std::int64_t>& n) : n_(n) { n_.fetch_add(1); }
    ~inflight_guard() { n_.fetch_sub(1); }
    inflight_guard(const inflight_guard&) = delete;
    inflight_guard& operator=(const inflight_guard&) = delete;

  private:
    std::atomic<std::int64_t>& n_;
};

}  // namespace

std::string_view to_string(drop_reason reason) {
    switch (reason) {
        case drop_reason::queue_full:
            return "queue_full";
        case drop_reason::shutdown:
            return "shutdown";
        case drop_reason::strict_timeout:
            return "strict_timeout";
        case drop_reason::spool_full:
            return "spool_full";
    }
    return "unknown";
}

struct writer::waiter {
    enum : int { pending, claimed, abandoned };
    std::atomic<int> state{pending};
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    commit_result result;
    // submit_async: called instead of waking a waiting thread; past the deadline the event is
    // dropped rather than written.
    std::function<void(commit_result)> callback;
    clock::time_point deadline = clock::time_point::max();

    void finish(commit_result r) {
        if (callback) {
            auto cb = std::move(callback);
            callback = nullptr;
            cb(std::move(r));
            return;
        }
        {
            std::lock_guard lock(mutex);
            result = std::move(r);
            done = true;
        }
        cv.notify_all();
    }
};

void writer::pending_batch::clear() {
    events.clear();
    strict.clear();
    has_strict = false;
}

writer::writer(store& s, const config::audit_config& cfg, writer_hooks hooks)
    : store_(s),
      batch_max_(std::max<std::size_t>(cfg.batch_max, 1)),
      batch_interval_(cfg.batch_interval),
      strict_timeout_(cfg.strict_timeout),
      checkpoint_cfg_(cfg.checkpoint),
      hooks_(std::move(hooks)),
      queue_(cfg.queue_size) {
    signer_ = make_checkpoint_signer(checkpoint_cfg_);
    stats_.security.admit({"audit_events_dropped"});
    try {
        last_seq_ = store_.head().seq;
    } catch (const std::exception& e) {
        note_error(e.what());
    }
    last_checkpoint_ = clock::now();
    thread_ = std::thread([this] { run(); });
}

writer::~writer() {
    if (!drained_) drain(clock::now() + destructor_grace);
}

std::optional<store_failure> writer::last_error() const {
    std::lock_guard lock(error_mutex_);
    return last_error_;
}

// A strict event is refused before it is queued while the store is known to be failing: its
// caller answers 503 now rather than after the writer's next retry (up to max_backoff away).
// The writer's probes and batch retries bring health back.
std::optional<commit_result> writer::refuse_strict() {
    if (!accepting_.load()) return commit_result{false, 0, "audit writer is stopping"};
    if (healthy_.load()) return std::nullopt;
    const auto failure = last_error();
    return commit_result{false, 0, "audit store unavailable: " + (failure ? failure->message : "")};
}

bool writer::try_submit(event ev) {
    inflight_guard guard(inflight_);
    const auto table = table_of(ev);
    if (!accepting_.load()) {
        record_drop(table, drop_reason::shutdown);
        return false;
    }
    normalize(ev);
    queued item{std::move(ev), nullptr};
    if (push(item)) return true;
    record_drop(table, drop_reason::queue_full);
    return false;
}

void writer::submit_async(event ev, std::chrono::milliseconds timeout,
                          std::function<void(commit_result)> done) {
    auto w = std::make_shared<waiter>();
    w->callback = [this, done = std::move(done)](commit_result r) {
        if (!r.ok) stats_.strict_failures.fetch_add(1);
        done(std::move(r));
    };
    w->deadline = clock::now() + timeout;
    inflight_guard guard(inflight_);
    if (auto refused = refuse_strict()) {
        w->finish(std::move(*refused));
        return;
    }
    normalize(ev);
    queued item{std::move(ev), w};
    if (!push(item)) w->finish({false, 0, "audit queue full"});
}

commit_result writer::submit_and_wait(event ev, std::chrono::milliseconds timeout) {
    auto w = std::make_shared<waiter>();
    {
        inflight_guard guard(inflight_);
        if (auto refused = refuse_strict()) {
            stats_.strict_failures.fetch_add(1);
            return std::move(*refused);
        }
        normalize(ev);
        queued item{std::move(ev), w};
        if (!push(item)) {
            stats_.strict_failures.fetch_add(1);
            return {false, 0, "audit queue full"};
        }
    }
    std::unique_lock lock(w->mutex);
    if (w->cv.wait_for(lock, timeout, [&] { return w->done; })) {
        if (!w->result.ok) stats_.strict_failures.fetch_add(1);
        return w->result;
    }
    stats_.strict_failures.fetch_add(1);
    int expected = waiter::pending;
    if (w->state.compare_exchange_strong(expected, waiter::abandoned)) {
        return {false, 0, "timed out waiting for the audit store; the event was not written"};
    }
    return {false, 0, "timed out waiting for the audit store; the commit is in progress"};
}

bool writer::push(queued& item) {
    const bool strict = item.strict != nullptr;
    if (strict) strict_queued_.fetch_add(1);
    stats_.queue_depth.fetch_add(1);
    if (!queue_.try_push(item)) {
        stats_.queue_depth.fetch_sub(1);
        if (strict) strict_queued_.fetch_sub(1);
        return false;
    }
    // Pairs with wait(): either the writer sees our depth, or we see its threshold and notify.
    const auto threshold = wake_threshold_.load();
    if (threshold > 0 && (strict || stats_.queue_depth.load() >= threshold)) {
        std::lock_guard lock(wake_mutex_);
        wake_cv_.notify_one();
    }
    return true;
}

void writer::record_drop(table_kind table, drop_reason reason) {
    stats_.dropped[static_cast<std::size_t>(table)][static_cast<std::size_t>(reason)].fetch_add(
        1, std::memory_order_relaxed);
    if (reason != drop_reason::queue_full && reason != drop_reason::spool_full) return;
    if (reason == drop_reason::spool_full) unreported_spool_drops_.fetch_add(1);
    const auto t = now().time_since_epoch().count();
    std::int64_t none = 0;
    first_drop_us_.compare_exchange_strong(none, t);
    last_drop_us_.store(t);
    unreported_drops_.fetch_add(1);
}

writer::clock::time_point writer::deadline() const {
    return clock::time_point(clock::duration(drain_deadline_.load()));
}

writer::clock::time_point writer::idle_until() const {
    if (since_checkpoint_ > 0 && checkpoint_cfg_.every.count() > 0) {
        return last_checkpoint_ + checkpoint_cfg_.every;
    }
    return clock::now() + std::chrono::seconds(1);
}

void writer::wait(std::int64_t depth, clock::time_point until) {
    std::unique_lock lock(wake_mutex_);
    wake_threshold_.store(depth);
    while (!stopping_.load() && strict_queued_.load() == 0 && stats_.queue_depth.load() < depth &&
           clock::now() < until) {
        wake_cv_.wait_until(lock, until);
    }
    wake_threshold_.store(0);
}

void writer::run() {
    pending_batch batch;
    auto delay = initial_backoff;
    for (;;) {
        fill(batch);
        if (batch.events.empty()) {
            if (stopping_.load()) break;
            if (!healthy_.load()) {
                if (!probe()) {
                    backoff(delay);
                    continue;
                }
                delay = initial_backoff;
                record_drops();
            }
            maybe_checkpoint(false);
            wait(1, idle_until());
            continue;
        }
        if (!stopping_.load() && !batch.has_strict && batch.events.size() < batch_max_) {
            wait(static_cast<std::int64_t>(batch_max_ - batch.events.size()),
                 clock::now() + batch_interval_);
            fill(batch);
        }
        if (commit(batch)) {
            delay = initial_backoff;
            record_drops();
            maybe_checkpoint(false);
        } else if (stopping_.load() && clock::now() >= deadline()) {
            give_up(batch);
            break;
        } else {
            backoff(delay);
        }
    }
    maybe_checkpoint(true);
}

void writer::fill(pending_batch& batch) {
    queued item;
    while (batch.events.size() < batch_max_ && queue_.try_pop(item)) {
        stats_.queue_depth.fetch_sub(1);
        if (item.strict) {
            strict_queued_.fetch_sub(1);
            int expected = waiter::pending;
            if (!item.strict->state.compare_exchange_strong(expected, waiter::claimed)) {
                record_drop(table_of(item.ev), drop_reason::strict_timeout);
                continue;
            }
            if (clock::now() > item.strict->deadline) {  // an async caller gave up by now
                record_drop(table_of(item.ev), drop_reason::strict_timeout);
                stats_.strict_failures.fetch_add(1);
                item.strict->finish({false, 0, "timed out waiting for the audit store"});
                continue;
            }
            batch.has_strict = true;
        }
        batch.events.push_back(std::move(item.ev));
        batch.strict.push_back(std::move(item.strict));
    }
}

bool writer::commit(pending_batch& batch) {
    const auto table = table_label(batch.events);
    const auto start = clock::now();
    try {
        const auto rows = store_.append(batch.events);
        timed("append", table, start);
        healthy_.store(true);
        stats_.batches.fetch_add(1, std::memory_order_relaxed);
        count_written(rows);
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (batch.strict[i]) batch.strict[i]->finish({true, rows[i].seq, {}});
        }
        if (hooks_.on_commit && !rows.empty()) hooks_.on_commit();
        batch.clear();
        return true;
    } catch (const spool_full& e) {
        // As a full queue: the events are dropped and counted, strict callers answered at once.
        timed("append", table, start);
        note_error(e.what());
        stats_.store_errors.fetch_add(1, std::memory_order_release);
        log().warn("event=audit_spool_full events={} error=\"{}\"", batch.events.size(), e.what());
        for (std::size_t i = 0; i < batch.events.size(); ++i) {
            if (batch.strict[i]) {
                batch.strict[i]->finish({false, 0, std::string("audit spool full: ") + e.what()});
            } else {
                record_drop(table_of(batch.events[i]), drop_reason::spool_full);
            }
        }
        batch.clear();
        return false;
    } catch (const std::exception& e) {
        timed("append", table, start);
        // The error and the health first: whoever sees the count sees why, too (release).
        note_error(e.what());
        stats_.store_errors.fetch_add(1, std::memory_order_release);
        log().warn("event=audit_store_error events={} error=\"{}\"", batch.events.size(), e.what());
        fail_strict(batch, e.what());
        return false;
    }
}

// Nothing is left to write but the store failed last time (the failed events were strict ones,
// already answered): an empty write transaction tells when it takes writes again, so /healthz
// recovers without waiting for the next event. Failed probes are not counted as store errors.
bool writer::probe() {
    try {
        store_.append({});
        healthy_.store(true);
        return true;
    } catch (const std::exception& e) {
        note_error(e.what());
        return false;
    }
}

void writer::count_written(const std::vector<stored_event>& rows) {
    for (const auto& row : rows) {
        if (row.seq <= last_seq_) continue;  // an idempotent repeat of a stored event
        last_seq_ = row.seq;
        ++since_checkpoint_;
        const auto source = static_cast<std::size_t>(source_of(row.ev));
        stats_.written[static_cast<std::size_t>(row.table())][source].fetch_add(
            1, std::memory_order_relaxed);
        if (const auto* sec = std::get_if<security_event>(&row.ev)) {
            stats_.security.count(sec->event_type, sec->success);
        }
    }
}

void writer::note_error(const std::string& error) {
    {
        std::lock_guard lock(error_mutex_);
        last_error_ = store_failure{error, now()};
    }
    healthy_.store(false);
}

// Strict callers are told at once (they answer 503); batch events stay for the retry.
void writer::fail_strict(pending_batch& batch, const std::string& error) {
    if (!batch.has_strict) return;
    pending_batch keep;
    for (std::size_t i = 0; i < batch.events.size(); ++i) {
        if (batch.strict[i]) {
            batch.strict[i]->finish({false, 0, "audit store error: " + error});
        } else {
            keep.events.push_back(std::move(batch.events[i]));
            keep.strict.push_back(nullptr);
        }
    }
    batch = std::move(keep);
}

void writer::backoff(std::chrono::milliseconds& delay) {
    const auto until = std::min(clock::now() + delay, deadline());
    std::unique_lock lock(wake_mutex_);
    wake_cv_.wait_until(lock, until, [&] { return clock::now() >= until; });
    delay = std::min(delay * 2, max_backoff);
}

// The drain deadline passed with the store still failing: what is left is lost, and counted.
void writer::give_up(pending_batch& batch) {
    fill(batch);
    while (!batch.events.empty()) {
        for (std::size_t i = 0; i < batch.events.size(); ++i) {
            if (batch.strict[i]) batch.strict[i]->finish({false, 0, "audit writer stopped"});
            record_drop(table_of(batch.events[i]), drop_reason::shutdown);
        }
        batch.clear();
        fill(batch);
    }
    lost_at_shutdown_ = true;
    const auto failure = last_error();
    log().error("event=audit_drain_incomplete error=\"{}\"", failure ? failure->message : "");
}

// One `audit_events_dropped` security event per recovery, covering every drop since the last.
void writer::record_drops() {
    const auto count = unreported_drops_.exchange(0);
    if (count == 0) return;
    const auto spool = std::min(unreported_spool_drops_.exchange(0), count);
    const char* reason = spool == 0       ? "queue_full"
                         : spool == count ? "spool_full"
                                          : "queue_full,spool_full";
    const auto first = first_drop_us_.exchange(0);
    const auto last = std::max(last_drop_us_.load(), first);
    security_event ev;
    ev.event_type = "audit_events_dropped";
    ev.success = false;
    ev.source = event_source::detector;
    ev.details = "{\"count\":" + std::to_string(count) + ",\"reason\":\"" + reason + "\"" +
                 ",\"first_drop\":\"" + format_time(time_point(std::chrono::microseconds(first))) +
                 "\",\"last_drop\":\"" + format_time(time_point(std::chrono::microseconds(last))) +
                 "\"}";
    pending_batch report;
    report.events.emplace_back(std::move(ev));
    report.strict.emplace_back(nullptr);
    if (commit(report)) {
        log().warn("event=audit_events_dropped count={}", count);
        return;
    }
    unreported_drops_.fetch_add(count);  // report them after the next successful commit
    std::int64_t none = 0;
    first_drop_us_.compare_exchange_strong(none, first);
}

void writer::maybe_checkpoint(bool force) {
    const auto every_events = checkpoint_cfg_.every_events;
    const auto every = checkpoint_cfg_.every;
    if (since_checkpoint_ == 0 || !hooks_.on_checkpoint) return;
    if (every_events == 0 && every.count() == 0) return;
    const auto at = clock::now();
    const bool due = (every_events > 0 && since_checkpoint_ >= every_events) ||
                     (every.count() > 0 && at - last_checkpoint_ >= every);
    if (!force && !due) return;
    try {
        const auto start = clock::now();
        const auto head = store_.head();
        timed("head", "both", start);
        checkpoint cp{head.seq, head.hash, now(), head.seq, {}};
        if (signer_) signer_->sign(cp);
        hooks_.on_checkpoint(to_json_line(cp));
        stats_.checkpoints.fetch_add(1, std::memory_order_relaxed);
        since_checkpoint_ = 0;
        last_checkpoint_ = at;
    } catch (const std::exception& e) {
        log().warn("event=audit_checkpoint_failed error=\"{}\"", e.what());
    }
}

void writer::timed(std::string_view operation, std::string_view table, clock::time_point start) {
    if (!hooks_.on_duration) return;
    const std::chrono::duration<double, std::milli> ms = clock::now() - start;
    hooks_.on_duration(operation, table, ms.count());
}

bool writer::drain(clock::time_point deadline) {
    if (drained_) return !lost_at_shutdown_;
    accepting_.store(false);
    while (inflight_.load() > 0) std::this_thread::yield();
    drain_deadline_.store(deadline.time_since_epoch().count());
    stopping_.store(true);
    {
        std::lock_guard lock(wake_mutex_);
        wake_cv_.notify_all();
    }
    thread_.join();
    drained_ = true;
    return !lost_at_shutdown_;
}

}  // namespace sidelight::audit
