#include "audit/event.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "audit/hash_chain.hpp"
#include "util/uuid.hpp"

namespace sidelight::audit {
namespace {

TEST(Uuid, IsVersion4AndUnique) {
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        const auto id = util::make_uuid_v4();
        ASSERT_TRUE(util::is_uuid(id)) << id;
        EXPECT_EQ(id[14], '4');
        EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
        EXPECT_TRUE(seen.insert(id).second);
    }
}

TEST(Uuid, ThreadsDoNotRepeatEachOther) {
    std::vector<std::vector<std::string>> per_thread(4);
    std::vector<std::thread> threads;
    for (auto& ids : per_thread) {
        threads.emplace_back([&ids] {
            for (int i = 0; i < 1000; ++i) ids.push_back(util::make_uuid_v4());
        });
    }
    for (auto& t : threads) t.join();
    std::set<std::string> all;
    for (const auto& ids : per_thread) all.insert(ids.begin(), ids.end());
    EXPECT_EQ(all.size(), 4000u);
}

TEST(Uuid, Version7IsTimeOrderedAndUnique) {
    const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::string prev;
    std::set<std::string> seen;
    for (int i = 0; i < 20000; ++i) {  // more than 4096 per millisecond: the counter rolls over
        const auto id = util::make_uuid_v7();
        ASSERT_TRUE(util::is_uuid(id)) << id;
        ASSERT_EQ(id[14], '7') << id;
        ASSERT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
        ASSERT_LT(prev, id) << "not increasing";
        ASSERT_TRUE(seen.insert(id).second) << id;
        prev = id;
    }
    const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    const auto first_ms =
        std::stoll((*seen.begin()).substr(0, 8) + (*seen.begin()).substr(9, 4), nullptr, 16);
    EXPECT_GE(first_ms, before);
    EXPECT_LE(first_ms, after);
}

TEST(Uuid, Version7ThreadsDoNotRepeatEachOther) {
    std::vector<std::vector<std::string>> per_thread(4);
    std::vector<std::thread> threads;
    for (auto& ids : per_thread) {
        threads.emplace_back([&ids] {
            for (int i = 0; i < 5000; ++i) ids.push_back(util::make_uuid_v7());
        });
    }
    for (auto& t : threads) t.join();
    std::set<std::string> all;
    for (const auto& ids : per_thread) all.insert(ids.begin(), ids.end());
    EXPECT_EQ(all.size(), 20000u);
}

TEST(Time, FormatsAndParsesExactly) {
    const auto tp = parse_time("2026-11-26T23:59:01.123456Z");
    ASSERT_TRUE(tp);
    EXPECT_EQ(format_time(*tp), "2026-11-26T23:59:01.123456Z");
    EXPECT_EQ(format_time(time_point{}), "1970-01-01T00:00:00.000000Z");
    for (const char* bad :
         {"2026-11-26T23:59:01Z", "2026-11-26 23:59:01.123456Z", "2026-11-26T24:00:00.000000Z",
          "2026-02-30T00:00:00.000000Z", "2026-11-26T23:59:01.12345xZ", ""}) {
        EXPECT_FALSE(parse_time(bad)) << bad;
    }
}

// format_time does its own calendar arithmetic; it must agree with gmtime_r + snprintf.
// What a client may send: JavaScript's toISOString(), RFC 3339 with or without a fraction, an
// offset; the same instant whatever the spelling.
TEST(Time, AClientsTimeIsReadInTheUsualSpellings) {
    const auto t = *parse_time("2026-11-01T12:00:00.250000Z");
    EXPECT_EQ(parse_client_time("2026-11-01T12:00:00.250Z"), t);  // toISOString()
    EXPECT_EQ(parse_client_time("2026-11-01T12:00:00.25Z"), t);
    EXPECT_EQ(parse_client_time("2026-11-01T12:00:00.250000Z"), t);     // the stored form
    EXPECT_EQ(parse_client_time("2026-11-01T12:00:00.250000999Z"), t);  // nanoseconds: truncated
    EXPECT_EQ(parse_client_time("2026-11-01T13:00:00.25+01:00"), t);
    EXPECT_EQ(parse_client_time("2026-11-01T07:30:00.25-04:30"), t);
    EXPECT_EQ(parse_client_time("2026-11-01T12:00:00Z"),
              *parse_time("2026-11-01T12:00:00.000000Z"));
    EXPECT_EQ(parse_client_time("2026-11-01T12:00:00z"),
              *parse_time("2026-11-01T12:00:00.000000Z"));
    for (const char* bad :
         {"2026-11-01T12:00:00", "2026-11-01 12:00:00Z", "2026-11-01T12:00:00.Z",
          "2026-11-01T12:00:00.1234567890Z", "2026-11-01T24:00:00Z", "2026-13-01T12:00:00Z",
          "2026-11-01T12:00:00+1:00", "2026-11-01T12:00:00+24:00", "2026-11-01T12:00:00+01:60",
          "2026-11-01T12:00:00ZZ", "yesterday", "",
          // an offset that carries the time out of years 1 to 9999, which could be stored
          // but never read back
          "9999-12-31T23:30:00-01:00", "0000-01-01T00:00:00+01:00",
          // year 0, which Postgres's timestamptz refuses (the batch would never forward), as
          // given or once the offset is applied
          "0000-06-15T12:00:00Z", "0000-12-31T23:59:59.999999Z", "0001-01-01T00:30:00+01:00"})
        EXPECT_FALSE(parse_client_time(bad)) << bad;
    EXPECT_EQ(parse_client_time("9999-12-31T22:30:00-01:00"),
              *parse_time("9999-12-31T23:30:00.000000Z"));
    EXPECT_EQ(parse_client_time("0001-01-01T00:00:00Z"),
              *parse_time("0001-01-01T00:00:00.000000Z"));
    EXPECT_EQ(parse_client_time("0001-01-01T00:30:00+00:30"),
              *parse_time("0001-01-01T00:00:00.000000Z"));
}

TEST(Time, FormatAgreesWithGmtime) {
    auto reference = [](time_point tp) {
        const auto secs = std::chrono::floor<std::chrono::seconds>(tp);
        const std::time_t t = secs.time_since_epoch().count();
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                      static_cast<long long>((tp - secs).count()));
        return std::string(buf);
    };
    std::mt19937_64 rng(42);
    // 1900..2400 at random, plus the edges of days, leap days and centuries.
    std::uniform_int_distribution<std::int64_t> micros(-2'208'988'800'000'000LL,
                                                       13'574'563'200'000'000LL);
    std::vector<time_point> points;
    for (int i = 0; i < 20000; ++i) points.emplace_back(std::chrono::microseconds{micros(rng)});
    for (const char* at : {"2000-02-29T23:59:59.999999Z", "2100-03-01T00:00:00.000000Z",
                           "1970-01-01T00:00:00.000001Z", "2026-12-31T23:59:59.999999Z",
                           "2024-02-29T12:00:00.500000Z"}) {
        points.push_back(*parse_time(at));
    }
    points.emplace_back(std::chrono::microseconds{-1});
    for (const auto tp : points) ASSERT_EQ(format_time(tp), reference(tp));
}

TEST(Event, NormalizeFillsIdAndTimeOnlyWhenMissing) {
    event ev = audit_event{};
    normalize(ev);
    EXPECT_TRUE(util::is_uuid(event_id_of(ev)));
    EXPECT_EQ(event_id_of(ev)[14], '7');
    EXPECT_NE(created_at_of(ev), time_point{});
    security_event s;
    s.event_id = "given";
    s.created_at = time_point{std::chrono::microseconds{5}};
    event sev = s;
    normalize(sev);
    EXPECT_EQ(event_id_of(sev), "given");
    EXPECT_EQ(created_at_of(sev), time_point{std::chrono::microseconds{5}});
    EXPECT_EQ(table_of(sev), table_kind::security_audit);
}

TEST(HashChain, FieldBoundariesAreUnambiguous) {
    audit_event a;
    a.user_id = "ab";
    a.action = "c";
    audit_event b;
    b.user_id = "a";
    b.action = "bc";
    EXPECT_NE(canonical_row(1, a), canonical_row(1, b));
    EXPECT_NE(chain_hash(genesis_hash, 1, a), chain_hash(genesis_hash, 1, b));
    EXPECT_NE(chain_hash(genesis_hash, 1, a), chain_hash(genesis_hash, 2, a));
    security_event s;
    EXPECT_NE(canonical_row(1, a), canonical_row(1, s));
    EXPECT_EQ(chain_hash("not hex", 1, a), "");
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace sidelight::audit
