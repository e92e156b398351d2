// The parse cache in front of the lexer: a hit is not lexed again, eviction is least recently
// used, and both bounds (entries and bytes) hold.
#include "dbproxy/statement_cache.hpp"

#include <gtest/gtest.h>

#include <string>

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
    cache.statements("SELECT 1");
    cache.statements("SELECT 2");
    cache.statements("SELECT 3");
    cache.statements("SELECT 1");  // a hit: SELECT 2 is now the least recently used
    cache.statements("SELECT 4");
    EXPECT_EQ(cache.size(), 3u);
    EXPECT_TRUE(cache.contains("SELECT 1"));
    EXPECT_FALSE(cache.contains("SELECT 2"));
    EXPECT_TRUE(cache.contains("SELECT 3"));
    EXPECT_TRUE(cache.contains("SELECT 4"));
    EXPECT_EQ(cache.misses(), 4u);
    cache.statements("SELECT 2");  // lexed again, evicting SELECT 3
    EXPECT_EQ(cache.misses(), 5u);
    EXPECT_FALSE(cache.contains("SELECT 3"));
}

TEST(statement_cache, bytes_are_bounded_and_long_texts_are_not_kept) {
    statement_cache cache(1000, 1600);  // texts over 100 bytes are never kept
    const std::string long_text = "SELECT * FROM t WHERE x = '" + std::string(200, 'x') + "'";
    EXPECT_EQ(cache.statements(long_text).at(0), (statement_info{"select", "t"}));
    EXPECT_EQ(cache.statements(long_text).at(0), (statement_info{"select", "t"}));
    EXPECT_EQ(cache.misses(), 2u);
    EXPECT_EQ(cache.size(), 0u);
    for (int i = 0; i < 100; ++i)
        cache.statements("SELECT * FROM t" + std::to_string(i) + " -- " + std::string(50, 'p'));
    // Each text is 70-71 bytes: at most 1600 bytes of them stay.
    EXPECT_LE(cache.size(), 1600u / 70);
    EXPECT_GE(cache.size(), 1600u / 71 - 1);
    EXPECT_TRUE(cache.contains("SELECT * FROM t99 -- " + std::string(50, 'p')));
    EXPECT_FALSE(cache.contains("SELECT * FROM t0 -- " + std::string(50, 'p')));
}

}  // namespace
}  // namespace sidelight::dbproxy
