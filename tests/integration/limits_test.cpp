// Per-request limits and timeouts of the real binary, each with a config tuned small: what the
// client gets, and that the app never sees what was refused.

#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

using steady = std::chrono::steady_clock;

class LimitsTest : public ::testing::Test {
  protected:
    void start(const std::string& limits) {
        proc_ = sidelight_process::run(dir_, test_config(app_.port(), "limits:\n" + limits));
    }
    connection connect() { return connection::connect(proc_->proxy_port()); }

    // Sends `bytes` on a fresh connection; returns the status sidelight answered before closing
    // (0 when it closed without a response).
    int refused_status(const std::string& bytes) {
        auto c = connect();
        c.send(bytes);
        EXPECT_TRUE(c.wait_closed(5s)) << "connection left open";
        const auto& raw = c.buffered();
        return raw.starts_with("HTTP/1.1 ") ? std::atoi(raw.c_str() + 9) : 0;
    }

    temp_dir dir_;
    fake_upstream app_;
    std::unique_ptr<sidelight_process> proc_;
};

TEST_F(LimitsTest, UrlOverLimitIs414) {
    start("  max_url_bytes: 100\n");
    EXPECT_EQ(refused_status("GET /" + std::string(100, 'u') + " HTTP/1.1\r\nHost: a\r\n\r\n"),
              414);
    // At the limit exactly it passes.
    auto ok = http_get(proc_->proxy_port(), "/" + std::string(99, 'u'));
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(app_.request_count(), 1u);
}

TEST_F(LimitsTest, HeaderBlockOverLimitArrivingInPiecesIs431) {
    start("  max_header_bytes: 1KiB\n");
    // Over 4 KiB: sidelight has read past the limit before it finds the end of the head.
    EXPECT_EQ(refused_status("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(6000, 'b') +
                             "\r\n\r\n"),
              431);
    EXPECT_EQ(app_.request_count(), 0u);
}

TEST_F(LimitsTest, HeaderBlockOverLimitInOneSegmentIs431) {
    start("  max_header_bytes: 1KiB\n");
    EXPECT_EQ(refused_status("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'b') +
                             "\r\nConnection: close\r\n\r\n"),
              431);
    EXPECT_EQ(app_.request_count(), 0u);
}

TEST_F(LimitsTest, TooManyFieldsIs431) {
    start("  max_header_count: 5\n");
    std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 5; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
    EXPECT_EQ(refused_status(head + "\r\n"), 431);
    EXPECT_EQ(app_.request_count(), 0u);
}

const std::string too_long_post =
    "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1025\r\n\r\n" + std::string(1025, 'x');

TEST_F(LimitsTest, ContentLengthOverLimitIsNeverForwarded) {
    start("  max_body_bytes: 1KiB\n");
    const int status = refused_status(too_long_post);
    EXPECT_TRUE(status == 413 || status == 400) << status;  // 413 expected: see the test below
    EXPECT_EQ(app_.request_count(), 0u);
    EXPECT_EQ(app_.request_connections(), 0u);
    // At the limit it passes, body intact.
    auto c = connect();
    c.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\n\r\n" + std::string(1024, 'y'));
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    ASSERT_EQ(app_.request_count(), 1u);
    EXPECT_EQ(app_.requests().at(0).message.body, std::string(1024, 'y'));
}

TEST_F(LimitsTest, ContentLengthOverLimitIs413) {
    start("  max_body_bytes: 1KiB\n");
    EXPECT_EQ(refused_status(too_long_post), 413);
    EXPECT_EQ(app_.request_count(), 0u);
}

