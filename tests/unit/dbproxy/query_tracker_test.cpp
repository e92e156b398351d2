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
    query_tracker t;
    std::vector<query_tracker::finished> out;
    clock::time_point now = clock::time_point{} + 1h;

    void front(char type, std::string body = {}) { t.on_frontend(type, body, now); }
    void back(char type, std::string body = {}) { t.on_backend(type, body, now, out); }
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
    EXPECT_EQ(f.out[0].info, (statement_info{"select", "none"}));
    EXPECT_EQ(f.out[0].elapsed, 5ms);
    EXPECT_EQ(f.out[1].info, (statement_info{"insert", "a"}));
    EXPECT_EQ(f.out[1].elapsed, 7ms);
    EXPECT_EQ(f.out[2].info, (statement_info{"delete", "b"}));
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
    EXPECT_EQ(f.out[1].info.table, "nope");
    EXPECT_EQ(f.t.pending(), 0u);
}

TEST(query_tracker, named_statements_and_pipelined_executes) {
    fixture f;
    f.front('P', cstr("get") + cstr("SELECT * FROM users WHERE id = $1") + std::string(2, '\0'));
    f.front('S');
    f.back('1');
    f.back('Z');
    for (int i = 0; i < 3; ++i) {
        f.front('B', cstr("") + cstr("get") + std::string(6, '\0'));
        f.front('E', cstr("") + std::string(4, '\0'));
    }
    f.front('S');
    for (int i = 0; i < 3; ++i) {
        f.back('2');
        f.back('D');
        f.back('C');
    }
    f.back('Z');
    ASSERT_EQ(f.out.size(), 3u);
    for (const auto& r : f.out) EXPECT_EQ(r.info, (statement_info{"select", "users"}));
    EXPECT_EQ(f.t.pending(), 0u);
}

TEST(query_tracker, an_extended_error_skips_to_sync) {
    fixture f;
    for (const char* sql : {"INSERT INTO a VALUES (1)", "SELECT * FROM missing", "SELECT 2"}) {
        f.front('P', cstr("") + cstr(sql) + std::string(2, '\0'));
        f.front('B', cstr("") + cstr("") + std::string(6, '\0'));
        f.front('E', cstr("") + std::string(4, '\0'));
    }
    f.front('S');
    f.back('1');
    f.back('2');
    f.back('C');
    f.back('E');  // the second Parse fails: its Execute is the error
    f.back('Z');
    ASSERT_EQ(f.out.size(), 2u);
    EXPECT_TRUE(f.out[0].ok);
    EXPECT_EQ(f.out[0].info.table, "a");
    EXPECT_FALSE(f.out[1].ok);
    EXPECT_EQ(f.out[1].info.table, "missing");
    EXPECT_EQ(f.t.pending(), 0u);
}

TEST(query_tracker, an_error_before_sync_ignores_what_follows_until_sync) {
    fixture f;
    f.front('P', cstr("") + cstr("SELECT * FROM missing") + std::string(2, '\0'));
    f.front('B', cstr("") + cstr("") + std::string(6, '\0'));
    f.front('E', cstr("") + std::string(4, '\0'));
    f.front('H');  // Flush: the error comes before the Sync is sent
    f.back('E');
    f.front('P', cstr("") + cstr("SELECT 1") + std::string(2, '\0'));
    f.front('E', cstr("") + std::string(4, '\0'));
    f.front('S');
    f.back('Z');
    ASSERT_EQ(f.out.size(), 1u);
    EXPECT_FALSE(f.out[0].ok);
    EXPECT_EQ(f.t.pending(), 0u);
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
    message_splitter split(16);
    std::vector<std::pair<char, std::string>> seen;
    for (char c : bytes)
        split.feed(std::span<const char>(&c, 1),
                   [&](char t, std::string_view b) { seen.emplace_back(t, std::string(b)); });
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0], (std::pair<char, std::string>{'Q', cstr("SELECT 1")}));
    EXPECT_EQ(seen[1].second.size(), 16u);  // kept up to the cap
    EXPECT_EQ(seen[2].first, 'S');
    EXPECT_FALSE(split.broken());
}

TEST(message_splitter, hostile_bytes_never_crash) {
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        message_splitter from_client(64), from_server(16);
        query_tracker t;
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

}  // namespace
}  // namespace sidelight::dbproxy
