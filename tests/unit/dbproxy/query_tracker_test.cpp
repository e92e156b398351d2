// The matching of server answers to statements: simple strings, pipelined extended protocol,
// errors in both, and the framing of messages split across reads.
#include "dbproxy/query_tracker.hpp"

#include <gtest/gtest.h>

#include <random>

#include "dbproxy/wire.hpp"

namespace sidelight::dbproxy {
namespace {

using namespace std::chrono_literals;
using clock = query_tracker::clock;

std::string cstr(std::string_view s) {
    return std::string(s) + '\0';
}

struct fixture {
    statement_cache cache;
    query_tracker t{cache};
    std::vector<query_tracker::finished> out;
    clock::time_point now = clock::time_point{} + 1h;

    std::optional<protocol_error> front(char type, std::string body = {}) {
        return t.on_frontend(type, body, now);
    }
    void back(char type, std::string body = {}) { t.on_backend(type, body, now, out); }

    // Parse (no parameter types), Bind (no parameters, text results) and Execute (`rows`: its
    // row limit, 0 for all) as a client writes them.
    void parse(const std::string& name, const std::string& sql) {
        front('P', cstr(name) + cstr(sql) + std::string(2, '\0'));
    }
    void bind(const std::string& portal, const std::string& statement) {
        front('B', cstr(portal) + cstr(statement) + std::string(6, '\0'));
    }
    void execute(const std::string& portal, std::uint32_t rows = 0) {
        std::string limit(4, '\0');
        for (int i = 0; i < 4; ++i) limit[3 - i] = static_cast<char>((rows >> (8 * i)) & 0xff);
        front('E', cstr(portal) + limit);
    }
};

TEST(query_tracker, multi_statement_string_times_each_statement) {
    fixture f;
    f.front('Q', cstr("SELECT 1; INSERT INTO a VALUES (1); DELETE FROM b"));
    f.now += 5ms;
    f.back('T');
    f.back('D');
    f.back('C');
    f.now += 7ms;
    f.back('C');
    f.now += 1ms;
    f.back('C');
    f.back('Z');
    ASSERT_EQ(f.out.size(), 3u);
    EXPECT_EQ(f.out[0].info(), (statement_info{"select", "none"}));
    EXPECT_EQ(f.out[0].elapsed, 5ms);
    EXPECT_EQ(f.out[1].info(), (statement_info{"insert", "a"}));
    EXPECT_EQ(f.out[1].elapsed, 7ms);
    EXPECT_EQ(f.out[2].info(), (statement_info{"delete", "b"}));
    EXPECT_EQ(f.out[2].elapsed, 1ms);
    EXPECT_EQ(f.t.pending(), 0u);
}

TEST(query_tracker, an_error_ends_the_string) {
    fixture f;
    f.front('Q', cstr("SELECT 1 FROM a; SELECT * FROM nope; SELECT 3"));
    f.back('C');
    f.back('E');
    f.back('Z');
    ASSERT_EQ(f.out.size(), 2u);
    EXPECT_TRUE(f.out[0].ok);
    EXPECT_FALSE(f.out[1].ok);
    EXPECT_EQ(f.out[1].info().table, "nope");
    EXPECT_EQ(f.t.pending(), 0u);
}

TEST(query_tracker, named_statements_and_pipelined_executes) {
    fixture f;
    f.parse("get", "SELECT * FROM users WHERE id = $1");
    f.front('S');
    f.back('1');
    f.back('Z');
    for (int i = 0; i < 3; ++i) {
        f.bind("", "get");
        f.execute("");
    }
    f.front('S');
    for (int i = 0; i < 3; ++i) {
        f.back('2');
        f.back('D');
        f.back('C');
    }
    f.back('Z');
    ASSERT_EQ(f.out.size(), 3u);
    for (const auto& r : f.out) EXPECT_EQ(r.info(), (statement_info{"select", "users"}));
    EXPECT_EQ(f.t.pending(), 0u);
}

TEST(query_tracker, an_extended_error_skips_to_sync) {
    fixture f;
    for (const char* sql : {"INSERT INTO a VALUES (1)", "SELECT * FROM missing", "SELECT 2"}) {
        f.parse("", sql);
        f.bind("", "");
        f.execute("");
    }
    f.front('S');
    f.back('1');
    f.back('2');
    f.back('C');
    f.back('E');  // the second Parse fails: its Execute is the error
    f.back('Z');
    ASSERT_EQ(f.out.size(), 2u);
    EXPECT_TRUE(f.out[0].ok);
    EXPECT_EQ(f.out[0].info().table, "a");
    EXPECT_FALSE(f.out[1].ok);
    EXPECT_EQ(f.out[1].info().table, "missing");
    EXPECT_EQ(f.t.pending(), 0u);
}

TEST(query_tracker, an_error_before_sync_ignores_what_follows_until_sync) {
    fixture f;
    f.parse("", "SELECT * FROM missing");
    f.bind("", "");
    f.execute("");
    f.front('H');  // Flush: the error comes before the Sync is sent
    f.back('E');
    f.parse("", "SELECT 1");
    f.execute("");
    f.front('S');
    f.back('Z');
    ASSERT_EQ(f.out.size(), 1u);
    EXPECT_FALSE(f.out[0].ok);
    EXPECT_EQ(f.t.pending(), 0u);
}

// A cursor (an Execute with a row limit, read on until CommandComplete) is one statement
// timed by its Executes alone, not by the client's time between them.
TEST(query_tracker, a_portal_read_in_chunks_is_one_statement) {
    fixture f;
    f.parse("", "SELECT * FROM big");
    f.bind("c1", "");
    f.execute("c1", 100);  // 100 rows
    f.front('H');
    f.back('1');
    f.back('2');
    f.now += 3ms;
    f.back('s');  // PortalSuspended
    EXPECT_TRUE(f.out.empty());
    for (int i = 0; i < 2; ++i) {
        f.now += 50ms;  // the client works on the rows
        f.execute("c1", 100);
        f.front('H');
        f.now += 2ms;
        f.back(i == 0 ? 's' : 'C');
    }
    ASSERT_EQ(f.out.size(), 1u);
    EXPECT_TRUE(f.out[0].ok);
    EXPECT_EQ(f.out[0].info(), (statement_info{"select", "big"}));
    EXPECT_EQ(f.out[0].elapsed, 7ms);
}

// Read only in part, a cursor ends when its portal goes: closed, bound again, or at the end of
// the transaction; never when the transaction goes on.
TEST(query_tracker, a_cursor_read_in_part_ends_with_its_portal) {
    fixture f;
    const auto open = [&](const std::string& portal, const char* sql) {
        f.parse("", sql);
        f.bind(portal, "");
        f.execute(portal, 10);
        f.front('S');
        f.back('1');
        f.back('2');
        f.now += 4ms;
        f.back('s');
    };
    open("a", "SELECT * FROM t1");
    f.back('Z', "T");  // in a transaction: the portal lives on
    EXPECT_TRUE(f.out.empty());
    f.front('C', "P" + cstr("a"));
    f.front('S');
    f.back('3');
    ASSERT_EQ(f.out.size(), 1u);
    EXPECT_EQ(f.out[0].info().table, "t1");
    EXPECT_EQ(f.out[0].elapsed, 4ms);
    f.back('Z', "T");

    open("", "SELECT * FROM t2");
    f.back('Z', "T");
    f.parse("", "SELECT * FROM t3");
    f.bind("", "");  // the unnamed portal again
    f.execute("");
    f.front('S');
    f.back('1');
    f.back('2');
    f.back('C');
    ASSERT_EQ(f.out.size(), 3u);
    EXPECT_EQ(f.out[1].info().table, "t2");
    EXPECT_EQ(f.out[2].info().table, "t3");
    f.back('Z', "T");

    open("", "SELECT * FROM t5");
    f.back('Z', "T");
    f.front('Q', cstr("SELECT 1"));  // a simple query ends the unnamed portal
    f.back('T');
    f.back('D');
    f.back('C');
    f.back('Z', "T");
    ASSERT_EQ(f.out.size(), 5u);
    EXPECT_EQ(f.out[3].info().table, "t5");
    EXPECT_EQ(f.out[4].info(), (statement_info{"select", "none"}));
    f.out.erase(f.out.begin() + 3, f.out.end());

    open("b", "SELECT * FROM t4");
    EXPECT_EQ(f.out.size(), 3u);
    f.back('Z', "I");  // the transaction (implicit here) ended: so did the portal
    ASSERT_EQ(f.out.size(), 4u);
    EXPECT_EQ(f.out[3].info().table, "t4");
    EXPECT_TRUE(f.out[3].ok);
    EXPECT_EQ(f.t.pending(), 0u);
}

// A Parse that fails with no Execute behind it (PQprepare; postgres.js sends Parse, Describe,
// Flush and binds only once described) is that statement's error.
TEST(query_tracker, a_parse_that_fails_alone_is_its_statements_error) {
    fixture f;
    f.parse("", "SELECT * FROM nosuch WHERE a = $1");
    f.front('D', "S" + cstr(""));
    f.front('H');
    f.now += 2ms;
    f.back('E');
    f.front('S');
    f.back('Z', "I");
    f.parse("p", "selec $1");
    f.front('S');
    f.back('E');
    f.back('Z', "I");
    ASSERT_EQ(f.out.size(), 2u);
    EXPECT_FALSE(f.out[0].ok);
    EXPECT_EQ(f.out[0].info(), (statement_info{"select", "nosuch"}));
    EXPECT_EQ(f.out[0].elapsed, 2ms);
    EXPECT_FALSE(f.out[1].ok);
    EXPECT_EQ(f.out[1].info(), (statement_info{"other", "none"}));
    EXPECT_EQ(f.t.pending(), 0u);

    // A prepare that succeeds alone times nothing.
    f.parse("q", "SELECT 1");
    f.front('S');
    f.back('1');
    f.back('Z', "I");
    EXPECT_EQ(f.out.size(), 2u);
}

// Executes of one portal written before any is answered (a pipelined cursor) still make one
// statement: each answer adds its run to the portal's.
TEST(query_tracker, pipelined_executes_of_one_cursor_are_one_statement) {
    fixture f;
    f.parse("", "SELECT * FROM big");
    f.bind("c", "");
    for (int i = 0; i < 3; ++i) f.execute("c", 10);
    f.front('S');
    f.back('1');
    f.back('2');
    f.now += 1ms;
    f.back('s');
    f.now += 1ms;
    f.back('s');
    f.now += 1ms;
    f.back('C');
    f.back('Z', "I");
    ASSERT_EQ(f.out.size(), 1u);
    EXPECT_EQ(f.out[0].elapsed, 3ms);
    EXPECT_EQ(f.out[0].info().table, "big");
}

// A Parse the server refuses ("prepared statement already exists", or a syntax error) or skips
// (after an earlier error of the pipeline) leaves the name as it was.
TEST(query_tracker, a_refused_or_skipped_parse_leaves_the_name_as_it_was) {
    fixture f;
    const auto parse = [&](const char* name, const char* sql) { f.parse(name, sql); };
    const auto execute = [&](const char* name) {
        f.bind("", name);
        f.execute("");
        f.front('S');
        f.back('2');
        f.back('C');
        f.back('Z', "I");
    };
    parse("st1", "SELECT s FROM big WHERE id = $1");
    f.front('S');
    f.back('1');
    f.back('Z', "I");
    parse("st1", "DELETE FROM t WHERE v = $1");  // 42P05
    f.front('S');
    f.back('E');
    f.back('Z', "I");
    execute("st1");
    ASSERT_EQ(f.out.size(), 2u);
    EXPECT_EQ(f.out[0].info(), (statement_info{"delete", "t"}));  // the refused prepare's error
    EXPECT_FALSE(f.out[0].ok);
    EXPECT_EQ(f.out[1].info(), (statement_info{"select", "big"}));
    EXPECT_TRUE(f.out[1].ok);

    // Skipped: an error earlier in the pipeline, then a Parse that would rename st1.
    f.front('Q', cstr("SELECT 1/0"));
    f.back('E');
    f.back('Z', "I");
    f.parse("", "SELECT 1/0 FROM x");
    f.bind("", "");
    f.execute("");
    parse("st1", "UPDATE u SET a = 1");
    f.front('S');
    f.back('1');
    f.back('2');
    f.back('E');  // the Execute fails: the Parse of st1 behind it is skipped
    f.back('Z', "I");
    execute("st1");
    ASSERT_EQ(f.out.size(), 5u);
    EXPECT_EQ(f.out[3].info().table, "x");
    EXPECT_EQ(f.out[4].info(), (statement_info{"select", "big"}));
}

// idle(): between statements, outside a transaction, nothing sent since the last Sync's
// answer, and not before the first ReadyForQuery.
TEST(query_tracker, idle_waits_for_the_sync_and_the_transaction) {
    fixture f;
    EXPECT_FALSE(f.t.idle());  // authenticating
    f.back('Z', "I");
    EXPECT_TRUE(f.t.idle());
    f.parse("", "SELECT 1");
    f.front('D', "S" + cstr(""));
    f.front('H');
    f.back('1');
    f.back('t');
    f.back('T');
    EXPECT_FALSE(f.t.idle());  // described, not yet bound and synced
    f.bind("", "");
    f.execute("");
    f.front('S');
    f.back('2');
    f.back('C');
    EXPECT_FALSE(f.t.idle());
    f.back('Z', "I");
    EXPECT_TRUE(f.t.idle());
    f.front('Q', cstr("BEGIN"));
    f.back('C');
    f.back('Z', "T");
    EXPECT_FALSE(f.t.idle());  // a transaction is open
    f.front('Q', cstr("COMMIT"));
    f.back('C');
    f.back('Z', "I");
    EXPECT_TRUE(f.t.idle());
}

// Answers that arrive in one read share their time: the first of a batch does not carry it all.
TEST(query_tracker, answers_read_together_share_their_time) {
    std::vector<query_tracker::finished> chunk(4);
    chunk[0].elapsed = 30ms;
    chunk[3].answered = false;  // a cursor ended by its portal: its own time
    chunk[3].elapsed = 7ms;
    query_tracker::share_time(chunk);
    EXPECT_EQ(chunk[0].elapsed, 10ms);
    EXPECT_EQ(chunk[1].elapsed, 10ms);
    EXPECT_EQ(chunk[2].elapsed, 10ms);
    EXPECT_EQ(chunk[3].elapsed, 7ms);
    std::vector<query_tracker::finished> one(1);
    one[0].elapsed = 5ms;
    query_tracker::share_time(one);
    EXPECT_EQ(one[0].elapsed, 5ms);
}

// An error in answer to the Sync itself (a deferred constraint at the implicit COMMIT): the
// statement was answered already; nothing is skipped after it.
TEST(query_tracker, an_error_at_sync_skips_nothing) {
    fixture f;
    f.parse("", "INSERT INTO child VALUES (1)");
    f.bind("", "");
    f.execute("");
    f.front('S');
    f.back('1');
    f.back('2');
    f.back('C');
    f.back('E');  // 23503 at COMMIT
    f.back('Z', "I");
    f.front('Q', cstr("SELECT 1 FROM a"));
    f.back('T');
    f.back('C');
    f.back('Z', "I");
    ASSERT_EQ(f.out.size(), 2u);
    EXPECT_EQ(f.out[0].info().table, "child");
    EXPECT_EQ(f.out[1].info().table, "a");
    EXPECT_TRUE(f.t.idle());
}

// A Bind refused because its portal is an open cursor (42P03): the Execute behind it fails
// under its own label, and the cursor keeps its own time, ending with its transaction.
TEST(query_tracker, a_refused_bind_over_an_open_cursor_leaves_the_cursor_its_time) {
    fixture f;
    f.parse("", "SELECT * FROM big");
    f.bind("c", "");
    f.execute("c", 10);
    f.front('S');
    f.back('1');
    f.back('2');
    f.now += 2s;
    f.back('s');
    f.back('Z', "T");
    f.parse("", "SELECT * FROM other");
    f.bind("c", "");
    f.execute("c");
    f.front('S');
    f.back('1');
    f.now += 1ms;
    f.back('E');  // 42P03
    ASSERT_EQ(f.out.size(), 1u);
    EXPECT_EQ(f.out[0].info().table, "other");
    EXPECT_FALSE(f.out[0].ok);
    EXPECT_EQ(f.out[0].elapsed, 1ms);
    f.back('Z', "E");
    ASSERT_EQ(f.out.size(), 2u);
    EXPECT_EQ(f.out[1].info().table, "big");
    EXPECT_EQ(f.out[1].elapsed, 2s);
}

// A Close the server skips (after an error before it) leaves the statement it named.
TEST(query_tracker, a_skipped_close_leaves_the_statement) {
    fixture f;
    f.parse("s1", "SELECT * FROM kept");
    f.front('S');
    f.back('1');
    f.back('Z', "I");
    f.front('Q', cstr("SELECT 1"));  // (a simple query between: no effect on s1)
    f.back('C');
    f.back('Z', "I");
    f.parse("", "SELECT 1/0");
    f.bind("", "");
    f.execute("");
    f.front('C', "S" + cstr("s1"));
    f.front('S');
    f.back('1');
    f.back('2');
    f.back('E');
    f.back('Z', "I");
    f.bind("", "s1");
    f.execute("");
    f.front('S');
    f.back('2');
    f.back('C');
    f.back('Z', "I");
    ASSERT_EQ(f.out.size(), 3u);
    EXPECT_EQ(f.out[2].info().table, "kept");
}

// A cursor's earlier runs are its own when its last answer is read with others.
TEST(query_tracker, a_cursors_earlier_runs_are_not_shared) {
    std::vector<query_tracker::finished> chunk(2);
    chunk[0].elapsed = 2s + 4ms;  // a cursor: 2 s before, 4 ms now
    chunk[0].earlier = 2s;
    query_tracker::share_time(chunk);
    EXPECT_EQ(chunk[0].elapsed, 2s + 2ms);
    EXPECT_EQ(chunk[1].elapsed, 2ms);
}

TEST(message_splitter, messages_split_across_reads) {
    std::string bytes;
    for (auto [type, body] : {std::pair<char, std::string>{'Q', cstr("SELECT 1")},
                              {'d', std::string(100, 'x')},
                              {'S', ""}}) {
        bytes += type;
        put_u32(bytes, static_cast<std::uint32_t>(body.size() + 4));
        bytes += body;
    }
    message_splitter split(direction::frontend, 16);
    std::vector<std::pair<char, std::string>> seen;
    for (char c : bytes)
        split.feed(std::span<const char>(&c, 1),
                   [&](char t, std::string_view b) { seen.emplace_back(t, std::string(b)); });
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0], (std::pair<char, std::string>{'Q', cstr("SELECT 1")}));
    EXPECT_EQ(seen[1].second.size(), 16u);  // kept up to the cap
    EXPECT_EQ(seen[2].first, 'S');
    EXPECT_FALSE(split.error());
    EXPECT_TRUE(split.at_boundary());
}

