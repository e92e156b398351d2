#pragma once
// Recomputes the hash chain over every row in seq order and reports the first break:
//   modified     the row's hash does not match its content (any column, prev_hash included)
//   gap          a seq is missing (a row was deleted)
//   broken_link  the row is self-consistent but prev_hash is not the previous row's hash
//                (a forged or replaced row upstream of it)
//   reordered    the row is authentic but sits at another seq than it was written with
//   unreadable   a stored value cannot be decoded (e.g. created_at is not ISO-8601)
//   truncated    a checkpoint names a seq beyond the head, or a different hash at its seq
//   outside_chain  the tables hold more rows up to the head than the chain (a row at seq 0 or
//                below, or a second row at a seq, which the walk by seq never meets)
//
// Checkpoints passed in must already be authenticated (checkpoint_verifier).
// Thread-safety: as the store's; verify only reads.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "audit/checkpoint.hpp"
#include "audit/store.hpp"

namespace sidelight::audit {

enum class verify_status {
    ok,
    modified,
    gap,
    broken_link,
    reordered,
    unreadable,
    truncated,
    outside_chain
};

std::string_view to_string(verify_status status);

struct verify_result {
    verify_status status = verify_status::ok;
    std::int64_t count = 0;       // rows checked (all rows when ok)
    chain_head head;              // last row checked
    std::int64_t broken_seq = 0;  // first broken seq when not ok
    std::string detail;

    bool ok() const { return status == verify_status::ok; }
};

verify_result verify(store& s);
verify_result verify(store& s, std::span<const checkpoint> checkpoints);

}  // namespace sidelight::audit
