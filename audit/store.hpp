#pragma once
// The audit store seam: SQLite today, Postgres (or an in-memory store) later.
//
// A store holds two append-only tables (audit_log, security_audit) that share one sequence and
// one hash chain. `append` commits a batch atomically: every new row gets the next `seq` (strictly
// +1, in commit order) and its chain hash, or nothing is committed and `store_error` is thrown.
//
// Thread-safety: implementations must be safe to call from several threads at once (the writer
// thread appends while the admin API queries); they may serialize internally.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event.hpp"

namespace sidelight::audit {

class store_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A store that has reached its size limit (the Postgres store's spool): the writer drops what it
// refuses and counts it, as it does for a full queue, instead of retrying.
class spool_full : public store_error {
  public:
    using store_error::store_error;
};

struct chain_head {
    std::int64_t seq = 0;  // 0: empty store
    std::string hash;      // genesis_hash when empty
};

struct query_filter {
    static constexpr std::size_t default_limit = 100;
    static constexpr std::size_t max_limit = 1000;

    std::optional<table_kind> table;  // none: both tables
    std::optional<std::string> user_id;
    std::optional<std::string> entity_type;  // audit_log only (selects that table)
    std::optional<std::string> entity_id;    // audit_log only
    std::optional<std::string> event_type;   // security_audit only (selects that table)
    std::optional<time_point> since;         // created_at >= since
    std::optional<time_point> until;         // created_at < until
    std::int64_t after_seq = 0;              // seq > after_seq (paging)
    std::size_t limit = default_limit;       // clamped to [1, max_limit] by the stores
};

class store {
  public:
    virtual ~store() = default;

    // One transaction for the whole batch. Returns one row per input, in input order. An event
    // whose event_id is already stored (or earlier in the same batch) is skipped and the existing
    // row is returned: it takes no seq and does not extend the chain. Empty event_id and epoch
    // created_at are filled in (see normalize()).
    virtual std::vector<stored_event> append(std::span<const event> batch) = 0;

    // Matching rows ordered by seq, at most filter.limit (clamped).
    virtual std::vector<stored_event> query(const query_filter& filter) = 0;

    // The last committed row's (seq, hash); {0, genesis_hash} when empty.
    virtual chain_head head() = 0;

    // How many rows the tables hold (of the chain read) at seq `upto` or below, however low:
    // verify compares it with the rows it walked up to its head, so a row slipped in at a seq
    // the walk never reaches (0 or below, or one used twice) is found, and a row a running
    // writer commits meanwhile (above the head) is not counted. nullopt: this store cannot tell.
    virtual std::optional<std::uint64_t> row_count(std::int64_t /*upto*/) { return std::nullopt; }
};

// Every row in seq order, in pages of query_filter::max_limit (for verify and export). The
// callback returns false to stop early.
void for_each_row(store& s, const std::function<bool(const stored_event&)>& fn);

// The newest `n` rows of `table`, newest first. The stores read in seq order only, and the two
// tables share the seq: this looks back from the head in growing spans (256, 1024, ... rows)
// until n rows are found or the span reaches the start, reading each span forwards in pages.
std::vector<stored_event> newest_rows(store& s, table_kind table, std::size_t n);

std::size_t clamp_limit(std::size_t limit);

// Whether this build can open an `audit.store.type`: sqlite and postgres. The loader accepts
// memory too (the config format is settled), but that store is not built.
bool store_type_available(std::string_view type);

}  // namespace sidelight::audit