// The first bad header stops the splitter with its reason; the messages before it were seen.
std::optional<protocol_error> split_error(direction from, const std::string& bytes,
                                          int* seen = nullptr) {
    message_splitter split(from, 16);
    split.feed(bytes, [&](char, std::string_view) {
        if (seen) ++*seen;
    });
    return split.error();
}

std::string message(char type, std::uint32_t length) {
    std::string out(1, type);
    put_u32(out, length);
    return out;
}

TEST(message_splitter, reports_why_a_stream_is_broken) {
    int seen = 0;
    EXPECT_EQ(split_error(direction::frontend, message('S', 4) + message('Q', 3), &seen),
              protocol_error::length_too_small);
    EXPECT_EQ(seen, 1);
    EXPECT_EQ(split_error(direction::frontend, message('Q', max_message_bytes + 1)),
              protocol_error::length_too_large);
    EXPECT_EQ(split_error(direction::frontend, message('Q', max_message_bytes)), std::nullopt);
    // 'Z' and 'T' are the server's; 'Q' and 'X' the client's.
    EXPECT_EQ(split_error(direction::frontend, message('Z', 5)), protocol_error::unknown_type);
    EXPECT_EQ(split_error(direction::backend, message('Q', 4)), protocol_error::unknown_type);
    EXPECT_EQ(split_error(direction::backend, message('T', 4) + message('Z', 5) + "I"),
              std::nullopt);
    EXPECT_EQ(split_error(direction::frontend, message('\0', 4)), protocol_error::unknown_type);
    for (char c : std::string("QPBDECHSXFdcfp")) EXPECT_TRUE(known_type(direction::frontend, c));
    for (char c : std::string("123ACcdDEGHWIKnNtRSsTVvZ"))
        EXPECT_TRUE(known_type(direction::backend, c));
    EXPECT_FALSE(known_type(direction::backend, 'Q'));
    EXPECT_FALSE(known_type(direction::frontend, 'R'));
    // In the middle of a message, the splitter is not at a boundary (a close there truncates).
    message_splitter split(direction::frontend, 16);
    split.feed(message('Q', 9), [](char, std::string_view) {});
    EXPECT_FALSE(split.at_boundary());
    EXPECT_EQ(to_string(protocol_error::too_many_pending), "too_many_pending");
}

