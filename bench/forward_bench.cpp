// Forwarding into Postgres, measured against a real server (bench/pg_store.sh starts one).
//
//   bench_forward throughput DSN DIR EVENTS WRITERS BATCH
//       Each writer gets a spool of EVENTS events (filled first, not timed) under its own
//       chain; then all forwarders start at once and the clock runs until Postgres holds every
//       event. Prints events/s in all and per writer.
//   bench_forward lag DSN DIR RATE SECONDS BATCH
//       One writer at RATE events/s for SECONDS, spool and forwarder as the agent runs them.
//       Prints the p50/p99/max of (Postgres commit time - event time), from
//       pg_xact_commit_timestamp (the server runs with track_commit_timestamp=on).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/forwarder.hpp"
#include "audit/pg.hpp"
#include "audit/writer.hpp"

using namespace sidelight;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

audit::audit_event sample(int i) {
    audit::audit_event e;
    e.user_id = "user-" + std::to_string(i % 1000);
    e.action = "UPDATE_PRODUCT";
    e.entity_type = "product";
    e.entity_id = std::to_string(i);
    e.changes = R"({"price":12.5,"currency":"USD","in_stock":true})";
    e.ip_address = "10.1.2.3";
    e.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
    e.request_id = "0123456789abcdef0123456789abcdef";
    e.method = "PUT";
    e.route = "/api/products/{id}";
    e.status = 200;
    return e;
}

config::store_config store_cfg(const std::string& dsn, const std::string& dir, int writer,
                               std::size_t batch) {
    config::store_config cfg;
    cfg.type = "postgres";
    cfg.dsn = dsn;
    cfg.chain = "bench-" + std::to_string(writer);
    cfg.spool.path = dir + "/spool-" + std::to_string(writer) + ".db";
    cfg.path = cfg.spool.path;
    cfg.forward_batch = batch;
    return cfg;
}

int throughput(const std::string& dsn, const std::string& dir, int events, int writers,
               std::size_t batch) {
    std::vector<config::store_config> cfgs;
    std::vector<std::unique_ptr<audit::sqlite_store>> spools;
    for (int w = 0; w < writers; ++w) {
        cfgs.push_back(store_cfg(dsn, dir, w, batch));
        spools.push_back(std::make_unique<audit::sqlite_store>(
            cfgs.back(), audit::open_mode::create, audit::spool_options{}));
        for (int i = 0; i < events; i += 1000) {
            std::vector<audit::event> chunk;
            for (int j = i; j < std::min(events, i + 1000); ++j) chunk.emplace_back(sample(j));
            spools.back()->append(chunk);
        }
    }
    // Time inside Postgres statements, by operation, summed over the writers.
    std::mutex m;
    std::map<std::string, double> in_pg;
    auto hook = [&](std::string_view op, std::string_view table, double ms) {
        std::lock_guard lock(m);
        in_pg[std::string(op) + "/" + std::string(table)] += ms;
    };
    const auto start = clock_type::now();
    std::vector<std::unique_ptr<audit::forwarder>> fwds;
    for (int w = 0; w < writers; ++w)
        fwds.push_back(std::make_unique<audit::forwarder>(*spools[w], cfgs[w], hook));
    for (;;) {
        bool done = true;
        for (auto& f : fwds) done = done && f->status().acked_seq >= events;
        if (done) break;
        std::this_thread::sleep_for(2ms);
    }
    const double s = std::chrono::duration<double>(clock_type::now() - start).count();
    std::printf(
        "writers=%d events_per_writer=%d batch=%zu seconds=%.3f events_per_s=%.0f "
        "per_writer=%.0f\n",
        writers, events, batch, s, writers * events / s, events / s);
    std::lock_guard lock(m);
    for (const auto& [what, ms] : in_pg) std::printf("  %s: %.3f s\n", what.c_str(), ms / 1000);
    return 0;
}

int lag(const std::string& dsn, const std::string& dir, int rate, int seconds, std::size_t batch) {
    auto cfg = store_cfg(dsn, dir, 100, batch);
    audit::sqlite_store spool(cfg, audit::open_mode::create, audit::spool_options{});
    audit::forwarder fwd(spool, cfg);
    config::audit_config acfg;
    audit::writer_hooks hooks;
    hooks.on_commit = [&] { fwd.notify(); };
    audit::writer w(spool, acfg, hooks);
    const auto start = clock_type::now();
    const int total = rate * seconds;
    for (int i = 0; i < total; ++i) {
        std::this_thread::sleep_until(start + std::chrono::microseconds(1'000'000LL * i / rate));
        if (!w.try_submit(sample(i))) std::fprintf(stderr, "dropped %d\n", i);
    }
    w.drain(clock_type::now() + 10s);
    while (fwd.status().acked_seq < total) std::this_thread::sleep_for(5ms);
    audit::pg::connection conn(dsn);
    auto r = conn.exec(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY l), percentile_cont(0.99) WITHIN "
        "GROUP (ORDER BY l), max(l), count(*) FROM (SELECT extract(epoch FROM "
        "pg_xact_commit_timestamp(xmin) - created_at) AS l FROM audit_log WHERE chain = '" +
        cfg.chain + "') x");
    std::printf("rate=%d seconds=%d events=%s lag_p50_s=%s lag_p99_s=%s lag_max_s=%s\n", rate,
                seconds, std::string(r.text(0, 3)).c_str(), std::string(r.text(0, 0)).c_str(),
                std::string(r.text(0, 1)).c_str(), std::string(r.text(0, 2)).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 7 && std::string(argv[1]) == "throughput")
        return throughput(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]),
                          static_cast<std::size_t>(std::atoi(argv[6])));
    if (argc == 7 && std::string(argv[1]) == "lag")
        return lag(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]),
                   static_cast<std::size_t>(std::atoi(argv[6])));
    std::fprintf(stderr,
                 "usage: bench_forward throughput DSN DIR EVENTS WRITERS BATCH\n"
                 "       bench_forward lag DSN DIR RATE SECONDS BATCH\n");
    return 2;
}
