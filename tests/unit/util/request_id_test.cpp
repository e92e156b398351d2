#include "util/request_id.hpp"

#include <gtest/gtest.h>

#include <set>

namespace sidelight::util {
namespace {

TEST(RequestIdTest, SaneIds) {
    EXPECT_TRUE(is_sane_request_id("abc-123"));
    EXPECT_TRUE(is_sane_request_id(std::string(128, 'x')));
    EXPECT_TRUE(is_sane_request_id("!~"));
    EXPECT_FALSE(is_sane_request_id(""));
    EXPECT_FALSE(is_sane_request_id(std::string(129, 'x')));
    EXPECT_FALSE(is_sane_request_id("a b"));
    EXPECT_FALSE(is_sane_request_id("a\tb"));
    EXPECT_FALSE(is_sane_request_id("a\r\nX-Evil: 1"));
    EXPECT_FALSE(is_sane_request_id("caf\xc3\xa9"));
}

TEST(RequestIdTest, GeneratedIdsAreHexAndDistinct) {
    std::set<std::string> seen;
    std::string id;
    for (int i = 0; i < 10000; ++i) {
        generate_request_id(id);
        ASSERT_EQ(id.size(), 32u);
        ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 10000u);
}

}  // namespace
}  // namespace sidelight::util