TEST(startup, packets_are_told_apart_and_bad_ones_refused) {
    const auto packet = [](std::uint32_t length, std::uint32_t code, std::size_t size) {
        std::string out;
        put_u32(out, length);
        put_u32(out, code);
        out.resize(size, '\0');
        return out;
    };
    EXPECT_EQ(startup_kind(packet(8, ssl_request_code, 8)), startup_type::ssl_request);
    EXPECT_EQ(startup_kind(packet(8, gssenc_request_code, 8)), startup_type::gssenc_request);
    EXPECT_EQ(startup_kind(packet(16, cancel_request_code, 16)), startup_type::cancel_request);
    EXPECT_EQ(startup_kind(packet(9, protocol_v3, 9)), startup_type::startup_message);
    EXPECT_EQ(startup_kind(packet(9, protocol_v3 + 2, 9)), startup_type::startup_message);  // 3.2
    EXPECT_EQ(startup_kind(packet(9, 2u << 16, 9)), startup_type::bad);      // protocol 2.0
    EXPECT_EQ(startup_kind(packet(9, protocol_v3, 12)), startup_type::bad);  // length lies
    EXPECT_EQ(startup_kind(packet(7, protocol_v3, 7)), startup_type::bad);
    EXPECT_EQ(startup_kind(packet(10001, protocol_v3, 10001)), startup_type::bad);
    EXPECT_EQ(startup_kind("\0\0"), startup_type::bad);
    EXPECT_TRUE(startup_length_ok(10000));
    EXPECT_FALSE(startup_length_ok(10001));
}

