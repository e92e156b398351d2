#pragma once
// The labels of recently seen query texts, so that a hot statement is lexed once: a bounded LRU
// map from a query text (a simple query's whole string, or a Parse's SQL) to the
// statement_info of each statement in it (split_statements, then classify). At most
// `max_entries` texts and `max_bytes` bytes of text are kept; the least recently used go first,
// and a text longer than max_bytes / 16 is lexed every time instead of evicting a sixteenth of
// the cache. Its memory is bounded whatever the clients send.
//
// Not thread-safe: one per database listener, used on the database thread only (dbproxy/
// server.hpp runs every listener and connection on one thread).

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dbproxy/sql_lexer.hpp"

namespace sidelight::dbproxy {

class statement_cache {
  public:
    static constexpr std::size_t default_entries = 1024;
    static constexpr std::size_t default_bytes = 1024 * 1024;

    explicit statement_cache(std::size_t max_entries = default_entries,
                             std::size_t max_bytes = default_bytes)
        : max_entries_(max_entries), max_bytes_(max_bytes) {}
    statement_cache(const statement_cache&) = delete;
    statement_cache& operator=(const statement_cache&) = delete;

    // The statements of `sql`, one statement_info each (empty for a text with no statement).
    // Valid until the next call.
    const std::vector<statement_info>& statements(std::string_view sql);

    std::size_t size() const { return entries_.size(); }
    std::size_t misses() const { return misses_; }  // texts lexed, for tests and benchmarks
    bool contains(std::string_view sql) const { return index_.contains(sql); }

  private:
    struct entry {
        std::string text;
        std::vector<statement_info> statements;
    };
    using list = std::list<entry>;

    void evict();

    std::size_t max_entries_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::size_t misses_ = 0;
    list entries_;  // most recently used first
    // Keys view the texts of `entries_` (list nodes do not move).
    std::unordered_map<std::string_view, list::iterator> index_;
    std::vector<statement_info> uncached_;
};

}  // namespace sidelight::dbproxy
