// See table_labels.hpp.
#include "dbproxy/table_labels.hpp"

namespace sidelight::dbproxy {

std::string_view table_labels::label(const std::string& table) {
    if (table == "none") return "none";
    std::lock_guard lock(mutex_);
    if (auto it = known_.find(table); it != known_.end()) return *it;  // stable: a set node
    if (known_.size() >= max_) return "other";
    return *known_.insert(table).first;
}

}  // namespace sidelight::dbproxy
