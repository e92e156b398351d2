#include "audit/store.hpp"

#include <algorithm>

namespace sidelight::audit {

void for_each_row(store& s, const std::function<bool(const stored_event&)>& fn) {
    query_filter page;
    page.limit = query_filter::max_limit;
    for (;;) {
        const auto rows = s.query(page);
        for (const auto& row : rows) {
            if (!fn(row)) return;
        }
        if (rows.size() < page.limit) return;
        page.after_seq = rows.back().seq;
    }
}

std::size_t clamp_limit(std::size_t limit) {
    return std::clamp<std::size_t>(limit, 1, query_filter::max_limit);
}

bool store_type_available(std::string_view type) {
    return type == "sqlite" || type == "postgres";
}

}  // namespace sidelight::audit
