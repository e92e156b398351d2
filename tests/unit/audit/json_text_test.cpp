// The one JSON writer for stored text: exact numbers, refused duplicates and non-finite
// numbers, redaction at any depth, spans of the values a caller asks for.

#include "audit/json_text.hpp"

#include <gtest/gtest.h>

namespace sidelight::audit {
namespace {

const std::vector<std::string> keys{"password", "token"};

std::string canonical(std::string_view in) {
    const auto out = canonical_json(in, keys);
    EXPECT_TRUE(out.ok()) << in << ": " << out.message("");
    return out.text;
}

TEST(JsonTextTest, NumbersKeepTheirText) {
    EXPECT_EQ(canonical(R"({"big": 123456789012345678901234567890, "d": 123.45})"),
              R"({"big":123456789012345678901234567890,"d":123.45})");
    EXPECT_EQ(canonical("[1E5, -0, 0.1e-2, 18446744073709551616, -9223372036854775809, 1e-999]"),
              "[1E5,-0,0.1e-2,18446744073709551616,-9223372036854775809,1e-999]");
    EXPECT_EQ(canonical("42"), "42");
}

TEST(JsonTextTest, NonFiniteNumbersAreRefusedWithTheirPath) {
    const auto out = canonical_json(R"({"a":{"list":[1, 1e999999]}})", keys);
    EXPECT_EQ(out.error, "number out of range");
    EXPECT_EQ(out.error_path, ".a.list[1]");
    EXPECT_EQ(out.message("changes"), "changes.a.list[1]: number out of range");
    EXPECT_EQ(canonical_json("-1e400", keys).message("x"), "x: number out of range");
    // Inside a redacted value too: the document is not JSON a reader could take back.
    EXPECT_FALSE(canonical_json(R"({"password":[1e999]})", keys).ok());
}

TEST(JsonTextTest, DuplicateKeysAreRefusedAfterUnescaping) {
    const auto out = canonical_json(R"({"u":{"a":1,"\u0061":2}})", keys);
    EXPECT_EQ(out.error, "duplicate key");
    EXPECT_EQ(out.message(""), "u.a: duplicate key");
    EXPECT_FALSE(canonical_json(R"([{"k":1},{"k":2,"k":3}])", keys).ok());
    EXPECT_TRUE(canonical_json(R"([{"k":1},{"k":2}])", keys).ok());  // per object
}

TEST(JsonTextTest, InvalidJsonIsRefused) {
    for (const char* bad : {"", "{", "{\"a\":1} x", "[1,]", "NaN", "Infinity", "'a'",
                            "{\"a\":1 /* c */}", "\"\xff\"", "{\"a\"\x01:1}"}) {
        const auto out = canonical_json(bad, keys);
        EXPECT_FALSE(out.ok()) << bad;
        EXPECT_TRUE(out.error.starts_with("not valid JSON")) << bad << ": " << out.error;
    }
    const auto deep = std::string(40, '[') + std::string(40, ']');
    EXPECT_TRUE(canonical_json(deep, keys).error.starts_with("not valid JSON")) << deep;
}

TEST(JsonTextTest, StringsAreReescapedCompactly) {
    EXPECT_EQ(canonical("{ \"a\\u0041\" : \"x\\n\\u0001\\\"\\/\\\\\xc3\xa9\" }"),
              "{\"aA\":\"x\\n\\u0001\\\"/\\\\\xc3\xa9\"}");
    EXPECT_EQ(canonical(" [ true , false , null , { } , [ ] ] "), "[true,false,null,{},[]]");
}

TEST(JsonTextTest, RedactsAtAnyDepthAndCase) {
    EXPECT_EQ(canonical(R"({"Password":{"deep":[1,2,{"x":3}]},"n":[{"TOKEN":"t","k":1.50}],)"
                        R"("after":1})"),
              R"({"Password":"[REDACTED]","n":[{"TOKEN":"[REDACTED]","k":1.50}],"after":1})");
    // Nothing is redacted without keys.
    EXPECT_EQ(canonical_json(R"({"password":"p"})", {}).text, R"({"password":"p"})");
}

TEST(JsonTextTest, SpansOfTheValuesAskedFor) {
    const auto out =
        canonical_json(R"([{"changes":{"n":1.0,"password":"p"},"action":"a"},{"changes":"s"}])",
                       keys, [](const json_tokens& t) { return t.size() == 2; });
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(out.spans.size(), 3u);
    const auto* first = out.span("[0].changes");
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(out.text_of(*first), R"({"n":1.0,"password":"[REDACTED]"})");
    EXPECT_EQ(out.text_of(*out.span("[0].action")), R"("a")");
    EXPECT_EQ(out.text_of(*out.span("[1].changes")), R"("s")");
    EXPECT_EQ(out.span("[1].action"), nullptr);

    const auto pointer = pointer_tokens("/a~1b/0");
    const auto in = canonical_json(R"({"a/b":[7.250,2]})", keys,
                                   [&](const json_tokens& t) { return t == pointer; });
    ASSERT_EQ(in.spans.size(), 1u);
    EXPECT_EQ(in.text_of(in.spans[0]), "7.250");
}

TEST(JsonTextTest, PointerTokensAndUnquote) {
    EXPECT_EQ(pointer_tokens(""), json_tokens{});
    EXPECT_EQ(pointer_tokens("/a~0b/~1/"), (json_tokens{"a~b", "/", ""}));
    EXPECT_EQ(unquote(R"("a\nb\u00e9")"), "a\nb\xc3\xa9");
    EXPECT_EQ(unquote("12"), "");
}

}  // namespace
}  // namespace sidelight::audit
