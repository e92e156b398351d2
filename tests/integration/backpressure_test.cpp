// Backpressure (issue 3, item 1): a client that stops reading must not make sidelight buffer
// the app's body, and an app that stops reading must not make it buffer the client's. The
// effect is sidelight's resident memory, read from /proc while the far side is stalled with
// far more in flight than any socket buffers hold.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

constexpr std::size_t body_size = 96u << 20;  // 96 MiB: several times every socket buffer
constexpr long max_growth_kb = 8 * 1024;      // the bound for a whole 1 GiB transfer

long rss_kb(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
    }
    return -1;
}

TEST(BackpressureTest, AClientThatStopsReadingHoldsTheAppBackNotSidelightsMemory) {
    temp_dir dir;
    const std::string big = std::string(body_size, 'x');
    fake_upstream app([&big](const wire_message&) {
        return fake_reply{"HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) +
                          "\r\n\r\n" + big};
    });
    // The app's answer may be slow to start on a loaded machine (it copies 96 MiB first): the
    // test is about what follows, not the response timeout.
    auto yaml = test_config(app.port());
    yaml.replace(yaml.find("response_timeout: 2s"), 20, "response_timeout: 30s");
    auto proc = sidelight_process::run(dir, yaml);
    const long before = rss_kb(proc->pid());
    auto c = connection::connect(proc->proxy_port());
    c.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
    // The client reads nothing for two seconds while the app tries to send 96 MiB.
    long peak = before;
    for (int i = 0; i < 20; ++i) {
        std::this_thread::sleep_for(100ms);
        peak = std::max(peak, rss_kb(proc->pid()));
    }
    EXPECT_LT(peak - before, max_growth_kb) << "RSS grew from " << before << " kB to " << peak;
    // Then it reads: everything arrives, byte for byte.
    auto res = c.read_message(true, false, 30s);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body.size(), body_size);
    EXPECT_EQ(res->body.find_first_not_of('x'), std::string::npos);
}

// An app that accepts the connection and then reads nothing.
class deaf_app {
  public:
    deaf_app() : fd_(listen_loopback(16, port_)) {
        acceptor_ = std::thread([this] {
            for (;;) {
                const int c = ::accept(fd_, nullptr, nullptr);
                if (c < 0) return;
                accepted_.push_back(c);  // kept open, never read
            }
        });
    }
    ~deaf_app() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        acceptor_.join();
        for (int c : accepted_) ::close(c);
    }
    std::uint16_t port() const { return port_; }

  private:
    std::uint16_t port_ = 0;
    int fd_;
    std::thread acceptor_;
    std::vector<int> accepted_;
};

TEST(BackpressureTest, AnAppThatStopsReadingHoldsTheClientBackNotSidelightsMemory) {
    temp_dir dir;
    deaf_app app;
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    const long before = rss_kb(proc->pid());
    auto c = connection::connect(proc->proxy_port());
    c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body_size) +
           "\r\n\r\n");
    // Push the body without blocking for two seconds: only what the socket buffers on the way
    // hold can leave the client.
    const int fd = c.fd();
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    const std::string chunk(64 * 1024, 'y');
    std::size_t sent = 0;
    long peak = before;
    const auto until = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < until && sent < body_size) {
        const auto n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
        if (n > 0)
            sent += static_cast<std::size_t>(n);
        else
            std::this_thread::sleep_for(20ms);
        peak = std::max(peak, rss_kb(proc->pid()));
    }
    EXPECT_LT(sent, body_size / 2) << "the client was never held back";
    EXPECT_LT(peak - before, max_growth_kb) << "RSS grew from " << before << " kB to " << peak;
}

}  // namespace
}  // namespace sidelight::test
