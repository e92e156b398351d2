// The parse cache in front of the lexer: a hit is not lexed again, eviction is least recently
// used, and both bounds (entries and bytes) hold.
#include "dbproxy/statement_cache.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sidelight::dbproxy {
namespace {

TEST(statement_cache, a_hit_is_not_lexed_again) {
    statement_cache cache(4);
    const auto& first = cache.statements("SELECT * FROM a; DELETE FROM b");
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0], (statement_info{"select", "a"}));
    EXPECT_EQ(first[1], (statement_info{"delete", "b"}));
    EXPECT_EQ(cache.misses(), 1u);
    for (int i = 0; i < 100; ++i) {
        const auto& again = cache.statements("SELECT * FROM a; DELETE FROM b");
        ASSERT_EQ(again.size(), 2u);
        EXPECT_EQ(again[1], (statement_info{"delete", "b"}));
    }
    EXPECT_EQ(cache.misses(), 1u);
    EXPECT_TRUE(cache.statements("-- nothing").empty());
    EXPECT_EQ(cache.misses(), 2u);
}

TEST(statement_cache, evicts_the_least_recently_used) {
    statement_cache cache(3);
    cache.statements("SELECT * FROM a");
    cache.statements("SELECT * FROM b");
    cache.statements("SELECT * FROM c");
    cache.statements("SELECT * FROM a");  // a hit: b is now the least recently used
    cache.statements("SELECT * FROM d");
    EXPECT_EQ(cache.size(), 3u);
    EXPECT_TRUE(cache.contains("SELECT * FROM a"));
    EXPECT_FALSE(cache.contains("SELECT * FROM b"));
    EXPECT_TRUE(cache.contains("SELECT * FROM c"));
    EXPECT_TRUE(cache.contains("SELECT * FROM d"));
    EXPECT_EQ(cache.misses(), 4u);
    cache.statements("SELECT * FROM b");  // lexed again, evicting c
    EXPECT_EQ(cache.misses(), 5u);
    EXPECT_FALSE(cache.contains("SELECT * FROM c"));
}

// A query with its values inlined is a new text every time and one shape: lexed once.
TEST(statement_cache, texts_that_differ_in_literals_only_share_an_entry) {
    statement_cache cache(16);
    for (int i = 0; i < 100; ++i) {
        const auto& got = cache.statements(
            "SELECT abalance FROM pgbench_accounts WHERE aid = " + std::to_string(i * 7919) +
            " AND note = 'x" + std::to_string(i) + "' AND tag = E'\\" + std::to_string(i) +
            "' AND body = $$" + std::to_string(i) + "$$ AND p = $1; UPDATE t SET n = " +
            std::to_string(-(i + 1)) + " WHERE b = B'" + (i % 2 ? "1" : "01") + "'");
        ASSERT_EQ(got.size(), 2u);
        EXPECT_EQ(got[0], (statement_info{"select", "pgbench_accounts"}));
        EXPECT_EQ(got[1], (statement_info{"update", "t"}));
    }
    EXPECT_EQ(cache.misses(), 1u);
    EXPECT_EQ(cache.size(), 1u);
    // Names, keywords, punctuation and comments are the shape: each of these is its own.
    cache.statements("SELECT abalance FROM pgbench_tellers WHERE aid = 1");
    cache.statements("SELECT abalance FROM \"pgbench_accounts\" WHERE aid = 1");
    cache.statements("SELECT abalance FROM pgbench_accounts WHERE aid = 1 -- why");
    cache.statements("SELECT abalance  FROM pgbench_accounts WHERE aid = 1");
    EXPECT_EQ(cache.misses(), 5u);
    EXPECT_EQ(cache.statements("SELECT 1 FROM t1")[0], (statement_info{"select", "t1"}));
    EXPECT_EQ(cache.statements("SELECT 1 FROM t2")[0], (statement_info{"select", "t2"}));
}

// A literal is one marker whatever it holds: a semicolon or a quote inside one splits nothing,
// and the statements around it keep their own labels.
TEST(statement_cache, a_literal_that_looks_like_sql_is_still_a_literal) {
    statement_cache cache(16);
    const auto& first = cache.statements("INSERT INTO a VALUES ('x; DELETE FROM b')");
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0], (statement_info{"insert", "a"}));
    const auto& second = cache.statements("INSERT INTO a VALUES ('y'); DELETE FROM b");
    ASSERT_EQ(second.size(), 2u);
    EXPECT_EQ(second[1], (statement_info{"delete", "b"}));
    const auto& third = cache.statements("INSERT INTO a VALUES ($q$ '); DROP TABLE c; $q$)");
    ASSERT_EQ(third.size(), 1u);
    EXPECT_EQ(third[0], (statement_info{"insert", "a"}));
    EXPECT_EQ(cache.misses(), 2u);  // the first and the third share a shape
}