// A flood of Parses is cut at max_pending_parses; a batch of Bind/Execute pairs (asyncpg's
// executemany) goes on to max_pending messages, and the Parses it holds are counted as they are
// answered (a batch of 20,000 that parses each row again, answered as it goes, is never cut).
TEST(query_tracker, pending_messages_are_capped) {
    fixture f;
    const auto parse = cstr("") + cstr("SELECT 1") + std::string(2, '\0');
    for (std::size_t i = 0; i < query_tracker::max_pending_parses; ++i)
        ASSERT_EQ(f.front('P', parse), std::nullopt) << i;
    EXPECT_EQ(f.t.pending(), query_tracker::max_pending_parses);
    EXPECT_EQ(f.front('P', parse), protocol_error::too_many_pending);
    EXPECT_EQ(f.t.pending(), 0u);  // stopped: nothing more is kept
    EXPECT_EQ(f.front('P', parse), std::nullopt);
    EXPECT_EQ(f.t.pending(), 0u);
    EXPECT_EQ(f.cache.misses(), 1u);  // one text, lexed once

    fixture g;
    g.parse("ins", "INSERT INTO t VALUES ($1)");
    for (std::size_t i = 1; i + 1 < query_tracker::max_pending; i += 2) {
        g.bind("", "ins");
        ASSERT_EQ(g.t.on_frontend('E', cstr("") + std::string(4, '\0'), g.now), std::nullopt) << i;
    }
    EXPECT_EQ(g.t.pending(), query_tracker::max_pending - 1);
    EXPECT_EQ(g.front('S'), std::nullopt);
    EXPECT_EQ(g.front('S'), protocol_error::too_many_pending);

    fixture h;
    for (int i = 0; i < 20'000; ++i) {
        h.parse("", "INSERT INTO t VALUES ($1)");
        h.bind("", "");
        h.execute("");
        h.back('1');
        h.back('2');
        h.back('C');
    }
    EXPECT_EQ(h.front('S'), std::nullopt);
    h.back('Z', "I");
    EXPECT_EQ(h.out.size(), 20'000u);
    EXPECT_EQ(h.t.pending(), 0u);
}

TEST(query_tracker, a_long_string_times_its_first_statements_only) {
    fixture f;
    std::string sql;
    for (std::size_t i = 0; i < query_tracker::max_string_statements + 5; ++i)
        sql += "SELECT 1 FROM t;";
    EXPECT_EQ(f.front('Q', cstr(sql)), std::nullopt);
    EXPECT_EQ(f.t.pending(), query_tracker::max_string_statements + 1);  // + the string's end
    for (std::size_t i = 0; i < query_tracker::max_string_statements + 5; ++i) f.back('C');
    f.back('Z');
    EXPECT_EQ(f.out.size(), query_tracker::max_string_statements);
    EXPECT_EQ(f.t.pending(), 0u);
}

TEST(query_tracker, names_are_bounded_least_recently_used_first) {
    fixture f;
    const auto parse = [&](const std::string& name, const std::string& table) {
        f.parse(name, "SELECT * FROM " + table);
        f.back('1');
    };
    const auto execute = [&](const std::string& name) {
        f.bind("", name);
        f.execute("");
        f.front('S');
        f.back('2');
        f.back('C');
        f.back('Z', "I");
        return f.out.back().info();
    };
    parse("first", "a");
    for (std::size_t i = 1; i < query_tracker::max_names; ++i) parse("s" + std::to_string(i), "b");
    EXPECT_EQ(execute("first"), (statement_info{"select", "a"}));  // used: now the most recent
    parse("one_more", "c");  // evicts s1, the least recently used
    EXPECT_EQ(execute("first"), (statement_info{"select", "a"}));
    EXPECT_EQ(execute("one_more"), (statement_info{"select", "c"}));
    EXPECT_EQ(execute("s1"), (statement_info{"other", "none"}));
    EXPECT_EQ(execute("s2"), (statement_info{"select", "b"}));
    EXPECT_LE(f.t.names(), 2 * query_tracker::max_names);
    // A name longer than the server's 63 bytes is the same statement as its first 63.
    parse(std::string(63, 'n') + "tail", "d");
    EXPECT_EQ(execute(std::string(63, 'n')), (statement_info{"select", "d"}));
    EXPECT_EQ(f.cache.misses(), 4u);  // a, b, c, d: each text lexed once
}

TEST(message_splitter, hostile_bytes_never_crash) {
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        message_splitter from_client(direction::frontend, 64), from_server(direction::backend, 16);
        statement_cache cache;
        query_tracker t(cache);
        std::vector<query_tracker::finished> out;
        const auto now = clock::now();
        std::string bytes(rng() % 512, '\0');
        for (auto& c : bytes)
            c = static_cast<char>(rng() % 8 == 0 ? 0 : "QPBEDSCZ1230"[rng() % 12]);
        from_client.feed(bytes,
                         [&](char type, std::string_view body) { t.on_frontend(type, body, now); });
        from_server.feed(
            bytes, [&](char type, std::string_view body) { t.on_backend(type, body, now, out); });
        t.on_frontend('S', "", now);
        t.on_backend('Z', "I", now, out);
        EXPECT_LE(t.pending(), bytes.size());
    }
}

