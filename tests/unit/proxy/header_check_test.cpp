#include "proxy/header_check.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sidelight::proxy {
namespace {

struct head_case {
    const char* name;
    std::string head;
    head_verdict expected;
};

class HeadCheckTest : public ::testing::TestWithParam<head_case> {};

TEST_P(HeadCheckTest, Verdict) {
    const auto& c = GetParam();
    const auto r = check_request_head(c.head, head_limits{64, 4});
    EXPECT_EQ(r.verdict, c.expected) << c.name << ": " << r.reason;
}

const std::string ok_line = "GET / HTTP/1.1\r\n";

INSTANTIATE_TEST_SUITE_P(
    Table, HeadCheckTest,
    ::testing::Values(
        head_case{"plain", ok_line + "Host: a\r\n\r\n", head_verdict::ok},
        head_case{"http10", "GET / HTTP/1.0\r\n\r\n", head_verdict::ok},
        head_case{"content length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
                  head_verdict::ok},
        head_case{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                  head_verdict::ok},
        head_case{"chunked any case",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
                  head_verdict::ok},
        head_case{"tab in value", ok_line + "Host: a\r\nX: a\tb\r\n\r\n", head_verdict::ok},
        head_case{"cl and te",
                  "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"te and cl",
                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"two cl equal",
                  "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"two cl differ",
                  "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"cl list", "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"cl sign", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"cl hex", "POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"cl empty", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
                  head_verdict::bad_request},
        head_case{"cl huge", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"te gzip chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"te chunked gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"te identity", "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
                  head_verdict::bad_request},
        head_case{
            "te twice",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            head_verdict::bad_request},
        head_case{"te chunked-false", "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"te in http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"obs fold", ok_line + "X: a\r\n b\r\n\r\n", head_verdict::bad_request},
        head_case{"obs fold tab", ok_line + "X: a\r\n\tb\r\n\r\n", head_verdict::bad_request},
        head_case{"space before colon", ok_line + "Content-Length : 5\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"tab before colon", ok_line + "Host\t: a\r\n\r\n", head_verdict::bad_request},
        head_case{"nul in value", ok_line + std::string("X: a\0b\r\n\r\n", 10),
                  head_verdict::bad_request},
        head_case{"bare cr", ok_line + "X: a\rb\r\n\r\n", head_verdict::bad_request},
        head_case{"bare lf", ok_line + "X: a\nb\r\n\r\n", head_verdict::bad_request},
        head_case{"lf only line ends", "GET / HTTP/1.1\nHost: a\n\n", head_verdict::bad_request},
        head_case{"bad method", "G(T / HTTP/1.1\r\n\r\n", head_verdict::bad_request},
        head_case{"empty method", " / HTTP/1.1\r\n\r\n", head_verdict::bad_request},
        head_case{"two spaces", "GET  / HTTP/1.1\r\n\r\n", head_verdict::bad_request},
        head_case{"bad version", "GET / HTTP/2.0\r\n\r\n", head_verdict::bad_request},
        head_case{"lower version", "GET / http/1.1\r\n\r\n", head_verdict::bad_request},
        head_case{"no version", "GET /\r\n\r\n", head_verdict::bad_request},
        head_case{"control in target", "GET /a\x01 HTTP/1.1\r\n\r\n", head_verdict::bad_request},
        head_case{"del in target", "GET /a\x7f HTTP/1.1\r\n\r\n", head_verdict::bad_request},
        head_case{"no colon", ok_line + "Host a\r\n\r\n", head_verdict::bad_request},
        head_case{"empty name", ok_line + ": a\r\n\r\n", head_verdict::bad_request},
        head_case{"ctl in value", ok_line + "X: a\x1b[31m\r\n\r\n", head_verdict::bad_request},
        head_case{"url too long", "GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n",
                  head_verdict::uri_too_long},
        head_case{"too many fields", ok_line + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
                  head_verdict::header_too_large},
        // Request targets (RFC 9112 3.2) and methods.
        head_case{"fragment", "GET /a#b HTTP/1.1\r\n\r\n", head_verdict::bad_request},
        head_case{"no leading slash", "GET a/b HTTP/1.1\r\n\r\n", head_verdict::bad_request},
        head_case{"authority form", "GET shop:80 HTTP/1.1\r\n\r\n", head_verdict::bad_request},
        head_case{"absolute form", "GET http://shop/a HTTP/1.1\r\nHost: shop\r\n\r\n",
                  head_verdict::ok},
        head_case{"absolute https", "GET HTTPS://shop/a HTTP/1.1\r\nHost: shop\r\n\r\n",
                  head_verdict::ok},
        head_case{"other scheme", "GET ftp://shop/a HTTP/1.1\r\n\r\n", head_verdict::bad_request},
        head_case{"asterisk options", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", head_verdict::ok},
        head_case{"asterisk get", "GET * HTTP/1.1\r\n\r\n", head_verdict::bad_request},
        head_case{"connect", "CONNECT shop:443 HTTP/1.1\r\n\r\n", head_verdict::not_allowed},
        // Host: one, and a plain authority.
        head_case{"no host", ok_line + "X: a\r\n\r\n", head_verdict::bad_request},
        head_case{"no host absolute form", "GET http://shop/a HTTP/1.1\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"empty host", ok_line + "Host:\r\n\r\n", head_verdict::ok},
        head_case{"two hosts", ok_line + "Host: a\r\nHost: a\r\n\r\n", head_verdict::bad_request},
        head_case{"host userinfo", ok_line + "Host: u@a\r\n\r\n", head_verdict::bad_request},
        head_case{"host slash", ok_line + "Host: a/b\r\n\r\n", head_verdict::bad_request},
        head_case{"host port ipv6", ok_line + "Host: [::1]:8080\r\n\r\n", head_verdict::ok},
        // Connection options: tokens, never a field sidelight reads.
        head_case{"connection content-length", ok_line + "Connection: Content-Length\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"connection cl lower", ok_line + "Connection: keep-alive, content-length\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"connection te", ok_line + "Connection: close, Transfer-Encoding\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"connection host", ok_line + "Connection: Host\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"connection request id", ok_line + "Connection: X-Request-Id\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"connection not a token", ok_line + "Connection: a b\r\n\r\n",
                  head_verdict::bad_request},
        head_case{"connection custom",
                  ok_line + "Host: a\r\nConnection: keep-alive, X-Hop, TE\r\n\r\n",
                  head_verdict::ok}),
    [](const auto& info) {
        std::string n = info.param.name;
        for (auto& ch : n) {
            if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        }
        return n;
    });

TEST(TokenTest, Tokens) {
    EXPECT_TRUE(is_token("GET"));
    EXPECT_TRUE(is_token("X-Custom_1.2~"));
    EXPECT_FALSE(is_token(""));
    EXPECT_FALSE(is_token("a b"));
    EXPECT_FALSE(is_token("a:b"));
    EXPECT_FALSE(is_token("caf\xc3\xa9"));
}

}  // namespace
}  // namespace sidelight::proxy
