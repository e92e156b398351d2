// HTTP semantics and timeouts through the real binary: pipelining, bodiless statuses,
// close-delimited responses, and the upstream-side timeouts.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

TEST(SemanticsTest, PipelinedRequestsAreAnsweredInOrder) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        const auto from = m.start_line.find(' ') + 1;
        const auto path = m.start_line.substr(from, m.start_line.find(' ', from) - from);
        // The first answer is the slowest: order must still hold.
        return fake_reply{simple_response(200, path), false, path == "/1" ? 200ms : 0ms};
    });
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send(
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /4 HTTP/1.1\r\n"
        "Host: a\r\n\r\n");
    for (const char* expected : {"/1", "/2", "/3", "/4"}) {
        auto res = c.read_message(true);
        ASSERT_TRUE(res) << expected;
        EXPECT_EQ(res->body, expected) << res->raw_head;
    }
    ASSERT_TRUE(app.wait_requests(4));
    EXPECT_EQ(app.requests().at(2).message.body, "abc");
}

TEST(SemanticsTest, BodilessStatusesAndCloseDelimitedResponses) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        if (m.start_line.starts_with("GET /204"))
            return fake_reply{"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"};
        if (m.start_line.starts_with("GET /304"))
            return fake_reply{"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n"};
        // No Content-Length, no chunking: the body ends when the app closes.
        return fake_reply{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close", true};
    });
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /204 HTTP/1.1\r\nHost: a\r\n\r\n");
    auto r204 = c.read_message(true);
    ASSERT_TRUE(r204);
    EXPECT_EQ(r204->status, 204);
    EXPECT_EQ(r204->header("X-A"), "1");
    c.send("GET /304 HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"v1\"\r\n\r\n");
    auto r304 = c.read_message(true);
    ASSERT_TRUE(r304);
    EXPECT_EQ(r304->status, 304);
    c.send("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
    auto streamed = c.read_message(true);
    ASSERT_TRUE(streamed);
    EXPECT_TRUE(streamed->chunked);  // re-framed for an HTTP/1.1 client, connection kept
    EXPECT_EQ(streamed->body, "until close");
    c.send("GET /204 HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(c.read_message(true)->status, 204);
}

// A 204 or 304 that came with Transfer-Encoding: chunked has no body: the client gets none (a
// stray "0\r\n\r\n" would be read as the start of the next response on the connection).
TEST(SemanticsTest, ABodilessStatusWithChunkedFramingGetsNoBody) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        if (m.start_line.starts_with("GET /204"))
            return fake_reply{"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"};
        if (m.start_line.starts_with("GET /304"))
            return fake_reply{"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"};
        return fake_reply{simple_response(200, "next")};
    });
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    auto c = connection::connect(proc->proxy_port());
    for (const char* path : {"/204", "/304"}) {
        c.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
        auto bodiless = c.read_message(true);
        ASSERT_TRUE(bodiless) << path;
        EXPECT_EQ(bodiless->header("Transfer-Encoding"), "") << bodiless->raw_head;
        c.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        auto next = c.read_message(true);
        ASSERT_TRUE(next) << path;
        EXPECT_EQ(next->status, 200) << path << ": " << next->raw_head;
        EXPECT_EQ(next->body, "next");
    }
}

// What went wrong with the app's answer is counted as what it was: a response body that
// stalls past body_idle_timeout is a timeout, a head the parser refuses a bad response.
TEST(SemanticsTest, AStalledBodyIsATimeoutAndABadHeadABadResponse) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        if (m.start_line.starts_with("GET /stall"))  // 2 of 10 bytes, then nothing
            return fake_reply{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", false};
        return fake_reply{"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"};
    });
    auto proc = sidelight_process::run(
        dir, test_config(app.port(), "limits:\n  body_idle_timeout: 300ms\n"));
    {
        auto c = connection::connect(proc->proxy_port());
        c.send("GET /stall HTTP/1.1\r\nHost: a\r\n\r\n");
        EXPECT_TRUE(c.wait_closed(5s));  // aborted: the body never looks complete
    }
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /bad HTTP/1.1\r\nHost: a\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    std::string m;
    EXPECT_TRUE(eventually([&] {
        m = scrape_metrics(proc->admin_port());
        return sample_value(m,
                            "api_error_total{error_type=\"upstream_timeout\",method=\"GET\","
                            "route=\"unmatched\"}") == 1 &&
               sample_value(m,
                            "api_error_total{error_type=\"upstream_bad_response\","
                            "method=\"GET\",route=\"unmatched\"}") == 1;
    })) << m;
    EXPECT_LT(sample_value(m,
                           "api_error_total{error_type=\"upstream_reset\",method=\"GET\","
                           "route=\"unmatched\"}"),
              1);  // absent (-1) or 0
}

