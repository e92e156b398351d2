#include "proxy/header_rewrite.hpp"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "proxy/http_head.hpp"

namespace sidelight::proxy {
namespace {

using request_parser = http::request_parser<http::buffer_body, field_allocator<char>>;

// The head the proxy writes to the app for the request head `raw`, coming from `peer`.
std::string forwarded_head(std::string_view raw, std::string_view peer, std::string& id,
                           bool trusted_peer = false) {
    request_parser p;
    boost::beast::error_code ec;
    p.put(boost::asio::buffer(raw.data(), raw.size()), ec);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(p.is_header_done());
    request_origin origin;
    EXPECT_TRUE(strip_request(p.get(), origin));
    choose_request_id(origin, id);
    std::string extra;
    append_forwarded(extra, origin, peer, id, "app:3000", trusted_peer);
    std::string out;
    append_head(out, p.get().base(), extra);
    return out;
}

std::size_t count(std::string_view text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

std::vector<std::string> names(const fields& f) {
    std::vector<std::string> out;
    for (const auto& field : f) out.emplace_back(field.name_string());
    return out;
}

TEST(HeaderRewriteTest, ResponseLosesHopByHopConnectionNamedFieldsAndTheAppsRequestId) {
    fields f;
    f.set("Connection", "keep-alive, X-Internal");
    f.insert("Connection", "Upgrade");
    f.set("X-Internal", "secret");
    f.set("Keep-Alive", "timeout=5");
    f.set("Proxy-Connection", "keep-alive");
    f.set("TE", "trailers");
    f.set("Trailer", "X-Sum");
    f.set("Transfer-Encoding", "chunked");
    f.set("Upgrade", "websocket");
    f.set("Proxy-Authorization", "Basic x");
    f.set("Proxy-Authenticate", "Basic");
    f.set("X-Kept", "1");
    f.insert("x-request-id", "from-the-app");
    f.set("Authorization", "Bearer t");
    std::string named;
    EXPECT_TRUE(strip_response(f, named));
    EXPECT_EQ(names(f), (std::vector<std::string>{"X-Kept", "Authorization"}));
}

// A Connection option naming a field sidelight reads is refused, and nothing is erased for it:
// `Connection: Content-Length` would otherwise forward a body whose length the app never sees.
TEST(HeaderRewriteTest, ConnectionNamingAProtectedFieldIsRefusedBothWays) {
    for (const char* option : {"Content-Length", "content-length", "keep-alive, Content-Length",
                               "close, Content-Length", "Content-Length, Transfer-Encoding",
                               "Transfer-Encoding", "Host", "X-Request-Id", "Authorization"}) {
        fields f;
        f.set("Connection", option);
        f.set("Content-Length", "5");
        f.set("Host", "a");
        std::string named;
        EXPECT_FALSE(strip_response(f, named)) << option;
        EXPECT_EQ(f.count("Content-Length"), 1u) << option;
        request_origin origin;
        fields r;
        r.set("Connection", option);
        r.set("Content-Length", "5");
        EXPECT_FALSE(strip_request(r, origin)) << option;
        EXPECT_EQ(r.count("Content-Length"), 1u) << option;
    }
}

TEST(HeaderRewriteTest, ForwardedHeadersReplaceWhatTheClientSent) {
    std::string id;
    const auto out = forwarded_head(
        "GET /a HTTP/1.1\r\nHost: shop.example:8080\r\nX-Forwarded-Proto: https\r\n"
        "X-Forwarded-Host: evil\r\nx-forwarded-proto: ftp\r\nAccept: */*\r\n\r\n",
        "10.1.2.3", id);
    EXPECT_EQ(out,
              "GET /a HTTP/1.1\r\nHost: shop.example:8080\r\nAccept: */*\r\n"
              "X-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: http\r\n"
              "X-Forwarded-Host: shop.example:8080\r\nX-Request-Id: " +
                  id + "\r\n\r\n");
    EXPECT_EQ(id.size(), 32u);
}

// Behind a TLS-terminating ingress (a trusted proxy), the app learns the client's scheme and
// host from it; the same fields from anyone else are the client's claims and are replaced, and
// a client's Forwarded never reaches the app.
TEST(HeaderRewriteTest, ATrustedProxysSchemeHostAndForwardedArePassedOn) {
    const std::string raw =
        "GET /a HTTP/1.1\r\nHost: svc:8080\r\nX-Forwarded-Proto: https\r\n"
        "X-Forwarded-Host: evil.example, shop.example.com\r\n"
        "Forwarded: for=6.6.6.6;host=evil.example, for=203.0.113.7;proto=https\r\n"
        "Accept: */*\r\n\r\n";
    std::string id;
    const auto trusted = forwarded_head(raw, "10.1.2.3", id, true);
    EXPECT_EQ(trusted,
              "GET /a HTTP/1.1\r\nHost: svc:8080\r\nAccept: */*\r\n"
              "X-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: https\r\n"
              "X-Forwarded-Host: shop.example.com\r\nForwarded: for=203.0.113.7;proto=https\r\n"
              "X-Request-Id: " +
                  id + "\r\n\r\n");
    const auto untrusted = forwarded_head(raw, "10.1.2.3", id, false);
    EXPECT_EQ(untrusted,
              "GET /a HTTP/1.1\r\nHost: svc:8080\r\nAccept: */*\r\n"
              "X-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: http\r\n"
              "X-Forwarded-Host: svc:8080\r\nX-Request-Id: " +
                  id + "\r\n\r\n");
    // Two lines: the last is the ingress's own.
    const auto lines = forwarded_head(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Host: shop\r\n\r\n",
        "10.1.2.3", id, true);
    EXPECT_NE(lines.find("\r\nX-Forwarded-Host: shop\r\n"), std::string::npos) << lines;
    // Only http or https is believed.
    const auto odd = forwarded_head("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: ftp\r\n\r\n",
                                    "10.1.2.3", id, true);
    EXPECT_NE(odd.find("\r\nX-Forwarded-Proto: http\r\n"), std::string::npos) << odd;
}

TEST(HeaderRewriteTest, ForwardedForJoinsSeveralLinesAndHostDefaults) {
    std::string id;
    // HTTP/1.0 without Host: the upstream's address is sent, and no X-Forwarded-Host.
    const auto out = forwarded_head(
        "GET / HTTP/1.0\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For:  2.2.2.2 \r\n\r\n", "::1",
        id);
    EXPECT_EQ(count(out, "X-Forwarded-For:"), 1u) << out;
    EXPECT_NE(out.find("\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, ::1\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\nHost: app:3000\r\n"), std::string::npos) << out;
    EXPECT_EQ(count(out, "X-Forwarded-Host"), 0u) << out;
}

TEST(HeaderRewriteTest, RequestIdKeptOrReplaced) {
    std::string id;
    auto out =
        forwarded_head("GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc\r\n\r\n", "1.2.3.4", id);
    EXPECT_EQ(id, "abc");
    EXPECT_EQ(count(out, "X-Request-Id: abc\r\n"), 1u) << out;

    out = forwarded_head("GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: a\r\nX-Request-Id: b\r\n\r\n",
                         "1.2.3.4", id);
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(count(out, "X-Request-Id:"), 1u) << out;
    EXPECT_NE(out.find("X-Request-Id: " + id + "\r\n"), std::string::npos) << out;

    out = forwarded_head("GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: has space\r\n\r\n", "1.2.3.4",
                         id);
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(count(out, "has space"), 0u) << out;

    out = forwarded_head("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "1.2.3.4", id);
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(count(out, "X-Request-Id: " + id + "\r\n"), 1u) << out;
}

TEST(HeaderRewriteTest, ExpectAndHopByHopAreNotForwardedButHostIsKept) {
    std::string id;
    const auto out = forwarded_head(
        "POST /u HTTP/1.1\r\nHost: shop\r\nExpect: 100-continue\r\nContent-Length: 3\r\n"
        "Connection: TE, X-Secret\r\nX-Secret: s\r\nTE: trailers\r\n\r\n",
        "1.2.3.4", id);
    EXPECT_EQ(count(out, "Expect"), 0u) << out;
    EXPECT_EQ(count(out, "X-Secret"), 0u) << out;
    EXPECT_EQ(count(out, "TE:"), 0u) << out;
    EXPECT_EQ(count(out, "Connection"), 0u) << out;
    EXPECT_NE(out.find("\r\nHost: shop\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\nX-Forwarded-Host: shop\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\nContent-Length: 3\r\n"), std::string::npos) << out;
}

// What the session decides from after the strip is in `origin`: Expect and Upgrade, which the
// strip removes, and the User-Agent, which it keeps.
TEST(HeaderRewriteTest, TheStripKeepsExpectUpgradeAndUserAgentInTheOrigin) {
    const std::string raw =
        "GET /ws HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8\r\nUpgrade: websocket\r\n"
        "Connection: keep-alive, Upgrade\r\nExpect: 100-continue\r\n\r\n";
    request_parser p;
    boost::beast::error_code ec;
    p.put(boost::asio::buffer(raw.data(), raw.size()), ec);
    ASSERT_FALSE(ec) << ec.message();
    request_origin origin;
    EXPECT_TRUE(strip_request(p.get(), origin));
    EXPECT_EQ(origin.expect, "100-continue");
    EXPECT_EQ(origin.upgrade, "websocket");
    EXPECT_EQ(origin.user_agent, "curl/8");
    EXPECT_EQ(names(p.get()), (std::vector<std::string>{"Host", "User-Agent"}));
    EXPECT_TRUE(
        strip_request(p.get(), origin));  // a second request on the same origin starts clean
    EXPECT_EQ(origin.expect, "");
    EXPECT_EQ(origin.upgrade, "");
    EXPECT_EQ(origin.connection_options, "");
}

}  // namespace
}  // namespace sidelight::proxy

namespace sidelight::proxy {
namespace {

// An egress listener's rewrite: the app's fields stay as they are (its own X-Request-Id and
// X-Forwarded-* included), its Host gives way to the upstream's, hop-by-hop fields go.
TEST(HeaderRewriteTest, TransparentKeepsTheRequestsOwnFieldsAndReplacesHost) {
    const std::string raw =
        "POST /v3/mail/send HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nX-Request-Id: app-1\r\n"
        "X-Forwarded-For: 10.0.0.1\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
        "Authorization: Bearer t\r\nContent-Length: 2\r\n\r\n";
    request_parser p;
    boost::beast::error_code ec;
    p.put(boost::asio::buffer(raw.data(), raw.size()), ec);
    ASSERT_TRUE(p.is_header_done());
    request_origin origin;
    ASSERT_TRUE(strip_request(p.get(), origin, rewrite_mode::transparent));
    EXPECT_EQ(origin.request_id, "app-1");  // read for the record, left in place
    EXPECT_TRUE(origin.has_host);
    EXPECT_TRUE(origin.host.empty());
    std::string extra;
    append_host(extra, "mail.test");
    std::string out;
    append_head(out, p.get().base(), extra);
    EXPECT_EQ(out,
              "POST /v3/mail/send HTTP/1.1\r\nX-Request-Id: app-1\r\nX-Forwarded-For: 10.0.0.1\r\n"
              "Authorization: Bearer t\r\nContent-Length: 2\r\nHost: mail.test\r\n\r\n");
}

TEST(HeaderRewriteTest, TransparentKeepsTheResponsesRequestId) {
    fields f;
    f.insert("X-Request-Id", "api-9");
    f.insert(http::field::connection, "close");
    std::string named;
    EXPECT_TRUE(strip_response(f, named, rewrite_mode::transparent));
    EXPECT_EQ(names(f), std::vector<std::string>{"X-Request-Id"});
}

}  // namespace
}  // namespace sidelight::proxy
