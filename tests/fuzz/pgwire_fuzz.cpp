// libFuzzer target over the PostgreSQL wire parsing of the database listeners, without sockets:
// arbitrary bytes become a client stream and a server stream, fed interleaved in small chunks
// to one message_splitter per direction and one query_tracker (with a small statement_cache, so
// eviction runs too), as dbproxy/session.cpp feeds them; every SQL text a Query or Parse carries
// also goes through split_statements and classify directly, read in one of the lexer's modes
// (standard_conforming_strings off, a client-only multibyte encoding) picked by its length.
// Besides crashes, leaks and memory errors (ASan), it aborts when an invariant breaks:
//  - the tracker never holds more than max_pending messages, nor more than 2 * max_names names
//    (statements, by Parse or PREPARE, and portals);
//  - an operation is one of the eight of sql_lexer.hpp, for classify and for every timed
//    statement (a write's: insert, update or delete); a table label is at most 63 bytes
//    without a quote, a backslash or a space;
//  - the cache answers what the lexer answers (a differential check on every text);
//  - normalize() stays within its 4 KiB bound (plus " ...").
//
// Input: byte 0 says whether the client stream starts with a startup packet (bit 0) and the
// chunk size (the other bits); byte 1 where the rest is cut into client bytes and server bytes.
// Built only with clang and -DSIDELIGHT_FUZZ=ON; run it with scripts/fuzz.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dbproxy/query_tracker.hpp"
#include "dbproxy/sql_lexer.hpp"
#include "dbproxy/statement_cache.hpp"
#include "dbproxy/wire.hpp"

namespace {

using namespace sidelight::dbproxy;

[[noreturn]] void invariant_broken(const char* what, std::string_view detail) {
    std::fprintf(stderr, "invariant broken: %s\n%.*s\n", what, static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

void check_target(std::string_view operation, std::string_view table, bool write) {
    constexpr std::string_view operations[] = {"select", "insert", "update", "delete",
                                               "copy",   "ddl",    "tx",     "other"};
    const auto* first = std::begin(operations) + (write ? 1 : 0);  // a write: insert/update/delete
    const auto* last = write ? std::begin(operations) + 4 : std::end(operations);
    if (std::find(first, last, operation) == last)
        invariant_broken("operation outside the closed set", operation);
    if (table.empty() || table.size() > 63 || table.find_first_of("'\"\\ ") != std::string::npos)
        invariant_broken("table label", table);
}

void check_info(const statement_info& info) {
    check_target(info.operation, info.table, false);
    for (const auto& w : info.writes) check_target(w.operation, w.table, true);
    for (const auto& p : info.prepared_targets) check_target(p.operation, p.table, false);
}

// A way of reading text for each text (the tracker's follows the server's ParameterStatus): the
// default, standard_conforming_strings off, and each client-only multibyte encoding.
lex_mode mode_for(std::string_view sql) {
    lex_mode mode;
    const auto pick = sql.size() % 7;
    mode.backslash_strings = pick == 1 || pick == 6;
    if (pick >= 2 && pick <= 6)
        mode.client_encoding = static_cast<lex_mode::multibyte>(pick == 6 ? 1 : pick - 1);
    return mode;
}

// The text a Query or Parse body carries, as the tracker reads it.
void check_sql(statement_cache& cache, std::string_view sql) {
    const auto mode = mode_for(sql);
    check_info(classify(sql, mode));
    std::vector<statement_info> direct;
    for (auto s : split_statements(sql, mode)) {
        if (s.empty() || s.size() > sql.size()) invariant_broken("statement out of the text", s);
        direct.push_back(classify(s, mode));
        check_info(direct.back());
    }
    if (cache.statements(sql, mode) != direct)
        invariant_broken("cache differs from the lexer", sql);
    // What a database audit row keeps: bounded, and its fingerprint always 16 hex digits.
    const auto normalized = normalize(sql, mode);
    if (normalized.size() > 4096 + 4) invariant_broken("normalized text over its bound", sql);
    if (fingerprint(normalized).size() != 16) invariant_broken("fingerprint length", sql);
}

std::string_view sql_of(char type, std::string_view body) {
    cursor c{body};
    if (type == 'P') c.cstring();
    return c.cstring().value_or(type == 'Q' ? body : std::string_view{});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const bool with_startup = data[0] & 1;
    const std::size_t chunk = 1 + (data[0] >> 1) % 64;
    std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
    const std::size_t cut = rest.size() * data[1] / 255;
    std::string_view front = rest.substr(0, cut), back = rest.substr(cut);

    if (with_startup) {
        const auto length = read_u32(front, 0);
        if (!startup_length_ok(length) || length > front.size()) return 0;
        const auto kind = startup_kind(front.substr(0, length));
        if (kind != startup_type::startup_message) return 0;
        front.remove_prefix(length);
    }

    statement_cache cache(8, 4096);
    query_tracker tracker(cache);
    message_splitter from_client(direction::frontend, 64 * 1024);
    message_splitter from_server(direction::backend, 64);
    std::vector<query_tracker::finished> done;
    auto now = query_tracker::clock::time_point{};
    bool stopped = false;
    while ((!front.empty() || !back.empty()) && !stopped) {
        const auto f = front.substr(0, chunk), b = back.substr(0, chunk);
        front.remove_prefix(f.size());
        back.remove_prefix(b.size());
        now += std::chrono::microseconds(1);
        from_client.feed(std::span<const char>(f.data(), f.size()),
                         [&](char type, std::string_view body) {
                             if (type == 'Q' || type == 'P') check_sql(cache, sql_of(type, body));
                             if (tracker.on_frontend(type, body, now)) stopped = true;
                             if (tracker.pending() > query_tracker::max_pending)
                                 invariant_broken("pending over the cap", "");
                         });
        from_server.feed(
            std::span<const char>(b.data(), b.size()),
            [&](char type, std::string_view body) { tracker.on_backend(type, body, now, done); });
        if (from_client.error() || from_server.error()) stopped = true;
        for (const auto& d : done) check_info(d.info());
        done.clear();
        if (tracker.names() > 2 * query_tracker::max_names)
            invariant_broken("names over the cap", "");
    }
    return 0;
}
