#include "audit/verify.hpp"

#include <map>
#include <optional>

#include "audit/hash_chain.hpp"

namespace sidelight::audit {

namespace {

// The seq a row was written with, when its hash matches under another seq; the candidates are
// the seq after its predecessor's (found by hash) and that predecessor's own seq (an adjacent swap
// moved the predecessor onto the row's original seq).
std::optional<std::int64_t> original_seq(store& s, const stored_event& row) {
    std::optional<std::int64_t> found;
    for_each_row(s, [&](const stored_event& other) {
        if (other.hash != row.prev_hash) return true;
        for (auto candidate : {other.seq + 1, other.seq}) {
            if (candidate != row.seq && chain_hash(row.prev_hash, candidate, row.ev) == row.hash) {
                found = candidate;
            }
        }
        return !found;
    });
    return found;
}

class chain_walker {
  public:
    chain_walker(store& s, std::span<const checkpoint> checkpoints) : store_(s) {
        for (const auto& cp : checkpoints) wanted_[cp.seq];
    }

    // False once the chain is broken.
    bool step(const stored_event& row) {
        const auto expected = result_.head.seq + 1;
        if (row.seq != expected) {
            return fail(verify_status::gap, expected,
                        "seq " + std::to_string(expected) + " missing (next row has seq " +
                            std::to_string(row.seq) + ")");
        }
        if (chain_hash(row.prev_hash, row.seq, row.ev) != row.hash) {
            if (const auto was = original_seq(store_, row)) {
                return fail(verify_status::reordered, row.seq,
                            "row was written as seq " + std::to_string(*was));
            }
            return fail(verify_status::modified, row.seq, "hash does not match row content");
        }
        if (row.prev_hash != result_.head.hash) {
            return fail(verify_status::broken_link, row.seq,
                        "prev_hash is not the hash of seq " + std::to_string(row.seq - 1));
        }
        result_.head = {row.seq, row.hash};
        ++result_.count;
        if (auto it = wanted_.find(row.seq); it != wanted_.end()) it->second = row.hash;
        return true;
    }

    bool fail(verify_status status, std::int64_t seq, std::string detail) {
        result_.status = status;
        result_.broken_seq = seq;
        result_.detail = std::move(detail);
        return false;
    }

    void check(std::span<const checkpoint> checkpoints) {
        for (const auto& cp : checkpoints) {
            if (!result_.ok()) return;
            if (cp.seq > result_.head.seq) {
                fail(verify_status::truncated, result_.head.seq + 1,
                     "checkpoint names seq " + std::to_string(cp.seq) + " but head is seq " +
                         std::to_string(result_.head.seq));
            } else if (cp.seq > 0 && wanted_[cp.seq] != cp.hash) {
                fail(verify_status::truncated, cp.seq,
                     "hash at seq " + std::to_string(cp.seq) + " differs from the checkpoint");
            }
        }
    }

    verify_result& result() { return result_; }

  private:
    store& store_;
    verify_result result_{verify_status::ok, 0, {0, std::string(genesis_hash)}, 0, {}};
    std::map<std::int64_t, std::string> wanted_;
};

}  // namespace

std::string_view to_string(verify_status status) {
    switch (status) {
        case verify_status::ok:
            return "ok";
        case verify_status::modified:
            return "modified";
        case verify_status::gap:
            return "gap";
        case verify_status::broken_link:
            return "broken_link";
        case verify_status::reordered:
            return "reordered";
        case verify_status::unreadable:
            return "unreadable";
        case verify_status::truncated:
            return "truncated";
        case verify_status::outside_chain:
            return "outside_chain";
    }
    return "unknown";
}

verify_result verify(store& s) {
    return verify(s, {});
}

verify_result verify(store& s, std::span<const checkpoint> checkpoints) {
    chain_walker walker(s, checkpoints);
    try {
        for_each_row(s, [&](const stored_event& row) { return walker.step(row); });
    } catch (const store_error& e) {
        const auto seq = walker.result().head.seq + 1;
        walker.fail(verify_status::unreadable, seq, e.what());
    }
    walker.check(checkpoints);
    // The walk reads seq 1, 2, ... in order: a row at seq 0 or below, or a second row at a seq
    // (one per table), is never met by it. The tables' own count is.
    if (auto& r = walker.result(); r.ok()) {
        const auto rows = s.row_count(r.head.seq);
        if (rows && *rows != static_cast<std::uint64_t>(r.count)) {
            walker.fail(verify_status::outside_chain, 0,
                        std::to_string(*rows) + " rows stored, " + std::to_string(r.count) +
                            " in the chain: a row was added at a seq outside it (0 or below, "
                            "or one in use)");
        }
    }
    return walker.result();
}

}  // namespace sidelight::audit
