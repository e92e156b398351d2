// The proxy hop against a fake app, through the real binary on 127.0.0.1:0.

#include <gtest/gtest.h>

#include <regex>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

class ProxyTest : public ::testing::Test {
  protected:
    void start(const std::string& extra = "") {
        proc_ = sidelight_process::run(dir_, test_config(app_.port(), extra));
    }
    connection connect() { return connection::connect(proc_->proxy_port()); }

    temp_dir dir_;
    fake_upstream app_;
    std::unique_ptr<sidelight_process> proc_;
};

TEST_F(ProxyTest, ForwardsRequestAndSetsForwardingHeaders) {
    start();
    auto c = connect();
    c.send("GET /api/products/7?x=1 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: t\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "hello\n");
    ASSERT_TRUE(app_.wait_requests(1));
    const auto got = app_.requests().at(0).message;
    EXPECT_EQ(got.start_line, "GET /api/products/7?x=1 HTTP/1.1");
    EXPECT_EQ(got.header("X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(got.header("X-Forwarded-Proto"), "http");
    EXPECT_EQ(got.header("X-Forwarded-Host"), "shop.example");
    EXPECT_EQ(got.header("Host"), "shop.example");
    const auto id = got.header("X-Request-Id");
    EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{32}"))) << id;
    EXPECT_EQ(res->header("X-Request-Id"), id);  // echoed to the client
}

TEST_F(ProxyTest, AppendsToExistingForwardedForAndKeepsSaneRequestId) {
    start();
    auto c = connect();
    c.send(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.9\r\n"
        "X-Request-Id: abc-123_DEF\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    ASSERT_TRUE(app_.wait_requests(1));
    const auto got = app_.requests().at(0).message;
    EXPECT_EQ(got.header("X-Forwarded-For"), "203.0.113.9, 127.0.0.1");
    EXPECT_EQ(got.header("X-Request-Id"), "abc-123_DEF");
    EXPECT_EQ(res->header("X-Request-Id"), "abc-123_DEF");
}

TEST_F(ProxyTest, ClientAddressComesFromForwardedForOnlyBehindATrustedProxy) {
    auto yaml = test_config(app_.port(), "access_log: true\n");
    yaml.insert(yaml.find("  workers: 2\n") + 13, "  trusted_proxies: [127.0.0.0/8]\n");
    proc_ = sidelight_process::run(dir_, yaml);
    auto c = connect();
    c.send("GET /t HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6, 198.51.100.7\r\n\r\n");
    ASSERT_TRUE(c.read_message(true));
    ASSERT_TRUE(app_.wait_requests(1));
    EXPECT_EQ(app_.requests().at(0).message.header("X-Forwarded-For"),
              "6.6.6.6, 198.51.100.7, 127.0.0.1");
    ASSERT_TRUE(eventually([&] { return proc_->stdout_text().find('\n') != std::string::npos; }));
    EXPECT_NE(proc_->stdout_text().find("\"client_ip\":\"198.51.100.7\""), std::string::npos)
        << proc_->stdout_text();
}

// Behind a TLS-terminating ingress (trusted), the app sees the client's scheme and host; the
// same fields from an untrusted client are replaced, and its Forwarded is dropped.
TEST_F(ProxyTest, SchemeAndHostComeFromATrustedProxyOnly) {
    const std::string request =
        "GET /t HTTP/1.1\r\nHost: svc\r\nX-Forwarded-Proto: https\r\n"
        "X-Forwarded-Host: shop.example.com\r\nForwarded: for=203.0.113.7;proto=https\r\n\r\n";
    auto yaml = test_config(app_.port());
    yaml.insert(yaml.find("  workers: 2\n") + 13, "  trusted_proxies: [127.0.0.0/8]\n");
    proc_ = sidelight_process::run(dir_, yaml);
    auto c = connect();
    c.send(request);
    ASSERT_TRUE(c.read_message(true));
    ASSERT_TRUE(app_.wait_requests(1));
    auto got = app_.requests().at(0).message;
    EXPECT_EQ(got.header("X-Forwarded-Proto"), "https");
    EXPECT_EQ(got.header("X-Forwarded-Host"), "shop.example.com");
    EXPECT_EQ(got.header("Forwarded"), "for=203.0.113.7;proto=https");
    proc_.reset();
    start();  // nothing trusted
    auto d = connect();
    d.send(request);
    ASSERT_TRUE(d.read_message(true));
    ASSERT_TRUE(app_.wait_requests(2));
    got = app_.requests().at(1).message;
    EXPECT_EQ(got.header("X-Forwarded-Proto"), "http");
    EXPECT_EQ(got.header("X-Forwarded-Host"), "svc");
    EXPECT_EQ(got.header("Forwarded"), "");
}

TEST_F(ProxyTest, ForwardedForFromAnUntrustedPeerIsNotBelieved) {
    start("access_log: true\n");
    auto c = connect();
    c.send("GET /t HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n");
    ASSERT_TRUE(c.read_message(true));
    ASSERT_TRUE(eventually([&] { return proc_->stdout_text().find('\n') != std::string::npos; }));
    EXPECT_NE(proc_->stdout_text().find("\"client_ip\":\"127.0.0.1\""), std::string::npos)
        << proc_->stdout_text();
}

TEST_F(ProxyTest, ReplacesInsaneRequestId) {
    start();
    const std::string too_long(200, 'a');
    for (const std::string& bad : {too_long, std::string("has space")}) {
        auto c = connect();
        c.send("GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: " + bad + "\r\n\r\n");
        auto res = c.read_message(true);
        ASSERT_TRUE(res);
        EXPECT_NE(res->header("X-Request-Id"), bad);
        EXPECT_TRUE(std::regex_match(res->header("X-Request-Id"), std::regex("[0-9a-f]{32}")));
    }
}

TEST_F(ProxyTest, ReusesUpstreamConnections) {
    start();
    constexpr int requests = 40;
    for (int round = 0; round < 4; ++round) {
        auto c = connect();
        for (int i = 0; i < requests / 4; ++i) {
            c.send("GET /r HTTP/1.1\r\nHost: a\r\n\r\n");
            auto res = c.read_message(true);
            ASSERT_TRUE(res);
            ASSERT_EQ(res->status, 200);
        }
    }
    EXPECT_EQ(app_.request_count(), static_cast<std::size_t>(requests));
    // Two workers, each with its own pool: at most two connections carried the 40 requests.
    EXPECT_LE(app_.request_connections(), 2u);
}

TEST_F(ProxyTest, StripsHopByHopHeadersBothWays) {
    fake_upstream app([](const wire_message&) {
        return fake_reply{simple_response(200, "ok",
                                          "Connection: X-Internal\r\nX-Internal: secret\r\n"
                                          "Keep-Alive: timeout=5\r\nX-Kept: yes\r\n")};
    });
    proc_ = sidelight_process::run(dir_, test_config(app.port()));
    auto c = connect();
    c.send(
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
        "Keep-Alive: 300\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
        "Upgrade: h2c\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nX-End: 1\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    ASSERT_TRUE(app.wait_requests(1));
    const auto got = app.requests().at(0).message;
    for (const char* h : {"Connection", "X-Hop", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade",
                          "Proxy-Authorization"}) {
        EXPECT_EQ(got.header_count(h), 0u) << h;
    }
    EXPECT_EQ(got.header("X-End"), "1");
    EXPECT_EQ(res->header_count("X-Internal"), 0u);
    EXPECT_EQ(res->header_count("Keep-Alive"), 0u);
    EXPECT_EQ(res->header("X-Kept"), "yes");
}

TEST_F(ProxyTest, RelaysChunkedBodiesByteExact) {
    std::string request_body;
    for (int i = 0; i < 3000; ++i) request_body += "line " + std::to_string(i) + "\n";
    fake_upstream app([](const wire_message& m) {
        // Echo the body back chunked, in uneven pieces.
        std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (std::size_t off = 0; off < m.body.size(); off += 7777) {
            const auto piece = m.body.substr(off, 7777);
            char size[16];
            std::snprintf(size, sizeof size, "%zx", piece.size());
            out += std::string(size) + "\r\n" + piece + "\r\n";
        }
        out += "0\r\n\r\n";
        return fake_reply{out};
    });
    proc_ = sidelight_process::run(dir_, test_config(app.port()));
    auto c = connect();
    std::string req = "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (std::size_t off = 0; off < request_body.size(); off += 1000) {
        const auto piece = request_body.substr(off, 1000);
        char size[16];
        std::snprintf(size, sizeof size, "%zX", piece.size());
        req += std::string(size) + "\r\n" + piece + "\r\n";
    }
    req += "0\r\n\r\n";
    c.send(req);
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_TRUE(res->chunked);
    EXPECT_EQ(res->body, request_body);
    ASSERT_TRUE(app.wait_requests(1));
    const auto got = app.requests().at(0).message;
    EXPECT_TRUE(got.chunked);
    EXPECT_EQ(got.header_count("Content-Length"), 0u);
    EXPECT_EQ(got.body, request_body);
}

TEST_F(ProxyTest, StreamsLargeContentLengthBodies) {
    const std::string big(8 * 1024 * 1024 + 13, 'x');
    fake_upstream app([&](const wire_message& m) {
        return fake_reply{simple_response(200, std::to_string(m.body.size()) + "\n" + big)};
    });
    proc_ = sidelight_process::run(dir_, test_config(app.port()));
    auto c = connect();
    c.send("PUT /blob HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(big.size()) +
           "\r\n\r\n" + big);
    auto res = c.read_message(true, false, 30s);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, std::to_string(big.size()) + "\n" + big);
}

TEST_F(ProxyTest, UpstreamUnreachableGives502) {
    std::uint16_t dead_port;
    {
        fake_upstream gone;
        dead_port = gone.port();
    }
    proc_ = sidelight_process::run(dir_, test_config(dead_port));
    auto c = connect();
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    EXPECT_EQ(res->header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(res->body, "Bad Gateway\n");
    // The connection stays usable: the request was complete.
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto again = c.read_message(true);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 502);
}

TEST_F(ProxyTest, SlowUpstreamGives504) {
    fake_upstream app([](const wire_message&) {
        return fake_reply{simple_response(200, "late"), false, 1500ms};
    });
    proc_ =
        sidelight_process::run(dir_,
                               "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n"
                               "upstream:\n  address: 127.0.0.1:" +
                                   std::to_string(app.port()) + "\n  response_timeout: 300ms\n");
    auto c = connect();
    const auto t0 = std::chrono::steady_clock::now();
    c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 504);
    EXPECT_EQ(res->body, "Gateway Timeout\n");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1400ms);  // did not wait for the app
}

TEST_F(ProxyTest, MalformedRequestGets400AndCloseAndNeverReachesApp) {
    start();
    auto c = connect();
    c.send("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_EQ(res->header("Connection"), "close");
    EXPECT_TRUE(c.wait_closed());
    // A good request afterwards on a new connection still works, and only it reached the app.
    auto ok = http_get(proc_->proxy_port(), "/fine");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    ASSERT_TRUE(app_.wait_requests(1));
    EXPECT_EQ(app_.request_count(), 1u);
    EXPECT_EQ(app_.requests().at(0).message.start_line, "GET /fine HTTP/1.1");
}

TEST_F(ProxyTest, Http10ClientsWithAndWithoutKeepAlive) {
    start();
    auto c = connect();
    c.send("GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto first = c.read_message(true);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(first->start_line.substr(0, 8), "HTTP/1.0");
    c.send("GET /two HTTP/1.0\r\n\r\n");
    auto second = c.read_message(true);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->body, "hello\n");
    EXPECT_TRUE(c.wait_closed());
    ASSERT_TRUE(app_.wait_requests(2));
    const auto got = app_.requests().at(0).message;
    EXPECT_EQ(got.start_line, "GET /one HTTP/1.1");
    EXPECT_EQ(got.header("Host"), "127.0.0.1:" + std::to_string(app_.port()));
}

TEST_F(ProxyTest, ChunkedResponseToHttp10ClientIsCloseDelimited) {
    fake_upstream app([](const wire_message&) {
        return fake_reply{
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"};
    });
    proc_ = sidelight_process::run(dir_, test_config(app.port()));
    auto c = connect();
    c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_FALSE(res->chunked);
    EXPECT_EQ(res->body, "hello world");
}

TEST_F(ProxyTest, ExpectContinueIsAnsweredAndBodyForwarded) {
    start();
    auto c = connect();
    c.send("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    auto interim = c.read_message(true);
    ASSERT_TRUE(interim);
    EXPECT_EQ(interim->status, 100);
    c.send("abcde");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    ASSERT_TRUE(app_.wait_requests(1));
    EXPECT_EQ(app_.requests().at(0).message.body, "abcde");
    EXPECT_EQ(app_.requests().at(0).message.header_count("Expect"), 0u);
}

TEST_F(ProxyTest, AppClosingMidResponseAbortsTheClientConnection) {
    fake_upstream app([](const wire_message&) {
        return fake_reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", true};
    });
    proc_ = sidelight_process::run(dir_, test_config(app.port()));
    auto c = connect();
    c.send("GET /cut HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_FALSE(c.read_message(true));  // never a response that looks complete
    EXPECT_TRUE(c.wait_closed());
}

TEST_F(ProxyTest, StaleKeepAliveConnectionIsRetriedOnceForIdempotentRequests) {
    // The app answers the first request on each connection, then drops the connection when
    // the next one arrives: the keep-alive race a pooled connection can lose.
    fake_upstream app([](const wire_message&, int nth) {
        if (nth == 1) return fake_reply{simple_response(200, "fresh")};
        return fake_reply{"", true};
    });
    proc_ = sidelight_process::run(dir_, test_config(app.port()));
    auto c = connect();
    c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(c.read_message(true)->status, 200);
    c.send("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "fresh");
    // GET /2 reached the app twice: on the stale connection, then on a fresh one.
    ASSERT_TRUE(app.wait_requests(3));
    EXPECT_EQ(app.requests().at(2).message.start_line, "GET /2 HTTP/1.1");

    // A POST is not retried: the client gets 502 and the app saw it once.
    c.send("POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
    auto post = c.read_message(true);
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 502);
    std::size_t posts = 0;
    for (const auto& r : app.requests()) posts += r.message.start_line == "POST /3 HTTP/1.1";
    EXPECT_EQ(posts, 1u);
}

// h2c is not tunnelled (RFC 9113 3.1 deprecates it; the HTTP/2 requests inside would pass
// unseen): the app gets a plain HTTP/1.1 request, without the Upgrade field.
TEST_F(ProxyTest, AnH2cUpgradeIsForwardedAsPlainHttp11) {
    fake_upstream app;
    proc_ = sidelight_process::run(dir_, test_config(app.port()));
    auto c = connect();
    c.send(
        "GET /h2 HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: "
        "H2C\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    ASSERT_TRUE(app.wait_requests(1));
    const auto got = app.requests().at(0).message;
    EXPECT_EQ(got.header_count("Upgrade"), 0u);
    EXPECT_EQ(got.header_count("HTTP2-Settings"), 0u);
    c.send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n");  // still HTTP/1.1 on this connection
    ASSERT_TRUE(c.read_message(true));
    EXPECT_TRUE(app.wait_requests(2));
}

TEST_F(ProxyTest, HeadRequestGetsHeadersOnly) {
    fake_upstream app([](const wire_message&) {
        return fake_reply{"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"};
    });
    proc_ = sidelight_process::run(dir_, test_config(app.port()));
    auto c = connect();
    c.send("HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n");
    auto res = c.read_message(true, true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->header("Content-Length"), "1234");
    c.send("GET /h2 HTTP/1.1\r\nHost: a\r\n\r\n");  // the connection is still in sync
    ASSERT_TRUE(app.wait_requests(2));
}

}  // namespace
}  // namespace sidelight::test
