#pragma once
// Which rules of one list can match a request on each route id: built once per rule set, so
// that a request looks only at the rules of its own route (and those that name no route),
// never at every rule, and never compares route labels.
//
// Rules that name no route (`match.routes` empty) can match any request; they are kept once,
// not copied into every route's bucket, and visit() merges the two lists in rule order, so that
// first-match keeps the order of the config. Ids: 0 is unmatched and normalized paths (only
// rules naming no route apply), 1..table.size() the configured routes.
// Immutable after construction; visit() may run on every thread at once.

#include <cstdint>
#include <string>
#include <vector>

#include "routes/route_table.hpp"

namespace sidelight::rules {

class route_buckets {
  public:
    route_buckets() = default;
    // `named[i]`: the route labels rule i names (empty: any route). Every label must be a label
    // of `table` (the rule set checks that first, with the rule's position).
    route_buckets(const routes::route_table& table,
                  const std::vector<const std::vector<std::string>*>& named);

    // Calls `f(rule index)` in rule order for each rule that may match route `id`, until f
    // returns true; returns that rule's index, or -1.
    template <class F>
    std::int64_t first(routes::route_id id, F&& f) const {
        const std::uint32_t* a = any_.data();
        const std::uint32_t* a_end = a + any_.size();
        const std::uint32_t* b = nullptr;
        const std::uint32_t* b_end = nullptr;
        if (id != routes::unmatched_route && id < offsets_.size()) {
            b = items_.data() + offsets_[id - 1];
            b_end = items_.data() + offsets_[id];
        }
        while (a != a_end || b != b_end) {
            const std::uint32_t i = (b == b_end || (a != a_end && *a < *b)) ? *a++ : *b++;
            if (f(i)) return i;
        }
        return -1;
    }

  private:
    std::vector<std::uint32_t> any_;      // rules naming no route, in order
    std::vector<std::uint32_t> offsets_;  // route id r: items_[offsets_[r-1], offsets_[r])
    std::vector<std::uint32_t> items_;    // rules naming the route, in order
};

}  // namespace sidelight::rules
