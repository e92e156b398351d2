#pragma once
// The Postgres audit store (docs/AUDIT.md, "Fleet store"): many writers, one database. Every
// writer owns one hash chain, named by `audit.store.chain`; rows are keyed (chain, seq).
//
//   forward(rows, checkpoints)  what the forwarder calls: rows already committed and chained in
//                               the local spool, inserted with their seq and hashes as they are,
//                               in one transaction under the chain's advisory lock. Rows Postgres
//                               holds already (a re-send after a crash) are skipped after their
//                               hash is compared; a row that would not continue the chain (a gap,
//                               another writer's rows under the same chain) is a chain_conflict
//                               and nothing is written. A row whose event_id is stored already
//                               (another pod's chain, or this chain's earlier row) is stored all
//                               the same, its chain needs it, and counted in `duplicates`.
//   append(batch)               the store interface: chains the events onto this chain's head
//                               itself (tests, tools); the agent writes through the spool.
//   query / head                scoped to the current chain; query with no chain set reads every
//                               chain (ordered by created_at, chain, seq; after_seq unused).
//
// The schema is created or upgraded at open with `migrate` (pg_schema.hpp); without it, an
// out-of-date schema is a store_error. Statement timings go to the on_duration hook as
// (operation, table, ms), for sidelight_store_query_duration_ms.
//
// Thread-safety: all methods may be called from any thread; they serialize on one connection.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "audit/checkpoint.hpp"
#include "audit/pg.hpp"
#include "audit/store.hpp"

namespace sidelight::audit {

// The rows handed to forward() do not continue the chain Postgres holds.
class chain_conflict : public store_error {
  public:
    using store_error::store_error;
};

struct forward_result {
    chain_head head;             // the chain's head in Postgres after the commit
    std::size_t inserted = 0;    // rows written
    std::size_t present = 0;     // rows Postgres held already (same seq and hash)
    std::size_t duplicates = 0;  // rows whose event_id was stored already (written all the same)
};

using duration_hook = std::function<void(std::string_view op, std::string_view table, double ms)>;

class pg_store final : public store {
  public:
    // Throws store_error (cannot connect, schema missing or newer, migration refused). Without
    // `migrate`, a version-1 database (the release before) is read as it is and refuses writes.
    // A non-zero `statement_timeout` is set as the session's statement_timeout and lock_timeout
    // (before migrating): a statement that waits longer fails (SQLSTATE 57014 or 55P03).
    pg_store(const std::string& dsn, std::string chain, bool migrate,
             std::chrono::seconds connect_timeout = std::chrono::seconds(5),
             std::chrono::milliseconds statement_timeout = std::chrono::milliseconds(0));
    ~pg_store() override;

    std::vector<stored_event> append(std::span<const event> batch) override;
    std::vector<stored_event> query(const query_filter& filter) override;
    chain_head head() override;
    std::optional<std::uint64_t> row_count(std::int64_t upto) override;  // of the chain set

    forward_result forward(std::span<const stored_event> rows,
                           std::span<const checkpoint> checkpoints);

    // The checkpoints of the current chain, in seq order, as signed (line re-parsed).
    std::vector<checkpoint> checkpoints();
    // Every chain that has rows, sorted.
    std::vector<std::string> chains();
    void set_chain(std::string chain);
    const std::string& chain() const { return chain_; }

    // `SELECT 1` round trip (the /healthz store check). Throws store_error.
    std::chrono::microseconds ping();
    bool usable() const;
    // Cancels the running statement from another thread (the forwarder's stop at its deadline).
    std::shared_ptr<const pg::canceller> make_canceller() const { return conn_.make_canceller(); }
    void set_duration_hook(duration_hook hook) { on_duration_ = std::move(hook); }
    const std::string& where() const { return conn_.where(); }

  private:
    chain_head read_head();
    std::string hash_at(std::int64_t seq);
    std::size_t insert_rows(std::span<const stored_event> rows);
    std::size_t stored_already(std::span<const stored_event> rows);
    void insert_checkpoints(std::span<const checkpoint> checkpoints);
    template <typename F>
    auto in_transaction(F&& body);
    void timed(std::string_view op, std::string_view table,
               std::chrono::steady_clock::time_point t0);
    void refuse_writes_to_version_1() const;

    std::mutex mutex_;
    pg::connection conn_;
    std::string chain_;
    duration_hook on_duration_;
    // Opened without migrating on a version-1 database: read (trace ids NULL), never written.
    bool read_only_v1_ = false;
};

// The Postgres store for readers that must not fail for good when Postgres is away (the event
// API): connects on first use and again after a lost connection; each call may throw
// store_error, the next one tries anew.
class pg_reader final : public store {
  public:
    pg_reader(std::string dsn, std::string chain)
        : dsn_(std::move(dsn)), chain_(std::move(chain)) {}
    std::vector<stored_event> append(std::span<const event> batch) override;
    std::vector<stored_event> query(const query_filter& filter) override;
    chain_head head() override;

  private:
    template <typename F>
    auto with_store(F&& f);

    std::mutex mutex_;
    const std::string dsn_;
    const std::string chain_;
    std::unique_ptr<pg_store> store_;
};

}  // namespace sidelight::audit
