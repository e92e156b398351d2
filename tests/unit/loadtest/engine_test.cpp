// The load engine in-process against fake apps: what it sends, how it paces, how it counts.
// (The same behaviours through the binary are in tests/integration/loadtest_test.cpp; these
// run under the sanitizers without building the proxy.)
#include "loadtest/engine.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/support/fake_upstream.hpp"

namespace sidelight::loadtest {
namespace {

using namespace std::chrono_literals;
using test::fake_reply;
using test::fake_upstream;
using test::simple_response;
using test::wire_message;

load_job job_for(const request_spec& request, std::uint16_t port) {
    load_job job;
    job.request = &request;
    job.target = {"127.0.0.1", port, "127.0.0.1:" + std::to_string(port)};
    job.duration = 300ms;
    job.connections = 3;
    return job;
}

TEST(Engine, ClosedLoopSendsTheRequestAndCountsEveryResponse) {
    fake_upstream app([](const wire_message&) {
        return fake_reply{
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"};
    });
    request_spec request{"POST", "/o/{{seq}}", {{"X-Test", "1"}}, "body {{seq}}"};
    live_counters live;
    const auto r = run_load(job_for(request, app.port()), live);
    EXPECT_GT(r.responses, 10u);
    EXPECT_EQ(r.responses, app.request_count());
    EXPECT_EQ(r.errors.total(), 0u);
    EXPECT_EQ(r.latency.count(), r.responses);
    EXPECT_EQ(app.request_connections(), 3u);  // keep-alive: no reconnects
    const auto first = app.requests().front().message;
    EXPECT_NE(first.raw_head.find("POST /o/"), std::string::npos) << first.raw_head;
    EXPECT_NE(first.raw_head.find("X-Test: 1"), std::string::npos) << first.raw_head;
    EXPECT_EQ(live.responses.load(), r.responses);
}

TEST(Engine, OpenLoopKeepsTheRate) {
    fake_upstream app([](const wire_message&) { return fake_reply{simple_response(200, "ok")}; });
    request_spec request{"GET", "/", {}, ""};
    auto job = job_for(request, app.port());
    job.pacing = scenario_kind::open;
    job.rate = 500;
    job.duration = 1s;
    live_counters live;
    const auto r = run_load(job, live);
    EXPECT_NEAR(static_cast<double>(r.responses), 500, 5);
    EXPECT_NEAR(r.rps(), 500, 25);
}

TEST(Engine, ConnectionCloseIsFollowedAndStatusesCounted) {
    std::atomic<int> n{0};
    fake_upstream app([&](const wire_message&) {
        const bool odd = ++n % 2 == 1;
        return fake_reply{odd ? simple_response(503, "busy", "Connection: close\r\n")
                              : simple_response(200, "ok"),
                          odd};
    });
    request_spec request{"GET", "/", {}, ""};
    live_counters live;
    const auto r = run_load(job_for(request, app.port()), live);
    EXPECT_EQ(r.responses, static_cast<std::uint64_t>(n.load()));
    EXPECT_EQ(r.errors.status.at(503), (r.responses + 1) / 2);
    EXPECT_EQ(r.errors.transport(), 0u);
}

TEST(Engine, ColdWarmCountsExactly) {
    fake_upstream app([](const wire_message&) { return fake_reply{simple_response(200, "ok")}; });
    request_spec request{"GET", "/", {}, ""};
    auto job = job_for(request, app.port());
    job.pacing = scenario_kind::cold_warm;
    job.connections = 1;
    job.duration = 10s;
    job.cold = 2;
    job.warm = 30;
    live_counters live;
    const auto r = run_load(job, live);
    EXPECT_EQ(r.cold.count(), 2u);
    EXPECT_EQ(r.warm.count(), 30u);
    EXPECT_EQ(app.request_count(), 32u);
}

TEST(Engine, NobodyListeningIsConnectErrors) {
    std::uint16_t port = 0;
    {
        fake_upstream gone;
        port = gone.port();
    }
    request_spec request{"GET", "/", {}, ""};
    live_counters live;
    const auto r = run_load(job_for(request, port), live);
    EXPECT_EQ(r.responses, 0u);
    EXPECT_GE(r.errors.connect, 3u * 10);  // 300 ms at one attempt per 10 ms or so
}

}  // namespace
}  // namespace sidelight::loadtest