// idle_timeout: 0 closes an upstream connection when its exchange ends; the pool's sweep does
// not spin on a zero-length timer (it took a core while idle).
TEST(SemanticsTest, AZeroIdleTimeoutPoolsNothingAndDoesNotSpin) {
    temp_dir dir;
    fake_upstream app([](const wire_message&) { return fake_reply{simple_response(200, "ok")}; });
    auto yaml = test_config(app.port());
    const std::string after = "  response_timeout: 2s\n";
    yaml.insert(yaml.find(after) + after.size(), "  idle_timeout: 0s\n");
    auto proc = sidelight_process::run(dir, yaml);
    auto c = connection::connect(proc->proxy_port());
    for (int i = 0; i < 2; ++i) {
        c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        ASSERT_TRUE(c.read_message(true));
    }
    EXPECT_EQ(app.request_connections(), 2u);  // a new upstream connection per request
    auto cpu_seconds = [&] {
        std::ifstream stat("/proc/" + std::to_string(proc->pid()) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), {});
        std::istringstream fields(text.substr(text.rfind(')') + 2));
        std::string f;
        long ticks = 0;
        for (int i = 3; i <= 15 && fields >> f; ++i)
            if (i == 14 || i == 15) ticks += std::stol(f);
        return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
    };
    const auto before = cpu_seconds();
    std::this_thread::sleep_for(2s);
    EXPECT_LT(cpu_seconds() - before, 1.0) << "sidelight spun while idle";
}

// Trailers of a chunked body cross the proxy in both directions; fields that may not be
// trailers (framing, routing) do not. An HTTP/1.0 client gets the body close-delimited, without the
// trailers.
TEST(SemanticsTest, ChunkedTrailersAreForwarded) {
    temp_dir dir;
    fake_upstream app([](const wire_message&) {
        return fake_reply{
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Digest\r\n\r\n"
            "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Digest: sha-256=abc\r\n"
            "Host: evil\r\n\r\n"};
    });
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send(
        "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\nX-Checksum: 42\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body, "hello world");
    EXPECT_TRUE(res->chunked);
    ASSERT_EQ(res->trailers.size(), 1u) << res->raw_head;
    EXPECT_EQ(res->trailers[0].first, "X-Digest");
    EXPECT_EQ(res->trailers[0].second, "sha-256=abc");
    ASSERT_TRUE(app.wait_requests(1));
    const auto seen = app.requests();
    const auto& up = seen.at(0).message;
    EXPECT_EQ(up.body, "abc");
    EXPECT_TRUE(up.chunked);
    ASSERT_EQ(up.trailers.size(), 1u);
    EXPECT_EQ(up.trailers[0].first, "X-Checksum");
    EXPECT_EQ(up.trailers[0].second, "42");
    // The connection is still in step: a second exchange works.
    c.send("GET /again HTTP/1.1\r\nHost: a\r\n\r\n");
    auto again = c.read_message(true);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->body, "hello world");

    auto old = connection::connect(proc->proxy_port());
    old.send("GET /old HTTP/1.0\r\nHost: a\r\n\r\n");
    auto res10 = old.read_message(true);
    ASSERT_TRUE(res10);
    EXPECT_FALSE(res10->chunked);
    EXPECT_EQ(res10->body, "hello world");  // close-delimited, trailers dropped

    // Framing in a request's trailer is refused: 400, and the connection is closed.
    auto bad = connection::connect(proc->proxy_port());
    bad.send(
        "POST /bad HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\nContent-Length: 3\r\n\r\n");
    auto refused = bad.read_message(true);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400);
    EXPECT_TRUE(bad.wait_closed(2s));
}