// Only the statements the filter asks for keep their text, through strings, named statements
// and portals; the others keep none.
TEST(query_tracker, texts_are_kept_for_the_statements_asked_for) {
    statement_cache cache;
    query_tracker t(cache, [](const statement_info& i) { return i.operation == "delete"; });
    std::vector<query_tracker::finished> out;
    const auto now = clock::time_point{} + 1h;
    t.on_frontend('Q', cstr("SELECT 1; DELETE FROM users WHERE id = 1"), now);
    t.on_frontend('P', cstr("del") + cstr("DELETE FROM users WHERE id = $1") + std::string(2, '\0'),
                  now);
    t.on_frontend('B', cstr("p1") + cstr("del") + std::string(6, '\0'), now);
    t.on_frontend('E', cstr("p1") + std::string(4, '\0'), now);
    t.on_frontend('P', cstr("") + cstr("SELECT 2") + std::string(2, '\0'), now);
    t.on_frontend('B', cstr("") + cstr("") + std::string(6, '\0'), now);
    t.on_frontend('E', cstr("") + std::string(4, '\0'), now);
    t.on_frontend('S', "", now);
    for (char c : std::string("CCZ12C12CZ")) t.on_backend(c, "", now, out);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].text(), "");
    EXPECT_EQ(out[1].text(), " DELETE FROM users WHERE id = 1");
    EXPECT_EQ(out[2].info().operation, "delete");
    EXPECT_EQ(out[2].text(), "DELETE FROM users WHERE id = $1");
    EXPECT_EQ(out[3].text(), "");
}

