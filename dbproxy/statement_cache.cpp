// The LRU of statement_cache.hpp.
#include "dbproxy/statement_cache.hpp"

#include <iterator>

namespace sidelight::dbproxy {
namespace {

std::vector<statement_info> lex(std::string_view sql, lex_mode mode) {
    std::vector<statement_info> out;
    for (auto s : split_statements(sql, mode)) out.push_back(classify(s, mode));
    return out;
}

// What an entry holds, for the byte budget: its shape and its statements' labels.
std::size_t cost_of(const std::string& shape, const std::vector<statement_info>& statements) {
    std::size_t bytes = shape.size();
    for (const auto& s : statements)
        bytes += sizeof(statement_info) +
                 (s.writes.size() + s.prepared_targets.size()) * sizeof(statement_target);
    return bytes;
}

}  // namespace

bool statement_cache::contains(std::string_view sql, lex_mode mode) const {
    std::string shape;
    shape_of(sql, shape, mode);
    return index_.contains(shape);
}

const std::vector<statement_info>& statement_cache::statements(std::string_view sql,
                                                               lex_mode mode) {
    if (sql.size() > max_bytes_ / 16 || max_entries_ == 0) {
        ++misses_;
        uncached_ = lex(sql, mode);
        return uncached_;
    }
    shape_of(sql, shape_, mode);
    if (auto it = index_.find(shape_); it != index_.end()) {
        entries_.splice(entries_.begin(), entries_, it->second);
        return it->second->statements;
    }
    ++misses_;
    auto statements = lex(sql, mode);
    const auto cost = cost_of(shape_, statements);
    if (cost > max_bytes_ / 16) {  // many statements in one text: kept no more than a long text
        uncached_ = std::move(statements);
        return uncached_;
    }
    if (entries_.size() >= max_entries_) {
        // Full: the least recently used entry makes room, its list node, index node and buffers
        // reused (texts that are new every time allocate nothing here).
        const auto last = std::prev(entries_.end());
        auto node = index_.extract(std::string_view(last->text));
        bytes_ -= last->cost;
        last->text.assign(shape_);
        last->statements = std::move(statements);
        last->cost = cost;
        entries_.splice(entries_.begin(), entries_, last);
        node.key() = entries_.front().text;
        node.mapped() = entries_.begin();
        index_.insert(std::move(node));
    } else {
        entries_.push_front({shape_, std::move(statements), cost});
        index_.emplace(entries_.front().text, entries_.begin());
    }
    bytes_ += entries_.front().cost;
    evict();
    return entries_.front().statements;
}

void statement_cache::evict() {
    while (entries_.size() > max_entries_ || bytes_ > max_bytes_) {
        auto& last = entries_.back();
        bytes_ -= last.cost;
        index_.erase(std::string_view(last.text));
        entries_.pop_back();
    }
}

}  // namespace sidelight::dbproxy
