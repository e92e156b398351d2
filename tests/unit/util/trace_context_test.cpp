// W3C Trace Context level 1: what a traceparent may look like, and what sidelight sends on.
#include "util/trace_context.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sidelight::util {
namespace {

constexpr std::string_view valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContextTest, ParsesTheSpecificationsExample) {
    traceparent p;
    ASSERT_TRUE(parse_traceparent(valid, p));
    EXPECT_EQ(to_hex(p.trace), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(to_hex(p.parent), "00f067aa0ba902b7");
    EXPECT_EQ(p.flags, 1);
}

TEST(TraceContextTest, RefusesWhatTheSpecificationRefuses) {
    const char* bad[] = {
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",      // no flags
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version ff
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // version 00 is 55 long
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",   // flags not hex
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // separator
        "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // short version
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",   // misplaced dash
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // later version, no dash
        " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    };
    for (const char* text : bad) {
        traceparent p;
        EXPECT_FALSE(parse_traceparent(text, p)) << text;
    }
}

TEST(TraceContextTest, ALaterVersionIsReadForItsFirstFields) {
    traceparent p;
    ASSERT_TRUE(parse_traceparent(
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes-later", p));
    EXPECT_EQ(to_hex(p.parent), "00f067aa0ba902b7");
    EXPECT_EQ(p.flags, 0);
    ASSERT_TRUE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09", p));
    EXPECT_EQ(p.flags, 9);
}

TEST(TraceContextTest, AContinuedTraceKeepsItsIdAndGetsTwoNewSpans) {
    traceparent in;
    ASSERT_TRUE(parse_traceparent(valid, in));
    trace_context t;
    t.begin(&in, sampler::parent_based, 0.0);
    EXPECT_TRUE(t.active);
    EXPECT_TRUE(t.has_parent);
    EXPECT_TRUE(t.sampled);  // the caller sampled it; the ratio is for new traces only
    EXPECT_EQ(t.trace, in.trace);
    EXPECT_EQ(t.parent, in.parent);
    EXPECT_NE(t.server_span, t.client_span);
    EXPECT_NE(t.server_span, in.parent);
    std::string header;
    t.write_traceparent(header);
    EXPECT_EQ(header, "00-4bf92f3577b34da6a3ce929d0e0e4736-" + to_hex(t.client_span) + "-01");
    EXPECT_EQ(t.trace_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(TraceContextTest, ParentBasedFollowsAnUnsampledCaller) {
    traceparent in;
    ASSERT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", in));
    trace_context t;
    t.begin(&in, sampler::parent_based, 1.0);
    EXPECT_FALSE(t.sampled);
    std::string header;
    t.write_traceparent(header);
    EXPECT_TRUE(header.ends_with("-00")) << header;
    t.begin(&in, sampler::always, 0.0);
    EXPECT_TRUE(t.sampled);
}

TEST(TraceContextTest, ANewTraceIsRandomAndSampledByRatio) {
    std::set<std::string> ids;
    int sampled = 0;
    for (int i = 0; i < 2000; ++i) {
        trace_context t;
        t.begin(nullptr, sampler::parent_based, 0.25);
        EXPECT_FALSE(t.has_parent);
        ids.insert(t.trace_hex());
        sampled += t.sampled;
    }
    EXPECT_EQ(ids.size(), 2000u);
    // 25% of 2000 is 500; the spread of a binomial (sd ~19) leaves this far from failing.
    EXPECT_GT(sampled, 380);
    EXPECT_LT(sampled, 620);
    trace_context t;
    t.begin(nullptr, sampler::never, 1.0);
    EXPECT_FALSE(t.sampled);
    t.begin(nullptr, sampler::ratio, 0.0);
    EXPECT_FALSE(t.sampled);
    t.begin(nullptr, sampler::ratio, 1.0);
    EXPECT_TRUE(t.sampled);
}

TEST(TraceContextTest, AnInactiveContextHasNoTraceId) {
    trace_context t;
    EXPECT_EQ(t.trace_hex(), "");
}

}  // namespace
}  // namespace sidelight::util
