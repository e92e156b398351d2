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

std::vector<stored_event> newest_rows(store& s, table_kind table, std::size_t n) {
    const auto head = s.head().seq;
    std::vector<stored_event> rows;
    for (std::int64_t span = 256;; span *= 4) {
        query_filter filter;
        filter.table = table;
        filter.after_seq = std::max<std::int64_t>(0, head - span);
        filter.limit = query_filter::max_limit;
        rows.clear();
        for (;;) {  // forwards through the span, keeping the last n
            auto page = s.query(filter);
            if (!page.empty()) filter.after_seq = page.back().seq;
            for (auto& row : page) rows.push_back(std::move(row));
            if (rows.size() > n)
                rows.erase(rows.begin(), rows.end() - static_cast<std::ptrdiff_t>(n));
            if (page.size() < filter.limit) break;
        }
        if (rows.size() >= n || head - span <= 0) break;
    }
    std::reverse(rows.begin(), rows.end());
    return rows;
}

std::size_t clamp_limit(std::size_t limit) {
    return std::clamp<std::size_t>(limit, 1, query_filter::max_limit);
}

bool store_type_available(std::string_view type) {
    return type == "sqlite" || type == "postgres";
}

}  // namespace sidelight::audit
