#include <gtest/gtest.h>

#include "config/load.hpp"

namespace sidelight::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(parse_duration, accepts_units_fractions_and_compounds) {
    EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
    EXPECT_EQ(parse_duration("5s"), seconds(5));
    EXPECT_EQ(parse_duration("2m"), minutes(2));
    EXPECT_EQ(parse_duration("1h"), hours(1));
    EXPECT_EQ(parse_duration("0"), milliseconds(0));
    EXPECT_EQ(parse_duration("0s"), milliseconds(0));
    EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
    EXPECT_EQ(parse_duration("0.25s"), milliseconds(250));
    EXPECT_EQ(parse_duration("1m30s"), milliseconds(90'000));
    EXPECT_EQ(parse_duration("1h0m1ms"), milliseconds(3'600'001));
}

TEST(parse_duration, rejects_malformed_values) {
    for (const char* bad :
         {"", "5", "500", "-5s", "5 s", "5sec", "s", "1.s", ".5s", "1.5ms", "0.0001s", "5S", "1d",
          "ms", "10000000000000000000ms", "9999999999999999h", "1.2.3s"}) {
        EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
    }
}

TEST(parse_size, accepts_binary_and_decimal_units) {
    EXPECT_EQ(parse_size("512"), 512u);
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("512B"), 512u);
    EXPECT_EQ(parse_size("64KiB"), 64u * 1024);
    EXPECT_EQ(parse_size("1MiB"), 1024u * 1024);
    EXPECT_EQ(parse_size("2GiB"), 2ULL << 30);
    EXPECT_EQ(parse_size("1TiB"), 1ULL << 40);
    EXPECT_EQ(parse_size("10KB"), 10'000u);
    EXPECT_EQ(parse_size("3MB"), 3'000'000u);
    EXPECT_EQ(parse_size("1GB"), 1'000'000'000u);
    EXPECT_EQ(parse_size("64kib"), 64u * 1024);
    EXPECT_EQ(parse_size("64 KiB"), 64u * 1024);
}

TEST(parse_size, rejects_ambiguous_negative_and_overflowing_values) {
    for (const char* bad : {"", "10k", "10K", "1M", "-1", "1.5MiB", "KiB", "12 34", "10 PiB",
                            "18446744073709551616", "20000000TiB"}) {
        EXPECT_EQ(parse_size(bad), std::nullopt) << bad;
    }
}

TEST(parse_address, accepts_ipv4_ipv6_names_and_wildcards) {
    EXPECT_EQ(parse_address("127.0.0.1:3000"), (address{"127.0.0.1", 3000}));
    EXPECT_EQ(parse_address("[::1]:80"), (address{"::1", 80}));
    EXPECT_EQ(parse_address("[2001:db8::1]:443"), (address{"2001:db8::1", 443}));
    EXPECT_EQ(parse_address("app.default.svc.cluster.local:8080"),
              (address{"app.default.svc.cluster.local", 8080}));
    EXPECT_EQ(parse_address("localhost:0"), (address{"localhost", 0}));
    EXPECT_EQ(parse_address("*:8080"), (address{"0.0.0.0", 8080}));
    EXPECT_EQ(parse_address(":8080"), (address{"0.0.0.0", 8080}));
    EXPECT_EQ(parse_address("localhost:65535"), (address{"localhost", 65535}));
}

TEST(parse_address, rejects_malformed_values) {
    for (const char* bad :
         {"", "localhost", "localhost:", "localhost:65536", "localhost:-1", "localhost:http",
          "::1:80", "[::1]", "[127.0.0.1]:80", "[zz::]:80", "256.1.1.1:80", "1.2.3:80",
          "bad*name:80", "a.-b:80", "-lead.example:80", "a..b:80", "host name:80", "[]:80",
          "localhost:123456"}) {
        EXPECT_EQ(parse_address(bad), std::nullopt) << bad;
    }
}

TEST(address, to_string_round_trips) {
    for (const char* text : {"127.0.0.1:3000", "[::1]:80", "example.com:443", "0.0.0.0:0"}) {
        auto parsed = parse_address(text);
        ASSERT_TRUE(parsed) << text;
        EXPECT_EQ(parsed->to_string(), text);
        EXPECT_EQ(parse_address(parsed->to_string()), parsed);
    }
}

}  // namespace
}  // namespace sidelight::config
