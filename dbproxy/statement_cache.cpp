// The LRU of statement_cache.hpp.
#include "dbproxy/statement_cache.hpp"

namespace sidelight::dbproxy {
namespace {

std::vector<statement_info> lex(std::string_view sql) {
    std::vector<statement_info> out;
    for (auto s : split_statements(sql)) out.push_back(classify(s));
    return out;
}

}  // namespace

const std::vector<statement_info>& statement_cache::statements(std::string_view sql) {
    if (auto it = index_.find(sql); it != index_.end()) {
        entries_.splice(entries_.begin(), entries_, it->second);
        return it->second->statements;
    }
    ++misses_;
    if (sql.size() > max_bytes_ / 16 || max_entries_ == 0) {
        uncached_ = lex(sql);
        return uncached_;
    }
    entries_.push_front({std::string(sql), lex(sql)});
    bytes_ += sql.size();
    index_.emplace(entries_.front().text, entries_.begin());
    evict();
    return entries_.front().statements;
}

void statement_cache::evict() {
    while (entries_.size() > max_entries_ || bytes_ > max_bytes_) {
        auto& last = entries_.back();
        bytes_ -= last.text.size();
        index_.erase(std::string_view(last.text));
        entries_.pop_back();
    }
}

}  // namespace sidelight::dbproxy
