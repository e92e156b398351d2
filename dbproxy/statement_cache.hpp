#pragma once
// The labels of recently seen query texts, so that a hot statement is lexed once: a bounded LRU
// map from a query text's shape (a simple query's whole string, or a Parse's SQL, with its
// literals replaced by a marker: shape_of) to the statement_info of each statement in it
// (split_statements, then classify). A query sent with its values inlined, a new text each
// time, is one entry. At most `max_entries` shapes and `max_bytes` bytes of them (shapes and
// labels) are kept; the
// least recently used go first, and a text longer than max_bytes / 16 is lexed every time
// instead of evicting a sixteenth of the cache. Its memory is bounded whatever the clients send.
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
    // Shapes and labels (a statement's labels are about 150 bytes): an entry of up to 1,700
    // statements (max_bytes / 16) is kept.
    static constexpr std::size_t default_bytes = 4 * 1024 * 1024;

    explicit statement_cache(std::size_t max_entries = default_entries,
                             std::size_t max_bytes = default_bytes)
        : max_entries_(max_entries), max_bytes_(max_bytes) {}
    statement_cache(const statement_cache&) = delete;
    statement_cache& operator=(const statement_cache&) = delete;

    // The statements of `sql`, one statement_info each (empty for a text with no statement).
    // Valid until the next call.
    // `mode`: how the connection's text is read (texts read in different modes are different
    // entries).
    const std::vector<statement_info>& statements(std::string_view sql, lex_mode mode = {});

    std::size_t size() const { return entries_.size(); }
    std::size_t misses() const { return misses_; }  // texts lexed, for tests and benchmarks
    bool contains(std::string_view sql, lex_mode mode = {}) const;  // whether sql's shape is kept

  private:
    struct entry {
        std::string text;  // the shape
        std::vector<statement_info> statements;
        std::size_t cost = 0;  // bytes counted against max_bytes: the shape and the labels
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
    std::string shape_;  // the last text's shape (a buffer reused by every lookup)
};

}  // namespace sidelight::dbproxy
