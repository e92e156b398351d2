// The ground floor's primitives, tested once for every room that uses them.

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>

#include "util/percent.hpp"
#include "util/random.hpp"
#include "util/utf8.hpp"

namespace sidelight::util {
namespace {

using namespace std::string_literals;

TEST(Utf8Test, WellFormedSequencesDecode) {
    std::uint32_t cp = 0;
    EXPECT_EQ(utf8_decode("a", 0, cp), 1u);
    EXPECT_EQ(cp, 0x61u);
    EXPECT_EQ(utf8_decode("\xc3\xa9", 0, cp), 2u);  // é
    EXPECT_EQ(cp, 0xE9u);
    EXPECT_EQ(utf8_decode("\xe2\x82\xac", 0, cp), 3u);  // €
    EXPECT_EQ(cp, 0x20ACu);
    EXPECT_EQ(utf8_decode("\xf0\x9f\x98\x80", 0, cp), 4u);  // U+1F600
    EXPECT_EQ(cp, 0x1F600u);
    EXPECT_EQ(utf8_decode("\xf4\x8f\xbf\xbf", 0, cp), 4u);  // U+10FFFF, the last
    EXPECT_TRUE(is_valid_utf8("h\xc3\xa9llo \xe2\x82\xac"));
    EXPECT_TRUE(is_valid_utf8(""));
}

TEST(Utf8Test, OverlongsSurrogatesAndStrayBytesAreRefused) {
    for (const auto& bad : {"\xc0\xaf"s, "\xc1\xbf"s, "\xe0\x80\xaf"s, "\xe0\x9f\xbf"s,
                            "\xf0\x80\x80\xaf"s, "\xf0\x8f\xbf\xbf"s,  // overlongs
                            "\xed\xa0\x80"s, "\xed\xbf\xbf"s,          // surrogates
                            "\xf4\x90\x80\x80"s, "\xf5\x80\x80\x80"s,  // past U+10FFFF
                            "\x80"s, "\xbf"s, "\xff"s,                 // stray bytes
                            "\xc3"s, "\xe2\x82"s, "\xc3("s}) {         // cut or broken
        EXPECT_EQ(utf8_length(bad, 0), 0u) << testing::PrintToString(bad);
        EXPECT_FALSE(is_valid_utf8(bad)) << testing::PrintToString(bad);
    }
    EXPECT_EQ(utf8_length("a", 1), 0u);  // past the end
}

TEST(PercentTest, DecodesExactlyTwoHexDigits) {
    EXPECT_EQ(percent_decoded("a%2Fb%2fc"), "a/b/c");
    EXPECT_EQ(percent_decoded("%41%7a"), "Az");
    EXPECT_EQ(percent_decoded("plain"), "plain");
    EXPECT_EQ(percent_decoded("%00"), "\0"s);
    for (const char* bad : {"%", "%4", "a%4", "%4x", "%x4", "%zz", "%%41", "%-1"})
        EXPECT_EQ(percent_decoded(bad), std::nullopt) << bad;
    char out[8];
    EXPECT_EQ(percent_decode("a%20b", out), 3);
    EXPECT_EQ(std::string(out, 3), "a b");
    EXPECT_EQ(percent_decode("%g0", out), -1);
}

TEST(PercentTest, PlusIsASpaceOnlyInQueryStrings) {
    EXPECT_EQ(percent_decoded("a+b"), "a+b");
    EXPECT_EQ(percent_decoded("a+b", true), "a b");
    EXPECT_EQ(percent_decoded("a%2Bb+c", true), "a+b c");  // an escaped plus stays a plus
}

TEST(RandomTest, ThreadsDrawDistinctValues) {
    std::set<std::uint64_t> seen;
    for (int i = 0; i < 10000; ++i) seen.insert(random_u64());
    EXPECT_EQ(seen.size(), 10000u);
    std::uint64_t other = 0;
    std::thread([&] { other = random_u64(); }).join();
    EXPECT_FALSE(seen.contains(other));
}

}  // namespace
}  // namespace sidelight::util