TEST_F(LimitsTest, ChunkedBodyOverLimitIs413OrClosed) {
    start("  max_body_bytes: 1KiB\n");
    auto c = connect();
    c.send("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; ++i) c.send("200\r\n" + std::string(512, 'z') + "\r\n");
    c.send("0\r\n\r\n");
    ASSERT_TRUE(c.wait_closed(5s));
    const auto& raw = c.buffered();
    EXPECT_TRUE(raw.empty() || raw.starts_with("HTTP/1.1 413 ")) << raw;
    EXPECT_EQ(app_.request_count(), 0u);  // the app never got a complete request
}

TEST_F(LimitsTest, SlowlorisIsClosedAfterHeaderReadTimeout) {
    start("  header_read_timeout: 300ms\n");
    auto c = connect();
    const auto t0 = steady::now();
    c.send("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ");
    ASSERT_TRUE(c.wait_closed(3s));
    const auto took = steady::now() - t0;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2s);
    const auto& raw = c.buffered();
    EXPECT_TRUE(raw.starts_with("HTTP/1.1 408 Request Timeout\r\n")) << raw;
    EXPECT_NE(raw.find("\r\nConnection: close\r\n"), std::string::npos) << raw;
    EXPECT_EQ(app_.request_count(), 0u);
}

TEST_F(LimitsTest, SlowlorisTricklingBytesIsStillClosed) {
    start("  header_read_timeout: 300ms\n");
    auto c = connect();
    const auto t0 = steady::now();
    // One byte at a time, faster than any idle timeout: the whole head must still arrive in time.
    bool closed = false;
    for (int i = 0; i < 100 && !closed; ++i) {
        c.send("X");
        closed = c.wait_closed(50ms);
    }
    ASSERT_TRUE(closed);
    EXPECT_LT(steady::now() - t0, 2s);
    EXPECT_GE(steady::now() - t0, 250ms);
    EXPECT_TRUE(c.buffered().starts_with("HTTP/1.1 408 ")) << c.buffered();
    EXPECT_EQ(app_.request_count(), 0u);
}

TEST_F(LimitsTest, IdleKeepAliveIsClosedAfterKeepaliveTimeout) {
    start("  keepalive_timeout: 300ms\n");
    auto c = connect();
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    auto res = c.read_message(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    const auto t0 = steady::now();
    ASSERT_TRUE(c.wait_closed(3s));
    const auto took = steady::now() - t0;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2s);
    EXPECT_EQ(c.buffered(), "");  // closed quietly between requests
}

TEST_F(LimitsTest, ConnectionsBeyondMaxAreClosedAtOnce) {
    const auto yaml = test_config(app_.port());
    // test_config sets proxy.workers; add max_connections inside the proxy map.
    const auto at = yaml.find("  workers: 2\n") + std::string("  workers: 2\n").size();
    proc_ = sidelight_process::run(dir_,
                                   yaml.substr(0, at) + "  max_connections: 3\n" + yaml.substr(at));
    std::vector<connection> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(connect());
        held.back().send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n");
        auto res = held.back().read_message(true);  // each is accepted and served
        ASSERT_TRUE(res) << i;
        EXPECT_EQ(res->status, 200);
    }
    auto fourth = connect();
    ASSERT_TRUE(fourth.valid());
    fourth.send("GET /fourth HTTP/1.1\r\nHost: a\r\n\r\n");
    const auto t0 = steady::now();
    EXPECT_TRUE(fourth.wait_closed(2s));
    EXPECT_LT(steady::now() - t0, 1s);
    EXPECT_EQ(fourth.buffered(), "");
    // The first three still work, and the fourth never reached the app.
    for (auto& c : held) {
        c.send("GET /again HTTP/1.1\r\nHost: a\r\n\r\n");
        auto res = c.read_message(true);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200);
    }
    EXPECT_EQ(app_.request_count(), 6u);
    for (const auto& r : app_.requests()) EXPECT_NE(r.message.start_line, "GET /fourth HTTP/1.1");
    // Once one closes, a new client gets in.
    held.pop_back();
    EXPECT_TRUE(eventually([&] {
        auto res = http_get(proc_->proxy_port(), "/later");
        return res && res->status == 200;
    }));
}

}  // namespace
}  // namespace sidelight::test
