// The strict response parser: framing by length, chunks and close, split anywhere; refusals.
#include "loadtest/response_parser.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace sidelight::loadtest {
namespace {

// Feeds `bytes` in pieces of `step`; returns how many bytes were consumed in all.
std::size_t feed_in_steps(response_parser& p, const std::string& bytes, std::size_t step) {
    std::size_t used = 0;
    while (used < bytes.size() && !p.done() && !p.failed()) {
        const auto n = std::min(step, bytes.size() - used);
        used += p.feed(bytes.data() + used, n);
    }
    return used;
}

TEST(ResponseParser, ContentLengthAnySplit) {
    const std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhelloEXTRA";
    for (std::size_t step : {1, 2, 3, 7, 100}) {
        response_parser p;
        p.reset();
        EXPECT_EQ(feed_in_steps(p, r, step), r.size() - 5) << step;
        EXPECT_TRUE(p.done());
        EXPECT_EQ(p.status(), 200);
        EXPECT_TRUE(p.keep_alive());
    }
}

TEST(ResponseParser, ChunkedWithExtensionsAndTrailers) {
    const std::string r =
        "HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\n";
    for (std::size_t step : {1, 4, 1000}) {
        response_parser p;
        p.reset();
        EXPECT_EQ(feed_in_steps(p, r, step), r.size()) << step;
        EXPECT_TRUE(p.done());
        EXPECT_EQ(p.status(), 500);
    }
}

TEST(ResponseParser, UntilCloseAndNoBodyCases) {
    response_parser p;
    p.reset();
    const std::string r = "HTTP/1.1 200 OK\r\n\r\nbody";
    p.feed(r.data(), r.size());
    EXPECT_FALSE(p.done());
    EXPECT_TRUE(p.on_eof());
    EXPECT_FALSE(p.keep_alive());

    for (const char* no_body : {"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 NM\r\n\r\n"}) {
        p.reset();
        p.feed(no_body, std::strlen(no_body));
        EXPECT_TRUE(p.done()) << no_body;
    }
    p.reset(true);  // HEAD
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
    p.feed(head.data(), head.size());
    EXPECT_TRUE(p.done());
}

TEST(ResponseParser, InterimResponseIsSkippedAndCloseIsSeen) {
    response_parser p;
    p.reset();
    const std::string r =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nConnection: close\r\n"
        "Content-Length: 0\r\n\r\n";
    EXPECT_EQ(p.feed(r.data(), r.size()), r.size());
    EXPECT_TRUE(p.done());
    EXPECT_EQ(p.status(), 201);
    EXPECT_FALSE(p.keep_alive());
}

TEST(ResponseParser, EofBeforeTheEndIsNotAResponse) {
    response_parser p;
    p.reset();
    const std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    p.feed(r.data(), r.size());
    EXPECT_FALSE(p.on_eof());
}

TEST(ResponseParser, RefusesMalformedResponses) {
    for (const char* bad : {
             "HTTP/2 200 OK\r\n\r\n",
             "HTTP/1.1 20 OK\r\n\r\n",
             "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
             "HTTP/1.1 200 OK\r\nBad Header: 1\r\n\r\n",
             "HTTP/1.1 200 OK\r\n folded\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
         }) {
        response_parser p;
        p.reset();
        p.feed(bad, std::strlen(bad));
        EXPECT_TRUE(p.failed()) << bad;
    }
}

TEST(ResponseParser, RefusesAHeadOver64KiB) {
    response_parser p;
    p.reset();
    const std::string r = "HTTP/1.1 200 OK\r\nX: " + std::string(70'000, 'a');
    feed_in_steps(p, r, 4096);
    EXPECT_TRUE(p.failed());
}

}  // namespace
}  // namespace sidelight::loadtest
