// Sustained audit throughput into SQLite (WAL, synchronous=FULL, hash chain on).
//
//   BM_writer_batch/<batch_max>/<sync>/<cores>  events/s through writer::try_submit -> writer
//                                 thread -> store
//   BM_store_append/<batch>       the store alone: one append() transaction per batch
//   BM_chain_hash                 the SHA-256 chain step alone
//   BM_sqlite_floor/<variant>     SQLite alone, no writer: the store's schema, one prepared
//                                 one-row INSERT, 50,000 rows per transaction, synchronous=OFF,
//                                 values (ids, times, hashes) made before the clock starts: about
//                                 the most a writer could reach with this schema on this machine.
//                                 Variants: floor_variant.
//
// Each writer iteration submits 20,000 events (retrying when the queue is full, so nothing is
// dropped) and waits until all are committed; items_per_second is the sustained rate.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>

#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "audit/hash_chain.hpp"
#include "audit/sqlite_store.hpp"
#include "audit/writer.hpp"
#include "util/uuid.hpp"

namespace {

using namespace sidelight;
using namespace sidelight::audit;

audit_event sample_event(int i) {
    audit_event e;
    e.user_id = "user-" + std::to_string(i % 1000);
    e.action = "UPDATE_PRODUCT";
    e.entity_type = "product";
    e.entity_id = std::to_string(i);
    e.changes = R"({"price":1999,"name":"Widget","tags":["a","b"]})";
    e.ip_address = "10.1.2.3";
    e.user_agent = "Mozilla/5.0 (X11; Linux x86_64) bench";
    e.request_id = "req-" + std::to_string(i);
    e.method = "PUT";
    e.route = "/api/products/{id}";
    e.status = 200;
    return e;
}

class bench_db {
  public:
    explicit bench_db(const char* synchronous = "full") {
        std::random_device rd;
        dir_ = std::filesystem::temp_directory_path() / ("sidelight-bench-" + std::to_string(rd()));
        std::filesystem::create_directories(dir_);
        cfg_.path = (dir_ / "audit.db").string();
        cfg_.synchronous = synchronous;
    }
    ~bench_db() { std::filesystem::remove_all(dir_); }
    const config::store_config& cfg() const { return cfg_; }

