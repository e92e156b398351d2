#include "audit/security_counts.hpp"

#include <algorithm>

namespace sidelight::audit {
namespace {

bool plain_name(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    return std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == ':' || c == '-';
    });
}

std::size_t outcome_of(std::optional<bool> success) {
    if (!success) return 2;
    return *success ? 1 : 0;
}

}  // namespace

std::string_view success_label(std::size_t outcome) {
    static constexpr std::array<std::string_view, 3> labels{"false", "true", "unknown"};
    return labels.at(outcome);
}

void security_counts::admit(const std::vector<std::string>& types) {
    std::lock_guard lock(mutex_);
    for (const auto& t : types) {
        if (counts_.size() >= max_types) break;
        if (plain_name(t) && t != other) counts_.try_emplace(t);
    }
}

std::map<std::string, security_counts::outcomes, std::less<>>::iterator
security_counts::find_or_admit(std::string_view type) {
    if (auto it = counts_.find(type); it != counts_.end()) return it;
    if (counts_.size() >= max_types || !plain_name(type) || type == other) return counts_.end();
    return counts_.try_emplace(std::string(type)).first;
}

void security_counts::count(std::string_view event_type, std::optional<bool> success) {
    std::lock_guard lock(mutex_);
    auto it = find_or_admit(event_type);
    auto& counts = it == counts_.end() ? other_ : it->second;
    ++counts[outcome_of(success)];
}

std::vector<security_counts::row> security_counts::snapshot() const {
    std::lock_guard lock(mutex_);
    std::vector<row> out;
    out.reserve(counts_.size() + 1);
    for (const auto& [type, counts] : counts_) out.push_back({type, counts});
    if (other_ != outcomes{}) out.push_back({std::string(other), other_});
    return out;
}

}  // namespace sidelight::audit