// A SQL-level prepared statement: EXECUTE is labelled as the statement it runs, known from the
// PREPARE that succeeded (a refused one changes nothing), until DEALLOCATE or DISCARD ALL.
TEST(query_tracker, an_execute_is_labelled_by_its_prepared_statement) {
    fixture f;
    f.front('Q', cstr("PREPARE del (int) AS DELETE FROM users WHERE id = $1; EXECUTE del(1)"));
    for (char c : std::string("CCZ")) f.back(c);
    ASSERT_EQ(f.out.size(), 2u);
    EXPECT_EQ(f.out[0].info().operation, "other");
    EXPECT_EQ(f.out[1].info().operation, "delete");
    EXPECT_EQ(f.out[1].info().table, "users");

    // Refused (42P05: the name is taken): `del` still deletes. Over the extended protocol too.
    f.front('Q', cstr("PREPARE del AS SELECT * FROM orders"));
    for (char c : std::string("EZ")) f.back(c);
    f.parse("", "EXECUTE DEL (2)");
    f.bind("", "");
    f.execute("");
    f.front('S');
    for (char c : std::string("12CZ")) f.back(c);
    ASSERT_EQ(f.out.size(), 4u);
    EXPECT_FALSE(f.out[2].ok);
    EXPECT_EQ(f.out[3].info().operation, "delete");

    // A write inside the prepared statement stays a write.
    f.front('Q', cstr("PREPARE q AS WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d; "
                      "EXECUTE q"));
    for (char c : std::string("CTDCZ")) f.back(c);
    ASSERT_EQ(f.out.size(), 6u);
    EXPECT_EQ(f.out[5].info().operation, "select");
    EXPECT_EQ(f.out[5].info().writes, (std::vector<statement_target>{{"delete", "users"}}));

    // Forgotten: an EXECUTE of a name not (or no longer) prepared is other/none.
    f.front('Q', cstr("DEALLOCATE del; EXECUTE del(3); EXECUTE q; DISCARD ALL; EXECUTE q"));
    for (char c : std::string("CEZ")) f.back(c);
    ASSERT_EQ(f.out.size(), 8u);
    EXPECT_EQ(f.out[7].info().operation, "other");
    EXPECT_EQ(f.out[7].info().table, "none");
    f.front('Q', cstr("EXECUTE q"));
    for (char c : std::string("CZ")) f.back(c);
    EXPECT_EQ(f.out.at(8).info().operation, "select");
    f.front('Q', cstr("DISCARD ALL"));
    for (char c : std::string("CZ")) f.back(c);
    f.front('Q', cstr("EXECUTE q"));
    for (char c : std::string("EZ")) f.back(c);
    ASSERT_EQ(f.out.size(), 11u);
    EXPECT_EQ(f.out[10].info().operation, "other");
    EXPECT_FALSE(f.out[10].ok);
}

