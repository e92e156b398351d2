#pragma once
// The audit writer's counters, read by the agent at scrape time (no prometheus-cpp dependency
// here). Every field is a relaxed std::atomic: writers increment, readers load; a scrape may see
// counters from slightly different instants.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "audit/event.hpp"
#include "audit/security_counts.hpp"

namespace sidelight::audit {

enum class drop_reason {
    queue_full,      // try_submit on a full queue (batch mode)
    shutdown,        // submitted after drain/stop began, or left unwritten at the drain deadline
    strict_timeout,  // a strict event whose caller gave up before the writer took it
    spool_full,      // refused by a full spool (Postgres store: audit.store.spool.max_bytes)
};
inline constexpr std::size_t drop_reason_count = 4;
std::string_view to_string(drop_reason reason);

struct writer_stats {
    using counter = std::atomic<std::uint64_t>;

    // written[table][source]: rows newly committed (idempotent repeats not counted).
    std::array<std::array<counter, 3>, 2> written{};
    // dropped[table][reason]: events that will never be stored.
    std::array<std::array<counter, drop_reason_count>, 2> dropped{};
    counter store_errors{0};     // failed append attempts (each retry counts)
    counter strict_failures{0};  // submit_and_wait calls that did not commit
    counter batches{0};          // successful append transactions
    counter checkpoints{0};
    std::atomic<std::int64_t> queue_depth{0};
    security_counts security;  // security_audit rows newly committed, by type and success

    std::uint64_t written_count(table_kind table, event_source source) const {
        return written[static_cast<std::size_t>(table)][static_cast<std::size_t>(source)].load(
            std::memory_order_relaxed);
    }
    std::uint64_t dropped_count(table_kind table, drop_reason reason) const {
        return dropped[static_cast<std::size_t>(table)][static_cast<std::size_t>(reason)].load(
            std::memory_order_relaxed);
    }
    std::uint64_t dropped_count(drop_reason reason) const {
        return dropped_count(table_kind::audit_log, reason) +
               dropped_count(table_kind::security_audit, reason);
    }
};

}  // namespace sidelight::audit
