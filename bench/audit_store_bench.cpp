// Sustained audit throughput into SQLite (WAL, synchronous=FULL, hash chain on).
//
//   BM_writer_batch/<batch_max>/<sync>  events/s through writer::try_submit -> writer thread ->
//   store BM_store_append/<batch>       the store alone: one append() transaction per batch
//   BM_chain_hash                 the SHA-256 chain step alone
//
// Each writer iteration submits 20,000 events (retrying when the queue is full, so nothing is
// dropped) and waits until all are committed; items_per_second is the sustained rate.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "audit/hash_chain.hpp"
#include "audit/sqlite_store.hpp"
#include "audit/writer.hpp"

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

void BM_writer_batch(benchmark::State& state) {
    constexpr int per_iteration = 20000;
    bench_db db(state.range(1) == 0 ? "full" : "normal");
    sqlite_store store(db.cfg());
    config::audit_config cfg;
    cfg.queue_size = 65536;
    cfg.batch_max = static_cast<std::size_t>(state.range(0));
    cfg.checkpoint.every_events = 0;
    cfg.checkpoint.every = config::duration{0};
    writer w(store, cfg);
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
}
// Second argument: 0 synchronous=FULL (the default and the target), 1 NORMAL (for comparison).
BENCHMARK(BM_writer_batch)
    ->Args({256, 0})
    ->Args({1024, 0})
    ->Args({4096, 0})
    ->Args({1024, 1})
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

}  // namespace

BENCHMARK_MAIN();
