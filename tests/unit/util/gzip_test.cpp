// gzip of /metrics, and the Accept / Accept-Encoding negotiation it depends on.
#include "util/gzip.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace sidelight::util {
namespace {

std::string gunzip(const std::string& in) {
    z_stream z{};
    EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
    std::string out(1 << 20, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    inflateEnd(&z);
    return out;
}

TEST(GzipTest, RoundTripsThroughZlibsInflate) {
    std::string text;
    for (int i = 0; i < 2000; ++i)
        text += "api_requests_total{method=\"GET\",route=\"/a\",status_code=\"200\"} " +
                std::to_string(i) + "\n";
    const auto packed = gzip(text);
    ASSERT_GE(packed.size(), 2u);
    EXPECT_EQ(static_cast<unsigned char>(packed[0]), 0x1f);  // the gzip magic
    EXPECT_EQ(static_cast<unsigned char>(packed[1]), 0x8b);
    EXPECT_LT(packed.size(), text.size() / 5);
    EXPECT_EQ(gunzip(packed), text);
    EXPECT_EQ(gunzip(gzip("")), "");
}

TEST(GzipTest, AcceptEncodingIsReadWithItsQValues) {
    EXPECT_TRUE(accepts_gzip("gzip"));
    EXPECT_TRUE(accepts_gzip("deflate, GZip;q=0.5"));
    EXPECT_TRUE(accepts_gzip("br, *"));
    EXPECT_TRUE(accepts_gzip("x-gzip"));
    EXPECT_FALSE(accepts_gzip(""));
    EXPECT_FALSE(accepts_gzip("identity"));
    EXPECT_FALSE(accepts_gzip("gzip;q=0"));
    EXPECT_FALSE(accepts_gzip("gzip; q=0.0, identity"));
    EXPECT_FALSE(accepts_gzip("gzipped"));
}

TEST(GzipTest, AcceptNamesAMediaType) {
    // What Prometheus 2.42 sends with exemplar storage on.
    const std::string prometheus =
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
        "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    EXPECT_TRUE(accepts_media_type(prometheus, "application/openmetrics-text"));
    EXPECT_TRUE(accepts_media_type("Application/OpenMetrics-Text", "application/openmetrics-text"));
    EXPECT_FALSE(accepts_media_type("text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                                    "application/openmetrics-text"));
    EXPECT_FALSE(
        accepts_media_type("application/openmetrics-text;q=0", "application/openmetrics-text"));
    EXPECT_FALSE(accepts_media_type("", "application/openmetrics-text"));
}

// Choosing between OpenMetrics and the classic text: the higher q-value wins, a tie goes to
// OpenMetrics (the one asked for by name).
TEST(GzipTest, PrefersTheMediaTypeWithTheHigherQ) {
    const std::string om = "application/openmetrics-text";
    const std::string prometheus =
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
        "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    EXPECT_TRUE(prefers_media_type(prometheus, om, "text/plain"));
    EXPECT_FALSE(
        prefers_media_type("text/plain, application/openmetrics-text;q=0.1", om, "text/plain"));
    EXPECT_FALSE(prefers_media_type("*/*, application/openmetrics-text;q=0.5", om, "text/plain"));
    EXPECT_TRUE(prefers_media_type("application/openmetrics-text, text/plain", om, "text/plain"));
    EXPECT_FALSE(prefers_media_type("text/plain", om, "text/plain"));
    EXPECT_FALSE(prefers_media_type("", om, "text/plain"));
}

// What the rules read of a compressed body: the text the app wrote.
TEST(GzipTest, ACapturedBodyIsReadBeforeItsContentEncoding) {
    const std::string text = R"({"platform":"ios","total":12.5})";
    auto decode = [](std::string_view coding, std::string body, bool truncated = false,
                     std::size_t cap = 1024) {
        decode_captured_body(coding, body, truncated, cap);
        return body + (truncated ? "|truncated" : "");
    };
    EXPECT_EQ(decode("gzip", gzip(text)), text);
    EXPECT_EQ(decode(" GZIP ", gzip(text)), text);
    EXPECT_EQ(decode("x-gzip", gzip(text)), text);
    EXPECT_EQ(decode("", text), text);
    EXPECT_EQ(decode("identity", text), text);
    EXPECT_EQ(decode("gzip", gzip(text), false, 10), text.substr(0, 10) + "|truncated");
    EXPECT_EQ(decode("gzip", gzip(text), true), "|truncated");  // captured in part: unreadable
    EXPECT_EQ(decode("gzip", gzip(text).substr(0, 15)), "");    // cut short
    EXPECT_EQ(decode("gzip", "not gzip at all"), "");
    EXPECT_EQ(decode("br", "\x1b\x03"), "");
    EXPECT_EQ(decode("gzip, gzip", gzip(gzip(text))), "");
    const std::string big(200'000, 'a');  // inflates past several output chunks
    EXPECT_EQ(decode("gzip", gzip(big), false, 1'000'000), big);
}

// A client's body: what cannot be inflated is left as it came (never emptied), so the rules read
// plain JSON a client named gzip; a real inflation is capped as for responses.
TEST(GzipTest, ARequestBodyThatDoesNotInflateIsLeftAsItCame) {
    const std::string plain = R"({"user":"alice"})";
    for (const char* coding : {"gzip", "br", "gzip, br", "deflate"}) {
        std::string body = plain;
        bool truncated = false;
        EXPECT_FALSE(inflate_captured_body(coding, body, truncated, 1024)) << coding;
        EXPECT_EQ(body, plain) << coding;
        EXPECT_FALSE(truncated);
    }
    std::string cut = gzip(plain).substr(0, 10);
    bool truncated = true;  // the capture cut it
    EXPECT_FALSE(inflate_captured_body("gzip", cut, truncated, 1024));
    EXPECT_EQ(cut.size(), 10u);
    std::string packed = gzip(std::string(5000, 'a'));
    truncated = false;
    EXPECT_TRUE(inflate_captured_body("gzip", packed, truncated, 1000));
    EXPECT_EQ(packed, std::string(1000, 'a'));
    EXPECT_TRUE(truncated);
    std::string identity = plain;
    EXPECT_TRUE(inflate_captured_body("identity", identity, truncated, 1000));
    EXPECT_EQ(identity, plain);
}

}  // namespace
}  // namespace sidelight::util
