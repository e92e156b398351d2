// W3C Trace Context level 1: what a traceparent may look like, and what sidelight sends on.
#include "util/trace_context.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

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

// What append_tracestate() sends on for `list`; "<none>" when it sends nothing.
std::string tracestate(std::string_view list) {
    std::string out = "prefix:";
    if (!append_tracestate(out, list)) {
        EXPECT_EQ(out, "prefix:") << "nothing is appended when nothing is sent";
        return "<none>";
    }
    return out.substr(7);
}

TEST(TracestateTest, ValidMembersPassAndEmptyOnesAreDropped) {
    EXPECT_EQ(tracestate("vendor=abc,other=1"), "vendor=abc,other=1");
    EXPECT_EQ(tracestate(" rojo=00f067aa0ba902b7 ,\t congo=t61rcWkgMzE"),
              "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    EXPECT_EQ(tracestate(",a=1,, \t ,b=2,"), "a=1,b=2");  // empty members (OWS only)
    EXPECT_EQ(tracestate("a=x y"), "a=x y");              // inner space in a value
    EXPECT_EQ(tracestate("a= x"), "a= x");                // a value may start with one
    EXPECT_EQ(tracestate("a_1-*/=!~"), "a_1-*/=!~");
    EXPECT_EQ(tracestate("0tenant@sys-1=v,t@s=v"), "0tenant@sys-1=v,t@s=v");  // multi-tenant
    EXPECT_EQ(tracestate(std::string(256, 'k') + "=v"), std::string(256, 'k') + "=v");
    EXPECT_EQ(tracestate("k=" + std::string(256, 'v')), "k=" + std::string(256, 'v'));
    EXPECT_EQ(tracestate(""), "<none>");
    EXPECT_EQ(tracestate(" , ,"), "<none>");
}

TEST(TracestateTest, AnInvalidMemberDropsTheWholeList) {
    for (const std::string& bad : std::vector<std::string>{
             "a=1,noequals",
             "a=1,=v",                            // no key
             "a=1,k=",                            // no value
             "Upper=1",                           // keys are lower case
             "1abc=1",                            // a simple key starts with a letter
             "a b=1",                             // a space in the key
             "a =1",                              // ... before '='
             "k=v\x7f",                           // DEL
             "k=a=b",                             // '=' in a value
             "k=\x01",                            // a control character
             "@sys=v",                            // no tenant
             "t@=v",                              // no system
             "t@0sys=v",                          // a system id starts with a letter
             "t@" + std::string(15, 's') + "=v",  // a system id is 14 characters at most
             std::string(242, 't') + "@s=v",      // a tenant id 241
             std::string(257, 'k') + "=v",        // a key 256
             "k=" + std::string(257, 'v'),        // a value 256
             "a@b@c=v",
         }) {
        EXPECT_EQ(tracestate("ok=1," + bad), "<none>") << bad;
    }
    EXPECT_EQ(tracestate("k=v \t"), "k=v");  // trailing OWS belongs to the list, not the value
}

TEST(TracestateTest, ADuplicateKeyOrMoreThan32MembersDropTheList) {
    EXPECT_EQ(tracestate("a=1,b=2,a=3"), "<none>");
    EXPECT_EQ(tracestate("t@s=1,t@s=2"), "<none>");
    EXPECT_EQ(tracestate("a=1,ab=2"), "a=1,ab=2");  // a key that starts like another is not it
    std::string list;
    for (int i = 0; i < 32; ++i) list += (i ? ",k" : "k") + std::to_string(i) + "=v";
    EXPECT_EQ(tracestate(list), list);
    EXPECT_EQ(tracestate(list + ","), list);  // an empty member does not count
    EXPECT_EQ(tracestate(list + ",k32=v"), "<none>");
}

TEST(TracestateTest, AListOver512CharactersLosesLongMembersFirstThenFromTheEnd) {
    const auto member = [](char key, std::size_t size) {  // `size` characters in all
        return std::string(1, key) + "=" + std::string(size - 2, 'v');
    };
    // 100 + 200 + 100 + 150 + 3 commas = 553: the long ones go from the end, the 150 first.
    const auto a = member('a', 100), b = member('b', 200), c = member('c', 100),
               d = member('d', 150);
    EXPECT_EQ(tracestate(a + "," + b + "," + c + "," + d), a + "," + b + "," + c);
    // Exactly 512 stays whole.
    const auto e = member('e', 255), f = member('f', 256);
    EXPECT_EQ(tracestate(e + "," + f), e + "," + f);
    // Short members only: from the end until it fits (7 * 80 + 6 > 512, 6 * 80 + 5 fits).
    std::string list, kept;
    for (char k = 'a'; k < 'h'; ++k) {
        list += (list.empty() ? "" : ",") + member(k, 80);
        if (k < 'g') kept += (kept.empty() ? "" : ",") + member(k, 80);
    }
    EXPECT_EQ(tracestate(list), kept);
    // A single member over 512 (a 256-character key and value): nothing is left to send.
    EXPECT_EQ(tracestate(std::string(256, 'k') + "=" + std::string(256, 'v')), "<none>");
}

}  // namespace
}  // namespace sidelight::util