// Socket.IO's transport before its upgrade: an HTTP long-poll that the app holds open while
// the client sends on another connection. The held poll must not delay the send, must not be
// taken for a client that left (the slow-exchange watch arms after 100 ms), and comes back
// whole. (The upgrade that follows is in websocket_test.cpp.)
TEST(SemanticsTest, SocketIoLongPollIsHeldWhileTheClientSends) {
    temp_dir dir;
    fake_upstream app([](const wire_message& m) {
        if (m.start_line.starts_with("GET /socket.io/?EIO=4&transport=polling&sid=s1 "))
            return fake_reply{simple_response(200, "2"), false, 1500ms};  // a ping, held
        if (m.start_line.starts_with("POST /socket.io/"))
            return fake_reply{simple_response(200, "ok")};
        return fake_reply{
            simple_response(200, R"(0{"sid":"s1","upgrades":["websocket"],"pingInterval":25000})")};
    });
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    auto open = http_get(proc->proxy_port(), "/socket.io/?EIO=4&transport=polling");
    ASSERT_TRUE(open);
    EXPECT_TRUE(open->body.starts_with("0{\"sid\":\"s1\"")) << open->body;
    auto poll = connection::connect(proc->proxy_port());
    poll.send("GET /socket.io/?EIO=4&transport=polling&sid=s1 HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(app.wait_requests(2));  // the app now holds the poll
    const std::string message = R"(42["chat","hello"])";
    auto send = connection::connect(proc->proxy_port());
    send.send(
        "POST /socket.io/?EIO=4&transport=polling&sid=s1 HTTP/1.1\r\nHost: a\r\n"
        "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: " +
        std::to_string(message.size()) + "\r\n\r\n" + message);
    auto sent = send.read_message(true, false, 1s);  // well before the held poll returns
    ASSERT_TRUE(sent);
    EXPECT_EQ(sent->body, "ok");
    auto polled = poll.read_message(true, false, 5s);
    ASSERT_TRUE(polled);
    EXPECT_EQ(polled->status, 200);
    EXPECT_EQ(polled->body, "2");
    bool delivered = false;
    for (const auto& r : app.requests())
        delivered =
            delivered || (r.message.start_line.starts_with("POST") && r.message.body == message);
    EXPECT_TRUE(delivered);
}

// An upstream that never completes a TCP handshake: a listener whose accept queue is full.
class black_hole {
  public:
    black_hole() : fd_(listen_loopback(0, port_)) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port_);
        // Non-blocking connects: the first fills the one-slot accept queue, later SYNs are
        // dropped (a blocking connect would wait for the kernel's SYN retries).
        for (int i = 0; i < 3; ++i) {
            const int f = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            ::connect(f, reinterpret_cast<sockaddr*>(&a), sizeof a);
            fillers_.push_back(f);
        }
    }
    ~black_hole() {
        for (int f : fillers_) ::close(f);
        ::close(fd_);
    }
    std::uint16_t port() const { return port_; }

  private:
    std::uint16_t port_ = 0;
    int fd_;
    std::vector<int> fillers_;
};

TEST(SemanticsTest, UpstreamConnectTimeoutGives502) {
    temp_dir dir;
    black_hole hole;
    auto proc = sidelight_process::run(dir, test_config(hole.port()));  // connect_timeout 500ms
    auto c = connection::connect(proc->proxy_port());
    const auto t0 = std::chrono::steady_clock::now();
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto res = c.read_message(true, false, 5s);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 502);
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(waited, 400ms);
    EXPECT_LT(waited, 3s);
}

TEST(SemanticsTest, StalledResponseBodyAbortsTheClientAfterBodyIdleTimeout) {
    temp_dir dir;
    fake_upstream app([](const wire_message&) {
        return fake_reply{"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst bytes"};
    });
    auto proc = sidelight_process::run(
        dir, test_config(app.port(), "limits:\n  body_idle_timeout: 300ms\n"));
    auto c = connection::connect(proc->proxy_port());
    const auto t0 = std::chrono::steady_clock::now();
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_FALSE(c.read_message(true, false, 5s));  // incomplete: never looks complete
    EXPECT_TRUE(c.wait_closed(5s));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
}

TEST(SemanticsTest, StalledRequestBodyIsDroppedAfterBodyIdleTimeout) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir, test_config(app.port(), "limits:\n  body_idle_timeout: 300ms\n"));
    auto c = connection::connect(proc->proxy_port());
    const auto t0 = std::chrono::steady_clock::now();
    c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npartial");
    EXPECT_TRUE(c.wait_closed(5s));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
    EXPECT_TRUE(c.buffered().starts_with("HTTP/1.1 408 ")) << c.buffered();
    EXPECT_EQ(app.request_count(), 0u);  // the app never got a complete request
}

// A body that trickles (one byte well within body_idle_timeout each time) still has to arrive
// within body_read_timeout: 408, the connection closed, the app never gets the request.
TEST(SemanticsTest, TricklingRequestBodyIs408AfterBodyReadTimeout) {
    temp_dir dir;
    fake_upstream app;
    auto proc = sidelight_process::run(
        dir,
        test_config(app.port(), "limits:\n  body_idle_timeout: 2s\n  body_read_timeout: 600ms\n"));
    auto c = connection::connect(proc->proxy_port());
    const auto t0 = std::chrono::steady_clock::now();
    c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n");
    bool closed = false;
    for (int i = 0; i < 40 && !closed; ++i) {  // one byte every 100 ms, for up to 4 s
        c.send("x");
        closed = c.wait_closed(100ms);
    }
    ASSERT_TRUE(closed) << "the trickle was never cut off";
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(waited, 550ms);
    EXPECT_LT(waited, 2s);  // well before the idle timeout could have fired
    EXPECT_TRUE(c.buffered().starts_with("HTTP/1.1 408 ")) << c.buffered();
    EXPECT_NE(c.buffered().find("Connection: close"), std::string::npos);
    EXPECT_EQ(app.request_count(), 0u);
    const auto metrics = http_get(proc->admin_port(), "/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(sample_value(metrics->body,
                           "api_requests_total{method=\"POST\",route=\"unmatched\","
                           "status_code=\"408\"}"),
              1);
}