// One namespace, as the server's: EXECUTE runs a statement Parse made, Bind one PREPARE made;
// an EXECUTE that EXPLAIN ANALYZE or CREATE TABLE AS runs adds what it runs to the writes; an
// EXECUTE read in chunks (a row limit) is labelled when its portal ends.
TEST(query_tracker, sql_and_protocol_prepared_statements_share_their_names) {
    fixture f;
    f.parse("d", "DELETE FROM users WHERE id = $1");
    f.front('S');
    for (char c : std::string("1Z")) f.back(c);
    f.front('Q',
            cstr("EXECUTE d(1); EXPLAIN ANALYZE EXECUTE d(2); CREATE TABLE x AS EXECUTE d(3)"));
    for (char c : std::string("CTDCCZ")) f.back(c);
    ASSERT_EQ(f.out.size(), 3u);
    EXPECT_EQ(f.out[0].info(), (statement_info{"delete", "users"}));
    EXPECT_EQ(f.out[1].info().operation, "other");
    EXPECT_EQ(f.out[1].info().writes, (std::vector<statement_target>{{"delete", "users"}}));
    EXPECT_EQ(f.out[2].info().operation, "ddl");
    EXPECT_EQ(f.out[2].info().table, "x");
    EXPECT_EQ(f.out[2].info().writes, (std::vector<statement_target>{{"delete", "users"}}));

    f.front('Q', cstr("PREPARE e AS DELETE FROM orders RETURNING id"));
    for (char c : std::string("CZ")) f.back(c);
    f.bind("", "e");
    f.execute("");
    f.front('S');
    for (char c : std::string("2CZ")) f.back(c);
    ASSERT_EQ(f.out.size(), 5u);
    EXPECT_EQ(f.out[4].info(), (statement_info{"delete", "orders"}));

    // EXECUTE e over the extended protocol with a row limit: suspended, then ended by its
    // transaction's end.
    f.parse("", "EXECUTE e");
    f.bind("", "");
    f.execute("", 1);
    f.front('S');
    for (char c : std::string("12Ds")) f.back(c);
    EXPECT_EQ(f.out.size(), 5u);
    f.back('Z', "I");
    ASSERT_EQ(f.out.size(), 6u);
    EXPECT_EQ(f.out[5].info(), (statement_info{"delete", "orders"}));
    EXPECT_FALSE(f.out[5].answered);
}

// The server's ParameterStatus says how the text that follows is read, and the kept text is
// normalized the same way (no literal read as a name).
TEST(query_tracker, parameter_status_sets_how_text_is_read) {
    statement_cache cache;
    query_tracker t(cache, [](const statement_info& i) { return i.operation == "delete"; });
    std::vector<query_tracker::finished> out;
    const auto now = clock::time_point{} + 1h;
    t.on_backend('S', cstr("standard_conforming_strings") + cstr("off"), now, out);
    t.on_frontend('Q', cstr("SELECT 'a\\''; DELETE FROM t WHERE n = 'x\\' OR 1=1 --'"), now);
    for (char c : std::string("TDCCZ")) t.on_backend(c, "", now, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1].info(), (statement_info{"delete", "t"}));
    EXPECT_EQ(normalize(out[1].text(), out[1].mode()), "DELETE FROM t WHERE n = $1");
    t.on_backend('S', cstr("standard_conforming_strings") + cstr("on"), now, out);
    t.on_frontend('Q', cstr("SELECT 'a\\'; DELETE FROM t"), now);
    for (char c : std::string("TDCCZ")) t.on_backend(c, "", now, out);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[3].info(), (statement_info{"delete", "t"}));
}

// PREPARE and DEALLOCATE change the names as they are sent, in order with the Parses around
// them (the server runs them in that order), and are given back when refused or skipped.
TEST(query_tracker, sql_prepared_statements_change_names_in_the_order_sent) {
    fixture f;
    f.front('Q', cstr("DEALLOCATE ALL"));
    f.parse("d", "DELETE FROM users WHERE id = $1");
    f.front('S');
    f.front('Q', cstr("PREPARE e AS DELETE FROM orders"));
    f.bind("", "e");
    f.execute("");
    f.bind("", "d");
    f.execute("");
    f.front('S');
    for (char c : std::string("CZ1ZCZ2C2CZ")) f.back(c);
    ASSERT_EQ(f.out.size(), 4u);
    EXPECT_EQ(f.out[2].info(), (statement_info{"delete", "orders"}));
    EXPECT_EQ(f.out[3].info(), (statement_info{"delete", "users"}));

    // Past the first 1,000 statements of a string (not timed), a PREPARE still names.
    std::string many;
    for (int i = 0; i < 1'000; ++i) many += "SELECT 1;";
    f.front('Q', cstr(many + "PREPARE late AS DELETE FROM jobs"));
    for (int i = 0; i < 1'001; ++i) f.back('C');
    f.back('Z', "I");
    f.front('Q', cstr("EXECUTE late"));
    for (char c : std::string("CZ")) f.back(c);
    EXPECT_EQ(f.out.back().info(), (statement_info{"delete", "jobs"}));

    // Skipped after an error in its string: given back.
    f.front('Q', cstr("SELECT nope; DEALLOCATE late; PREPARE late AS SELECT 1"));
    for (char c : std::string("EZ")) f.back(c);
    f.front('Q', cstr("EXECUTE late"));
    for (char c : std::string("CZ")) f.back(c);
    EXPECT_EQ(f.out.back().info(), (statement_info{"delete", "jobs"}));
}

// The text of an EXECUTE is kept (when rules exist) as what it runs is known at its end only.
TEST(query_tracker, an_executes_text_is_kept_with_its_labels) {
    statement_cache cache;
    query_tracker t(cache, [](const statement_info& i) {
        return i.operation == "delete" || i.prepared == sql_prepared::execute;
    });
    std::vector<query_tracker::finished> out;
    const auto now = clock::time_point{} + 1h;
    t.on_frontend('Q', cstr("PREPARE d AS DELETE FROM users; EXECUTE d"), now);
    for (char c : std::string("CCZ")) t.on_backend(c, "", now, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1].info().operation, "delete");
    EXPECT_EQ(out[1].text(), " EXECUTE d");
}

}  // namespace
}  // namespace sidelight::dbproxy

