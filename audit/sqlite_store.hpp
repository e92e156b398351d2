#pragma once
// The SQLite audit store: one database file (WAL, `synchronous` from config, 5 s busy timeout)
// holding `audit_log`, `security_audit` and `schema_version`. New databases get 16 KiB pages.
// The WAL is checkpointed once it holds `wal_max_bytes` of pages and its file cut back to that
// size, so it stays within wal_max_bytes plus one commit (docs/AUDIT.md, "Disk sizing").
//
// Append-only is enforced inside the database, so a second connection (a shell, a bug elsewhere)
// is refused too: BEFORE UPDATE / BEFORE DELETE triggers abort, and a BEFORE INSERT trigger aborts
// when the row's seq or event_id already exists in either table, so INSERT OR REPLACE and UPSERT
// never reach the conflict (REPLACE would otherwise delete the old row without firing the DELETE
// trigger). `seq` is the tables' INTEGER PRIMARY KEY (hence UNIQUE NOT NULL, and no extra index).
// The store's own connection runs with triggers off, guarded instead by an authorizer that
// compiles nothing but reads and inserts into the two tables (guard_connection).
//
// append() writes runs of one table as multi-row INSERT OR FAIL statements (chunk_rows) in one
// transaction. When a row is refused or an event_id is stored already, the transaction is rolled
// back and the batch is written again row by row, so that repeats are skipped and answered with
// the stored row.
//
// The schema is created on first open and its version checked on every open (sqlite_schema.hpp):
// a version-1 file is upgraded in place, any other version is a store_error naming both.
//
// Thread-safety: all methods may be called from any thread; they serialize on one connection.

#include <SQLiteCpp/SQLiteCpp.h>

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "audit/checkpoint.hpp"
#include "audit/sqlite_schema.hpp"
#include "audit/store.hpp"
#include "config/config.hpp"

namespace sidelight::audit {

// The store as the local spool of the Postgres store (docs/AUDIT.md, "Fleet store"): it also
// keeps how far Postgres has acknowledged the chain (spool_state), the checkpoints still to be
// forwarded (spool_checkpoint), and it may prune rows once Postgres holds them. When its pages
// in use pass max_bytes, append() refuses new events with spool_full.
struct spool_options {
    std::uint64_t max_bytes = 1024ull * 1024 * 1024;
};

// How long a spool remembers the id of an event API row it pruned (Postgres held it): a retry
// of it within that time is acknowledged and not stored again.
inline constexpr std::chrono::seconds forwarded_id_retention{24 * 60 * 60};

enum class open_mode {
    create,    // create the file and schema when missing
    existing,  // the file must exist (CLI: verify/query/export)
};

class sqlite_store final : public store {
  public:
    static constexpr int schema_version = current_schema_version;
    static constexpr int busy_timeout_ms = 5000;
    // Page size of a database this store creates (an existing one keeps its own).
    static constexpr int new_page_size = 16384;
    // Rows per INSERT statement, largest first: a batch is cut into runs of one table and each
    // run into the largest chunks that fit (a batch of 256 is four statements of 64 rows).
    static constexpr std::size_t chunk_slots = 4;
    static constexpr std::array<std::size_t, chunk_slots> chunk_rows{64, 16, 4, 1};

    // Throws store_error (bad `synchronous`, unreadable file, wrong schema version, failed
    // upgrade of a version-1 file).
    explicit sqlite_store(const config::store_config& cfg, open_mode mode = open_mode::create,
                          std::optional<spool_options> spool = std::nullopt);
    ~sqlite_store() override;

    std::vector<stored_event> append(std::span<const event> batch) override;
    std::vector<stored_event> query(const query_filter& filter) override;
    // The last row's (seq, hash); in a spool whose rows are all pruned, the acknowledged head.
    chain_head head() override;
    std::optional<std::uint64_t> row_count(std::int64_t upto) override;

    // Spool only (store_error otherwise).
    // How far Postgres holds the chain ({0, genesis} at first).
    chain_head acknowledged();
    // Records that Postgres holds the chain up to `acked` and prunes the rows up to it, and the
    // checkpoints up to `checkpoints_sent` (those Postgres holds: a checkpoint recorded after
    // the forwarder read them waits for the next send), in one transaction. Without it, the
    // checkpoints up to `acked`.
    void acknowledge(const chain_head& acked, std::optional<std::int64_t> checkpoints_sent = {});
    // A fresh spool (no rows, nothing acknowledged) continues a chain Postgres holds already:
    // `acked` becomes its head. False (and nothing changed) when the spool is not fresh.
    bool seed(const chain_head& acked);
    void record_checkpoint(const checkpoint& cp);
    // Recorded checkpoints up to `seq`, in seq order.
    std::vector<checkpoint> checkpoints_upto(std::int64_t seq);
    // Bytes of the database file in use (pages not on the free list).
    std::uint64_t used_bytes();

    const std::string& path() const { return path_; }

    // A setting of the store's own connection as SQLite reports it (`PRAGMA synchronous` gives
    // "2" for full): synchronous, journal_mode, page_size, wal_autocheckpoint,
    // journal_size_limit, busy_timeout, cache_size or temp_store. Throws store_error for any other
    // name.
    std::string setting(const std::string& pragma);

    // Runs `sql` on the store's own connection, for tests of its guard: SQLite's error message,
    // or "" when it ran.
    std::string exec_for_test(const std::string& sql);

  private:
    void bound_wal(std::uint64_t max_bytes);
    void guard_connection();
    void prepare_statements();
    chain_head read_head();
    SQLite::Statement& insert_statement(table_kind table, std::size_t slot);
    void append_one(const event& in, chain_head& h, std::vector<stored_event>& out);
    bool insert_chunk(std::span<const event> events, std::size_t slot, const chain_head& h,
                      std::vector<stored_event>& rows);
    std::optional<std::vector<stored_event>> append_chunks(std::span<const event> batch);
    std::vector<stored_event> append_rows(std::span<const event> batch);
    std::optional<stored_event> find_event_id(const std::string& event_id);
    void require_spool() const;
    void open_spool_tables();
    void write_acknowledged(const chain_head& acked);
    std::uint64_t read_used_bytes();

    std::string path_;
    std::optional<spool_options> spool_;
    std::mutex mutex_;
    SQLite::Database db_;
    // INSERTs of chunk_rows[slot] rows per table, prepared when first used.
    std::array<std::array<std::unique_ptr<SQLite::Statement>, chunk_slots>, 2> inserts_;
    std::unique_ptr<SQLite::Statement> head_;
    std::unique_ptr<SQLite::Statement> by_event_id_;
    std::unique_ptr<SQLite::Statement> forwarded_by_id_;  // a spool's only
};

}  // namespace sidelight::audit
