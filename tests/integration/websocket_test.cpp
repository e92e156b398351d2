// WebSocket through the proxy: a real Beast WebSocket client and server on both ends.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "tests/support/http_wire.hpp"
#include "tests/support/sidelight_process.hpp"

namespace sidelight::test {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

// An echo app: accepts WebSocket upgrades and echoes every message; `close_after` messages it
// starts the close handshake itself; `vanish_after` it drops the TCP connection without one.
class ws_echo_app {
  public:
    ws_echo_app(int close_after = -1, int vanish_after = -1)
        : acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}),
          close_after_(close_after),
          vanish_after_(vanish_after) {
        thread_ = std::thread([this] { serve(); });
    }
    ~ws_echo_app() {
        beast::error_code ec;
        acceptor_.close(ec);
        thread_.join();
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    std::string upgrade_request_user_agent;

  private:
    // Health checks connect and leave: serve connections one after another until a WebSocket
    // session has run.
    void serve() {
        for (;;) {
            beast::error_code ec;
            tcp::socket socket(ioc_);
            acceptor_.accept(socket, ec);
            if (ec) return;
            if (session(std::move(socket))) return;
        }
    }

    bool session(tcp::socket socket) {
        beast::error_code ec;
        websocket::stream<tcp::socket> ws(std::move(socket));
        ws.set_option(websocket::stream_base::decorator(
            [](websocket::response_type& res) { res.set("X-App", "echo"); }));
        ws.accept(ec);
        if (ec) return false;  // not an upgrade (a health check)
        for (int i = 0;; ++i) {
            if (i == close_after_) {
                ws.close(websocket::close_code::normal, ec);
                beast::flat_buffer drain;
                while (!ec) ws.read(drain, ec);  // until the client's close frame arrives
                return true;
            }
            if (i == vanish_after_) {
                ws.next_layer().close(ec);
                return true;
            }
            beast::flat_buffer buf;
            ws.read(buf, ec);
            if (ec) return true;
            ws.text(ws.got_text());
            ws.write(buf.data(), ec);
            if (ec) return true;
        }
    }

    net::io_context ioc_;
    tcp::acceptor acceptor_;
    int close_after_;
    int vanish_after_;
    std::thread thread_;
};

struct ws_client {
    net::io_context ioc;
    websocket::stream<tcp::socket> ws{ioc};
    websocket::response_type upgrade_response;

    void connect(std::uint16_t port) {
        net::connect(ws.next_layer(),
                     std::vector<tcp::endpoint>{{net::ip::make_address("127.0.0.1"), port}});
        ws.handshake(upgrade_response, "localhost", "/socket.io/?EIO=4&transport=websocket");
    }
};

TEST(WebSocketTest, EchoesAThousandMessagesAndClosesFromTheClient) {
    temp_dir dir;
    ws_echo_app app;
    auto proc = sidelight_process::run(dir, test_config(app.port(), "log_level: debug\n"));
    ws_client c;
    c.connect(proc->proxy_port());
    EXPECT_EQ(c.upgrade_response.result_int(), 101);
    EXPECT_EQ(c.upgrade_response["X-App"], "echo");
    EXPECT_FALSE(c.upgrade_response["X-Request-Id"].empty());
    EXPECT_TRUE(eventually([&] {
        return sample_value(scrape_metrics(proc->admin_port()),
                            "active_connections{type=\"websocket\"}") == 1;
    }));
    for (int i = 0; i < 1000; ++i) {
        const std::string msg = "message " + std::to_string(i) + std::string(i % 97, 'x');
        c.ws.write(net::buffer(msg));
        beast::flat_buffer buf;
        c.ws.read(buf);
        ASSERT_EQ(beast::buffers_to_string(buf.data()), msg);
    }
    c.ws.close(websocket::close_code::normal);  // client-initiated close handshake completes
    EXPECT_TRUE(eventually([&] {
        return sample_value(scrape_metrics(proc->admin_port()),
                            "active_connections{type=\"websocket\"}") == 0;
    }));
    const auto text = scrape_metrics(proc->admin_port());
    EXPECT_EQ(sample_value(text,
                           "api_requests_total{method=\"GET\",route=\"unmatched\","
                           "status_code=\"101\"}"),
              1)
        << text;
    // What the tunnel carried, once it closed: a thousand messages each way, masked frames from
    // the client being larger than the unmasked echoes.
    ASSERT_TRUE(proc->wait_for_log("event=tunnel_closed")) << proc->stderr_text();
    const auto log = proc->stderr_text();
    const auto number_after = [&](const std::string& key) {
        const auto at = log.find(key + "=", log.find("event=tunnel_closed"));
        return at == std::string::npos ? 0ull : std::stoull(log.substr(at + key.size() + 1));
    };
    EXPECT_GT(number_after("client_to_upstream"), number_after("upstream_to_client"));
    EXPECT_GT(number_after("upstream_to_client"), 50'000ull);  // at least the messages' text
    EXPECT_NE(log.find("reason=closed"), std::string::npos) << log;
}

TEST(WebSocketTest, ServerInitiatedCloseReachesTheClient) {
    temp_dir dir;
    ws_echo_app app(/*close_after=*/3);
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    ws_client c;
    c.connect(proc->proxy_port());
    for (int i = 0; i < 3; ++i) {
        c.ws.write(net::buffer(std::string("ping")));
        beast::flat_buffer buf;
        c.ws.read(buf);
    }
    beast::flat_buffer buf;
    beast::error_code ec;
    c.ws.read(buf, ec);  // the server's close frame
    EXPECT_EQ(ec, websocket::error::closed);
    EXPECT_EQ(c.ws.reason().code, websocket::close_code::normal);
}

TEST(WebSocketTest, AVanishingAppClosesTheClientSide) {
    temp_dir dir;
    ws_echo_app app(/*close_after=*/-1, /*vanish_after=*/2);
    auto proc = sidelight_process::run(dir, test_config(app.port()));
    ws_client c;
    c.connect(proc->proxy_port());
    for (int i = 0; i < 2; ++i) {
        c.ws.write(net::buffer(std::string("ping")));
        beast::flat_buffer buf;
        c.ws.read(buf);
    }
    c.ws.write(net::buffer(std::string("are you there")));
    beast::flat_buffer buf;
    beast::error_code ec;
    c.ws.read(buf, ec);  // no hang: the tunnel passes the app's disappearance on
    EXPECT_TRUE(ec);
}

TEST(WebSocketTest, IdleTunnelsAreClosed) {
    temp_dir dir;
    ws_echo_app app;
    auto yaml =
        test_config(app.port(), "limits:\n  tunnel_idle_timeout: 300ms\nlog_level: debug\n");
    auto proc = sidelight_process::run(dir, yaml);
    ws_client c;
    c.connect(proc->proxy_port());
    const auto t0 = std::chrono::steady_clock::now();
    beast::flat_buffer buf;
    beast::error_code ec;
    c.ws.read(buf, ec);  // nothing is sent: the proxy closes the idle tunnel
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(ec);
    EXPECT_GE(waited, 250ms);
    EXPECT_LT(waited, 5s);
    EXPECT_TRUE(proc->wait_for_log("client_to_upstream=0 upstream_to_client=0 reason=idle_timeout"))
        << proc->stderr_text();
}

}  // namespace
}  // namespace sidelight::test