namespace sidelight::dbproxy {
namespace {

// libpq's PQexecParams("COPY ... FROM STDIN"): Parse/Bind/Describe/Execute/Sync, then the data,
// CopyDone and a second Sync. The server ignores the first Sync (it is taking data) and answers
// the second: the statements after it keep their own labels and times.
TEST(query_tracker, copy_in_over_the_extended_protocol_answers_one_sync) {
    fixture f;
    auto extended = [&](const char* sql) {
        f.parse("", sql);
        f.bind("", "");
        f.front('D', "P" + cstr(""));
        f.execute("");
        f.front('S');
    };
    extended("COPY a FROM STDIN");
    for (char c : std::string("12nG")) f.back(c);
    f.front('d', "1\n");
    f.front('c');
    f.front('S');
    f.now += 3ms;
    f.back('C');
    f.back('Z');
    // CopyFail: the server's error, then the Sync after it.
    extended("COPY a FROM STDIN");
    for (char c : std::string("12nG")) f.back(c);
    f.front('f', cstr("no"));
    f.front('S');
    f.back('E');
    f.back('Z');
    // Bad data: the server's error comes during the COPY; CopyDone is skipped, Sync answered.
    extended("COPY a FROM STDIN");
    for (char c : std::string("12nG")) f.back(c);
    f.front('d', "x\n");
    f.back('E');
    f.front('c');
    f.front('S');
    f.back('Z');
    ASSERT_EQ(f.t.pending(), 0u);
    extended("SELECT * FROM b");
    f.now += 2ms;
    for (char c : std::string("12TDCZ")) f.back(c);
    ASSERT_EQ(f.out.size(), 4u);
    EXPECT_EQ(f.out[0].info(), (statement_info{"copy", "a"}));
    EXPECT_TRUE(f.out[0].ok);
    EXPECT_EQ(f.out[0].elapsed, 3ms);
    EXPECT_FALSE(f.out[1].ok);
    EXPECT_FALSE(f.out[2].ok);
    EXPECT_EQ(f.out[3].info(), (statement_info{"select", "b"}));
    EXPECT_TRUE(f.out[3].ok);
    EXPECT_EQ(f.out[3].elapsed, 2ms);
    EXPECT_EQ(f.t.pending(), 0u);
}

// A batch written at once (JDBC executeBatch, pgx SendBatch): each Execute is timed from the
// end of the one before, as the server ran them, not from when the batch was written.
TEST(query_tracker, pipelined_executes_start_when_the_previous_one_ended) {
    fixture f;
    for (const char* sql : {"INSERT INTO a VALUES (1)", "INSERT INTO b VALUES (2)"}) {
        f.parse("", sql);
        f.bind("", "");
        f.execute("");
    }
    f.front('S');
    f.now += 1ms;
    f.back('1');
    f.back('2');
    f.now += 4ms;
    f.back('C');
    f.back('1');
    f.back('2');
    f.now += 3ms;
    f.back('C');
    f.back('Z');
    ASSERT_EQ(f.out.size(), 2u);
    EXPECT_EQ(f.out[0].elapsed, 5ms);
    EXPECT_EQ(f.out[1].info().table, "b");
    EXPECT_EQ(f.out[1].elapsed, 3ms);
}

// A Parse longer than the splitter keeps has lost its NUL: it is labelled by its start.
TEST(query_tracker, a_parse_cut_at_the_splitter_cap_keeps_its_label) {
    fixture f;
    std::string sql = "INSERT INTO big (a) VALUES ($1)";
    while (sql.size() < 70'000) sql += ", ($1)";
    f.front('P', cstr("") + sql.substr(0, 65'535));  // no NUL, no parameter types
    f.bind("", "");
    f.execute("");
    f.front('S');
    for (char c : std::string("12CZ")) f.back(c);
    ASSERT_EQ(f.out.size(), 1u);
    EXPECT_EQ(f.out[0].info(), (statement_info{"insert", "big"}));
}

// A FunctionCall (the large-object calls) is a statement other/none, ok or error, answered up
// to its own ReadyForQuery: a query sent behind it keeps its own.
TEST(query_tracker, a_function_call_is_answered_up_to_its_ready_for_query) {
    fixture f;
    f.front('F', std::string(4, '\0'));
    f.front('Q', cstr("SELECT * FROM a"));
    f.back('V');
    f.back('Z');
    f.back('T');
    f.back('C');
    f.back('Z');
    f.front('F', std::string(4, '\0'));
    f.back('E');
    f.back('Z');
    ASSERT_EQ(f.out.size(), 3u);
    EXPECT_EQ(f.out[0].info(), (statement_info{"other", "none"}));
    EXPECT_TRUE(f.out[0].ok);
    EXPECT_EQ(f.out[1].info(), (statement_info{"select", "a"}));
    EXPECT_EQ(f.out[2].info(), (statement_info{"other", "none"}));
    EXPECT_FALSE(f.out[2].ok);
    EXPECT_EQ(f.t.pending(), 0u);
}

// After an extended-protocol error the server skips a simple query pipelined before the Sync;
// the next query is matched with its own answer.
TEST(query_tracker, a_query_pipelined_behind_an_extended_error_is_skipped) {
    fixture f;
    f.parse("", "SELECT * FROM missing");
    f.bind("", "");
    f.execute("");
    f.front('Q', cstr("SELECT * FROM x"));
    f.front('S');
    f.back('E');
    f.back('Z');
    f.front('Q', cstr("SELECT * FROM y"));
    f.back('C');
    f.back('Z');
    ASSERT_EQ(f.out.size(), 2u);
    EXPECT_FALSE(f.out[0].ok);
    EXPECT_EQ(f.out[1].info(), (statement_info{"select", "y"}));
    EXPECT_EQ(f.t.pending(), 0u);
}

}  // namespace
}  // namespace sidelight::dbproxy