  private:
    std::filesystem::path dir_;
    config::store_config cfg_;
};

bool pin_to_core(int core) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

void pin_to_any_core() {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 0; c < CPU_SETSIZE; ++c) CPU_SET(c, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void BM_writer_batch(benchmark::State& state) {
    constexpr int per_iteration = 20000;
    bench_db db(state.range(1) == 0 ? "full" : "normal");
    sqlite_store store(db.cfg());
    config::audit_config cfg;
    cfg.queue_size = 65536;
    cfg.batch_max = static_cast<std::size_t>(state.range(0));
    cfg.checkpoint.every_events = 0;
    cfg.checkpoint.every = config::duration{0};
    const bool two_cores = state.range(2) == 1;
    if (two_cores && !pin_to_core(1)) {
        state.SkipWithError("cannot pin to core 1");
        return;
    }
    writer w(store, cfg);  // its thread inherits core 1
    if (two_cores) pin_to_core(0);
    std::vector<event> events;
    for (int i = 0; i < per_iteration; ++i) events.emplace_back(sample_event(i));
    std::uint64_t committed = 0;
    for (auto _ : state) {
        for (const auto& ev : events) {
            while (!w.try_submit(ev)) std::this_thread::yield();
        }
        committed += per_iteration;
        while (w.stats().written_count(table_kind::audit_log, event_source::rule) < committed) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(committed));
    state.counters["batches"] = static_cast<double>(w.stats().batches.load());
    state.counters["dropped"] =
        static_cast<double>(w.stats().dropped_count(drop_reason::queue_full));
    if (two_cores) pin_to_any_core();
}
// Arguments: batch_max; 0 synchronous=FULL (the default and the target) or 1 NORMAL (for
// comparison); 0 every thread where the process runs (`taskset -c 1` in docs/BENCHMARKS.md: the
// writer and the thread submitting events share one core) or 1 the writer thread alone on core 1
// and the submitting thread on core 0, as a writer beside proxy workers would be.
BENCHMARK(BM_writer_batch)
    ->Args({256, 0, 0})
    ->Args({1024, 0, 0})
    ->Args({4096, 0, 0})
    ->Args({16384, 0, 0})
    ->Args({1024, 1, 0})
    ->Args({256, 0, 1})
    ->Args({4096, 0, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_store_append(benchmark::State& state) {
    bench_db db;
    sqlite_store store(db.cfg());
    std::vector<event> batch;
    for (int i = 0; i < state.range(0); ++i) batch.emplace_back(sample_event(i));
    for (auto _ : state) {
        for (auto& ev : batch) std::get<audit_event>(ev).event_id.clear();  // fresh ids
        benchmark::DoNotOptimize(store.append(batch));
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_store_append)->Arg(256)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_chain_hash(benchmark::State& state) {
    const event ev = sample_event(1);
    std::string prev{genesis_hash};
    std::int64_t seq = 0;
    for (auto _ : state) {
        prev = chain_hash(prev, ++seq, ev);
        benchmark::DoNotOptimize(prev);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_chain_hash);

// The text a stored audit_log row has, made ahead so that only SQLite is timed.
struct floor_row {
    std::string event_id, created_at, request_id, hash, user_id, entity_id;
};

void exec_or_throw(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string what = err ? err : "sqlite3_exec failed";
        sqlite3_free(err);
        throw std::runtime_error(sql + ": " + what);
    }
}

// The schema's triggers rewritten with RAISE(FAIL): still refused rows, but no statement journal.
std::string fail_triggers(sqlite3* conn) {
    std::string sql;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(conn, "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'", -1, &st,
                       nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        std::string create = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
        create.replace(create.find("RAISE(ABORT,"), 12, "RAISE(FAIL,");
        sql += "DROP TRIGGER " + name + "; " + create + ";";
    }
    sqlite3_finalize(st);
    return sql;
}

enum floor_variant : int {
    abort_triggers,  // as any other connection inserts: RAISE(ABORT) triggers, a plain INSERT
    fail_triggers_,  // the triggers with RAISE(FAIL) and INSERT OR FAIL: no statement journal
    no_triggers,     // as the store's own connection: triggers off, INSERT OR FAIL
    no_indexes,      // no trigger, no secondary index: the table's B-tree and event_id's UNIQUE
};

void BM_sqlite_floor(benchmark::State& state) {
    constexpr int rows_per_iteration = 50000;
    const auto variant = static_cast<floor_variant>(state.range(0));
    bench_db db("off");
    { sqlite_store create(db.cfg()); }  // the schema, 16 KiB pages, WAL
    sqlite3* conn = nullptr;
    if (sqlite3_open_v2(db.cfg().path.c_str(), &conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
        state.SkipWithError("open failed");
        return;
    }
    exec_or_throw(conn,
                  "PRAGMA synchronous=OFF; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY");
    if (variant == fail_triggers_) exec_or_throw(conn, fail_triggers(conn));
    if (variant == no_triggers || variant == no_indexes) {
        int enabled = 0;
        sqlite3_db_config(conn, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &enabled);
    }
    if (variant == no_indexes) {
        exec_or_throw(conn,
                      "DROP INDEX audit_log_user_id; DROP INDEX audit_log_entity; "
                      "DROP INDEX audit_log_created_at");
    }
    const std::string insert =
        std::string(variant == abort_triggers ? "INSERT" : "INSERT OR FAIL") +
        " INTO audit_log (seq, event_id, created_at, source, request_id, method, route, status, "
        "prev_hash, hash, user_id, action, entity_type, entity_id, changes, ip_address, "
        "user_agent) VALUES (?1, ?2, ?3, 'rule', ?4, 'PUT', '/api/products/{id}', 200, ?5, ?6, "
        "?7, 'UPDATE_PRODUCT', 'product', ?8, ?9, '10.1.2.3', "
        "'Mozilla/5.0 (X11; Linux x86_64) bench')";
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(conn, insert.c_str(), -1, &st, nullptr);
    const std::string changes = R"({"price":1999,"name":"Widget","tags":["a","b"]})";
    std::int64_t seq = 0;
    std::vector<floor_row> rows(rows_per_iteration);
    std::string prev(genesis_hash);
    for (auto _ : state) {
        state.PauseTiming();
        for (int i = 0; i < rows_per_iteration; ++i) {
            auto& r = rows[static_cast<std::size_t>(i)];
            r.event_id = util::make_uuid_v7();
            r.created_at = format_time(now());
            r.request_id = "req-" + std::to_string(seq + i);
            r.hash = sha256_hex(r.event_id);
            r.user_id = "user-" + std::to_string(i % 1000);
            r.entity_id = std::to_string(seq + i);
        }
        state.ResumeTiming();
        exec_or_throw(conn, "BEGIN IMMEDIATE");
        for (auto& r : rows) {
            const auto text = [st](int i, const std::string& v) {
                sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
            };
            sqlite3_bind_int64(st, 1, ++seq);
            text(2, r.event_id);
            text(3, r.created_at);
            text(4, r.request_id);
            text(5, prev);
            text(6, r.hash);
            text(7, r.user_id);
            text(8, r.entity_id);
            text(9, changes);
            if (sqlite3_step(st) != SQLITE_DONE) {
                state.SkipWithError(sqlite3_errmsg(conn));
                break;
            }
            sqlite3_reset(st);
            prev = r.hash;
        }
        exec_or_throw(conn, "COMMIT");
    }
    sqlite3_finalize(st);
    sqlite3_close(conn);
    state.SetItemsProcessed(state.iterations() * rows_per_iteration);
}
BENCHMARK(BM_sqlite_floor)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Arg(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