// Whatever the mix of texts, a label from the cache is the label lexing that very text gives.
TEST(statement_cache, every_answer_equals_lexing_the_text_itself) {
    const std::vector<std::string> values = {"1",     "-2",      "3.5e2", "'a;b'", "E'\\';'",
                                             "$$;$$", "$t$'$t$", "$1",    "B'01'", "''''"};
    const std::vector<std::string> forms = {"SELECT * FROM a WHERE x = {}",
                                            "DELETE FROM b WHERE y IN ({}, {})",
                                            "INSERT INTO c VALUES ({}); END",
                                            "UPDATE d SET z = {} /* ; */ WHERE w = {}",
                                            "WITH q AS (SELECT {}) SELECT * FROM q",
                                            "{}; TRUNCATE e",
                                            "COPY f FROM STDIN -- {}\n"};
    statement_cache cache(4);  // small: entries come and go
    for (int round = 0; round < 3; ++round) {
        for (const auto& form : forms) {
            for (std::size_t v = 0; v < values.size(); ++v) {
                std::string text = form;
                for (std::size_t at; (at = text.find("{}")) != std::string::npos;)
                    text.replace(at, 2, values[(v + at) % values.size()]);
                std::vector<statement_info> lexed;
                for (auto piece : split_statements(text)) lexed.push_back(classify(piece));
                EXPECT_EQ(cache.statements(text), lexed) << text;
            }
        }
    }
}

// The marker byte in a text is not a literal: such a text is only ever its own entry.
TEST(statement_cache, a_text_holding_the_marker_is_its_own_shape) {
    std::string a, b;
    shape_of("SELECT * FROM t WHERE x = 5", a);
    shape_of(std::string("SELECT * FROM t WHERE x = ") + shape_marker, b);
    EXPECT_NE(a, b);
    statement_cache cache(16);
    cache.statements(std::string("DELETE FROM \x01"));
    cache.statements(std::string("DELETE FROM 5"));
    EXPECT_EQ(cache.misses(), 2u);
}

// The budget counts each entry's shape and its labels: an entry over a sixteenth of it (a long
// text, or a short one of many statements) is lexed every time instead of kept.
TEST(statement_cache, bytes_are_bounded_and_long_texts_are_not_kept) {
    statement_cache cache(1000, 16000);  // entries over 1000 bytes are never kept
    const std::string long_text = "SELECT * FROM t WHERE x = '" + std::string(1200, 'x') + "'";
    EXPECT_EQ(cache.statements(long_text).at(0), (statement_info{"select", "t"}));
    EXPECT_EQ(cache.statements(long_text).at(0), (statement_info{"select", "t"}));
    EXPECT_EQ(cache.misses(), 2u);
    EXPECT_EQ(cache.size(), 0u);
    std::string many;
    for (int i = 0; i < 10; ++i) many += "SELECT 1;";  // 90 bytes, 10 statements
    ASSERT_GT(10 * sizeof(statement_info), 1000u);
    EXPECT_EQ(cache.statements(many).size(), 10u);
    EXPECT_EQ(cache.statements(many).size(), 10u);
    EXPECT_EQ(cache.misses(), 4u);
    EXPECT_EQ(cache.size(), 0u);
    for (int i = 0; i < 100; ++i)
        cache.statements("SELECT * FROM t" + std::to_string(i) + " -- " + std::string(50, 'p'));
    // Each text is 70-71 bytes, its shape one more, plus one statement's labels.
    const auto low = 71 + sizeof(statement_info), high = 72 + sizeof(statement_info);
    EXPECT_LE(cache.size(), 16000u / low);
    EXPECT_GE(cache.size(), 16000u / high - 1);
    EXPECT_TRUE(cache.contains("SELECT * FROM t99 -- " + std::string(50, 'p')));
    EXPECT_FALSE(cache.contains("SELECT * FROM t0 -- " + std::string(50, 'p')));
}

// A string of a few hundred statements (a migration, a batch of inserts) is kept by default.
TEST(statement_cache, a_string_of_many_statements_is_kept) {
    statement_cache cache;
    std::string inserts;
    for (int i = 0; i < 420; ++i)
        inserts += "INSERT INTO t VALUES (" + std::to_string(i) + ", 'x');";
    EXPECT_EQ(cache.statements(inserts).size(), 420u);
    EXPECT_EQ(cache.statements(inserts).size(), 420u);
    EXPECT_EQ(cache.misses(), 1u);
}

}  // namespace
}  // namespace sidelight::dbproxy