// The body deadline bounds the body only: a slow app answering after it is still relayed, and
// the keep-alive connection serves the next request normally.
TEST(SemanticsTest, BodyReadTimeoutDoesNotBoundTheResponse) {
    temp_dir dir;
    fake_upstream app([](const wire_message&) {
        return fake_reply{simple_response(200, "slow"), false, 800ms};
    });
    auto proc = sidelight_process::run(
        dir, test_config(app.port(), "limits:\n  body_read_timeout: 300ms\n"));
    auto c = connection::connect(proc->proxy_port());
    for (int i = 0; i < 2; ++i) {
        // The body comes apart from its head, so the deadline is armed while it is read.
        c.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");
        std::this_thread::sleep_for(100ms);
        c.send("hello");
        auto res = c.read_message(true, false, 5s);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200);
        EXPECT_EQ(res->body, "slow");
    }
}

TEST(SemanticsTest, ClientLeavingWhileTheAppWorksIs499AndClosesTheUpstream) {
    temp_dir dir;
    fake_upstream app([](const wire_message&) {
        return fake_reply{simple_response(200, "too late"), false, 3000ms};
    });
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    {
        auto c = connection::connect(proc->proxy_port());
        c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
        ASSERT_TRUE(app.wait_requests(1));
    }  // the client goes away while the app is still working
    const auto t0 = std::chrono::steady_clock::now();
    std::string text;
    ASSERT_TRUE(eventually(
        [&] {
            // The error is counted after the request, and the upstream gauge scraped before it:
            // all three are waited for.
            const auto r = http_get(proc->admin_port(), "/metrics");
            text = r ? r->body : "";
            return sample_value(text,
                                "api_requests_total{method=\"GET\",route=\"unmatched\","
                                "status_code=\"499\"}") == 1 &&
                   sample_value(text,
                                "api_error_total{error_type=\"client_abort\",method=\"GET\","
                                "route=\"unmatched\"}") == 1 &&
                   sample_value(text, "active_connections{type=\"upstream\"}") == 0;
        },
        5s))
        << text;
    // Noticed well before the app answered (about 150 ms here: the watch is armed once the
    // exchange is 100 ms old); the margin is for a loaded CI machine.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    EXPECT_EQ(sample_value(text,
                           "api_error_total{error_type=\"client_abort\",method=\"GET\","
                           "route=\"unmatched\"}"),
              1);
    EXPECT_EQ(sample_value(text, "active_connections{type=\"upstream\"}"), 0);
}

// An interim 103 is consumed by the proxy; the final answer after it is read with the same
// header limit as any answer (64 KiB by default, far above Beast's own 8 KiB).
TEST(SemanticsTest, InterimResponsesAreConsumedAndTheFinalOneKeepsTheHeaderLimit) {
    temp_dir dir;
    const std::string big(20 * 1024, 'h');
    fake_upstream app([&](const wire_message&) {
        return fake_reply{"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
                          simple_response(200, "final", "X-Big: " + big + "\r\n")};
    });
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /hints HTTP/1.1\r\nHost: a\r\n\r\n");
    auto reply = c.read_message(true);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body, "final");
    EXPECT_EQ(reply->header("X-Big"), big);
    EXPECT_EQ(reply->raw_head.find("Early Hints"), std::string::npos);
    c.send("GET /again HTTP/1.1\r\nHost: a\r\n\r\n");  // the connection is still usable
    ASSERT_TRUE(c.read_message(true));
}

TEST(SemanticsTest, PipelinedBytesDoNotLookLikeAClientLeaving) {
    temp_dir dir;
    fake_upstream app([](const wire_message&) {
        return fake_reply{simple_response(200, "ok"), false, 300ms};
    });
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(app.wait_requests(1));
    c.send("GET /b HTTP/1.1\r\nHost: a\r\n\r\n");  // arrives while /a is in the works
    EXPECT_EQ(c.read_message(true)->status, 200);
    EXPECT_EQ(c.read_message(true)->status, 200);
}

}  // namespace
}  // namespace sidelight::test
