#include "rules/route_buckets.hpp"

#include <string_view>
#include <unordered_map>

namespace sidelight::rules {

route_buckets::route_buckets(const routes::route_table& table,
                             const std::vector<const std::vector<std::string>*>& named) {
    // label -> the rules naming it, in order
    std::unordered_map<std::string_view, std::vector<std::uint32_t>> by_label;
    for (std::uint32_t i = 0; i < named.size(); ++i) {
        if (named[i]->empty()) {
            any_.push_back(i);
            continue;
        }
        for (const auto& label : *named[i]) {
            auto& rules = by_label[label];
            if (rules.empty() || rules.back() != i) rules.push_back(i);
        }
    }
    if (by_label.empty()) return;  // no rule names a route: no per-route buckets at all
    offsets_.reserve(table.size() + 1);
    offsets_.push_back(0);
    for (const auto& entry : table.entries()) {
        if (const auto it = by_label.find(entry.label); it != by_label.end())
            items_.insert(items_.end(), it->second.begin(), it->second.end());
        offsets_.push_back(static_cast<std::uint32_t>(items_.size()));
    }
    items_.shrink_to_fit();
}

}  // namespace sidelight::rules
