#include "proxy/http_head.hpp"

#include <gtest/gtest.h>

namespace sidelight::proxy {
namespace {

TEST(HttpHeadTest, RequestHeadIsWrittenAsText) {
    request_head h;
    h.method_string("PATCH");
    h.target("/a?b=c");
    h.version(11);
    h.insert("Host", "app");
    h.insert("X-Two", "1");
    h.insert("x-two", "2");  // repeated fields keep their order and spelling
    std::string out;
    append_head(out, h);
    EXPECT_EQ(out, "PATCH /a?b=c HTTP/1.1\r\nHost: app\r\nX-Two: 1\r\nx-two: 2\r\n\r\n");
}

TEST(HttpHeadTest, ResponseHeadKeepsTheAppsReasonOrUsesTheStandardOne) {
    response_head h;
    h.result(418);
    h.reason("Short And Stout");
    h.version(10);
    h.insert("Content-Length", "0");
    std::string out;
    append_head(out, h);
    EXPECT_EQ(out, "HTTP/1.0 418 Short And Stout\r\nContent-Length: 0\r\n\r\n");
    response_head plain;
    plain.result(http::status::not_found);
    plain.version(11);
    out.clear();
    append_head(out, plain);
    EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\n\r\n");
}

TEST(HttpHeadTest, LastChunkCarriesOnlyTheTrailersAllowedThere) {
    fields f;
    f.insert("Content-Type", "text/plain");  // part of the head: never repeated
    f.insert("X-Digest", "abc");
    f.insert("Content-Length", "5");  // framing: not in a trailer
    f.insert("host", "evil");         // routing: not in a trailer
    f.insert("X-Count", "2");
    std::string out;
    append_last_chunk(out, f, 1);
    EXPECT_EQ(out, "0\r\nX-Digest: abc\r\nX-Count: 2\r\n\r\n");
    out.clear();
    append_last_chunk(out, f, 5);
    EXPECT_EQ(out, "0\r\n\r\n");
}

TEST(HttpHeadTest, ChunkSizeLineIsHex) {
    std::string out;
    append_chunk_size(out, 0x3fa0);
    append_chunk_size(out, 1);
    EXPECT_EQ(out, "3fa0\r\n1\r\n");
}

}  // namespace
}  // namespace sidelight::proxy
